//! The coroutine client: the notes' `>>: ` loop, or section 一's homework client
//! (`for i in range(1000): Thread(target=client)`) as a thousand coroutines on a few threads.
//!
//! Load mode is `blocking-io`'s load client with `std::thread::spawn` replaced by `go!` and
//! `std::net` by `may::net`: the per-connection loop is the same blocking-style code, and
//! every reply is still read by its length and checked byte for byte. Unlike the notes'
//! client it stops (after `--rounds` or `--duration`).

use may::coroutine::Builder;
use protocol::cli::{ClientMode, ClientOpts, LoadPlan};
use protocol::load::{reply_matches, round_trip_by, Messages, Tally};
use std::net::SocketAddr;
use std::time::Instant;

pub fn run(opts: &ClientOpts, runtime: crate::runtime::Runtime) -> crate::Result<()> {
    match opts.mode()? {
        // One connection driven by a person: a plain blocking socket on the main thread.
        // Reading stdin inside a coroutine would be a thread-blocking call (see the crate
        // docs): it would stop every other coroutine on that worker while the person types.
        ClientMode::Interactive => Ok(protocol::interactive::connect(opts.addr)?),
        ClientMode::Load(plan) => {
            crate::runtime::init(runtime)?;
            load(opts.addr, &plan)
        }
    }
}

/// One coroutine per connection, all spawned at once, each parked in its own `read`.
// ANCHOR: load
fn load(addr: SocketAddr, plan: &LoadPlan) -> crate::Result<()> {
    let start = Instant::now();
    let mut handles = Vec::with_capacity(plan.conns);
    let mut total = Tally::new();
    for conn in 0..plan.conns {
        let plan = plan.clone();
        // SAFETY: `go!` is unsafe because a coroutine may use thread-local storage (wrong
        // once it resumes on another worker) and may overflow its fixed stack.
        // `one_connection` uses no thread-local across its reads and writes (its error lines
        // go through `eprintln!`, which takes and releases stderr's lock without yielding),
        // and keeps its buffers and histogram on the heap, so its frames are small.
        let spawned = may::go!(Builder::new(), move || one_connection(
            addr,
            &plan,
            conn as u64,
            start
        ));
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(err) => {
                eprintln!("conn {conn}: cannot start a coroutine: {err}");
                total.errors += 1;
            }
        }
    }
    // `join` from the main thread blocks it, which is what `main` should do here.
    for handle in handles {
        match handle.join() {
            Ok(tally) => total.merge(&tally),
            Err(_) => total.errors += 1,
        }
    }
    total.summary(plan.conns, start.elapsed()).report(plan.json)
}
// ANCHOR_END: load

fn one_connection(addr: SocketAddr, plan: &LoadPlan, conn: u64, start: Instant) -> Tally {
    let mut tally = Tally::new();
    // `may`'s connect parks the coroutine while the handshake completes.
    let mut stream = match may::net::TcpStream::connect_timeout(&addr, plan.timeout) {
        Ok(stream) => stream,
        Err(err) => {
            eprintln!("conn {conn}: connect: {err}");
            tally.errors += 1;
            return tally;
        }
    };
    tally.established = 1;
    if let Err(err) = stream.set_nodelay(true) {
        eprintln!("conn {conn}: socket options: {err}");
        tally.errors += 1;
        return tally;
    }
    let mut messages = Messages::new(plan.seed, conn);
    let mut message = vec![0; plan.size];
    let mut reply = vec![0; plan.size];
    while !plan.finished(tally.rounds, start.elapsed()) {
        messages.fill(&mut message);
        let sent_at = Instant::now();
        // The reply is read by length, looping (and parking) until all of it has arrived,
        // however the kernel split it; `--timeout` bounds the whole round, not each read.
        // `may` implements the socket timeouts itself (a timer wakes the parked coroutine),
        // since the socket is non-blocking and SO_RCVTIMEO would never fire.
        let exchanged = round_trip_by(
            &mut stream,
            &message,
            &mut reply,
            sent_at + plan.timeout,
            |s, left| {
                s.set_read_timeout(Some(left))?;
                s.set_write_timeout(Some(left))
            },
        );
        if let Err(err) = exchanged {
            eprintln!("conn {conn}: round {}: {err}", tally.rounds + 1);
            tally.errors += 1;
            break;
        }
        tally.record(
            sent_at.elapsed(),
            message.len(),
            reply_matches(&message, &reply),
        );
    }
    tally
}
