//! The blocking client: the notes' `>>: ` loop, or the notes' many-threads client.
//!
//! Load mode is section 一's homework client (`for i in range(1000): Thread(target=client)`)
//! with two fixes: it stops (after `--rounds` or `--duration`), and it checks every reply,
//! read by its length, against what the server owes.

use protocol::cli::{ClientMode, ClientOpts, LoadPlan};
use protocol::load::{reply_matches, round_trip_by, Messages, Tally};
use std::net::TcpStream;
use std::time::Instant;

/// Stack per load thread: the loop holds two message buffers on the heap and little else.
const STACK_SIZE: usize = 64 * 1024;

pub fn run(opts: &ClientOpts) -> crate::Result<()> {
    match opts.mode()? {
        ClientMode::Interactive => Ok(protocol::interactive::connect(opts.addr)?),
        ClientMode::Load(plan) => load(opts.addr, &plan),
    }
}

/// One OS thread per connection, all started at once, each blocked in its own `recv`.
fn load(addr: std::net::SocketAddr, plan: &LoadPlan) -> crate::Result<()> {
    let start = Instant::now();
    let mut handles = Vec::with_capacity(plan.conns);
    let mut total = Tally::new();
    for conn in 0..plan.conns {
        let plan = plan.clone();
        let spawned = std::thread::Builder::new()
            .stack_size(STACK_SIZE)
            .spawn(move || one_connection(addr, &plan, conn as u64, start));
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(err) => {
                eprintln!("conn {conn}: cannot start a thread: {err}");
                total.errors += 1;
            }
        }
    }
    for handle in handles {
        match handle.join() {
            Ok(tally) => total.merge(&tally),
            Err(_) => total.errors += 1,
        }
    }
    total.summary(plan.conns, start.elapsed()).report(plan.json)
}

fn one_connection(addr: std::net::SocketAddr, plan: &LoadPlan, conn: u64, start: Instant) -> Tally {
    let mut tally = Tally::new();
    let mut stream = match TcpStream::connect_timeout(&addr, plan.timeout) {
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
    // ANCHOR: exchange
    while !plan.finished(tally.rounds, start.elapsed()) {
        messages.fill(&mut message);
        let sent_at = Instant::now();
        // The reply is read by length, in as many reads as it takes, however the kernel
        // split it. `--timeout` bounds the whole round: SO_RCVTIMEO alone bounds each read,
        // and a server trickling a byte at a time could keep the round alive for ever.
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
    // ANCHOR_END: exchange
    tally
}
