//! What every accept loop does when `accept` fails: go on, never spin, and say so once.
//!
//! The notes' 连接循环 (`conn, addr = s.accept()`) cannot fail in a classroom. On a loaded
//! server it does, in three ways that need three different answers:
//! - **that one connection is gone**: `ECONNABORTED` (the client gave up between its
//!   handshake and our `accept`) and the network errors Linux passes on through `accept`
//!   (accept(2), "Error handling"). Accept the next one at once.
//! - **the process or the kernel is out of something**: `EMFILE`/`ENFILE` (descriptors),
//!   `ENOBUFS`/`ENOMEM` (socket memory). The connection stays in the listen queue, so
//!   `accept` would fail again at once: retrying without a pause burns a core until
//!   something frees up. Back off for [`BACK_OFF`] and keep serving the connections we have.
//!   An unknown error gets the same treatment: stopping would drop every client, and
//!   retrying at once might spin.
//! - `EINTR` and `WouldBlock` are no errors at all: try again, or wait for readiness.
//!
//! A server out of descriptors may fail thousands of times before a client leaves. One log
//! line per *episode* (when it starts, and when accepting works again, with the count) is
//! enough to diagnose it; a line per retry would fill the disk. [`Episode`] keeps that count.
//! Every model crate calls this from its own accept loop, and does its own waiting.

use std::io::{self, ErrorKind};
use std::time::{Duration, Instant};

/// How long an accept loop waits after running out of a resource.
///
/// Long enough that retrying costs nothing measurable (ten `accept` calls a second), short
/// enough that a freed descriptor is used soon. nginx pauses for 500 ms.
pub const BACK_OFF: Duration = Duration::from_millis(100);

/// What the accept loop does after a failed `accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Call `accept` again now.
    Again,
    /// The listen queue is empty (`WouldBlock`): wait for readiness.
    Drained,
    /// Out of descriptors or memory: stop accepting for [`BACK_OFF`], then try again.
    BackOff,
}

/// Whether an error of `accept` belongs to the one connection it was accepting.
fn lost_one_connection(err: &io::Error) -> bool {
    err.kind() == ErrorKind::ConnectionAborted
        || matches!(
            err.raw_os_error(),
            Some(
                libc::EPROTO
                    | libc::ENETDOWN
                    | libc::ENOPROTOOPT
                    | libc::EHOSTDOWN
                    | libc::ENONET
                    | libc::EHOSTUNREACH
                    | libc::EOPNOTSUPP
                    | libc::ENETUNREACH
                    | libc::EPERM
            )
        )
}

/// Whether an error of `accept` says the process or the kernel ran out of a resource.
pub fn is_exhaustion(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// One accept loop's run of failures: logged when it starts and when it ends, not between.
#[derive(Debug, Default)]
pub struct Episode {
    /// Failures since the episode started; 0 when accepting works.
    failures: u64,
    started: Option<Instant>,
}

impl Episode {
    pub fn new() -> Episode {
        Episode::default()
    }

    /// Decides what follows a failed `accept`. `open` is how many connections the server
    /// holds, for the log line (`None` where the loop does not know, as in a fork server).
    pub fn failed(&mut self, err: &io::Error, open: Option<usize>) -> Next {
        match err.kind() {
            ErrorKind::WouldBlock => return Next::Drained,
            ErrorKind::Interrupted => return Next::Again,
            _ => {}
        }
        if lost_one_connection(err) {
            // Not an episode: the next connection is fine. One line each, because each
            // one is a client that saw its connection fail.
            crate::log!("accept: that connection failed ({err}); accepting the next");
            return Next::Again;
        }
        self.failures += 1;
        if self.failures == 1 {
            self.started = Some(Instant::now());
            let open = open
                .map(|n| format!(" with {n} connections open"))
                .unwrap_or_default();
            let what = if is_exhaustion(err) {
                "out of resources"
            } else {
                "unexpected error"
            };
            crate::log!(
                "accept: {what} ({err}){open}; retrying every {} ms, still serving the open \
                 ones (one line until it clears)",
                BACK_OFF.as_millis()
            );
        }
        Next::BackOff
    }

    /// Call after every successful `accept`: ends an episode in progress, with one line.
    pub fn accepted(&mut self) {
        if self.failures > 0 {
            let took = self.started.map(|t| t.elapsed()).unwrap_or_default();
            crate::log!(
                "accept: accepting again after {} failed attempts over {:.1} s",
                self.failures,
                took.as_secs_f64()
            );
            self.failures = 0;
            self.started = None;
        }
    }

    /// Failed attempts in the episode in progress (0 when there is none).
    pub fn failures(&self) -> u64 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(code: i32) -> io::Error {
        io::Error::from_raw_os_error(code)
    }

    #[test]
    fn each_error_gets_its_answer() {
        let mut e = Episode::new();
        assert_eq!(e.failed(&os(libc::EAGAIN), Some(1)), Next::Drained);
        assert_eq!(e.failed(&os(libc::EINTR), Some(1)), Next::Again);
        assert_eq!(e.failed(&os(libc::ECONNABORTED), Some(1)), Next::Again);
        assert_eq!(e.failed(&os(libc::EPROTO), None), Next::Again);
        assert_eq!(e.failures(), 0, "a lost connection is no episode");
        for code in [
            libc::EMFILE,
            libc::ENFILE,
            libc::ENOBUFS,
            libc::ENOMEM,
            libc::EINVAL,
        ] {
            assert_eq!(e.failed(&os(code), Some(3)), Next::BackOff, "errno {code}");
        }
        assert_eq!(e.failures(), 5);
        e.accepted();
        assert_eq!(e.failures(), 0);
    }

    #[test]
    fn exhaustion_is_recognised() {
        assert!(is_exhaustion(&os(libc::ENOBUFS)));
        assert!(is_exhaustion(&os(libc::EMFILE)));
        assert!(!is_exhaustion(&os(libc::ECONNABORTED)));
    }
}
