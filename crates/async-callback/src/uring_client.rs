//! The load client on io_uring: every connection driven from one thread, by completions.
//!
//! Each connection has two operation slots, and its cancels are counted apart, so its
//! `user_data` is `conn * 4 + slot`:
//! - **out**: first the connect, then the sends of each message;
//! - **in**: the receives of each reply;
//! - **cancel**: the cancels of a failed connection's operations.
//!
//! A round submits the send and the receive together, so a large message never deadlocks
//! against a server that stops reading until its replies are taken (backpressure). The reply
//! is read by its length: receives are resubmitted until exactly as many bytes as were sent
//! have arrived, then compared byte for byte with what the server owes. A send completed short
//! is resubmitted from its offset, as in the server.
//!
//! Time-outs are a completion too: a `Timeout` request fires every [`TICK`]; its handler fails
//! every connection whose connect or round trip has not finished within `--timeout` of its
//! start (a whole round, however many bytes trickled in meanwhile) and *cancels* its operations
//! (`AsyncCancel`). The kernel answers the cancelled ones with `-ECANCELED`; only when both
//! slots are empty is the socket closed, because until then the kernel may still touch its
//! buffers. Connects go out [`CONNECTS_IN_FLIGHT`] at a time, below the server's listen queue.

use crate::ring::{self, errno, Ring};
use io_uring::{opcode, types};
use protocol::cli::LoadPlan;
use protocol::load::{reply_matches, Messages, Tally};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::mem::ManuallyDrop;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Instant;

/// Connects in flight at once: well under the server's listen queue (`BACKLOG`), so a burst
/// of ten thousand connections is not turned into SYN drops and one-second retries.
const CONNECTS_IN_FLIGHT: usize = 256;

/// Submission queue slots.
const SQ_ENTRIES: u32 = 1024;

/// How often time-outs are checked: every 100 ms.
static TICK: types::Timespec = types::Timespec::new().nsec(100_000_000);

/// `user_data` of the periodic tick. Connection keys are far below it.
const TICK_KEY: u64 = u64::MAX;

/// What a connection's `user_data` names: one of its two operation slots, or a cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Connect, then send.
    Out = 0,
    /// Receive.
    In = 1,
    /// A cancel of one of the two. Its own answer only says whether it found its target (the
    /// cancelled operation reports for itself); we count it home so that the tick never
    /// piles a second cancel behind one still waiting to reach the kernel.
    Cancel = 2,
}

fn key(conn: usize, slot: Slot) -> u64 {
    (conn as u64) << 2 | slot as u64
}

fn split_key(key: u64) -> (usize, Slot) {
    let slot = match key & 3 {
        0 => Slot::Out,
        1 => Slot::In,
        _ => Slot::Cancel,
    };
    ((key >> 2) as usize, slot)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not started yet (waiting for a connect slot).
    Waiting,
    Connecting,
    /// Exchanging rounds.
    Talking,
    /// Done or failed; waiting for the kernel to hand back its operations.
    Closing,
    Finished,
}

struct Conn {
    phase: Phase,
    fd: Option<OwnedFd>,
    messages: Messages,
    /// This round's message and reply, boxed so the kernel's pointers into them stay valid.
    message: Box<[u8]>,
    reply: Box<[u8]>,
    sent: usize,
    got: usize,
    rounds: u64,
    round_start: Instant,
    /// When the connect or the round in progress must have finished: its start plus
    /// `--timeout`. Bytes arriving meanwhile do not move it, so a server that trickles a
    /// reply one byte at a time cannot keep a round alive for ever.
    deadline: Instant,
    /// Which slots the kernel holds an operation for.
    out_busy: bool,
    in_busy: bool,
    /// Cancels submitted for this connection whose answers have not come back yet.
    cancels: u8,
}

/// Runs the load plan against `addr` and prints the summary.
pub fn run(addr: SocketAddr, plan: &LoadPlan) -> crate::Result<()> {
    // One descriptor per connection: `--conns 10000` needs more than the usual soft limit.
    if let Err(err) = raise_fd_limit() {
        eprintln!("could not raise the descriptor limit: {err}");
    }
    run_on(Ring::new(SQ_ENTRIES, Arc::default())?, addr, plan)
}

/// [`run`] on a ring the caller made: a test gives it a 2-slot submission queue.
fn run_on(ring: Ring, addr: SocketAddr, plan: &LoadPlan) -> crate::Result<()> {
    let start = Instant::now();
    let mut driver = Driver {
        ring,
        recv_flags: ring::poll_first(),
        target: ManuallyDrop::new(Box::new(SockAddr::from(addr))),
        conns: (0..plan.conns)
            .map(|i| Conn {
                phase: Phase::Waiting,
                fd: None,
                messages: Messages::new(plan.seed, i as u64),
                message: vec![0; plan.size].into_boxed_slice(),
                reply: vec![0; plan.size].into_boxed_slice(),
                sent: 0,
                got: 0,
                rounds: 0,
                round_start: start,
                deadline: start,
                out_busy: false,
                in_busy: false,
                cancels: 0,
            })
            .collect(),
        plan,
        start,
        tally: Tally::new(),
        next_to_connect: 0,
        connecting: 0,
        finished: 0,
    };
    driver.submit_tick();
    driver.connect_more();
    let mut completed = Vec::with_capacity(1024);
    while driver.finished < plan.conns {
        driver.ring.submit_and_wait(&mut completed)?;
        for &(user_data, result) in &completed {
            driver.complete(user_data, result);
        }
        driver.connect_more();
    }
    driver
        .tally
        .summary(plan.conns, start.elapsed())
        .report(plan.json)
}

/// Everything the load loop owns. On a normal end nothing is in flight; on an error the
/// kernel may still hold buffers of ours, and `Drop for Driver` leaks them.
struct Driver<'a> {
    ring: Ring,
    /// Flags for every receive (see [`ring::poll_first`]).
    recv_flags: u16,
    /// The server's address, boxed: connect requests point to it. Freed by `Drop for Driver`
    /// only if no connect is in flight.
    target: ManuallyDrop<Box<SockAddr>>,
    conns: Vec<Conn>,
    plan: &'a LoadPlan,
    start: Instant,
    /// One tally for every connection: one thread, so no merging, and one histogram.
    tally: Tally,
    next_to_connect: usize,
    connecting: usize,
    finished: usize,
}

/// The run ends normally only once every connection is `Finished`, with nothing in flight.
/// It can also end early, on a fatal ring error, with operations in flight. Dropping the ring
/// does not wait for them: the kernel cancels them in the background and may still write
/// into a reply buffer (or read the address of a connect) after its descriptor is closed. So
/// whatever it may still touch is leaked, on purpose and counted, rather than freed.
impl Drop for Driver<'_> {
    fn drop(&mut self) {
        let mut leaked = 0;
        let mut connecting = false;
        for conn in &mut self.conns {
            if conn.out_busy || conn.in_busy {
                connecting |= conn.phase == Phase::Connecting;
                std::mem::forget(std::mem::take(&mut conn.message));
                std::mem::forget(std::mem::take(&mut conn.reply));
                // The socket too: an operation in flight names its descriptor number, which
                // a later `socket` call could otherwise reuse.
                std::mem::forget(conn.fd.take());
                leaked += 2;
            }
        }
        if !connecting {
            // SAFETY: no connect is in flight, so nothing points to the address any more;
            // it is dropped once, here.
            unsafe { ManuallyDrop::drop(&mut self.target) };
        } else {
            leaked += 1;
        }
        if leaked > 0 {
            self.ring
                .stats
                .leaked
                .fetch_add(leaked, std::sync::atomic::Ordering::Relaxed);
            eprintln!("leaving {leaked} buffers to the kernel (leaked, not freed)");
        }
    }
}

impl Driver<'_> {
    // ANCHOR: client_complete
    fn complete(&mut self, user_data: u64, result: i32) {
        if user_data == TICK_KEY {
            return self.on_tick();
        }
        let (i, slot) = split_key(user_data);
        let conn = &mut self.conns[i];
        match slot {
            Slot::Out => conn.out_busy = false,
            Slot::In => conn.in_busy = false,
            Slot::Cancel => {
                conn.cancels -= 1;
                return;
            }
        }
        match (conn.phase, slot) {
            (Phase::Connecting, Slot::Out) => self.on_connect(i, result),
            (Phase::Talking, Slot::Out) => self.on_send(i, result),
            (Phase::Talking, Slot::In) => self.on_recv(i, result),
            // Failed or finished meanwhile: this was an operation coming home; close if it
            // was the last.
            _ => self.close_if_idle(i),
        }
    }
    // ANCHOR_END: client_complete

    fn on_connect(&mut self, i: usize, result: i32) {
        if result < 0 {
            // `fail` frees this connect's slot, as it does for a connect that timed out.
            return self.fail(i, format!("connect: {}", errno(result)));
        }
        self.connecting -= 1;
        self.tally.established += 1;
        self.conns[i].phase = Phase::Talking;
        self.start_round(i);
    }

    fn on_send(&mut self, i: usize, result: i32) {
        if result <= 0 {
            return self.fail(i, send_error(result));
        }
        let conn = &mut self.conns[i];
        conn.sent += result as usize;
        if conn.sent < conn.message.len() {
            self.submit_send(i); // short send: the rest, from the offset
        } else if conn.got == conn.reply.len() {
            self.end_round(i);
        }
    }

    fn on_recv(&mut self, i: usize, result: i32) {
        if result == 0 {
            return self.fail(i, "the server closed the connection mid-reply".into());
        }
        if result < 0 {
            return self.fail(i, errno(result).to_string());
        }
        let conn = &mut self.conns[i];
        conn.got += result as usize;
        if conn.got < conn.reply.len() {
            self.submit_recv(i); // the reply came in pieces: read the rest by its length
        } else if conn.sent == conn.message.len() {
            self.end_round(i);
        }
    }

    fn end_round(&mut self, i: usize) {
        let conn = &mut self.conns[i];
        conn.rounds += 1;
        let matched = reply_matches(&conn.message, &conn.reply);
        self.tally
            .record(conn.round_start.elapsed(), conn.message.len(), matched);
        self.start_round(i);
    }

    fn start_round(&mut self, i: usize) {
        let conn = &mut self.conns[i];
        if self.plan.finished(conn.rounds, self.start.elapsed()) {
            conn.phase = Phase::Closing;
            return self.close_if_idle(i);
        }
        conn.messages.fill(&mut conn.message);
        conn.sent = 0;
        conn.got = 0;
        conn.round_start = Instant::now();
        conn.deadline = conn.round_start + self.plan.timeout;
        self.submit_send(i);
        self.submit_recv(i);
    }

    /// Counts the failure, cancels whatever the kernel still holds for this connection, and
    /// closes it once nothing is left in flight.
    fn fail(&mut self, i: usize, why: String) {
        let conn = &mut self.conns[i];
        eprintln!("conn {i}: round {}: {why}", conn.rounds + 1);
        self.tally.errors += 1;
        if conn.phase == Phase::Connecting {
            self.connecting -= 1;
        }
        conn.phase = Phase::Closing;
        self.cancel(i);
        self.close_if_idle(i);
    }

    /// Asks the kernel to cancel whatever it still holds for connection `i`. Harmless if the
    /// operation has completed meanwhile (the cancel then finds nothing: `-ENOENT`).
    fn cancel(&mut self, i: usize) {
        let conn = &mut self.conns[i];
        for (busy, slot) in [(conn.out_busy, Slot::Out), (conn.in_busy, Slot::In)] {
            if busy {
                conn.cancels += 1;
                let entry = opcode::AsyncCancel::new(key(i, slot)).build();
                // SAFETY: a cancel request points to no memory.
                unsafe { self.ring.push(entry.user_data(key(i, Slot::Cancel))) };
            }
        }
    }

    fn close_if_idle(&mut self, i: usize) {
        let conn = &mut self.conns[i];
        if conn.phase == Phase::Closing && !conn.out_busy && !conn.in_busy {
            conn.fd = None; // closes the socket: both slots came home, the kernel holds nothing
            conn.phase = Phase::Finished;
            self.finished += 1;
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        for i in 0..self.conns.len() {
            let conn = &self.conns[i];
            let active = matches!(conn.phase, Phase::Connecting | Phase::Talking);
            if active && now >= conn.deadline {
                let what = if conn.phase == Phase::Connecting {
                    "connect"
                } else {
                    "round trip"
                };
                self.fail(i, format!("{what} not done within {:?}", self.plan.timeout));
            } else if conn.phase == Phase::Closing && conn.cancels == 0 {
                // Cancelled before, yet something is still in flight: cancel it again. One
                // cancel can miss (it may reach the kernel before the operation it names, or
                // the operation may be between two attempts); until both slots come home the
                // connection cannot finish, and nor can the run.
                self.cancel(i);
            }
        }
        if self.finished < self.conns.len() {
            self.submit_tick();
        }
    }

    /// Starts connects until [`CONNECTS_IN_FLIGHT`] are in flight or none are left.
    fn connect_more(&mut self) {
        while self.connecting < CONNECTS_IN_FLIGHT && self.next_to_connect < self.conns.len() {
            let i = self.next_to_connect;
            self.next_to_connect += 1;
            let fd = match open_socket(self.target.domain()) {
                Ok(fd) => fd,
                Err(err) => {
                    self.conns[i].phase = Phase::Closing;
                    eprintln!("conn {i}: socket: {err}");
                    self.tally.errors += 1;
                    self.close_if_idle(i);
                    continue;
                }
            };
            let entry = opcode::Connect::new(
                types::Fd(fd.as_raw_fd()),
                self.target.as_ptr().cast::<libc::sockaddr>(),
                self.target.len(),
            )
            .build()
            .user_data(key(i, Slot::Out));
            let conn = &mut self.conns[i];
            conn.fd = Some(fd);
            conn.phase = Phase::Connecting;
            conn.out_busy = true;
            conn.deadline = Instant::now() + self.plan.timeout;
            self.connecting += 1;
            // SAFETY: the address is boxed in the driver and never written; it is freed only
            // when no connect is in flight (see `Drop for Driver`), else leaked.
            unsafe { self.ring.push(entry) };
        }
    }

    fn submit_send(&mut self, i: usize) {
        let conn = &mut self.conns[i];
        let Some(fd) = &conn.fd else { return };
        let unsent = &conn.message[conn.sent..];
        let entry = opcode::Send::new(
            types::Fd(fd.as_raw_fd()),
            unsent.as_ptr(),
            unsent.len() as u32,
        )
        .flags(libc::MSG_NOSIGNAL)
        .build()
        .user_data(key(i, Slot::Out));
        conn.out_busy = true;
        // SAFETY: `message` is boxed in `conns[i]`, which is neither moved (the Vec never
        // grows) nor written until this send completes (`out_busy` guards `start_round`).
        unsafe { self.ring.push(entry) };
    }

    fn submit_recv(&mut self, i: usize) {
        let conn = &mut self.conns[i];
        let Some(fd) = &conn.fd else { return };
        let unfilled = &mut conn.reply[conn.got..];
        let entry = opcode::Recv::new(
            types::Fd(fd.as_raw_fd()),
            unfilled.as_mut_ptr(),
            unfilled.len() as u32,
        )
        .ioprio(self.recv_flags)
        .build()
        .user_data(key(i, Slot::In));
        conn.in_busy = true;
        // SAFETY: as for sends: `reply` is boxed in `conns[i]` and only read once this
        // receive (the last of the round) has completed.
        unsafe { self.ring.push(entry) };
    }

    fn submit_tick(&mut self) {
        let entry = opcode::Timeout::new(&TICK).build().user_data(TICK_KEY);
        // SAFETY: the timespec is a static.
        unsafe { self.ring.push(entry) };
    }
}

/// Raises this process's soft descriptor limit (`RLIMIT_NOFILE`) to its hard limit, as the
/// other load clients do: the soft limit is often 1024, the hard one far higher. Production
/// clients are given their limit by whoever starts them (`LimitNOFILE=`, `ulimit -n`).
fn raise_fd_limit() -> std::io::Result<()> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` writes one `rlimit` through a pointer to a live one.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: `setrlimit` only reads the `rlimit` it is given a pointer to.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn open_socket(domain: Domain) -> std::io::Result<OwnedFd> {
    // socket2 sets close-on-exec, as std does.
    let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_tcp_nodelay(true)?;
    Ok(socket.into())
}

fn send_error(result: i32) -> String {
    if result == 0 {
        "send made no progress".into()
    } else {
        errno(result).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::Stats;
    use protocol::cli::Stop;
    use std::time::Duration;

    fn plan(conns: usize, rounds: u64, size: usize) -> LoadPlan {
        LoadPlan {
            conns,
            stop: Stop::Rounds(rounds),
            size,
            timeout: Duration::from_secs(5),
            json: true,
            seed: 3,
        }
    }

    fn available() -> bool {
        match crate::probe::check() {
            Ok(()) => true,
            Err(why) => {
                println!("skipped: io_uring is unavailable here: {why}");
                false
            }
        }
    }

    #[test]
    fn keys_round_trip_and_never_reach_the_special_ones() {
        for (i, slot) in [(0, Slot::Out), (0, Slot::In), (9_999, Slot::Cancel)] {
            assert_eq!(split_key(key(i, slot)), (i, slot));
            assert!(key(i, slot) < TICK_KEY);
        }
    }

    #[test]
    fn drives_many_connections_against_the_uring_server() {
        if !available() {
            return;
        }
        let listener = protocol::listen::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || crate::uring::run(listener, Default::default()));
        // 8 KiB messages: each reply arrives in several pieces (the server sends 1 KiB at a
        // time), so receives are resubmitted until the reply is whole.
        run(addr, &plan(50, 10, 8192)).unwrap();
    }

    #[test]
    fn a_wrong_reply_fails_the_run() {
        if !available() {
            return;
        }
        // A plain echo server: every reply differs from what is owed.
        let echo = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = echo.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in echo.incoming().take(2).flatten() {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = stream;
                std::thread::spawn(move || std::io::copy(&mut reader, &mut writer));
            }
        });
        let err = run(addr, &plan(2, 3, 64)).unwrap_err();
        assert!(err.to_string().contains("6 mismatches"), "{err}");
    }

    #[test]
    fn refused_connections_are_counted_and_the_run_ends() {
        if !available() {
            return;
        }
        // Bind, learn a free port, close it: nobody listens there now. More connections than
        // CONNECTS_IN_FLIGHT, so every refused connect must free its slot for the next.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let err = run(addr, &plan(CONNECTS_IN_FLIGHT + 44, 1, 64)).unwrap_err();
        let want = format!("{} errors", CONNECTS_IN_FLIGHT + 44);
        assert!(err.to_string().contains(&want), "{err}");
    }

    #[test]
    fn a_server_that_never_answers_times_out_and_the_run_ends() {
        if !available() {
            return;
        }
        // Accepts (the kernel does, from the listen queue) but never reads or replies.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = silent.local_addr().unwrap();
        let mut silent_plan = plan(3, 1, 64);
        silent_plan.timeout = Duration::from_millis(300);
        let err = run(addr, &silent_plan).unwrap_err();
        assert!(err.to_string().contains("3 errors"), "{err}");
        drop(silent);
    }

    #[test]
    fn a_tiny_submission_queue_against_a_silent_server_still_ends_by_the_timeout() {
        if !available() {
            return;
        }
        // The kernel completes handshakes into the listen queue; nobody ever reads or
        // replies. A 2-slot queue (with a 16-slot completion queue) makes requests meet a
        // full queue and wait in the ring's backlog, behind and ahead of cancels.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = silent.local_addr().unwrap();
        let mut silent_plan = plan(200, 1, 64);
        silent_plan.timeout = Duration::from_millis(300);
        let stats = Arc::new(Stats::default());
        let counters = Arc::clone(&stats);
        let (done, ended) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let outcome = Ring::new(2, counters).and_then(|mut ring| {
                // This machine's kernel never refuses a submit; older ones do while
                // completions overflow (EBUSY). Refuse them here so the backlog is used.
                ring.refuse_early_submits();
                run_on(ring, addr, &silent_plan).map_err(std::io::Error::other)
            });
            let _ = done.send(outcome.map_err(|e| e.to_string()));
        });
        // 200 connections in one wave of connects, each failed after 300 ms without a reply:
        // well under a second of work. Ten seconds is only the bound of this test's wait.
        let outcome = ended
            .recv_timeout(Duration::from_secs(10))
            .expect("the client was still running 10 s after its 0.3 s timeout");
        let err = outcome.unwrap_err();
        assert!(err.contains("200 errors"), "{err}");
        assert!(
            Stats::read(&stats.backlogged) > 0,
            "the backlog was never used"
        );
        println!(
            "sq_full={} backlogged={}",
            Stats::read(&stats.sq_full),
            Stats::read(&stats.backlogged)
        );
        drop(silent);
    }

    #[test]
    fn a_trickling_server_cannot_keep_a_round_alive_past_its_timeout() {
        if !available() {
            return;
        }
        // A byte every 50 ms: progress all the time, but the 64-byte reply would take 3.2 s,
        // ten times the 300 ms a round may take.
        let addr = crate::test_servers::trickling(Duration::from_millis(50), 64);
        let mut trickle_plan = plan(1, 1, 64);
        trickle_plan.timeout = Duration::from_millis(300);
        let started = Instant::now();
        let err = run(addr, &trickle_plan).unwrap_err();
        assert!(err.to_string().contains("1 errors"), "{err}");
        // It may end a tick late, never early.
        let took = started.elapsed();
        assert!(took >= trickle_plan.timeout, "ended after {took:?}");
    }
}
