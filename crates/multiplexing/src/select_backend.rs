//! `--backend select`: the notes' exact system call, `select(2)`, through `libc`.
//!
//! The notes hand `select` two Python lists, `r_list` and `w_list` (and an empty third),
//! and get back the ready ones as `rl, wl, xl`. Here that becomes: build a read set and a
//! write set of descriptors, call `select`, test each descriptor in the sets it came back
//! with.
//! Level-triggered, like `polling` here: a ready socket is reported on every call.
//!
//! Fairness relies on that: each turn serves every ready connection once (one `recv` of at
//! most 1 KiB, and a flush of what it owes) and accepts at most [`ACCEPT_BATCH`] clients,
//! then calls `select` again, which reports whatever is still ready. A connection that
//! never runs dry gets one read per turn like everyone else; nothing needs remembering.
//!
//! Two costs are built into the call, and this file pays both in plain sight:
//! - **O(n) per call, for every call.** The sets are bit arrays that `select` overwrites
//!   with its answer, so they are rebuilt before each call from every connection; the kernel
//!   then checks every descriptor below `nfds`, installs a wait on each, and removes them all
//!   again; and since the answer is again a bit array, we test every connection to find the
//!   few that are ready. With 1000 idle clients and one busy one, each turn costs 1000.
//!   epoll (`polling`, `mio`) keeps the interest list in the kernel and returns only the
//!   ready ones: the cost per turn follows the ready sockets, not the connected ones.
//! - **`FD_SETSIZE`.** An `fd_set` is 1024 bits on Linux: descriptors 0 to 1023. Setting a
//!   higher one writes past the array (undefined behaviour in C; the `libc` crate's `FD_SET`
//!   panics instead). So a connection whose descriptor does not fit is refused: logged and
//!   closed at once, while everyone else is served. That is the hard cap of this backend,
//!   minus the descriptors the process already holds (stdio, the listener). `poll(2)` takes
//!   an array of any length instead; epoll removes the scan as well.
//!
//! What to watch: `cargo lab serve multiplexing --backend select` and 1100 clients: the log
//! says which ones were refused, and the others are still served.

use crate::accept::{self, AcceptPause, Next};
use crate::conn::{self, Conn};
use protocol::limits::READ_SIZE;
use slab::Slab;
use std::io::{self, ErrorKind};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

/// Connections accepted per turn before the ready clients get theirs (level-triggered:
/// what is left in the queue is reported again next turn).
const ACCEPT_BATCH: usize = 128;

/// Whether `fd` has a bit in an `fd_set`.
pub fn fits_in_fd_set(fd: RawFd) -> bool {
    usize::try_from(fd).is_ok_and(|fd| fd < libc::FD_SETSIZE)
}

/// An `fd_set` that only ever holds descriptors below `FD_SETSIZE`.
struct FdSet(libc::fd_set);

impl FdSet {
    fn new() -> FdSet {
        // SAFETY: `fd_set` is a plain array of integers, for which all zero bits are valid
        // (and mean "empty", which is what FD_ZERO writes too).
        let mut set = FdSet(unsafe { std::mem::zeroed() });
        // SAFETY: the pointer is to a live, writable `fd_set`.
        unsafe { libc::FD_ZERO(&mut set.0) };
        set
    }

    /// Adds `fd`, and raises `max` (the highest descriptor in any set) if needed.
    fn insert(&mut self, fd: RawFd, max: &mut RawFd) {
        // Every descriptor given to a set was checked with `fits_in_fd_set` when accepted.
        debug_assert!(fits_in_fd_set(fd));
        // SAFETY: `fd` is below FD_SETSIZE (checked at accept), so the bit is inside the
        // array; the pointer is to a live, writable `fd_set`.
        unsafe { libc::FD_SET(fd, &mut self.0) };
        *max = (*max).max(fd);
    }

    fn contains(&self, fd: RawFd) -> bool {
        // SAFETY: as in `insert`: `fd` fits and the set is alive.
        unsafe { libc::FD_ISSET(fd, &self.0) }
    }
}

/// The whole server: a listener and every connection; the interest "list" is rebuilt from
/// them on every turn.
struct Server {
    listener: TcpListener,
    conns: Slab<Conn<TcpStream>>,
    pause: AcceptPause,
    /// Connections to close after a turn, collected first: as section 四 does with
    /// `del_rlist`, nothing is removed from the collection being iterated. Reused, so no
    /// allocation per turn.
    closing: Vec<(usize, io::Result<()>)>,
}

// ANCHOR: loop
pub fn run(listener: TcpListener) -> crate::Result<()> {
    listener.set_nonblocking(true)?;
    let listener_fd = listener.as_raw_fd();
    if !fits_in_fd_set(listener_fd) {
        return Err(
            format!("the listener's descriptor {listener_fd} does not fit in an fd_set").into(),
        );
    }
    let mut server = Server {
        listener,
        conns: Slab::new(),
        pause: AcceptPause::default(),
        closing: Vec::new(),
    };
    let mut buf = [0u8; READ_SIZE];
    loop {
        // O(n): the sets are rebuilt from every connection, every turn.
        let mut readable = FdSet::new();
        let mut writable = FdSet::new();
        let mut max_fd = -1;
        if !server.pause.is_active() {
            readable.insert(listener_fd, &mut max_fd);
        }
        for (_, conn) in &server.conns {
            let fd = conn.stream.as_raw_fd();
            if conn.wants_read() {
                readable.insert(fd, &mut max_fd);
            }
            if conn.wants_write() {
                writable.insert(fd, &mut max_fd);
            }
        }
        let mut timeout = server.pause.time_left().map(to_timeval);
        let timeout_ptr = timeout
            .as_mut()
            .map_or(std::ptr::null_mut(), |t| t as *mut libc::timeval);
        // SAFETY: both sets are live `fd_set`s holding only descriptors below FD_SETSIZE,
        // `max_fd + 1` bounds them, the exception set may be null, and the timeout is null
        // (wait for an event) or points to a live `timeval`.
        let ready = unsafe {
            libc::select(
                max_fd + 1,
                &mut readable.0,
                &mut writable.0,
                std::ptr::null_mut(),
                timeout_ptr,
            )
        };
        if ready < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(err.into());
        }
        // Level-triggered: next turn puts the listener back into the read set.
        server.pause.try_resume();
        if ready == 0 {
            continue;
        }
        server.serve_ready(&readable, &writable, &mut buf);
        if !server.pause.is_active() && readable.contains(listener_fd) {
            server.accept_some();
        }
    }
}
// ANCHOR_END: loop

impl Server {
    /// The notes' two loops, over `rl` (receive) and over `wl` (send). `select` says how many are ready, not
    /// which, so every connection is tested: O(n) again.
    fn serve_ready(&mut self, readable: &FdSet, writable: &FdSet, buf: &mut [u8; READ_SIZE]) {
        for (key, conn) in &mut self.conns {
            let fd = conn.stream.as_raw_fd();
            let (r, w) = (readable.contains(fd), writable.contains(fd));
            if !r && !w {
                continue;
            }
            match conn.on_ready(r, w, buf) {
                Err(err) => self.closing.push((key, Err(err))),
                Ok(()) if conn.is_finished() => self.closing.push((key, Ok(()))),
                Ok(()) => {}
            }
        }
        // Section 四's `del_rlist` idea: remove the closed ones after the loop, not during it.
        for (key, how) in self.closing.drain(..) {
            let conn = self.conns.remove(key);
            conn::log_end(conn.peer, &how, self.conns.len());
        }
    }

    fn accept_some(&mut self) {
        for _ in 0..ACCEPT_BATCH {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    self.pause.accepted();
                    self.admit(stream, peer);
                }
                Err(err) => match accept::after_error(&err, &mut self.pause, self.conns.len()) {
                    Next::Again => continue,
                    Next::Drained | Next::BackOff => return,
                },
            }
        }
    }

    // ANCHOR: admit
    /// Where the notes add a new connection to `r_list`: here only if its descriptor fits in an
    /// `fd_set`.
    fn admit(&mut self, stream: TcpStream, peer: SocketAddr) {
        let fd = stream.as_raw_fd();
        if !fits_in_fd_set(fd) {
            // Closing it (the drop) frees the descriptor, so the next `accept` gets the same
            // number and is refused the same way: no spin, one log line per refused client.
            protocol::log!(
                "[{peer}] refused: its descriptor {fd} does not fit in select's fd_set \
                 (FD_SETSIZE = {}); {} connections open",
                libc::FD_SETSIZE,
                self.conns.len()
            );
            return;
        }
        if let Err(err) = stream.set_nonblocking(true) {
            protocol::log!("[{peer}] cannot make it non-blocking: {err}; closed");
            return;
        }
        accept::admit(&stream, peer, self.conns.len() + 1);
        self.conns.insert(Conn::new(stream, peer));
    }
    // ANCHOR_END: admit
}

/// `select`'s timeout, rounded up to the next microsecond so a pause never ends early.
fn to_timeval(d: Duration) -> libc::timeval {
    let micros = d.as_nanos().div_ceil(1000);
    libc::timeval {
        tv_sec: (micros / 1_000_000) as libc::time_t,
        tv_usec: (micros % 1_000_000) as libc::suseconds_t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_set_bounds() {
        assert!(fits_in_fd_set(0) && fits_in_fd_set(1023));
        assert!(!fits_in_fd_set(1024) && !fits_in_fd_set(-1));
        let mut set = FdSet::new();
        let mut max = -1;
        set.insert(1023, &mut max);
        set.insert(5, &mut max);
        assert_eq!(max, 1023);
        assert!(set.contains(1023) && set.contains(5) && !set.contains(6));
    }

    #[test]
    fn timeouts_round_up() {
        let t = to_timeval(Duration::from_nanos(1_500_000_001));
        assert_eq!((t.tv_sec, t.tv_usec), (1, 500_001));
        let t = to_timeval(Duration::ZERO);
        assert_eq!((t.tv_sec, t.tv_usec), (0, 0));
    }
}
