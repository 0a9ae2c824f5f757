//! `--backend uring` (the default): true asynchronous I/O (异步IO) on io_uring, one thread.
//!
//! Section 六 says 异步IO is the most efficient model; this is what it looks like when the
//! kernel really does the waiting. We *submit* operations ("accept a connection", "receive up
//! to 1024 bytes into this buffer", "send these bytes") and go on; the kernel waits for the
//! data (等待数据) **and** copies it into our buffer (拷贝数据), then posts a *completion*.
//! Our loop only handles completions; each handler is the callback of this model, and it
//! decides the connection's next operation:
//!
//! ```text
//! Accept ──fd──▶ Recv ──n bytes, upper-cased in place──▶ Send ──all sent──▶ Recv ...
//!                  │                                      │ └─short: Send the rest
//!                  └─0: peer closed ─ or -errno ─▶ closed ◀┘
//! ```
//!
//! Compare section 五: there `select` says "this socket is *ready*, go and `recv`" and the
//! `recv` still copies. Here nothing is ready-then-tried; what arrives is "done: n bytes are
//! already in your buffer". That is Stevens' definition of asynchronous I/O (UNP 6.2).
//!
//! What to watch:
//! - `user_data` is a key into a slab of in-flight operations ([`Op`]); each operation *owns*
//!   its connection and its buffer until its completion arrives, because the kernel may write
//!   into that buffer at any moment before then;
//! - a send may complete short: the rest is resubmitted from the offset (the notes' `send`
//!   forgets this, `sendall` does not);
//! - a negative result is `-errno`: logged, and that connection's slot, buffer and descriptor
//!   are freed by dropping its operation, which is safe because it has completed; on a fatal
//!   ring error the operations still in flight are leaked instead (see `Drop for Server`);
//! - backpressure for free: a connection's next receive is submitted only once its reply is
//!   all sent, so a client that never reads costs one 1 KiB buffer, not a growing queue;
//! - one thread serves every client (`grep Threads /proc/PID/status`).
//!
//! Production servers add: multishot accept and receive with provided buffer rings (Linux
//! 5.19/6.0) so idle connections hold no buffer at all, registered files, and a runtime
//! (tokio-uring, glommio, monoio) that turns these callbacks back into `async fn`s.

use crate::ring::{self, errno, Ring, Stats};
use io_uring::{opcode, types};
use protocol::accept::{Episode, Next, BACK_OFF};
use protocol::limits::READ_SIZE;
use slab::Slab;
use socket2::{SockAddr, SockAddrStorage, SockRef};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

/// Accepts kept in flight, so a burst of connections is not accepted one per loop turn.
const ACCEPTS_IN_FLIGHT: usize = 16;

/// Submission queue slots. Requests beyond this in one turn are submitted early (see `ring`).
const SQ_ENTRIES: u32 = 1024;

/// How long to pause accepting after running out of descriptors or memory: the waiting
/// connection stays queued, and an accept resubmitted at once would fail again. The shared
/// [`BACK_OFF`], as a timespec the kernel can point to for as long as it likes.
static ACCEPT_BACKOFF: types::Timespec = types::Timespec::new()
    .sec(BACK_OFF.as_secs())
    .nsec(BACK_OFF.subsec_nanos());

/// Knobs the tests turn; the binary uses [`Config::default`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Submission queue slots (a power of two). Tests use 2 to fill it on purpose.
    pub sq_entries: u32,
    /// The most bytes one send may hand the kernel. The default (a whole read) never caps;
    /// a test sets a few bytes so every reply is completed in pieces and resubmitted.
    pub max_send: usize,
    /// `SO_SNDBUF` for accepted sockets, or the system's default. A test sets it tiny so
    /// sends wait in the kernel for a slow reader.
    pub send_buffer: Option<usize>,
    /// Counters shared with whoever started the server.
    pub stats: Arc<Stats>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sq_entries: SQ_ENTRIES,
            max_send: READ_SIZE,
            send_buffer: None,
            stats: Arc::default(),
        }
    }
}

// ANCHOR: op
/// A connection: its socket, its peer (for the log), and its one buffer.
///
/// The buffer is boxed so it stays at one address while the `Conn` moves between operations
/// and the slab grows: the kernel holds a raw pointer into it.
struct Conn {
    fd: OwnedFd,
    peer: SocketAddr,
    buf: Box<[u8; READ_SIZE]>,
}

/// An operation in flight, stored in the slab under its `user_data`. Whatever the kernel may
/// touch (a connection's buffer) is owned here until the completion arrives.
enum Op {
    /// Waiting for a connection on the listener; the kernel writes the peer's address here.
    Accept(Box<PeerAddr>),
    /// A pause before accepting again, after running out of descriptors or memory.
    AcceptBackoff(Box<PeerAddr>),
    /// Receiving into `conn.buf`.
    Recv(Conn),
    /// Sending `conn.buf[sent..len]`, the upper-cased reply to the last receive.
    Send { conn: Conn, len: usize, sent: usize },
}
// ANCHOR_END: op

/// Where an accept request has the kernel write the new connection's peer address. Boxed and
/// owned by the `Accept` operation, like a receive buffer, and reused by the next accept.
struct PeerAddr {
    storage: SockAddrStorage,
    len: libc::socklen_t,
}

impl PeerAddr {
    fn new() -> Box<PeerAddr> {
        Box::new(PeerAddr {
            storage: SockAddrStorage::zeroed(),
            len: 0,
        })
    }

    /// The address the kernel wrote, if it is an IP address.
    fn take(&mut self) -> Option<SocketAddr> {
        let storage = std::mem::replace(&mut self.storage, SockAddrStorage::zeroed());
        // SAFETY: a successful accept filled `storage` with an address of `len` bytes of the
        // family it names, which is what `SockAddr::new` requires.
        unsafe { SockAddr::new(storage, self.len) }.as_socket()
    }
}

/// Serves `listener` on io_uring until a fatal ring error.
pub fn run(listener: TcpListener, config: Config) -> crate::Result<()> {
    // The ring is created on the thread that uses it: it is set up for a single submitter.
    let ring = Ring::new(config.sq_entries, Arc::clone(&config.stats))?;
    let mut server = Server {
        ring,
        recv_flags: ring::poll_first(),
        ops: Slab::with_capacity(1024),
        listener,
        accept_episode: Episode::new(),
        config,
    };
    server.serve()
}

struct Server {
    /// Dropped before `ops`, but that protects nothing: see `Drop for Server`.
    ring: Ring,
    /// Flags for every receive (see [`ring::poll_first`]).
    recv_flags: u16,
    ops: Slab<Op>,
    listener: TcpListener,
    /// The run of failed accepts in progress, logged once (all accepts in flight share it).
    accept_episode: Episode,
    config: Config,
}

/// `serve` returns only on a fatal ring error, with every operation in the slab still in
/// flight: the kernel may still write into their buffers and peer addresses, even after the
/// ring's descriptor is closed (closing does not wait for them). Leak them, on purpose and
/// counted, rather than free memory the kernel may write into. Their sockets stay open with
/// them; the process is about to report the error and exit.
impl Drop for Server {
    fn drop(&mut self) {
        let in_flight = std::mem::take(&mut self.ops);
        if !in_flight.is_empty() {
            let n = in_flight.len() as u64;
            self.config
                .stats
                .leaked
                .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            protocol::log!("leaving {n} operations' buffers to the kernel (leaked, not freed)");
            std::mem::forget(in_flight);
        }
    }
}

impl Server {
    // ANCHOR: loop
    fn serve(&mut self) -> crate::Result<()> {
        for _ in 0..ACCEPTS_IN_FLIGHT {
            self.submit_accept(PeerAddr::new());
        }
        let mut completed = Vec::with_capacity(1024);
        loop {
            // The only place this thread waits: inside the kernel, for any completion.
            self.ring.submit_and_wait(&mut completed)?;
            for &(user_data, result) in &completed {
                self.complete(user_data, result);
            }
        }
    }

    /// The callback dispatcher: takes the finished operation out of the slab (it owns the
    /// connection and buffer again) and lets its handler choose what comes next.
    fn complete(&mut self, user_data: u64, result: i32) {
        let Some(op) = usize::try_from(user_data)
            .ok()
            .and_then(|key| self.ops.try_remove(key))
        else {
            protocol::log!("completion for unknown operation {user_data}; ignored");
            return;
        };
        match op {
            Op::Accept(peer) => self.on_accept(peer, result),
            Op::AcceptBackoff(peer) => self.submit_accept(peer),
            Op::Recv(conn) => self.on_recv(conn, result),
            Op::Send { conn, len, sent } => self.on_send(conn, len, sent, result),
        }
    }
    // ANCHOR_END: loop

    fn on_accept(&mut self, mut peer_addr: Box<PeerAddr>, result: i32) {
        if result < 0 {
            let open = self.open_connections();
            match self.accept_episode.failed(&errno(result), Some(open)) {
                // ECONNABORTED (the client gave up before we accepted) and the like: that
                // connection only. (An accept completion never says WouldBlock: the kernel
                // waited for us; if it did, asking again is right too.)
                Next::Again | Next::Drained => self.submit_accept(peer_addr),
                // Out of descriptors or memory (or unknown): every accept in flight will
                // meet the same wall, and each pauses on its own timer; `Episode` logs the
                // first and counts the rest.
                Next::BackOff => {
                    let key = self.ops.insert(Op::AcceptBackoff(peer_addr));
                    let entry = opcode::Timeout::new(&ACCEPT_BACKOFF).build();
                    // SAFETY: the timespec is a static, alive forever.
                    unsafe { self.ring.push(entry.user_data(key as u64)) };
                }
            }
            return;
        }
        self.accept_episode.accepted();
        // SAFETY: a non-negative accept result is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(result) };
        let peer = peer_addr.take();
        // Keep ACCEPTS_IN_FLIGHT accepts waiting, reusing this one's address buffer.
        self.submit_accept(peer_addr);
        let Some(peer) = peer else {
            protocol::log!("accepted a connection that is not IP; closed");
            return; // dropping `fd` closes it
        };
        let socket = SockRef::from(&fd);
        // Replies are small and sent at once: do not let Nagle hold them back.
        if let Err(err) = socket.set_tcp_nodelay(true) {
            protocol::log!("[{peer}] TCP_NODELAY: {err}");
        }
        if let Some(size) = self.config.send_buffer {
            if let Err(err) = socket.set_send_buffer_size(size) {
                protocol::log!("[{peer}] SO_SNDBUF: {err}");
            }
        }
        protocol::log!("[{peer}] connected");
        self.submit_recv(Conn {
            fd,
            peer,
            // The one allocation per connection; everything after it reuses this buffer.
            buf: Box::new([0; READ_SIZE]),
        });
    }

    /// Connections open now: each has exactly one operation in flight, a receive or a send.
    fn open_connections(&self) -> usize {
        self.ops
            .iter()
            .filter(|(_, op)| matches!(op, Op::Recv(_) | Op::Send { .. }))
            .count()
    }

    // ANCHOR: on_recv
    fn on_recv(&mut self, mut conn: Conn, result: i32) {
        match result {
            // EOF: the peer closed or half-closed. Every reply is already sent (we receive
            // only after a reply is complete), so dropping `conn` closes the socket now.
            0 => protocol::log!("[{}] closed by peer", conn.peer),
            n if n > 0 => {
                // Both phases are over: the bytes are in our buffer. Only the transform is ours.
                let len = n as usize;
                protocol::upper_in_place(&mut conn.buf[..len]);
                self.submit_send(conn, len, 0);
            }
            // No WouldBlock here: the kernel waited for us. EINTR cannot reach a completion
            // in practice; if it did, the request is simply made again.
            _ if -result == libc::EINTR => self.submit_recv(conn),
            // ECONNRESET and friends: this connection only. Its operation has completed, so
            // the kernel holds nothing of it: dropping it frees all it holds.
            _ => protocol::log!("[{}] recv failed: {}", conn.peer, errno(result)),
        }
    }
    // ANCHOR_END: on_recv

    // ANCHOR: on_send
    fn on_send(&mut self, conn: Conn, len: usize, sent: usize, result: i32) {
        match result {
            n if n > 0 => {
                let sent = sent + n as usize;
                if sent < len {
                    // A short send: the kernel took only part. Send the rest, from the offset.
                    Stats::count(&self.config.stats.short_sends);
                    self.submit_send(conn, len, sent);
                } else {
                    // The whole reply is out: only now read the next request (backpressure).
                    self.submit_recv(conn);
                }
            }
            _ if -result == libc::EINTR => self.submit_send(conn, len, sent),
            // 0 bytes for a non-empty send would loop forever: treat it as a broken peer.
            0 => protocol::log!("[{}] send made no progress; closed", conn.peer),
            // EPIPE, ECONNRESET: the client left mid-reply.
            _ => protocol::log!("[{}] send failed: {}", conn.peer, errno(result)),
        }
    }
    // ANCHOR_END: on_send

    fn submit_accept(&mut self, peer_addr: Box<PeerAddr>) {
        let key = self.ops.insert(Op::Accept(peer_addr));
        let Op::Accept(peer_addr) = &mut self.ops[key] else {
            unreachable!("just inserted an Accept under this key");
        };
        peer_addr.len = peer_addr.storage.size_of();
        let entry = opcode::Accept::new(
            types::Fd(self.listener.as_raw_fd()),
            (&raw mut peer_addr.storage).cast::<libc::sockaddr>(),
            &raw mut peer_addr.len,
        )
        .flags(libc::SOCK_CLOEXEC)
        .build()
        .user_data(key as u64);
        // SAFETY: the address and its length are boxed inside the `Op` under `key`, which
        // stays in the slab, untouched, until this completion is handled in `complete`.
        unsafe { self.ring.push(entry) };
    }

    // ANCHOR: submit_recv
    fn submit_recv(&mut self, conn: Conn) {
        let key = self.ops.insert(Op::Recv(conn));
        let Op::Recv(conn) = &mut self.ops[key] else {
            unreachable!("just inserted a Recv under this key");
        };
        let entry = opcode::Recv::new(
            types::Fd(conn.fd.as_raw_fd()),
            conn.buf.as_mut_ptr(),
            READ_SIZE as u32,
        )
        .ioprio(self.recv_flags)
        .build()
        .user_data(key as u64);
        // SAFETY: the buffer is boxed inside the `Op` stored under `key`, which stays in the
        // slab, untouched, until this completion is handled in `complete`.
        unsafe { self.ring.push(entry) };
    }
    // ANCHOR_END: submit_recv

    fn submit_send(&mut self, conn: Conn, len: usize, sent: usize) {
        let max_send = self.config.max_send;
        let key = self.ops.insert(Op::Send { conn, len, sent });
        let Op::Send { conn, .. } = &self.ops[key] else {
            unreachable!("just inserted a Send under this key");
        };
        let unsent = &conn.buf[sent..len];
        let chunk = unsent.len().min(max_send);
        // MSG_NOSIGNAL: a peer that is gone gives EPIPE in the completion, not SIGPIPE.
        let entry = opcode::Send::new(
            types::Fd(conn.fd.as_raw_fd()),
            unsent.as_ptr(),
            chunk as u32,
        )
        .flags(libc::MSG_NOSIGNAL)
        .build()
        .user_data(key as u64);
        // SAFETY: as in `submit_recv`: the bytes live in the boxed buffer owned by the `Op`
        // under `key` until its completion is handled.
        unsafe { self.ring.push(entry) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_servers::{connect, exchange};
    use protocol::load::Messages;
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpStream};
    use std::time::Duration;

    /// Starts a uring server on a thread of this process, or says why it cannot.
    fn start(config: Config) -> Option<SocketAddr> {
        if let Err(why) = crate::probe::check() {
            println!("skipped: io_uring is unavailable here: {why}");
            return None;
        }
        let listener = protocol::listen::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        // The thread runs until the test process exits.
        std::thread::spawn(move || run(listener, config));
        Some(addr)
    }

    #[test]
    fn replies_and_closes_after_a_half_close() {
        let Some(addr) = start(Config::default()) else {
            return;
        };
        let mut stream = connect(addr);
        stream.write_all(b"hello, ring").unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).unwrap();
        assert_eq!(reply, b"HELLO, RING");
    }

    // ANCHOR: short_send_test
    #[test]
    fn a_short_send_is_resubmitted_from_its_offset() {
        // Every send is capped at 7 bytes, so each 1 KiB reply completes in many pieces and
        // the rest is resubmitted each time; the client must still get every byte in order.
        let stats = Arc::new(Stats::default());
        let Some(addr) = start(Config {
            max_send: 7,
            stats: Arc::clone(&stats),
            ..Config::default()
        }) else {
            return;
        };
        let message = Messages::new(5, 0).next_message(100_000);
        exchange(connect(addr), message);
        assert!(Stats::read(&stats.short_sends) >= 100_000 / 7 - 1000);
    }
    // ANCHOR_END: short_send_test

    #[test]
    fn a_slow_reader_behind_tiny_socket_buffers_gets_every_byte() {
        // A tiny send buffer on the server's socket and a tiny receive window on the client,
        // which writes 4 MiB from one thread while reading from another: the server's sends
        // wait in the kernel, its receives pause (backpressure), and nothing is lost.
        // (On loopback the kernel seldom completes a 1 KiB send short, which is why the test
        // above forces short sends with a cap.)
        let Some(addr) = start(Config {
            send_buffer: Some(2048),
            ..Config::default()
        }) else {
            return;
        };
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.set_recv_buffer_size(2048).unwrap();
        socket.connect(&addr.into()).unwrap();
        let stream: TcpStream = socket.into();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let message = Messages::new(9, 0).next_message(4 << 20);
        exchange(stream, message);
    }

    #[test]
    fn a_full_submission_queue_still_serves_everyone() {
        // Two SQ slots and 16 accepts, 50 clients at once: requests keep meeting a full queue.
        let stats = Arc::new(Stats::default());
        let Some(addr) = start(Config {
            sq_entries: 2,
            stats: Arc::clone(&stats),
            ..Config::default()
        }) else {
            return;
        };
        let clients: Vec<_> = (0..50u64)
            .map(|i| {
                std::thread::spawn(move || {
                    let message = Messages::new(1, i).next_message(3000);
                    exchange(connect(addr), message);
                })
            })
            .collect();
        for client in clients {
            client.join().unwrap();
        }
        assert!(Stats::read(&stats.sq_full) > 0, "the queue never filled");
    }

    #[test]
    fn a_reset_client_costs_only_its_own_connection() {
        let Some(addr) = start(Config::default()) else {
            return;
        };
        for _ in 0..20 {
            let stream = connect(addr);
            SockRef::from(&stream)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            (&stream).write_all(b"bye").unwrap();
            drop(stream); // RST instead of FIN
        }
        let message = b"still serving".to_vec();
        let reply = exchange(connect(addr), message);
        assert_eq!(reply, b"STILL SERVING");
    }
}
