//! The communication loop (通信循环) every blocking mode runs for one connection.
//!
//! This is the notes' `talk(conn)`: `recv(1024)`, upper-case, send, until the peer is gone.
//! The thread running it is blocked in `read` through both phases, wait data and copy data;
//! `write_all` only copies (and loops over short writes, which a bare `send` would not).
//! [`accept`] is the connection loop's half, shared by every mode.

use protocol::accept::{Episode, Next, BACK_OFF};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

// ANCHOR: serve
/// Serves one connection until the peer closes, resets or goes silent for good.
///
/// Every way out is logged with the peer's address and ends only this connection.
pub fn serve(mut stream: TcpStream, peer: SocketAddr) {
    // Replies are small and we write each at once: do not let Nagle hold them back waiting
    // for an ACK that the client's delayed-ACK timer holds back in turn.
    if let Err(err) = stream.set_nodelay(true) {
        protocol::log!("[{peer}] TCP_NODELAY: {err}");
    }
    let mut buf = [0u8; protocol::limits::READ_SIZE];
    loop {
        // Wait data + copy data: the thread sleeps here until the client sends something.
        // ANCHOR: recv
        let n = match stream.read(&mut buf) {
            // EOF: the peer closed, or shut down its writing half (a half-close). Either way
            // there is nothing more to answer; every reply so far was written in full.
            Ok(0) => {
                protocol::log!("[{peer}] closed by peer");
                return;
            }
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            // On Linux a reset shows up here (the notes' ConnectionResetError is for Windows,
            // where `recv` raises it instead of returning b'').
            Err(err) => {
                protocol::log!("[{peer}] read failed: {err}");
                return;
            }
        };
        // ANCHOR_END: recv
        // ANCHOR: send
        protocol::upper_in_place(&mut buf[..n]);
        // Copy data only: `write_all` returns once the kernel has the bytes, not once the
        // client has read them. It blocks only if the client stops reading long enough to
        // fill both socket buffers; that costs this connection's thread and nobody else's.
        if let Err(err) = stream.write_all(&buf[..n]) {
            protocol::log!("[{peer}] write failed: {err}");
            return;
        }
        // ANCHOR_END: send
    }
}
// ANCHOR_END: serve

// ANCHOR: accept
/// Waits for the next connection (wait data + copy data, for a connection this time).
///
/// Returns `None` after an error that should not stop the server: a client that gave up
/// between its handshake and our `accept` (ECONNABORTED), or a process or kernel out of
/// descriptors or memory. In that second case the connection stays in the listen queue and
/// `accept` would fail again at once, so it sleeps [`BACK_OFF`] first: without the pause
/// the loop would spin a core until something frees up. `episode` logs the trouble once
/// when it starts and once when it clears, not on every retry.
pub fn accept(listener: &TcpListener, episode: &mut Episode) -> Option<(TcpStream, SocketAddr)> {
    // std already retries EINTR, which the fork mode's SIGCHLD causes.
    match listener.accept() {
        Ok(accepted) => {
            episode.accepted();
            Some(accepted)
        }
        Err(err) => {
            if episode.failed(&err, None) == Next::BackOff {
                std::thread::sleep(BACK_OFF);
            }
            None
        }
    }
}
// ANCHOR_END: accept
