//! The non-blocking client: the notes' `>>: ` loop, or the model of 四 applied to a client.
//!
//! Load mode opens every connection at once from one thread, all non-blocking, and spins
//! over them: "connected yet?", "can you take more of my message?", "any reply yet?". Each
//! question is a system call that usually answers `WouldBlock`. Where the blocking client
//! (三) needs a thread per connection, this one needs one thread and a whole core. Every reply
//! is read by its length (TCP may split it anywhere) and checked byte for byte.
//!
//! What to watch: `top` shows the client at ~100% CPU for the whole run, whatever the
//! number of connections.

use crate::{interrupted, would_block};
use protocol::cli::{ClientMode, ClientOpts, LoadPlan};
use protocol::load::{reply_matches, Messages, Tally};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

pub fn run(opts: &ClientOpts) -> crate::Result<()> {
    match opts.mode()? {
        // The prompt waits on a person typing: a non-blocking socket would only spin while
        // they think. The notes' own client is blocking too; the model is the server's.
        ClientMode::Interactive => Ok(protocol::interactive::connect(opts.addr)?),
        ClientMode::Load(plan) => load(opts.addr, &plan),
    }
}

// ANCHOR: load
/// Every connection in one list, one thread polling them until all are done.
fn load(addr: SocketAddr, plan: &LoadPlan) -> crate::Result<()> {
    let start = Instant::now();
    let mut total = Tally::new();
    let mut live: Vec<LoadConn> = Vec::with_capacity(plan.conns);
    for id in 0..plan.conns as u64 {
        match LoadConn::connect(id, addr, plan) {
            Ok(conn) => live.push(conn),
            Err(err) => {
                eprintln!("conn {id}: connect: {err}");
                total.errors += 1;
            }
        }
    }
    while !live.is_empty() {
        // One pass: every connection gets its turn. A finished one hands its tally over and
        // leaves the list (`retain_mut`: the notes' del_rlist lesson, client side).
        live.retain_mut(|conn| {
            conn.step(plan, start);
            if conn.is_done() {
                total.merge(&conn.tally);
                false
            } else {
                true
            }
        });
    }
    total.summary(plan.conns, start.elapsed()).report(plan.json)
}
// ANCHOR_END: load

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The handshake is under way (`connect` answered EINPROGRESS).
    Connecting,
    /// A round trip is under way: part of the message may be sent, part of the reply read.
    Exchanging,
    /// Finished, well or badly; the tally says which.
    Done,
}

/// One load connection and its current round trip.
struct LoadConn {
    id: u64,
    stream: TcpStream,
    phase: Phase,
    messages: Messages,
    /// The message of this round, and how much of it the socket has taken.
    message: Vec<u8>,
    written: usize,
    /// The reply so far; it is complete when it is as long as the message.
    reply: Vec<u8>,
    received: usize,
    /// When the current wait began (the connect, or the round trip): for latency and
    /// for `--timeout`.
    since: Instant,
    tally: Tally,
}

impl LoadConn {
    /// Starts a non-blocking connect. The handshake completes in the background; `step`
    /// notices when it has.
    fn connect(id: u64, addr: SocketAddr, plan: &LoadPlan) -> io::Result<LoadConn> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        socket.set_tcp_nodelay(true)?;
        match socket.connect(&SockAddr::from(addr)) {
            Ok(()) => {}
            // The normal answer of a non-blocking connect: "started, not finished".
            Err(err) if err.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(err) => return Err(err),
        }
        Ok(LoadConn {
            id,
            stream: socket.into(),
            phase: Phase::Connecting,
            messages: Messages::new(plan.seed, id),
            message: vec![0; plan.size],
            written: 0,
            reply: vec![0; plan.size],
            received: 0,
            since: Instant::now(),
            tally: Tally::new(),
        })
    }

    fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    // ANCHOR: step
    /// This connection's turn in the pass: ask, never wait.
    fn step(&mut self, plan: &LoadPlan, start: Instant) {
        if self.phase == Phase::Connecting {
            match self.connected() {
                Ok(true) => {
                    self.tally.established = 1;
                    self.phase = Phase::Exchanging;
                    self.next_round(plan, start);
                }
                Ok(false) => {}
                Err(err) => return self.fail(format!("connect: {err}")),
            }
        }
        if self.phase == Phase::Exchanging {
            if let Err(err) = self.exchange() {
                return self.fail(format!("round {}: {err}", self.tally.rounds + 1));
            }
            if self.received == self.message.len() {
                self.tally.record(
                    self.since.elapsed(),
                    self.message.len(),
                    reply_matches(&self.message, &self.reply),
                );
                self.next_round(plan, start);
            }
        }
        if self.phase != Phase::Done && self.since.elapsed() > plan.timeout {
            let what = match self.phase {
                Phase::Connecting => "connect".to_string(),
                _ => format!("round {}", self.tally.rounds + 1),
            };
            self.fail(format!("{what}: no answer within {:?}", plan.timeout));
        }
    }
    // ANCHOR_END: step

    /// Whether the non-blocking connect has finished. Nothing wakes us when it does, so we
    /// ask: a pending error (`SO_ERROR`) means it failed, a peer address means it succeeded,
    /// neither means the handshake is still under way.
    fn connected(&self) -> io::Result<bool> {
        if let Some(err) = self.stream.take_error()? {
            return Err(err);
        }
        match self.stream.peer_addr() {
            Ok(_) => Ok(true),
            Err(err) if err.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Sends what the socket takes of the message, then reads what has come of the reply.
    /// Sending and reading in the same turn means a message larger than the socket buffers
    /// never deadlocks against a server that waits for us to read.
    fn exchange(&mut self) -> io::Result<()> {
        while self.written < self.message.len() {
            match self.stream.write(&self.message[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(err) if would_block(&err) => break,
                Err(err) if interrupted(&err) => continue,
                Err(err) => return Err(err),
            }
        }
        while self.received < self.reply.len() {
            match self.stream.read(&mut self.reply[self.received..]) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "the server closed the connection after {} of {} reply bytes",
                            self.received,
                            self.reply.len()
                        ),
                    ))
                }
                Ok(n) => self.received += n,
                Err(err) if would_block(&err) => break,
                Err(err) if interrupted(&err) => continue,
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// Starts the next round trip, or finishes if the plan says so.
    fn next_round(&mut self, plan: &LoadPlan, start: Instant) {
        if plan.finished(self.tally.rounds, start.elapsed()) {
            self.phase = Phase::Done;
            return;
        }
        self.messages.fill(&mut self.message);
        self.written = 0;
        self.received = 0;
        self.since = Instant::now();
    }

    fn fail(&mut self, why: String) {
        eprintln!("conn {}: {why}", self.id);
        self.tally.errors += 1;
        self.phase = Phase::Done;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::cli::Stop;
    use std::time::Duration;

    /// The longest a unit test waits for anything.
    const TEST_TIMEOUT: Duration = Duration::from_secs(5);

    fn plan(conns: usize, rounds: u64, size: usize) -> LoadPlan {
        LoadPlan {
            conns,
            stop: Stop::Rounds(rounds),
            size,
            timeout: TEST_TIMEOUT,
            json: true,
            seed: 9,
        }
    }

    /// The fixed server on a thread of its own, napping when idle so it does not spin a core
    /// for the rest of the test run (the thread ends with the test process).
    fn serve() -> SocketAddr {
        let listener = protocol::listen::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || crate::fixed::run(listener, Some(Duration::from_millis(1))));
        addr
    }

    #[test]
    fn every_connection_completes_every_round() {
        let addr = serve();
        load(addr, &plan(50, 20, 3000)).unwrap();
    }

    #[test]
    fn a_silent_server_is_a_timeout_not_a_hang() {
        // Accepts (the kernel does it for us) and never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut plan = plan(2, 1, 8);
        plan.timeout = Duration::from_millis(200);
        let started = Instant::now();
        assert!(load(addr, &plan).is_err());
        assert!(started.elapsed() < TEST_TIMEOUT);
        drop(listener);
    }

    #[test]
    fn a_refused_connect_is_an_error() {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        // Nobody listens there now: the handshake fails, and `connected` must say so.
        let conn = LoadConn::connect(0, addr, &plan(1, 1, 8)).unwrap();
        let deadline = Instant::now() + TEST_TIMEOUT;
        let failed = loop {
            match conn.connected() {
                Err(err) => break err,
                Ok(true) => panic!("connected to a closed port"),
                Ok(false) if Instant::now() < deadline => std::thread::yield_now(),
                Ok(false) => panic!("the handshake never finished"),
            }
        };
        assert_eq!(failed.kind(), io::ErrorKind::ConnectionRefused);
    }
}
