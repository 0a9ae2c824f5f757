//! What every backend does when `accept` fails: go on, never spin, and say so once.
//!
//! The notes' loop accepts the moment the listener is reported readable, and in a classroom
//! that never fails. On a loaded server it does, and an event loop makes one failure
//! dangerous: out of descriptors (`EMFILE`/`ENFILE`) or socket memory, the connection stays
//! in the listen queue, so the listener stays readable. A level-triggered loop would be
//! woken at once, fail again, and burn a core until some client leaves.
//!
//! Which errors mean what, and the logging, are the project's shared policy,
//! [`protocol::accept::Episode`]: a connection that failed on its own (`ECONNABORTED`, the
//! network errors accept(2) passes on) is skipped; `EINTR` is retried; running out of
//! something starts an *episode*, logged once when it starts and once when accepting works
//! again, however many retries it takes (one line per retry would fill the log: ten a
//! second). What this module adds is how an event loop waits during that back-off:
//! [`AcceptPause`]. The loop stops watching the listener for [`BACK_OFF`] (nginx does the
//! same, for 500 ms), keeps serving the connections it has, and tries again after. The
//! production alternative is libev's trick: keep one spare descriptor open, and when out,
//! close it, accept, close the new socket (the client sees its connection closed instead of
//! waiting in the queue), and reopen the spare.

use protocol::accept::Episode;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

pub use protocol::accept::{Next, BACK_OFF};

use std::io;
// ANCHOR: after_error
/// Decides what follows a failed `accept`: [`Episode::failed`] classifies and logs (once
/// per episode), and a [`Next::BackOff`] starts the pause, during which the backend does
/// not watch the listener. `open` is how many connections the server holds, for the log.
pub fn after_error(err: &io::Error, pause: &mut AcceptPause, open: usize) -> Next {
    let next = pause.episode.failed(err, Some(open));
    if next == Next::BackOff {
        pause.start();
    }
    next
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

/// Whether the listener is being ignored, and until when; and the episode of failures it
/// belongs to.
#[derive(Debug, Default)]
pub struct AcceptPause {
    until: Option<Instant>,
    /// The run of failed accepts this pause is part of: its first failure and its end are
    /// logged, nothing between.
    episode: Episode,
}

impl AcceptPause {
    /// Starts (or restarts) a pause of [`BACK_OFF`].
    pub fn start(&mut self) {
        self.until = Some(Instant::now() + BACK_OFF);
    }

    /// Call after every successful `accept`: ends an episode of failures, with one line.
    pub fn accepted(&mut self) {
        self.episode.accepted();
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
        assert_eq!(after_error(&os(libc::EMFILE), &mut pause, 7), Next::BackOff);
        assert!(pause.is_active());
        // A second failure in the same episode pauses again (and logs nothing new).
        assert_eq!(after_error(&os(libc::EMFILE), &mut pause, 7), Next::BackOff);
        assert_eq!(pause.episode.failures(), 2, "one episode, two failures");
        pause.accepted();
        assert_eq!(pause.episode.failures(), 0, "an accept ends the episode");
        let mut other = AcceptPause::default();
        assert_eq!(
            after_error(&os(libc::ENOBUFS), &mut other, 7),
            Next::BackOff
        );
    }

    #[test]
    fn a_pause_ends_once_after_its_time() {
        let mut pause = AcceptPause::default();
        assert_eq!(pause.time_left(), None);
        assert!(!pause.try_resume());
        pause.start();
        let left = pause.time_left().unwrap();
        assert!(left > Duration::ZERO && left <= BACK_OFF);
        assert!(!pause.try_resume(), "too early");
        // Pretend the pause began long ago rather than sleeping through it.
        pause.until = Some(Instant::now() - Duration::from_millis(1));
        assert_eq!(pause.time_left(), Some(Duration::ZERO));
        assert!(pause.try_resume());
        assert!(!pause.try_resume() && !pause.is_active());
    }
}
