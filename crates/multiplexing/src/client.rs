//! The multiplexing client: the notes' `>>: ` loop, or a load run whose every connection is
//! driven from one thread by `polling` (level-triggered), as the server drives its own.
//!
//! Section 五's client is the same blocking client as every section's; its server is what
//! changed. Load mode shows the model from the other side: where `blocking-io`'s load client
//! needs a thread per connection, this one keeps 10,000 connections busy from one thread,
//! each a small state machine (connecting, then message out, reply in) stepped when the
//! poller says its socket is ready. Every reply is read by its length and verified.

use crate::fd_limit;
use polling::{Event, Events, PollMode, Poller};
use protocol::cli::{ClientMode, ClientOpts, LoadPlan};
use protocol::load::{reply_matches, Messages, Summary, Tally};
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

/// Events taken per wait, into one buffer reused on every turn.
// Evaluated at compile time: a zero here would not build.
const EVENTS: NonZeroUsize = NonZeroUsize::new(1024).unwrap();

/// How often connections are checked against `--timeout`. Each check looks at every
/// connection, so it is done on a clock, not on every event.
const TICK: Duration = Duration::from_millis(100);

/// Descriptors the client needs besides its connections (stdio, the poller's own).
const SPARE_FDS: u64 = 64;

pub fn run(opts: &ClientOpts) -> crate::Result<()> {
    match opts.mode()? {
        ClientMode::Interactive => Ok(protocol::interactive::connect(opts.addr)?),
        ClientMode::Load(plan) => load(opts.addr, &plan)?.report(plan.json),
    }
}

/// Where one load connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Non-blocking `connect` under way: the socket turns writable when it is done.
    Connecting,
    /// A message going out and its reply coming in (both at once for a large message).
    Exchanging,
    /// Made its last round; to be closed.
    Finished,
}

/// One load connection's state machine.
struct LoadConn {
    stream: TcpStream,
    phase: Phase,
    messages: Messages,
    message: Vec<u8>,
    /// Bytes of `message` written so far (a write may be short).
    written: usize,
    reply: Vec<u8>,
    /// Bytes of `reply` received so far (a reply may arrive in pieces).
    received: usize,
    rounds: u64,
    /// When the current wait began: the `connect`, or the current message's first write.
    since: Instant,
    /// What the poller watches it for (read, write), so `modify` is called only on a change.
    watching: (bool, bool),
}

/// A whole load run: one poller, every connection, one tally.
struct Load<'p> {
    /// Declared first, so dropped first: with the poller gone, dropping sockets still
    /// registered in it (if the run ends with an error) breaks no contract of `add`.
    poller: Poller,
    /// Indexed by the poller key; `None` once closed.
    conns: Vec<Option<LoadConn>>,
    plan: &'p LoadPlan,
    start: Instant,
    tally: Tally,
    /// Connections still open.
    active: usize,
}

// ANCHOR: load
/// Runs `plan` against `addr` from this one thread; the summary says how it went.
pub fn load(addr: SocketAddr, plan: &LoadPlan) -> crate::Result<Summary> {
    let wanted = plan.conns as u64 + SPARE_FDS;
    let limit = fd_limit::raise_to(wanted)?;
    if limit < wanted {
        eprintln!(
            "client: the descriptor limit is {limit}; some of {} connections will fail",
            plan.conns
        );
    }
    let mut run = Load {
        poller: Poller::new()?,
        conns: Vec::with_capacity(plan.conns),
        plan,
        start: Instant::now(),
        tally: Tally::new(),
        active: 0,
    };
    for i in 0..plan.conns {
        let conn = run.open(addr, i);
        run.conns.push(conn);
    }
    let mut events = Events::with_capacity(EVENTS);
    let mut next_check = Instant::now() + TICK;
    while run.active > 0 {
        events.clear();
        // A timeout, so `--timeout` is enforced even when no socket is ready.
        run.poller.wait(&mut events, Some(TICK))?;
        for event in events.iter() {
            run.on_ready(event.key, event.readable, event.writable);
        }
        let now = Instant::now();
        if now >= next_check {
            run.check_timeouts(now);
            next_check = now + TICK;
        }
    }
    Ok(run.tally.summary(plan.conns, run.start.elapsed()))
}
// ANCHOR_END: load

impl Load<'_> {
    /// Starts connection `i`: a non-blocking `connect`, watched for writability. `None`
    /// (counted as an error) if it failed at once.
    fn open(&mut self, addr: SocketAddr, i: usize) -> Option<LoadConn> {
        let stream = match start_connect(addr) {
            Ok(stream) => stream,
            Err(err) => {
                eprintln!("conn {i}: connect: {err}");
                self.tally.errors += 1;
                return None;
            }
        };
        let watching = (false, true);
        // SAFETY: `add` requires that the stream be deleted from the poller before it is
        // dropped: `close` deletes it first, and if `add` fails it was never registered.
        let added = unsafe {
            self.poller.add_with_mode(
                &stream,
                Event::new(i, watching.0, watching.1),
                PollMode::Level,
            )
        };
        if let Err(err) = added {
            eprintln!("conn {i}: cannot watch it: {err}");
            self.tally.errors += 1;
            return None;
        }
        self.active += 1;
        Some(LoadConn {
            stream,
            phase: Phase::Connecting,
            messages: Messages::new(self.plan.seed, i as u64),
            message: vec![0; self.plan.size],
            written: 0,
            reply: vec![0; self.plan.size],
            received: 0,
            rounds: 0,
            since: Instant::now(),
            watching,
        })
    }

    fn on_ready(&mut self, key: usize, readable: bool, writable: bool) {
        // `None`: closed earlier in this batch; its event is stale.
        let Some(Some(conn)) = self.conns.get_mut(key) else {
            return;
        };
        let stepped = match conn.phase {
            Phase::Connecting => conn.connected(&mut self.tally),
            Phase::Exchanging => {
                conn.exchange(readable, writable, self.plan, self.start, &mut self.tally)
            }
            Phase::Finished => Ok(()),
        };
        let result = stepped.and_then(|()| match conn.phase {
            Phase::Finished => Ok(()),
            _ => conn.watch(&self.poller, key),
        });
        match result {
            Ok(()) if conn.phase != Phase::Finished => {}
            Ok(()) => self.close(key),
            Err(err) => {
                eprintln!("conn {key}: round {}: {err}", conn.rounds + 1);
                self.tally.errors += 1;
                self.close(key);
            }
        }
    }

    /// Closes connection `key`: deleted from the poller, then its socket dropped.
    fn close(&mut self, key: usize) {
        if let Some(conn) = self.conns[key].take() {
            // Before the socket is dropped: the contract of `add`.
            let _ = self.poller.delete(&conn.stream);
            self.active -= 1;
        }
    }

    /// Fails every connection that has waited longer than `--timeout`.
    fn check_timeouts(&mut self, now: Instant) {
        for key in 0..self.conns.len() {
            let Some(conn) = &self.conns[key] else {
                continue;
            };
            if now.duration_since(conn.since) > self.plan.timeout {
                eprintln!(
                    "conn {key}: round {}: nothing for {:?} ({:?})",
                    conn.rounds + 1,
                    self.plan.timeout,
                    conn.phase
                );
                self.tally.errors += 1;
                self.close(key);
            }
        }
    }
}

/// A non-blocking `connect`: it returns at once (`EINPROGRESS`) and the socket turns
/// writable when the handshake is done, or failed.
fn start_connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(socket.into())
}

impl LoadConn {
    /// The socket turned writable while connecting: the handshake finished, well or not.
    fn connected(&mut self, tally: &mut Tally) -> io::Result<()> {
        if let Some(err) = self.stream.take_error()? {
            return Err(err);
        }
        tally.established += 1;
        self.stream.set_nodelay(true)?;
        self.phase = Phase::Exchanging;
        self.start_round(Instant::now())
    }

    /// Writes the next message, as much as the socket takes now.
    fn start_round(&mut self, now: Instant) -> io::Result<()> {
        self.messages.fill(&mut self.message);
        self.written = 0;
        self.received = 0;
        self.since = now;
        self.write_some()
    }

    fn write_some(&mut self) -> io::Result<()> {
        while self.written < self.message.len() {
            match self.stream.write(&self.message[self.written..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Moves the current round on: more of the message out, some of the reply in. A whole
    /// reply is verified and recorded, and the next round starts (or the connection ends).
    fn exchange(
        &mut self,
        readable: bool,
        writable: bool,
        plan: &LoadPlan,
        start: Instant,
        tally: &mut Tally,
    ) -> io::Result<()> {
        if writable && self.written < self.message.len() {
            self.write_some()?;
        }
        if !readable {
            return Ok(());
        }
        // Level-triggered: one read, never past this reply; the poller reports the rest.
        match self.stream.read(&mut self.reply[self.received..]) {
            Ok(0) => {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    format!(
                        "the server closed the connection after {} of {} reply bytes",
                        self.received,
                        self.reply.len()
                    ),
                ))
            }
            Ok(n) => self.received += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                return Ok(())
            }
            Err(e) => return Err(e),
        }
        if self.received < self.reply.len() {
            return Ok(());
        }
        let now = Instant::now();
        let matched = reply_matches(&self.message, &self.reply);
        tally.record(now - self.since, self.message.len(), matched);
        self.rounds += 1;
        if plan.finished(self.rounds, now - start) {
            self.phase = Phase::Finished;
            return Ok(());
        }
        self.start_round(now)
    }

    /// Tells the poller what to watch: while connecting, writability (the handshake's end);
    /// then the reply always, and writability only while the message is not all out.
    fn watch(&mut self, poller: &Poller, key: usize) -> io::Result<()> {
        let want = match self.phase {
            Phase::Connecting => (false, true),
            _ => (true, self.written < self.message.len()),
        };
        if want != self.watching {
            self.watching = want;
            poller.modify_with_mode(
                &self.stream,
                Event::new(key, want.0, want.1),
                PollMode::Level,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::cli::Stop;

    fn plan(conns: usize, rounds: u64, size: usize) -> LoadPlan {
        LoadPlan {
            conns,
            stop: Stop::Rounds(rounds),
            size,
            timeout: Duration::from_secs(10),
            json: false,
            seed: 1,
        }
    }

    /// A blocking thread-per-connection echo-upper server that writes each reply in pieces
    /// as it reads: enough to check the client against, independent of this crate's servers.
    /// (The lab's process tests check the client's verdicts on wrong replies and refusals.)
    fn reference_server() -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut stream = stream;
                    let mut buf = [0u8; 4096];
                    while let Ok(n @ 1..) = stream.read(&mut buf) {
                        protocol::upper_in_place(&mut buf[..n]);
                        if stream.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    #[test]
    fn every_connection_makes_every_round() {
        let addr = reference_server();
        let s = load(addr, &plan(20, 30, 3000)).unwrap();
        assert!(s.passed(), "{s:?}");
        assert_eq!((s.established, s.rounds, s.bytes), (20, 600, 600 * 3000));
    }
}
