//! The communication loop (通信循环) one coroutine runs for one connection: the notes'
//! `talk(conn)`, in section 一's gevent server.
//!
//! ```python
//! def talk(conn):
//!     while True:
//!         data = conn.recv(1024)
//!         if not data: break
//!         conn.send(data.upper())
//! ```
//!
//! It reads exactly like `blocking-io`'s `conn.rs` (diff the two files): `read`, upper-case,
//! `write_all`. What changed is underneath. `may::net::TcpStream` is non-blocking; when a
//! `read` finds no data (or a `write` finds the send buffer full) `may` registers the socket
//! with its worker's `epoll` and *parks this coroutine*, and the worker runs other
//! coroutines. The wait-data phase costs no thread; copy data is still done by this
//! coroutine's `read`. That is gevent's trick, in Rust: IO多路复用 underneath, blocking-style
//! code on top, one 协程 (coroutine) per connection instead of one thread.
//!
//! What to watch: backpressure comes for free. While `write_all` is parked on a client that
//! does not read, this coroutine does not read either, so its memory stays one 1 KiB buffer
//! and a stack, with no `Pending` queue to bound (the event-loop crates need one because
//! their one thread may never wait on a single client).

use may::net::TcpStream;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;

/// Reads (of up to 1 KiB each) a coroutine serves before it yields of its own accord, unless
/// `--budget` says otherwise (0: never, the notes' gevent server as written).
///
/// A coroutine gives up its worker only when an operation would block. A client that keeps
/// the socket full (it writes and reads at once, faster than we serve it) never makes one
/// block, so without this the coroutine would keep its worker for ever: every other
/// connection on that worker, and `accept`, would wait. That is the classic failure of a
/// cooperative scheduler (gevent's greenlets have it too: a greenlet that never meets a
/// blocking call never switches). tokio gives every task a budget of 128 operations for
/// the same reason. 64 KiB between yields keeps the cost of a yield negligible.
pub const DEFAULT_BUDGET: u32 = 64;

/// Serves one connection until the peer closes, resets, or breaks the connection.
///
/// Every way out is logged with the peer's address and ends only this coroutine.
// ANCHOR: talk
pub fn talk(mut stream: TcpStream, peer: SocketAddr, budget: u32) {
    // Replies are small and written at once: Nagle would hold each back until the client's
    // delayed ACK of the previous one, adding up to 40 ms per round trip.
    if let Err(err) = stream.set_nodelay(true) {
        protocol::log!("[{peer}] TCP_NODELAY: {err}");
    }
    // On this coroutine's own stack: one of the reasons the stack cannot be tiny.
    let mut buf = [0u8; protocol::limits::READ_SIZE];
    let mut left = budget;
    loop {
        // Wait data: if nothing has arrived, `may` parks this coroutine (not the thread)
        // until `epoll` says the socket is readable. Copy data: then it reads.
        let n = match stream.read(&mut buf) {
            // EOF: the peer closed, or shut down its writing half (a half-close). Every
            // reply owed so far has already been written in full, so there is nothing left
            // to do but close.
            Ok(0) => {
                protocol::log!("[{peer}] closed by peer");
                return;
            }
            Ok(n) => n,
            // A signal interrupted the call; nothing was read. `may` never returns
            // `WouldBlock` from a coroutine's `read`: that case is the park above.
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            // A reset (the notes' ConnectionResetError) or any other failure of this socket.
            Err(err) => {
                protocol::log!("[{peer}] read failed: {err}");
                return;
            }
        };
        protocol::upper_in_place(&mut buf[..n]);
        // `write_all` loops over short writes, and `may` parks the coroutine whenever the
        // send buffer is full, so a slow reader costs this coroutine's time and nothing else.
        if let Err(err) = stream.write_all(&buf[..n]) {
            protocol::log!("[{peer}] write failed: {err}");
            return;
        }
        // Cooperative fairness: after a budget of work, let the other coroutines run, even
        // though this socket still has data (see [`DEFAULT_BUDGET`]). With a budget of 0
        // `left` only wraps below zero, never back to it: the coroutine never yields.
        left = left.wrapping_sub(1);
        if left == 0 {
            left = budget;
            yield_to_event_loop();
        }
    }
    // Dropping `stream` closes the socket and removes it from `may`'s epoll.
}
// ANCHOR_END: talk

// ANCHOR: yield
/// Gives this coroutine's worker back to the event loop for a moment.
///
/// Not `may::coroutine::yield_now()`: that puts the coroutine back on its worker's run
/// queue, and a worker runs its queue until it is empty before it asks epoll again. A
/// coroutine that yields and is at once runnable keeps the queue non-empty, so the worker
/// would never learn that other sockets (the listener among them) became ready: measured,
/// newcomers still waited over 3 s. A zero-length sleep goes through `may`'s timer thread
/// instead, so the run queue empties, the worker polls epoll and runs whoever is ready, and
/// the timer thread puts this coroutine back a moment later.
pub(crate) fn yield_to_event_loop() {
    may::coroutine::sleep(std::time::Duration::ZERO);
}
// ANCHOR_END: yield
