//! `--backend uring-multishot`: the io_uring server of section 六 (异步IO) in the form
//! production runtimes use. It has the same completion model as [`crate::uring`] and a
//! different relationship with the kernel:
//!
//! | `--backend uring`                              | `--backend uring-multishot`                         |
//! |------------------------------------------------|-----------------------------------------------------|
//! | 16 accepts in flight, one per connection       | one multishot accept: one request, a completion per connection |
//! | a receive per message, each naming its buffer  | one multishot receive per connection, a completion per arrival |
//! | a 1 KiB buffer per connection, idle or not     | a shared [`BufRing`]: the kernel picks a buffer when data arrives |
//!
//! So an idle connection holds a socket and a few dozen bytes of state, and no buffer.
//!
//! ```text
//! AcceptMulti ──fd, fd, fd ...──▶ RecvMulti (per connection, stays armed)
//!   RecvMulti ──n bytes in buffer b──▶ upper-case b in place ─▶ Send b ──all sent──▶ b back to the ring
//!             └─no F_MORE: the request ended ─▶ re-arm (EOF: no; ENOBUFS: once buffers come back)
//! ```
//!
//! What to watch:
//! - a completion without `IORING_CQE_F_MORE` ends its multishot request; everything else
//!   here follows from deciding when to submit it again ([`after_recv`], [`next_step`]);
//! - the reply is the received buffer itself, upper-cased in place, so a buffer goes back to
//!   the ring only when its reply is fully sent. That is the backpressure: a connection
//!   whose replies wait holds its buffers, and at [`Config::max_held`] its receive is
//!   cancelled until they are sent (a flood or a slow reader costs that connection only);
//! - an empty ring ends a receive with `-ENOBUFS`: the data stays in the socket and the
//!   connection waits in a queue until buffers come back, then is re-armed (never a retry
//!   in a loop, which would spin);
//! - every request of a loop turn reaches the kernel in one `io_uring_enter`
//!   ([`Ring::submit_and_wait_flags`]), which also waits; with `DEFER_TASKRUN` the kernel
//!   does our completions' work only then, not at whatever system call we happen to be in.
//!
//! Production runtimes add what a teaching server leaves out: registered (fixed) files, so
//! the kernel skips a file-table lookup per request; buffer rings that grow and several
//! buffer sizes; zero-copy send (`SendZc`) for large replies; and `async fn`s on top.

use crate::buf_ring::{BufRing, Misuse};
use crate::ring::{errno, Cqe, Ring, Stats};
use io_uring::{cqueue, opcode, types};
use protocol::accept::{Episode, Next, BACK_OFF};
use protocol::limits::READ_SIZE;
use slab::Slab;
use socket2::SockRef;
use std::collections::VecDeque;
use std::mem::ManuallyDrop;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Submission queue slots. Requests beyond this in one turn are submitted early (see `ring`).
const SQ_ENTRIES: u32 = 1024;

/// Provided buffers, shared by every connection. Only connections with data in flight hold
/// one, so this bounds memory for any number of idle connections; when all are held the
/// kernel answers `ENOBUFS` and the connection waits for one to come back.
const BUFFERS: u16 = 8192;

/// Bytes per provided buffer: a quarter of the other backends' reads. Messages of the bench are
/// 64 bytes; a longer one simply arrives in several buffers, each its own completion.
const BUF_SIZE: usize = 256;

/// The buffer group our receives draw from (one group, one size).
const BGID: u16 = 0;

/// The most buffers one connection may hold (received, reply not yet sent) before its
/// receive is cancelled: 4 KiB of replies in flight per connection, like a socket's worth.
const MAX_HELD: usize = 4;

/// As in [`crate::uring`]: the shared back-off as a timespec the kernel may point to.
static ACCEPT_BACKOFF: types::Timespec = types::Timespec::new()
    .sec(BACK_OFF.as_secs())
    .nsec(BACK_OFF.subsec_nanos());

/// Knobs the tests turn; the binary uses [`Config::default`].
#[derive(Debug, Clone)]
pub struct Config {
    pub sq_entries: u32,
    /// Buffers in the ring (a power of two). A test sets a handful to run out on purpose.
    pub buffers: u16,
    pub buf_size: usize,
    /// The most buffers one connection holds before its receive is cancelled.
    pub max_held: usize,
    /// The most bytes one send hands the kernel; a test caps it to force short sends.
    pub max_send: usize,
    /// `SO_SNDBUF` for accepted sockets, or the system's default.
    pub send_buffer: Option<usize>,
    pub stats: Arc<Stats>,
    pub counts: Arc<Counts>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sq_entries: SQ_ENTRIES,
            buffers: BUFFERS,
            buf_size: BUF_SIZE,
            max_held: MAX_HELD,
            max_send: READ_SIZE,
            send_buffer: None,
            stats: Arc::default(),
            counts: Arc::default(),
        }
    }
}

/// What multishot adds to [`Stats`], for tests and the curious.
#[derive(Debug, Default)]
pub struct Counts {
    /// Receives that ended with `ENOBUFS` (the ring was empty).
    pub starved: AtomicU64,
    /// Receives submitted again after they ended (not counting each connection's first).
    pub rearmed: AtomicU64,
    /// Receives cancelled because their connection held `max_held` buffers.
    pub capped: AtomicU64,
    /// The most buffers any one connection held at once.
    pub most_held: AtomicU64,
    /// The most buffers a connection held while busy (after its first cap): the bound
    /// single-shot receives keep.
    pub most_held_busy: AtomicU64,
}

// ANCHOR: recv_state
/// Where a connection's multishot receive stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recv {
    /// In the kernel: a completion (and a buffer taken) each time data arrives.
    Armed,
    /// We asked the kernel to cancel it; its last completion has not come yet.
    Cancelling,
    /// Ended (no `F_MORE`), to be submitted again when [`next_step`] says so.
    Ended,
    /// Ended with `ENOBUFS`: in the starved queue until buffers come back.
    Starved,
    /// EOF or an error: never submitted again.
    Finished,
}

impl Recv {
    /// Whether the kernel may still post a completion for it.
    fn in_flight(self) -> bool {
        matches!(self, Recv::Armed | Recv::Cancelling)
    }
}

/// The state after one receive completion with `result` and `F_MORE` = `more`.
pub fn after_recv(state: Recv, result: i32, more: bool) -> Recv {
    if more {
        // The request goes on; data (or a transient error) changes nothing.
        return state;
    }
    match result {
        0 => Recv::Finished, // EOF: the peer closed or half-closed
        n if n > 0 => Recv::Ended,
        // The ring was empty; the bytes wait in the socket, not lost.
        e if e == -libc::ENOBUFS => Recv::Starved,
        // Our cancel (the connection held its cap), or a signal: not the peer's doing.
        e if e == -libc::ECANCELED || e == -libc::EINTR => Recv::Ended,
        _ => Recv::Finished, // ECONNRESET and the like
    }
}

/// What to do with a receive after any event on its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Nothing,
    /// Submit it again.
    Arm,
    /// Cancel it: the connection holds its cap of buffers (or is broken).
    Cancel,
}

/// Decides from the receive's state, the buffers its connection holds, and whether the
/// connection is broken (a send failed). Starved receives are not re-armed here but by
/// the loop, when buffers are back in the ring.
pub fn next_step(state: Recv, held: usize, max_held: usize, broken: bool) -> Step {
    match state {
        Recv::Armed if broken || held >= max_held => Step::Cancel,
        Recv::Ended if !broken && held < max_held => Step::Arm,
        _ => Step::Nothing,
    }
}
// ANCHOR_END: recv_state

/// A reply waiting to go out: the bytes are in buffer `bid`, upper-cased in place.
#[derive(Debug, Clone, Copy)]
struct Reply {
    bid: u16,
    len: usize,
    sent: usize,
}

// ANCHOR: conn
/// A connection. It owns no buffer: the ones it holds are named in `replies`, and live in
/// the server's [`BufRing`]. Idle, it is a socket and these few fields.
struct Conn {
    fd: OwnedFd,
    peer: SocketAddr,
    recv: Recv,
    /// Received buffers whose replies are not fully sent, oldest first; only the front one
    /// is being sent (two sends in flight on one socket could interleave their bytes).
    replies: VecDeque<Reply>,
    /// A send of `replies[0]` is in flight.
    sending: bool,
    /// A send failed: the rest of its replies are dropped.
    broken: bool,
    /// It reached its cap: its receives are single-shot until it is quiet again.
    busy: bool,
    /// The receive in flight (or last armed) is single-shot: one buffer at most.
    single_shot: bool,
}
// ANCHOR_END: conn

/// What a completion's `user_data` says: which request, and for which connection. A
/// multishot request keeps one `user_data` for all its completions, so it names the
/// connection (a slab key) and the kind of request, not one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Accept = 1,
    AcceptBackoff = 2,
    Recv = 3,
    Send = 4,
    Cancel = 5,
}

fn user_data(kind: Kind, key: usize) -> u64 {
    ((kind as u64) << 32) | key as u64
}

fn decode(user_data: u64) -> Option<(Kind, usize)> {
    let kind = match user_data >> 32 {
        1 => Kind::Accept,
        2 => Kind::AcceptBackoff,
        3 => Kind::Recv,
        4 => Kind::Send,
        5 => Kind::Cancel,
        _ => return None,
    };
    Some((kind, (user_data & 0xffff_ffff) as usize))
}

/// Serves `listener` with multishot requests until a fatal ring error.
pub fn run(listener: TcpListener, config: Config) -> crate::Result<()> {
    // Created on the thread that uses it: it is set up for a single submitter.
    let ring = Ring::new(config.sq_entries, Arc::clone(&config.stats))?;
    let bufs = BufRing::new(config.buffers, config.buf_size)?;
    // SAFETY: the buffer ring is never freed (`ManuallyDrop` in the server, which never
    // drops it), so it outlives every receive of the group.
    unsafe { bufs.register(&ring.submitter(), BGID)? };
    protocol::log!(
        "uring-multishot: {} buffers of {} bytes shared by all connections, at most {} per \
         connection; SINGLE_ISSUER and DEFER_TASKRUN: {}",
        config.buffers,
        config.buf_size,
        config.max_held,
        if ring.defers_task_run() {
            "yes"
        } else {
            "no (older kernel)"
        }
    );
    let mut server = Server {
        ring,
        bufs: ManuallyDrop::new(bufs),
        conns: Slab::with_capacity(1024),
        starved: VecDeque::new(),
        listener,
        accept_armed: false,
        accept_paused: false,
        accept_episode: Episode::new(),
        config,
    };
    server.serve()
}

struct Server {
    ring: Ring,
    /// Never dropped: the kernel may write into any buffer in the ring for as long as a
    /// receive of the group may be armed, and `serve` returns only on a fatal error with
    /// receives armed. The process reports the error and exits; the memory goes with it.
    bufs: ManuallyDrop<BufRing>,
    conns: Slab<Conn>,
    /// Connections whose receive ended with `ENOBUFS`, oldest first, re-armed as buffers
    /// come back. A key may be stale (that connection closed, another took its key): the
    /// connection's state says whether it is still starved.
    starved: VecDeque<usize>,
    listener: TcpListener,
    /// The multishot accept is in the kernel.
    accept_armed: bool,
    /// A back-off timer runs; the accept is re-armed when it fires.
    accept_paused: bool,
    accept_episode: Episode,
    config: Config,
}

impl Drop for Server {
    fn drop(&mut self) {
        let bytes = usize::from(self.config.buffers) * self.config.buf_size;
        Stats::count(&self.config.stats.leaked);
        protocol::log!("leaving the {bytes}-byte buffer ring to the kernel (leaked, not freed)");
    }
}

impl Server {
    // ANCHOR: loop
    fn serve(&mut self) -> crate::Result<()> {
        self.arm_accept();
        let mut completed = Vec::with_capacity(1024);
        loop {
            // The one system call of a turn: every request queued since the last turn goes
            // in, and we wait for completions.
            self.ring.submit_and_wait_flags(&mut completed)?;
            for &cqe in &completed {
                self.complete(cqe)?;
            }
            // Buffers given back this turn can take in connections that found none.
            self.rearm_starved();
        }
    }

    fn complete(&mut self, cqe: Cqe) -> crate::Result<()> {
        let Some((kind, key)) = decode(cqe.user_data) else {
            protocol::log!("completion for unknown request {}; ignored", cqe.user_data);
            return Ok(());
        };
        let more = cqueue::more(cqe.flags);
        match kind {
            Kind::Accept => self.on_accept(cqe.result, more),
            Kind::AcceptBackoff => {
                self.accept_paused = false;
                self.arm_accept();
            }
            Kind::Recv => self.on_recv(key, cqe)?,
            Kind::Send => self.on_send(key, cqe.result)?,
            // 0, or ENOENT/EALREADY when the receive had just ended by itself: either way
            // the receive's own last completion says what happened.
            Kind::Cancel => {}
        }
        Ok(())
    }
    // ANCHOR_END: loop

    // ANCHOR: on_accept
    fn on_accept(&mut self, result: i32, more: bool) {
        if !more {
            // The multishot accept ended (an error, or the kernel could not post): re-armed
            // below, unless this is a back-off.
            self.accept_armed = false;
        }
        if result >= 0 {
            self.accept_episode.accepted();
            // SAFETY: a non-negative accept result is a new descriptor that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(result) };
            self.add_conn(fd);
        } else {
            let open = self.conns.len();
            // Out of descriptors or memory ends the multishot accept (without F_MORE), and
            // an accept submitted again at once would fail again: pause for BACK_OFF.
            // `Episode` logs the first failure and the recovery, not every retry.
            if self.accept_episode.failed(&errno(result), Some(open)) == Next::BackOff && !more {
                self.accept_paused = true;
                let entry = opcode::Timeout::new(&ACCEPT_BACKOFF)
                    .build()
                    .user_data(user_data(Kind::AcceptBackoff, 0));
                // SAFETY: the timespec is a static, alive forever.
                unsafe { self.ring.push(entry) };
            }
        }
        if !self.accept_armed && !self.accept_paused {
            self.arm_accept();
        }
    }
    // ANCHOR_END: on_accept

    fn add_conn(&mut self, fd: OwnedFd) {
        let socket = SockRef::from(&fd);
        // A multishot accept cannot return each peer's address (it has one request, and
        // each connection would need its own buffer), so ask for it: one system call per
        // connection, for the log line.
        let peer = match socket.peer_addr().map(|a| a.as_socket()) {
            Ok(Some(peer)) => peer,
            Ok(None) => {
                protocol::log!("accepted a connection that is not IP; closed");
                return;
            }
            // ENOTCONN: it was reset before we asked. That connection only.
            Err(err) => {
                protocol::log!("accepted a connection that is already gone ({err}); closed");
                return;
            }
        };
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
        let key = self.conns.insert(Conn {
            fd,
            peer,
            recv: Recv::Ended,
            replies: VecDeque::new(),
            sending: false,
            broken: false,
            busy: false,
            single_shot: false,
        });
        self.arm_recv(key);
    }

    // ANCHOR: on_recv
    fn on_recv(&mut self, key: usize, cqe: Cqe) -> crate::Result<()> {
        let more = cqueue::more(cqe.flags);
        let bid = cqueue::buffer_select(cqe.flags);
        let Some(conn) = self.conns.get_mut(key) else {
            // Cannot happen (a connection is removed only when nothing of it is in flight),
            // but a buffer named here must still go back, or the ring shrinks for good.
            protocol::log!("receive completion for unknown connection {key}");
            if let Some(bid) = bid {
                self.bufs.taken(bid)?;
                self.bufs.give_back(bid)?;
            }
            return Ok(());
        };
        conn.recv = after_recv(conn.recv, cqe.result, more);
        match (cqe.result, bid) {
            (n, Some(bid)) if n > 0 => {
                // Both phases are over: the kernel waited and copied into buffer `bid`.
                self.bufs.taken(bid)?;
                let len = n as usize;
                protocol::upper_in_place(self.bufs.buffer(bid, len)?);
                if conn.broken {
                    self.bufs.give_back(bid)?; // nobody to reply to
                } else {
                    conn.replies.push_back(Reply { bid, len, sent: 0 });
                    let held = conn.replies.len() as u64;
                    let counts = &self.config.counts;
                    counts.most_held.fetch_max(held, Ordering::Relaxed);
                    if conn.single_shot {
                        counts.most_held_busy.fetch_max(held, Ordering::Relaxed);
                    }
                    if conn.single_shot && !cqueue::sock_nonempty(cqe.flags) && held == 1 {
                        // A busy connection that has caught up: multishot again.
                        conn.busy = false;
                    }
                    if !conn.sending {
                        self.submit_send(key)?;
                    }
                }
            }
            (n, None) if n > 0 => {
                return Err(format!("a receive of {n} bytes named no buffer").into());
            }
            (0, _) => protocol::log!("[{}] closed by peer", conn.peer),
            (e, _) if e == -libc::ENOBUFS => {
                Stats::count(&self.config.counts.starved);
                if conn.recv == Recv::Starved {
                    self.starved.push_back(key);
                }
            }
            (e, _) if e == -libc::ECANCELED || e == -libc::EINTR => {}
            (e, _) => {
                protocol::log!("[{}] recv failed: {}", conn.peer, errno(e));
                conn.broken = true;
            }
        }
        self.settle(key)
    }
    // ANCHOR_END: on_recv

    // ANCHOR: on_send
    fn on_send(&mut self, key: usize, result: i32) -> crate::Result<()> {
        let Some(conn) = self.conns.get_mut(key) else {
            return Err(format!("send completion for unknown connection {key}").into());
        };
        conn.sending = false;
        let Some(front) = conn.replies.front_mut() else {
            return Err(format!("[{}] a send completed with no reply queued", conn.peer).into());
        };
        match result {
            n if n > 0 => {
                front.sent += n as usize;
                if front.sent < front.len {
                    // A short send: the rest goes from the offset, from the same buffer.
                    Stats::count(&self.config.stats.short_sends);
                } else {
                    // The whole reply is out: only now may the kernel reuse its buffer.
                    let bid = front.bid;
                    conn.replies.pop_front();
                    self.bufs.give_back(bid)?;
                }
            }
            e if e == -libc::EINTR => {}
            // 0 bytes for a non-empty send would loop forever: treat it as a broken peer.
            0 => {
                protocol::log!("[{}] send made no progress; closed", conn.peer);
                conn.broken = true;
            }
            // EPIPE, ECONNRESET: the client left mid-reply.
            e => {
                protocol::log!("[{}] send failed: {}", conn.peer, errno(e));
                conn.broken = true;
            }
        }
        self.settle(key)
    }
    // ANCHOR_END: on_send

    // ANCHOR: settle
    /// After any event on connection `key`: send the next reply, re-arm or cancel its
    /// receive, or close it once nothing of it is in flight.
    fn settle(&mut self, key: usize) -> crate::Result<()> {
        let Some(conn) = self.conns.get_mut(key) else {
            return Ok(());
        };
        if conn.broken {
            // Its replies will never be read: give their buffers back now, except one a
            // send in flight still reads from.
            let keep = usize::from(conn.sending);
            for reply in conn.replies.drain(keep..) {
                self.bufs.give_back(reply.bid)?;
            }
        } else if !conn.sending && !conn.replies.is_empty() {
            self.submit_send(key)?;
        }
        let Some(conn) = self.conns.get(key) else {
            return Ok(());
        };
        match next_step(
            conn.recv,
            conn.replies.len(),
            self.config.max_held,
            conn.broken,
        ) {
            Step::Arm => {
                Stats::count(&self.config.counts.rearmed);
                self.arm_recv(key);
            }
            Step::Cancel => {
                if !conn.broken {
                    Stats::count(&self.config.counts.capped);
                    // The kernel fills buffers for a multishot receive for as long as the
                    // socket has data (dozens per system call for a flooding peer) before
                    // our cancel can reach it; so from now on this connection receives
                    // one buffer per request, submitted only below its cap.
                    self.conns[key].busy = true;
                }
                self.cancel_recv(key);
            }
            Step::Nothing => {}
        }
        let conn = &self.conns[key];
        let done = conn.broken || (conn.recv == Recv::Finished && conn.replies.is_empty());
        if done && !conn.recv.in_flight() && !conn.sending {
            // Nothing of it is in the kernel: closing is safe, and frees everything.
            self.conns.remove(key);
        }
        Ok(())
    }
    // ANCHOR_END: settle

    /// Re-arms starved connections, oldest first, at most one per buffer in the ring: each
    /// has data waiting, so each will take a buffer at once. With no buffer back, none is
    /// re-armed, so an empty ring never turns into a loop of failing receives.
    fn rearm_starved(&mut self) {
        let mut budget = self.bufs.in_ring();
        while budget > 0 {
            let Some(key) = self.starved.pop_front() else {
                break;
            };
            let Some(conn) = self.conns.get_mut(key) else {
                continue; // closed since
            };
            if conn.recv != Recv::Starved {
                continue; // a stale key: another connection took it
            }
            conn.recv = Recv::Ended;
            if !conn.broken && conn.replies.len() < self.config.max_held {
                Stats::count(&self.config.counts.rearmed);
                self.arm_recv(key);
                budget -= 1;
            }
            // Otherwise `settle` arms it when its replies are out.
        }
    }

    fn arm_accept(&mut self) {
        let entry = opcode::AcceptMulti::new(types::Fd(self.listener.as_raw_fd()))
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(user_data(Kind::Accept, 0));
        // SAFETY: a multishot accept points to no memory of ours (no peer address).
        unsafe { self.ring.push(entry) };
        self.accept_armed = true;
    }

    // ANCHOR: arm_recv
    fn arm_recv(&mut self, key: usize) {
        let conn = &mut self.conns[key];
        conn.recv = Recv::Armed;
        conn.single_shot = conn.busy;
        let fd = types::Fd(conn.fd.as_raw_fd());
        // No buffer named: the kernel takes one from group BGID when data arrives.
        let entry = if conn.busy {
            // One buffer at most, then a completion without F_MORE: `settle` submits the
            // next only while the connection holds fewer than its cap.
            opcode::Recv::new(fd, std::ptr::null_mut(), self.bufs.buf_size() as u32)
                .buf_group(BGID)
                .build()
                .flags(io_uring::squeue::Flags::BUFFER_SELECT)
        } else {
            opcode::RecvMulti::new(fd, BGID).build()
        };
        let entry = entry.user_data(user_data(Kind::Recv, key));
        // SAFETY: the request points to no memory of ours; the buffers it will fill belong
        // to the registered ring, which is never freed (see `Server::bufs`).
        unsafe { self.ring.push(entry) };
    }
    // ANCHOR_END: arm_recv

    fn cancel_recv(&mut self, key: usize) {
        self.conns[key].recv = Recv::Cancelling;
        // Requests reach the kernel in order (see `Ring::push`), so this cannot overtake
        // the receive it names, nor hit a later connection's receive under the same key
        // (that one can only be submitted after this connection is closed, which waits
        // for this receive's last completion).
        let entry = opcode::AsyncCancel::new(user_data(Kind::Recv, key))
            .build()
            .user_data(user_data(Kind::Cancel, key));
        // SAFETY: a cancel points to no memory.
        unsafe { self.ring.push(entry) };
    }

    fn submit_send(&mut self, key: usize) -> Result<(), Misuse> {
        let max_send = self.config.max_send;
        let conn = &mut self.conns[key];
        let Some(&Reply { bid, len, sent }) = conn.replies.front() else {
            return Ok(());
        };
        conn.sending = true;
        let fd = conn.fd.as_raw_fd();
        let unsent = &self.bufs.buffer(bid, len)?[sent..];
        let chunk = unsent.len().min(max_send);
        // MSG_NOSIGNAL: a peer that is gone gives EPIPE in the completion, not SIGPIPE.
        let entry = opcode::Send::new(types::Fd(fd), unsent.as_ptr(), chunk as u32)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(user_data(Kind::Send, key));
        // SAFETY: buffer `bid` is held: it goes back to the ring only after this send's
        // completion is handled (`on_send`, or `settle` which keeps the reply a send is
        // reading), and the ring's memory is never freed.
        unsafe { self.ring.push(entry) };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_servers::{connect, exchange};
    use protocol::load::Messages;
    use std::io::{Read, Write};
    use std::net::Shutdown;
    use std::time::Duration;

    #[test]
    fn a_receive_that_ends_is_re_armed_unless_it_saw_eof_or_an_error() {
        use Recv::*;
        // F_MORE: the request goes on, whatever the result.
        assert_eq!(after_recv(Armed, 100, true), Armed);
        assert_eq!(after_recv(Cancelling, 100, true), Cancelling);
        // Without F_MORE it ended; how it ended decides what comes next.
        assert_eq!(after_recv(Armed, 100, false), Ended);
        assert_eq!(after_recv(Armed, -libc::ECANCELED, false), Ended);
        assert_eq!(after_recv(Cancelling, -libc::ECANCELED, false), Ended);
        assert_eq!(after_recv(Armed, -libc::ENOBUFS, false), Starved);
        assert_eq!(after_recv(Armed, 0, false), Finished);
        assert_eq!(after_recv(Armed, -libc::ECONNRESET, false), Finished);
    }

    #[test]
    fn re_arm_below_the_cap_cancel_at_it_and_never_touch_starved_or_finished() {
        use Recv::*;
        const CAP: usize = 4;
        assert_eq!(next_step(Ended, 0, CAP, false), Step::Arm);
        assert_eq!(next_step(Ended, CAP - 1, CAP, false), Step::Arm);
        assert_eq!(next_step(Ended, CAP, CAP, false), Step::Nothing);
        assert_eq!(next_step(Armed, CAP - 1, CAP, false), Step::Nothing);
        assert_eq!(next_step(Armed, CAP, CAP, false), Step::Cancel);
        assert_eq!(next_step(Armed, 0, CAP, true), Step::Cancel);
        assert_eq!(next_step(Ended, 0, CAP, true), Step::Nothing);
        // In flight already, or waiting for buffers (the loop re-arms those), or done.
        assert_eq!(next_step(Cancelling, 0, CAP, false), Step::Nothing);
        assert_eq!(next_step(Starved, 0, CAP, false), Step::Nothing);
        assert_eq!(next_step(Finished, 0, CAP, false), Step::Nothing);
    }

    #[test]
    fn user_data_names_the_kind_and_the_connection() {
        for kind in [Kind::Accept, Kind::Recv, Kind::Send, Kind::Cancel] {
            assert_eq!(decode(user_data(kind, 12345)), Some((kind, 12345)));
        }
        assert_eq!(decode(0), None);
        assert_eq!(decode(9 << 32), None);
    }

    /// Starts a multishot server on a thread, or says why it cannot.
    fn start(config: Config) -> Option<SocketAddr> {
        if let Err(why) = crate::probe::check().and_then(|()| crate::probe::check_multishot()) {
            println!("skipped: multishot io_uring is unavailable here: {why}");
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
        stream.write_all(b"hello, multishot").unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).unwrap();
        assert_eq!(reply, b"HELLO, MULTISHOT");
    }

    // ANCHOR: starved_test
    #[test]
    fn an_empty_buffer_ring_is_backpressure_and_receives_come_back() {
        // Four buffers for 30 clients each streaming 200 KiB: the ring runs dry again and
        // again, receives end with ENOBUFS, and each must be re-armed once buffers return,
        // or its client waits for ever (the read timeout fails the test).
        let config = Config {
            buffers: 4,
            ..Config::default()
        };
        let counts = Arc::clone(&config.counts);
        let Some(addr) = start(config) else {
            return;
        };
        let clients: Vec<_> = (0..30u64)
            .map(|i| {
                std::thread::spawn(move || {
                    exchange(connect(addr), Messages::new(3, i).next_message(200 << 10));
                })
            })
            .collect();
        for client in clients {
            client.join().unwrap();
        }
        let starved = counts.starved.load(Ordering::Relaxed);
        println!("{starved} receives found the ring empty");
        assert!(
            starved > 0,
            "the ring never ran dry: the test tested nothing"
        );
        assert!(counts.rearmed.load(Ordering::Relaxed) >= starved);
    }
    // ANCHOR_END: starved_test

    #[test]
    fn a_connection_holds_at_most_its_cap_and_short_sends_resume() {
        // Sends capped at 7 bytes: replies leave slowly, the client writes 1 MiB fast, so
        // buffers pile up on this one connection until its cap cancels the receive.
        let config = Config {
            max_send: 7,
            max_held: 3,
            ..Config::default()
        };
        let counts = Arc::clone(&config.counts);
        let stats = Arc::clone(&config.stats);
        let Some(addr) = start(config) else {
            return;
        };
        exchange(connect(addr), Messages::new(5, 0).next_message(1 << 20));
        let most = counts.most_held.load(Ordering::Relaxed);
        println!(
            "held at most {most} buffers; {} cancels, {} short sends",
            counts.capped.load(Ordering::Relaxed),
            Stats::read(&stats.short_sends)
        );
        assert!(
            counts.capped.load(Ordering::Relaxed) > 0,
            "never reached the cap"
        );
        // The first burst overshoots (the kernel fills buffers for a multishot receive
        // before the cancel reaches it); once busy, single-shot receives keep the cap.
        let busy = counts.most_held_busy.load(Ordering::Relaxed);
        println!("held at most {busy} buffers once busy");
        assert!(busy <= 3, "held {busy} buffers with a cap of 3");
        assert!(Stats::read(&stats.short_sends) > 0);
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
        let mut stream = connect(addr);
        stream.write_all(b"still serving").unwrap();
        let mut reply = [0; 13];
        stream.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"STILL SERVING");
    }
}
