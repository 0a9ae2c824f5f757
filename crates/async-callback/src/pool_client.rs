//! The load client's fallback: one pool task per connection, a callback per task.
//!
//! Used where io_uring is unavailable (or with `--backend pool`). Each connection's loop is
//! blocking (write the message, read the reply by its length), run as a task on a pool with
//! a worker per connection; its done-callback sends the connection's tally to the main
//! thread over a channel, the notes' `add_done_callback(parse)` with `parse` handing the
//! result on instead of printing it.

use crate::pool::Pool;
use protocol::cli::LoadPlan;
use protocol::load::round_trip_by;
use protocol::load::{reply_matches, Messages, Tally};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

pub fn run(addr: SocketAddr, plan: &LoadPlan) -> crate::Result<()> {
    let start = Instant::now();
    // A worker per connection: every connection is open at once, as load mode promises.
    // A thread that cannot be started (the process's thread or memory limit) is a connection
    // that cannot be made: counted as failed, as a refused connect would be, not a panic.
    let pool = Pool::start("conn", plan.conns)?;
    let mut total = Tally::new();
    if let Some((missing, err)) = pool.not_started() {
        eprintln!(
            "{missing} of {} connection threads could not be started ({err}); counted as \
             failed connections",
            plan.conns
        );
        total.errors += missing as u64;
    }
    let (tallies, received) = crossbeam_channel::unbounded();
    // Only as many connections as there are workers: one more would wait in the queue for a
    // connection to end, and load mode promises every connection open at once.
    for conn in 0..pool.workers() {
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
        // The reply is read by its length, however the kernel split it, and the whole round
        // must be done by `--timeout` after it began: a socket timeout alone bounds one read,
        // and a server that trickles a byte at a time would keep the round going for ever.
        let deadline = sent_at + plan.timeout;
        if let Err(err) = round_trip_by(&mut stream, &message, &mut reply, deadline, set_timeout) {
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

/// Bounds the next read or write on `stream` by what is left of the round.
fn set_timeout(stream: &TcpStream, left: Duration) -> io::Result<()> {
    stream.set_read_timeout(Some(left))?;
    stream.set_write_timeout(Some(left))
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::cli::Stop;
    use std::time::Duration;

    #[test]
    fn a_trickling_server_cannot_keep_a_round_alive_past_its_timeout() {
        // A byte every 50 ms: every read returns well inside the timeout, but the 64-byte
        // reply would take 3.2 s, ten times the 300 ms a round may take.
        let addr = crate::test_servers::trickling(Duration::from_millis(50), 64);
        let plan = LoadPlan {
            conns: 1,
            stop: Stop::Rounds(1),
            size: 64,
            timeout: Duration::from_millis(300),
            json: true,
            seed: 3,
        };
        let started = Instant::now();
        let tally = one_connection(addr, &plan, 0, started);
        assert_eq!((tally.established, tally.rounds, tally.errors), (1, 0, 1));
        // It ends at the round's deadline, never before it.
        let took = started.elapsed();
        assert!(took >= plan.timeout, "ended after {took:?}");
    }
}
