//! The bench's load generator: every connection on one (or two) threads, driven by `mio`.
//!
//! Every server in the bench is loaded by this one client, so their figures differ only by
//! the server. It is section 五's model turned around: one thread, one epoll instance, 10,000
//! non-blocking client sockets. Each connection plays ping-pong: it writes one message, reads
//! the reply *by its length* (however the server and TCP split it) and checks every byte
//! before it sends the next. A thread per connection, as the notes' 1000-thread client, would
//! cost the machine more than most of the servers it measures.
//!
//! A run goes through [`Phase`]s that the bench switches from outside:
//! - `Setup`: connections open at most [`RAMP`] at a time, and each makes one verified round
//!   trip, then waits. Whoever waits for [`Load::wait_ready`] knows the server holds every one.
//! - `Warm`: every connection runs; nothing is measured (caches, pools and schedulers settle).
//!   [`Load::wait_warmed`] returns once each has made a round trip in this phase, so the
//!   storm of 10,000 connections starting at once stays out of the measured windows.
//! - `Window(i)`: measured; each round trip is counted in the window in which its reply ended.
//! - `Stop`: every socket is closed.
//!
//! mio is edge-triggered: after each event we write and read until `WouldBlock`, or an edge
//! is lost and the connection hangs. Readiness is a hint: a spurious wake-up just finds
//! `WouldBlock` again.

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use protocol::cli::{LoadPlan, Stop};
use protocol::load::{Messages, Tally};
use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Connections that may be opening (or waiting for their first reply) at once. Below the
/// servers' listen backlog (`protocol::limits::BACKLOG`), so a slow acceptor sees a queue,
/// not dropped handshakes and one-second SYN retries.
pub const RAMP: usize = 256;

/// Different messages each run cycles through. Pre-computed with their replies, so checking
/// a 16 KiB reply is one `memcmp`, not a transform: the generator must stay cheaper than the
/// servers it measures.
const POOL: usize = 61;

/// Fewer for messages above [`BIG`]: 61 messages of 1 MiB and their replies would be 122 MiB
/// of the generator's memory, and their generation a second of each cell. Seven still make
/// a reply sent to the wrong connection, or repeated, a mismatch.
const BIG_POOL: usize = 7;
const BIG: usize = 64 * 1024;

/// How long one `poll` may sleep, so a phase change is seen within this much.
const TICK: Duration = Duration::from_millis(5);

/// How often connections are checked for a reply that is overdue.
const SWEEP: Duration = Duration::from_millis(100);

/// Error texts kept per run, to say *why* connections failed.
const KEPT_ERRORS: usize = 5;

/// Descriptors this process needs beyond one per connection (stdio, epoll, pipes, /proc).
pub const FD_SLACK: u64 = 64;

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub addr: SocketAddr,
    pub conns: usize,
    /// Bytes per message.
    pub size: usize,
    /// Threads sharing the connections (1 or 2 is plenty: each runs its own poller).
    pub threads: usize,
    /// Measured windows the caller will open.
    pub windows: usize,
    /// A connection waiting longer than this for a reply (or its handshake) has failed.
    pub timeout: Duration,
    pub seed: u64,
    /// Round trips per connection, then it closes; `None` runs until `Stop`.
    pub rounds: Option<u64>,
}

/// Where a run is; switched by the caller with [`Load::set_phase`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Setup,
    Warm,
    Window(usize),
    Stop,
}

impl Phase {
    const STOP: usize = usize::MAX;

    fn encode(self) -> usize {
        match self {
            Phase::Setup => 0,
            Phase::Warm => 1,
            Phase::Window(i) => 2 + i,
            Phase::Stop => Phase::STOP,
        }
    }

    fn decode(code: usize) -> Phase {
        match code {
            0 => Phase::Setup,
            1 => Phase::Warm,
            Phase::STOP => Phase::Stop,
            n => Phase::Window(n - 2),
        }
    }
}

/// What the run did, phase by phase.
#[derive(Debug)]
pub struct LoadReport {
    /// Handshakes and first round trips.
    pub setup: Tally,
    pub warm: Tally,
    /// One tally per measured window.
    pub windows: Vec<Tally>,
    /// The first few reasons connections failed.
    pub errors: Vec<String>,
}

impl LoadReport {
    /// Every phase merged.
    pub fn total(&self) -> Tally {
        let mut total = self.setup.clone();
        total.merge(&self.warm);
        for window in &self.windows {
            total.merge(window);
        }
        total
    }
}

/// What the worker threads tell the caller.
#[derive(Default)]
struct Progress {
    /// Workers whose every connection has made its first round trip (or failed).
    ready: usize,
    /// Workers whose every connection has also made a round trip after set-up.
    warmed: usize,
    /// Workers that stopped: every connection made its [`LoadSpec::rounds`] or failed, or
    /// the run was stopped.
    finished: usize,
}

struct Shared {
    phase: AtomicUsize,
    progress: Mutex<Progress>,
    changed: Condvar,
}

impl Shared {
    fn phase(&self) -> Phase {
        Phase::decode(self.phase.load(Ordering::Acquire))
    }

    fn update(&self, f: impl FnOnce(&mut Progress)) {
        let mut progress = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut progress);
        self.changed.notify_all();
    }

    /// Waits until `done(progress)` holds, for at most `timeout`.
    fn wait(&self, timeout: Duration, done: impl Fn(&Progress) -> bool) -> bool {
        let progress = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        let (progress, _) = self
            .changed
            .wait_timeout_while(progress, timeout, |p| !done(p))
            .unwrap_or_else(|e| e.into_inner());
        done(&progress)
    }
}

/// A running load: worker threads driving connections, switched from outside.
pub struct Load {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<WorkerReport>>,
}

impl Load {
    /// Starts the worker threads; connections begin opening at once.
    pub fn start(spec: &LoadSpec) -> crate::Result<Load> {
        if spec.conns == 0 || spec.size == 0 {
            return Err("a load needs at least one connection and one byte".into());
        }
        let threads = spec.threads.clamp(1, spec.conns);
        let pool = Arc::new(MessagePool::new(spec.seed, spec.size));
        let shared = Arc::new(Shared {
            phase: AtomicUsize::new(Phase::Setup.encode()),
            progress: Mutex::new(Progress::default()),
            changed: Condvar::new(),
        });
        // Every worker's poller first, while no thread runs: a failure here leaves nothing
        // behind to stop.
        let mut ready = Vec::with_capacity(threads);
        for t in 0..threads {
            let ids: Vec<u64> = (0..spec.conns as u64)
                .filter(|id| *id as usize % threads == t)
                .collect();
            ready.push(Worker::new(
                spec,
                ids,
                Arc::clone(&pool),
                Arc::clone(&shared),
            )?);
        }
        let mut load = Load {
            shared,
            workers: Vec::with_capacity(threads),
        };
        for (t, worker) in ready.into_iter().enumerate() {
            let spawned = std::thread::Builder::new()
                .name(format!("loadgen-{t}"))
                .spawn(move || worker.run());
            match spawned {
                Ok(handle) => load.workers.push(handle),
                Err(err) => {
                    // The threads already running would hold their connections open (and
                    // the server busy) for ever: stop them and wait until they have.
                    load.abandon();
                    return Err(format!("cannot start a load generator thread: {err}").into());
                }
            }
        }
        Ok(load)
    }

    /// Stops every running worker and waits for it, discarding what it measured.
    fn abandon(&mut self) {
        self.set_phase(Phase::Stop);
        for handle in self.workers.drain(..) {
            // A worker that panicked has stopped too; nothing to report on a failed start.
            let _ = handle.join();
        }
    }

    /// Waits until every connection has made its first round trip or failed.
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        let n = self.workers.len();
        self.shared.wait(timeout, |p| p.ready == n)
    }

    /// Waits until every connection has made a round trip after set-up (or failed).
    pub fn wait_warmed(&self, timeout: Duration) -> bool {
        let n = self.workers.len();
        self.shared.wait(timeout, |p| p.warmed == n)
    }

    /// Waits until every connection has made its [`LoadSpec::rounds`] (or failed).
    pub fn wait_finished(&self, timeout: Duration) -> bool {
        let n = self.workers.len();
        self.shared.wait(timeout, |p| p.finished == n)
    }

    pub fn set_phase(&self, phase: Phase) {
        self.shared.phase.store(phase.encode(), Ordering::Release);
    }

    /// Stops every connection and collects what each phase did.
    pub fn finish(self) -> LoadReport {
        self.set_phase(Phase::Stop);
        let mut report = LoadReport {
            setup: Tally::new(),
            warm: Tally::new(),
            windows: Vec::new(),
            errors: Vec::new(),
        };
        for handle in self.workers {
            let worker = match handle.join() {
                Ok(worker) => worker,
                Err(_) => {
                    // A bug in the generator, not the server: say so rather than hide it.
                    report.setup.errors += 1;
                    report
                        .errors
                        .push("a load generator thread panicked".into());
                    continue;
                }
            };
            let mut slots = worker.tallies.into_iter();
            report.setup.merge(&slots.next().unwrap_or_default());
            report.warm.merge(&slots.next().unwrap_or_default());
            for (i, tally) in slots.enumerate() {
                match report.windows.get_mut(i) {
                    Some(window) => window.merge(&tally),
                    None => report.windows.push(tally),
                }
            }
            for err in worker.errors {
                if report.errors.len() < KEPT_ERRORS {
                    report.errors.push(err);
                }
            }
        }
        report
    }
}

/// The messages a run sends and the replies the server owes for them.
struct MessagePool {
    messages: Vec<Vec<u8>>,
    replies: Vec<Vec<u8>>,
}

impl MessagePool {
    fn new(seed: u64, size: usize) -> MessagePool {
        // protocol's generator: lower-case letters and bytes >= 0x80, so a server that
        // forgets to upper-case, or upper-cases Latin-1, sends different bytes back.
        let count = if size > BIG { BIG_POOL } else { POOL };
        let messages: Vec<Vec<u8>> = (0..count as u64)
            .map(|k| Messages::new(seed, k).next_message(size))
            .collect();
        let replies = messages.iter().map(|m| protocol::upper(m)).collect();
        MessagePool { messages, replies }
    }

    /// Which message connection `id` sends in its round `round`: connections differ, and
    /// each one's messages change every round, so a reply sent to the wrong connection or
    /// repeated from an earlier round is caught.
    fn pick(&self, id: u64, round: u64) -> usize {
        (id.wrapping_mul(7919).wrapping_add(round) % self.messages.len() as u64) as usize
    }
}

/// One client connection's state.
struct Conn {
    id: u64,
    stream: TcpStream,
    state: State,
    /// The pool message in flight.
    message: usize,
    /// Bytes of the message written so far (a write may take only part of it).
    written: usize,
    /// Bytes of the reply read so far.
    read: usize,
    reply: Box<[u8]>,
    /// When the handshake or the round in flight began: its latency and its deadline.
    started: Instant,
    rounds: u64,
}

impl Conn {
    /// Starts the next round trip: the next message, nothing written or read yet.
    fn begin_round(&mut self, pool: &MessagePool) {
        self.state = State::Busy;
        self.message = pool.pick(self.id, self.rounds);
        self.written = 0;
        self.read = 0;
        self.started = Instant::now();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Handshake in flight.
    Connecting,
    /// A round trip in flight.
    Busy,
    /// Made its set-up round trip; waits for the warm-up to begin.
    Idle,
}

/// What [`Worker::drive`] decided about a connection.
enum Next {
    Keep,
    /// Made its last round (`LoadSpec::rounds`): close it, successfully.
    Close,
}

/// What a worker thread hands back.
struct WorkerReport {
    /// Indexed by phase: setup, warm, then each window.
    tallies: Vec<Tally>,
    errors: Vec<String>,
}

/// One thread's share of the connections and its poller.
struct Worker {
    spec: LoadSpec,
    ids: std::vec::IntoIter<u64>,
    pool: Arc<MessagePool>,
    shared: Arc<Shared>,
    poll: Poll,
    /// Indexed by token: a connection's token is its slot here.
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    /// Connections opened that have neither made their first round trip nor failed.
    awaiting_first: usize,
    /// Open connections that have not yet made a round trip after their first.
    unwarmed: usize,
    live: usize,
    report: WorkerReport,
}

impl Worker {
    fn new(
        spec: &LoadSpec,
        ids: Vec<u64>,
        pool: Arc<MessagePool>,
        shared: Arc<Shared>,
    ) -> io::Result<Worker> {
        Ok(Worker {
            spec: spec.clone(),
            ids: ids.into_iter(),
            pool,
            shared,
            poll: Poll::new()?,
            conns: Vec::new(),
            free: Vec::new(),
            awaiting_first: 0,
            unwarmed: 0,
            live: 0,
            report: WorkerReport {
                tallies: vec![Tally::new(); spec.windows + 2],
                errors: Vec::new(),
            },
        })
    }

    fn run(mut self) -> WorkerReport {
        let mut events = Events::with_capacity(1024);
        let mut phase = Phase::Setup;
        let mut ready = false;
        let mut warmed = false;
        let mut last_sweep = Instant::now();
        loop {
            let now_phase = self.shared.phase();
            if now_phase == Phase::Stop {
                break;
            }
            if phase == Phase::Setup && now_phase != Phase::Setup {
                self.wake_idle(now_phase);
            }
            phase = now_phase;
            self.open_more(phase);
            if !ready && self.ids.as_slice().is_empty() && self.awaiting_first == 0 {
                ready = true;
                self.shared.update(|p| p.ready += 1);
            }
            if ready && !warmed && self.unwarmed == 0 {
                warmed = true;
                self.shared.update(|p| p.warmed += 1);
            }
            if ready && self.live == 0 {
                // Only a `rounds` run (or one whose connections all failed) gets here.
                break;
            }
            match self.poll.poll(&mut events, Some(TICK)) {
                Ok(()) => {}
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => {
                    self.note_error(phase, format!("poll failed: {err}"));
                    break;
                }
            }
            for event in events.iter() {
                self.on_event(event.token().0, phase);
            }
            if last_sweep.elapsed() >= SWEEP {
                self.time_out_overdue(phase);
                last_sweep = Instant::now();
            }
        }
        // Whatever ended the loop, nobody waiting on this worker should wait any longer.
        self.shared.update(|p| {
            p.ready += usize::from(!ready);
            p.warmed += usize::from(!warmed);
            p.finished += 1;
        });
        // Dropping the sockets closes them: the server sees EOF on every connection.
        self.report
    }

    /// Opens connections while fewer than [`RAMP`] are waiting for their first reply.
    fn open_more(&mut self, phase: Phase) {
        while self.awaiting_first < RAMP {
            let Some(id) = self.ids.next() else { return };
            match self.open(id) {
                Ok(()) => {
                    self.awaiting_first += 1;
                    self.unwarmed += 1;
                }
                Err(err) => self.note_error(phase, format!("conn {id}: connect: {err}")),
            }
        }
    }

    fn open(&mut self, id: u64) -> io::Result<()> {
        // Non-blocking connect: returns at once, the handshake completes later (EINPROGRESS).
        let mut stream = TcpStream::connect(self.spec.addr)?;
        // Each message is written whole at once: Nagle would only delay it.
        stream.set_nodelay(true)?;
        let slot = self.free.pop().unwrap_or(self.conns.len());
        // Both interests for the connection's whole life: with edge triggering, an event
        // comes only on a change, so this costs no extra wake-ups and no re-registration.
        let registered = self.poll.registry().register(
            &mut stream,
            Token(slot),
            Interest::READABLE | Interest::WRITABLE,
        );
        if let Err(err) = registered {
            if slot < self.conns.len() {
                self.free.push(slot);
            }
            return Err(err);
        }
        let conn = Conn {
            id,
            stream,
            state: State::Connecting,
            message: 0,
            written: 0,
            read: 0,
            reply: vec![0; self.spec.size].into_boxed_slice(),
            started: Instant::now(),
            rounds: 0,
        };
        if slot == self.conns.len() {
            self.conns.push(Some(conn));
        } else {
            self.conns[slot] = Some(conn);
        }
        self.live += 1;
        Ok(())
    }

    fn on_event(&mut self, slot: usize, phase: Phase) {
        let Some(mut conn) = self.conns.get_mut(slot).and_then(Option::take) else {
            return; // closed earlier in this batch of events
        };
        match self.drive(&mut conn, phase) {
            Ok(Next::Keep) => self.conns[slot] = Some(conn),
            Ok(Next::Close) => self.close(slot, conn),
            Err(err) => {
                self.note_error(
                    phase,
                    format!("conn {} (round {}): {err}", conn.id, conn.rounds + 1),
                );
                self.close(slot, conn);
            }
        }
    }

    // ANCHOR: drive
    /// Moves a connection as far as it can go without blocking: finish the handshake, write
    /// what is left of the message, read what has arrived of the reply, and on a full reply
    /// verify it and start the next round. Loops until `WouldBlock` (edge triggering).
    fn drive(&mut self, conn: &mut Conn, phase: Phase) -> io::Result<Next> {
        // Whether the round in flight began in this call (its message was not yet written
        // when the event that brought us here fired).
        let mut fresh = false;
        if conn.state == State::Connecting {
            // mio's recipe for a non-blocking connect: a pending error means it failed;
            // `peer_addr` succeeding means it is up; NotConnected means not yet.
            if let Some(err) = conn.stream.take_error()? {
                return Err(err);
            }
            match conn.stream.peer_addr() {
                Ok(_) => {}
                Err(err) if err.kind() == ErrorKind::NotConnected => return Ok(Next::Keep),
                Err(err) => return Err(err),
            }
            self.tally(phase).established += 1;
            if self.spec.rounds == Some(0) {
                return Ok(Next::Close);
            }
            conn.begin_round(&self.pool);
            fresh = true;
        }
        if conn.state == State::Idle {
            return Ok(Next::Keep);
        }
        let size = self.spec.size;
        loop {
            // Write what is left. The server may reply to the first part before it has the
            // rest, so the reply is read in the same pass, never after the whole write.
            let message = &self.pool.messages[conn.message];
            while conn.written < size {
                match conn.stream.write(&message[conn.written..]) {
                    Ok(0) => return Err(ErrorKind::WriteZero.into()),
                    Ok(n) => conn.written += n,
                    Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                    Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                    Err(err) => return Err(err),
                }
            }
            if fresh && conn.written == size {
                // The whole message went out in this call, so no byte of its reply can be
                // here yet: a read now would only find WouldBlock, a wasted system call per
                // round trip. The reply's arrival is a new edge, and epoll reports every new
                // arrival in edge-triggered mode (draining until WouldBlock is about bytes
                // already waiting, and none are).
                return Ok(Next::Keep);
            }
            // Read the reply by its length: never past it, so a byte too many is the next
            // reply's first byte and shows up as a mismatch.
            while conn.read < size {
                match conn.stream.read(&mut conn.reply[conn.read..]) {
                    Ok(0) => {
                        return Err(io::Error::new(
                            ErrorKind::UnexpectedEof,
                            format!("closed by the server after {} of {size} bytes", conn.read),
                        ))
                    }
                    Ok(n) => conn.read += n,
                    Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                    Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                    Err(err) => return Err(err),
                }
            }
            if conn.read < size {
                return Ok(Next::Keep); // wait for the next edge
            }
            let matched = *conn.reply == *self.pool.replies[conn.message];
            let latency = conn.started.elapsed();
            self.tally(phase).record(latency, size, matched);
            conn.rounds += 1;
            match conn.rounds {
                1 => self.awaiting_first -= 1,
                2 => self.unwarmed -= 1,
                _ => {}
            }
            if self.spec.rounds.is_some_and(|limit| conn.rounds >= limit) {
                return Ok(Next::Close);
            }
            if phase == Phase::Setup {
                // One round proves the server serves this connection; the rest wait so that
                // set-up is not slowed down by traffic on connections that are already up.
                conn.state = State::Idle;
                return Ok(Next::Keep);
            }
            conn.begin_round(&self.pool);
            fresh = true;
        }
    }
    // ANCHOR_END: drive

    /// Set-up is over: every idle connection starts its rounds. Nothing would wake them
    /// (their sockets have no new edge), so each is driven once by hand.
    fn wake_idle(&mut self, phase: Phase) {
        for slot in 0..self.conns.len() {
            match self.conns[slot].as_mut() {
                Some(conn) if conn.state == State::Idle => conn.begin_round(&self.pool),
                _ => continue,
            }
            self.on_event(slot, phase);
        }
    }

    /// Forgets a connection, whether it failed or made its last round.
    fn close(&mut self, slot: usize, mut conn: Conn) {
        if conn.rounds == 0 {
            self.awaiting_first -= 1;
        }
        if conn.rounds < 2 {
            self.unwarmed -= 1;
        }
        // Deregistering cannot fail for a registered socket; if it did, closing it below
        // removes it from the epoll set anyway.
        let _ = self.poll.registry().deregister(&mut conn.stream);
        self.free.push(slot);
        self.live -= 1;
    }

    /// Fails connections whose handshake or reply is later than the timeout.
    fn time_out_overdue(&mut self, phase: Phase) {
        let timeout = self.spec.timeout;
        for slot in 0..self.conns.len() {
            let overdue = matches!(
                &self.conns[slot],
                Some(c) if c.state != State::Idle && c.started.elapsed() > timeout
            );
            if !overdue {
                continue;
            }
            if let Some(conn) = self.conns[slot].take() {
                let what = if conn.state == State::Connecting {
                    "no handshake"
                } else {
                    "no full reply"
                };
                self.note_error(
                    phase,
                    format!(
                        "conn {} (round {}): {what} within {timeout:?} ({} of {} bytes back)",
                        conn.id,
                        conn.rounds + 1,
                        conn.read,
                        self.spec.size
                    ),
                );
                self.close(slot, conn);
            }
        }
    }

    fn tally(&mut self, phase: Phase) -> &mut Tally {
        let slot = match phase {
            Phase::Setup | Phase::Stop => 0,
            Phase::Warm => 1,
            Phase::Window(i) => (2 + i).min(self.report.tallies.len() - 1),
        };
        &mut self.report.tallies[slot]
    }

    fn note_error(&mut self, phase: Phase, err: String) {
        self.tally(phase).errors += 1;
        if self.report.errors.len() < KEPT_ERRORS {
            self.report.errors.push(err);
        }
    }
}

/// Raises this process's descriptor limit (`RLIMIT_NOFILE`) from its soft value to its hard
/// one, and returns the limit now in force. Servers the bench starts inherit it.
///
/// The soft limit is often 1024, which would stop a run at about 1000 connections with
/// EMFILE; the hard limit is as far as an unprivileged process may go.
pub fn raise_fd_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` through a pointer to a live, owned value.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: setrlimit only reads the `rlimit` we pass; raising the soft limit up to
        // the hard one is always permitted.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur)
}

/// Why `conns` connections cannot be opened under a descriptor limit of `limit`, if so.
pub fn fd_shortfall(conns: usize, limit: u64) -> Option<String> {
    let needed = conns as u64 + FD_SLACK;
    (needed > limit).then(|| {
        format!(
            "needs about {needed} descriptors (one per connection, in the load generator and \
             again in the server) but the hard limit is {limit}: raise it \
             (`ulimit -Hn`, /etc/security/limits.conf) or choose fewer --conns"
        )
    })
}

/// How long set-up may take: every batch of [`RAMP`] connections may use the whole timeout.
pub fn setup_timeout(conns: usize, timeout: Duration) -> Duration {
    let batches = conns.div_ceil(RAMP).max(1) as u32;
    timeout
        .saturating_mul(batches)
        .min(Duration::from_secs(120))
        + Duration::from_secs(1)
}

/// `lab client baseline --conns N ...`: this generator as a load client with the shared
/// flags, ending with protocol's summary line (non-zero exit on any mismatch or failure).
pub fn run_plan(addr: SocketAddr, plan: &LoadPlan) -> crate::Result<()> {
    let limit = raise_fd_limit()?;
    if let Some(why) = fd_shortfall(plan.conns, limit) {
        return Err(why.into());
    }
    let spec = LoadSpec {
        addr,
        conns: plan.conns,
        size: plan.size,
        threads: 1,
        windows: 1,
        timeout: plan.timeout,
        seed: plan.seed,
        rounds: match plan.stop {
            Stop::Rounds(rounds) => Some(rounds),
            Stop::After(_) => None,
        },
    };
    let start = Instant::now();
    let load = Load::start(&spec)?;
    load.wait_ready(setup_timeout(plan.conns, plan.timeout));
    load.set_phase(Phase::Window(0));
    match plan.stop {
        Stop::After(duration) => {
            // Returns early only if every connection has failed: nothing left to measure.
            load.wait_finished(duration.saturating_sub(start.elapsed()));
        }
        Stop::Rounds(_) => {
            // Bounded like everything else: a connection that stalls fails at its timeout.
            load.wait_finished(Duration::from_secs(24 * 3600));
        }
    }
    let elapsed = start.elapsed();
    let report = load.finish();
    for err in &report.errors {
        eprintln!("{err}");
    }
    report
        .total()
        .summary(plan.conns, elapsed)
        .report(plan.json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abandoning_a_start_stops_the_workers_already_running() {
        // A server that accepts and never answers: the workers would otherwise wait for ever.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let spec = LoadSpec {
            addr: silent.local_addr().unwrap(),
            conns: 4,
            size: 8,
            threads: 2,
            windows: 1,
            timeout: Duration::from_secs(60),
            seed: 1,
            rounds: None,
        };
        let mut load = Load::start(&spec).unwrap();
        let shared = Arc::clone(&load.shared);
        load.abandon();
        assert!(load.workers.is_empty());
        // Each worker counts itself finished on its way out, and `abandon` joined them all.
        assert!(shared.wait(Duration::ZERO, |p| p.finished == 2));
    }
}
