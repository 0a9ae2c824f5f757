//! The load client's fallback: one pool task per connection, a callback per task.
//!
//! Used where io_uring is unavailable (or with `--backend pool`). Each connection's loop is
//! blocking (write the message, read the reply by its length), run as a task on a pool with
//! a worker per connection; its done-callback sends the connection's tally to the main
//! thread over a channel, the notes' `add_done_callback(parse)` with `parse` handing the
//! result on instead of printing it.

use crate::pool::Pool;
use protocol::cli::LoadPlan;
use protocol::load::{reply_matches, Messages, Tally};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

pub fn run(addr: SocketAddr, plan: &LoadPlan) -> crate::Result<()> {
    let start = Instant::now();
    // A worker per connection: every connection is open at once, as load mode promises.
    let pool = Pool::named("conn", plan.conns);
    let (tallies, received) = crossbeam_channel::unbounded();
    for conn in 0..plan.conns {
        let task_plan = plan.clone();
        let tallies = tallies.clone();
        pool.submit(move || one_connection(addr, &task_plan, conn as u64, start))
            .add_done_callback(move |done| {
                let tally = match done.result() {
                    Ok(tally) => tally.clone(),
                    Err(panicked) => {
                        eprintln!("conn {conn}: {panicked}");
                        Tally {
                            errors: 1,
                            ..Tally::new()
                        }
                    }
                };
                let _ = tallies.send(tally);
            });
    }
    drop(tallies);
    let mut total = Tally::new();
    // Ends when the last callback has run and dropped its sender.
    for tally in received {
        total.merge(&tally);
    }
    total.summary(plan.conns, start.elapsed()).report(plan.json)
}

fn one_connection(addr: SocketAddr, plan: &LoadPlan, conn: u64, start: Instant) -> Tally {
    let mut tally = Tally::new();
    let connected = TcpStream::connect_timeout(&addr, plan.timeout).and_then(|stream| {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(plan.timeout))?;
        stream.set_write_timeout(Some(plan.timeout))?;
        Ok(stream)
    });
    let mut stream = match connected {
        Ok(stream) => stream,
        Err(err) => {
            eprintln!("conn {conn}: connect: {err}");
            tally.errors += 1;
            return tally;
        }
    };
    tally.established = 1;
    let mut messages = Messages::new(plan.seed, conn);
    let mut message = vec![0; plan.size];
    let mut reply = vec![0; plan.size];
    while !plan.finished(tally.rounds, start.elapsed()) {
        messages.fill(&mut message);
        let sent_at = Instant::now();
        // The reply is read by its length, however the kernel split it.
        if let Err(err) = stream
            .write_all(&message)
            .and_then(|()| stream.read_exact(&mut reply))
        {
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
