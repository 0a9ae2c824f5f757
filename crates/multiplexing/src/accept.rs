//! What every backend does when `accept` fails: go on, and never spin.
//!
//! The notes' `conn, addr = r.accept()` cannot fail in a classroom. On a loaded server it
//! does, and an event loop makes two failures dangerous:
//! - `EMFILE`/`ENFILE` (no descriptor left for the new socket): the connection stays in the
//!   listen queue, so the listener stays readable. A level-triggered loop would be woken at
//!   once, fail again, and burn a core until some client leaves. So we stop watching the
//!   listener for [`PAUSE`] (nginx does the same, for 500 ms), keep serving the connections
//!   we have, and try again later. The production alternative is libev's trick: keep one
//!   spare descriptor open, and when out, close it, accept, close the new socket (the client
//!   sees its connection closed instead of waiting in the queue), and reopen the spare.
//! - `ECONNABORTED` (the client gave up between its handshake and our `accept`), and the
//!   network errors Linux reports through `accept` (see accept(2), "Error handling"): that one
//!   connection is gone; accept the next.
//!
//! `EINTR` means a signal arrived first: try again. `WouldBlock` is no error at all: the
//! queue is empty. This module decides; each backend then does its own waiting.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// How long the listener is ignored after the process ran out of descriptors.
///
/// Long enough that retrying costs nothing measurable (ten `accept` calls a second), short
/// enough that a freed descriptor is used soon.
pub const PAUSE: Duration = Duration::from_millis(100);

/// What the accept loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Call `accept` again now.
    Again,
    /// The listen queue is empty: wait for the poller.
    Drained,
    /// Out of descriptors or memory: the pause has started; stop accepting until it ends.
    Paused,
}

// ANCHOR: after_error
/// Decides what follows a failed `accept`, logging what is worth a line. `open` is how many
/// connections the server holds, for the log.
pub fn after_error(err: &io::Error, pause: &mut AcceptPause, open: usize) -> Next {
    match err.kind() {
        ErrorKind::WouldBlock => return Next::Drained,
        ErrorKind::Interrupted => return Next::Again,
        ErrorKind::ConnectionAborted => {
            protocol::log!("accept: a client left before it was accepted ({err})");
            return Next::Again;
        }
        _ => {}
    }
    match err.raw_os_error() {
        // accept(2): "Linux accept() passes already-pending network errors on the new socket
        // as an error code from accept()"; they belong to that one connection.
        Some(
            libc::EPROTO
            | libc::ENETDOWN
            | libc::ENOPROTOOPT
            | libc::EHOSTDOWN
            | libc::ENONET
            | libc::EHOSTUNREACH
            | libc::EOPNOTSUPP
            | libc::ENETUNREACH
            | libc::EPERM,
        ) => {
            protocol::log!("accept: that connection failed ({err}); accepting the next");
            Next::Again
        }
        Some(libc::EMFILE | libc::ENFILE) => {
            protocol::log!(
                "accept: out of descriptors ({err}) with {open} connections open; \
                 not accepting for {} ms, still serving the open ones",
                PAUSE.as_millis()
            );
            pause.start();
            Next::Paused
        }
        // ENOBUFS, ENOMEM, or something unexpected: stopping the server would drop every
        // client, retrying at once might spin. Pausing does neither.
        _ => {
            protocol::log!(
                "accept: {err} with {open} connections open; not accepting for {} ms",
                PAUSE.as_millis()
            );
            pause.start();
            Next::Paused
        }
    }
}
// ANCHOR_END: after_error

/// Readies a socket `accept` just returned (std's or mio's): `TCP_NODELAY`, and a log line.
///
/// Replies are small and written at once: without `TCP_NODELAY`, Nagle's algorithm would
/// hold a reply back until the previous one is acknowledged, which the client's delayed ACK
/// holds back in turn. `open` counts this connection.
pub fn admit<S: AsFd>(stream: &S, peer: SocketAddr, open: usize) {
    if let Err(err) = socket2::SockRef::from(stream).set_tcp_nodelay(true) {
        protocol::log!("[{peer}] TCP_NODELAY: {err}");
    }
    protocol::log!("[{peer}] connected ({open} open)");
}

/// Whether the listener is being ignored, and until when.
#[derive(Debug, Default)]
pub struct AcceptPause {
    until: Option<Instant>,
}

impl AcceptPause {
    /// Starts (or restarts) a pause of [`PAUSE`].
    pub fn start(&mut self) {
        self.until = Some(Instant::now() + PAUSE);
    }

    pub fn is_active(&self) -> bool {
        self.until.is_some()
    }

    /// The timeout for the next wait: `None` (wait for events only) unless a pause must end.
    pub fn time_left(&self) -> Option<Duration> {
        self.until
            .map(|until| until.saturating_duration_since(Instant::now()))
    }

    /// Ends the pause if its time has come. Returns `true` exactly once, when it ends, so the
    /// caller watches the listener again (and, edge-triggered, tries `accept` at once).
    pub fn try_resume(&mut self) -> bool {
        match self.until {
            Some(until) if Instant::now() >= until => {
                self.until = None;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(errno: i32) -> io::Error {
        io::Error::from_raw_os_error(errno)
    }

    #[test]
    fn each_error_gets_its_answer() {
        let mut pause = AcceptPause::default();
        assert_eq!(after_error(&os(libc::EAGAIN), &mut pause, 0), Next::Drained);
        assert_eq!(after_error(&os(libc::EINTR), &mut pause, 0), Next::Again);
        assert_eq!(
            after_error(&os(libc::ECONNABORTED), &mut pause, 0),
            Next::Again
        );
        assert_eq!(after_error(&os(libc::EPROTO), &mut pause, 0), Next::Again);
        assert!(!pause.is_active(), "none of those pauses accepting");
        assert_eq!(after_error(&os(libc::EMFILE), &mut pause, 7), Next::Paused);
        assert!(pause.is_active());
        let mut other = AcceptPause::default();
        assert_eq!(after_error(&os(libc::ENOBUFS), &mut other, 7), Next::Paused);
    }

    #[test]
    fn a_pause_ends_once_after_its_time() {
        let mut pause = AcceptPause::default();
        assert_eq!(pause.time_left(), None);
        assert!(!pause.try_resume());
        pause.start();
        let left = pause.time_left().unwrap();
        assert!(left > Duration::ZERO && left <= PAUSE);
        assert!(!pause.try_resume(), "too early");
        // Pretend the pause began long ago rather than sleeping through it.
        pause.until = Some(Instant::now() - Duration::from_millis(1));
        assert_eq!(pause.time_left(), Some(Duration::ZERO));
        assert!(pause.try_resume());
        assert!(!pause.try_resume() && !pause.is_active());
    }
}
