//! Signal-driven I/O (信号驱动IO): the model the notes skip, the fourth of Stevens' five
//! (blocking, non-blocking, multiplexing, *signal-driven*, asynchronous; UNIX Network
//! Programming, 6.2). Section 七's list of I/O models has four; this is the missing one.
//!
//! The kernel sends us `SIGIO` when a datagram arrives: the *wait data* phase costs the
//! process nothing, as with multiplexing, but without a `select` call to sit in. The *copy
//! data* phase is still ours: `recvfrom` copies, as in every model but asynchronous I/O.
//!
//! As Stevens shows it for UDP:
//! - `O_ASYNC` on the socket, and `F_SETOWN` to say who gets the signal (here its
//!   thread-directed form `F_SETOWN_EX`: step 3 of the setup says why);
//! - the handler only records that something arrived (`on_sigio`): almost nothing is
//!   safe inside a signal handler, certainly not `recvfrom` into a shared buffer;
//! - the main loop sleeps in `sigsuspend` with `SIGIO` blocked everywhere else, so a signal
//!   cannot slip in between "is there news?" and "sleep"; then it drains the socket until
//!   `WouldBlock`, because **signals do not queue**: ten datagrams arriving while the
//!   signal is pending raise it once. What to watch: the demo's burst of 32 datagrams is
//!   answered after a single signal.
//!
//! Why it is rare, and almost never used on TCP: for a TCP socket the kernel raises `SIGIO`
//! for a connection completing, a peer's FIN, a shutdown, data arriving, send space
//! freeing, an error... and the signal does not say which, nor (without more setup) on which
//! descriptor. Stevens writes that a UDP socket raises it only for "a datagram arrived" and
//! "an async error"; on Linux that is not quite so: a UDP socket also raises it when send
//! space frees up after a send found the buffer full (the socket's write-space callback
//! signals the owner too), so even here a `SIGIO` does not prove a datagram is waiting, and
//! the drain loop's first `recvfrom` may find `WouldBlock`. A server that only receives and
//! sends small replies rarely fills its send buffer, so it rarely sees that one,
//! which is why Stevens' one example is a UDP server (NTP daemons used it to timestamp
//! arrivals). On top of that a signal's handler is per-process state shared with every
//! library and thread, and the drain loop needs non-blocking sockets anyway: `epoll`
//! (section 五) gives the same "tell me when" with none of that. Linux's `F_SETSIG`
//! real-time signals, which do queue and carry the descriptor, were an early answer to
//! this and were replaced by `epoll`.
//!
//! Linux only: `F_SETOWN_EX` is Linux's.

use std::io::{self, ErrorKind};
use std::marker::PhantomData;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Set by [`on_sigio`], cleared by the main loop: "something arrived since you last looked".
static ARRIVED: AtomicBool = AtomicBool::new(false);

/// Times [`on_sigio`] ran: how many signals the kernel actually delivered.
static SIGNALS: AtomicU64 = AtomicU64::new(0);

/// The SIGIO disposition belongs to the process, not to a socket: one server at a time.
static IN_USE: AtomicBool = AtomicBool::new(false);

// `F_SETOWN_EX` and its argument, from <fcntl.h>; the `libc` crate has them for musl only.
const F_SETOWN_EX: libc::c_int = 15;
const F_OWNER_TID: libc::c_int = 0;
#[repr(C)]
struct FOwnerEx {
    kind: libc::c_int,
    pid: libc::pid_t,
}

// ANCHOR: handler
/// The signal handler: records, and nothing else.
///
/// Only async-signal-safe work is allowed here: the thread may have been interrupted
/// anywhere, even inside `malloc` or while holding a lock. Lock-free atomic stores qualify;
/// logging, allocating, or calling `recvfrom` would not.
extern "C" fn on_sigio(_signal: libc::c_int) {
    ARRIVED.store(true, Ordering::SeqCst);
    SIGNALS.fetch_add(1, Ordering::SeqCst);
}
// ANCHOR_END: handler

/// What a server did before it stopped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// SIGIO signals the handler saw.
    pub signals: u64,
    /// Times the main loop woke and drained.
    pub wakeups: u64,
    /// Datagrams received and answered (a stop datagram included).
    pub datagrams: u64,
    /// The most datagrams one wakeup drained: above 1 shows signals not queueing.
    pub max_per_wakeup: u64,
    /// Wakeups that found nothing: the signal was for a datagram an earlier drain had
    /// already taken. Harmless, and the price of draining until WouldBlock.
    pub empty_wakeups: u64,
}

/// A UDP echo-upper server whose *wait data* phase is `SIGIO`.
///
/// Not `Send`: the signal is directed to, and unblocked only in, the thread that called
/// [`bind`](SigioServer::bind), so that thread must run and drop it.
pub struct SigioServer {
    socket: UdpSocket,
    /// This thread's signal mask before we blocked `SIGIO`, restored on drop.
    old_mask: libc::sigset_t,
    /// What `sigsuspend` installs while it sleeps: the old mask, with `SIGIO` let through.
    wait_mask: libc::sigset_t,
    signals_at_start: u64,
    _not_send: PhantomData<*const ()>,
}

impl SigioServer {
    /// Binds `addr` and arranges for `SIGIO` to reach *this thread* on every arrival.
    ///
    /// Fails if another `SigioServer` exists in this process.
    pub fn bind(addr: SocketAddr) -> io::Result<SigioServer> {
        if IN_USE.swap(true, Ordering::SeqCst) {
            return Err(io::Error::new(
                ErrorKind::AddrInUse,
                "a SigioServer already runs in this process (the SIGIO handler is process-wide)",
            ));
        }
        match SigioServer::setup(addr) {
            Ok(server) => Ok(server),
            Err(e) => {
                IN_USE.store(false, Ordering::SeqCst);
                Err(e)
            }
        }
    }

    // ANCHOR: setup
    fn setup(addr: SocketAddr) -> io::Result<SigioServer> {
        let socket = UdpSocket::bind(addr)?;
        // The drain loop reads until WouldBlock, so reads must not block.
        socket.set_nonblocking(true)?;
        let fd = socket.as_raw_fd();

        // 1. The handler first: SIGIO's default action is to kill the process.
        // SAFETY: `sigaction` is given a zeroed struct with a valid handler address and an
        // empty mask; `on_sigio` only touches lock-free atomics, so it is async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigio as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            check(libc::sigaction(libc::SIGIO, &action, std::ptr::null_mut()))?;
        }

        // 2. Block SIGIO in this thread: from now on it can only be taken inside
        //    `sigsuspend`, never between checking ARRIVED and going to sleep.
        // SAFETY: both sets are initialised by sigemptyset/sigaddset or written by
        // pthread_sigmask before being read.
        let (old_mask, wait_mask) = unsafe {
            let mut block: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut block);
            libc::sigaddset(&mut block, libc::SIGIO);
            let mut old: libc::sigset_t = std::mem::zeroed();
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old);
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            let mut wait = old;
            libc::sigdelset(&mut wait, libc::SIGIO);
            (old, wait)
        };
        let server = SigioServer {
            socket,
            old_mask,
            wait_mask,
            signals_at_start: SIGNALS.load(Ordering::SeqCst),
            _not_send: PhantomData,
        };

        // 3. F_SETOWN: who is told. Stevens writes `fcntl(fd, F_SETOWN, getpid())`, which in a
        //    threaded process (a test harness, or any server with a worker) lets the kernel
        //    pick *any* thread that does not block SIGIO, and ours would sleep on. Linux's
        //    F_SETOWN_EX with F_OWNER_TID names this thread.
        let owner = FOwnerEx {
            kind: F_OWNER_TID,
            // SAFETY: gettid has no preconditions.
            pid: unsafe { libc::gettid() },
        };
        // SAFETY: `fd` is our open socket and `owner` is a live, correctly laid out
        // `struct f_owner_ex` for the duration of the call.
        check(unsafe { libc::fcntl(fd, F_SETOWN_EX, &owner as *const FOwnerEx) })?;

        // 4. O_ASYNC: turn the signals on, last, once everything above is ready for them.
        // SAFETY: F_GETFL/F_SETFL on our open socket, with integer arguments.
        unsafe {
            let flags = check(libc::fcntl(fd, libc::F_GETFL))?;
            check(libc::fcntl(fd, libc::F_SETFL, flags | libc::O_ASYNC))?;
        }
        Ok(server)
    }
    // ANCHOR_END: setup

    /// Where it listens (the real port).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    // ANCHOR: main_loop
    /// Serves until `stop` is set and the next signal arrives (see [`wake`]).
    pub fn run(&self, stop: &AtomicBool) -> io::Result<Stats> {
        let mut stats = Stats::default();
        let mut buf = vec![0u8; 65_535];
        loop {
            // Wait data: sleep until the handler has recorded an arrival. `sigsuspend`
            // swaps in `wait_mask` (SIGIO allowed) and sleeps, atomically; it returns after
            // a handler ran, with SIGIO blocked again. The `while` is Stevens' idiom.
            while !ARRIVED.swap(false, Ordering::SeqCst) {
                if stop.load(Ordering::SeqCst) {
                    stats.signals = SIGNALS.load(Ordering::SeqCst) - self.signals_at_start;
                    return Ok(stats);
                }
                // SAFETY: `wait_mask` is an initialised signal set; sigsuspend always
                // returns -1/EINTR after a handler ran, which is what we wait for.
                unsafe { libc::sigsuspend(&self.wait_mask) };
            }
            stats.wakeups += 1;

            // Copy data: drain until WouldBlock. One signal may stand for many datagrams,
            // so reading only one here would strand the rest until some later arrival.
            let mut this_wakeup = 0;
            loop {
                match self.socket.recv_from(&mut buf) {
                    Ok((n, peer)) => {
                        this_wakeup += 1;
                        protocol::upper_in_place(&mut buf[..n]);
                        // Non-blocking send: a full send buffer drops this reply (WouldBlock),
                        // which UDP is allowed to do. Production would queue and wait.
                        if let Err(e) = self.socket.send_to(&buf[..n], peer) {
                            protocol::log!("[{peer}] reply of {n} bytes not sent: {e}");
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    // The "async error" SIGIO (an ICMP error): reading it clears it.
                    Err(e) => protocol::log!("recvfrom: {e}"),
                }
            }
            stats.datagrams += this_wakeup;
            stats.empty_wakeups += u64::from(this_wakeup == 0);
            stats.max_per_wakeup = stats.max_per_wakeup.max(this_wakeup);
        }
    }
    // ANCHOR_END: main_loop
}

impl Drop for SigioServer {
    fn drop(&mut self) {
        // The socket closes after this, so no new signals come from it. The handler stays
        // installed: restoring the default action would let a signal still pending kill the
        // process. Unblocking may run the handler once more; it only sets ARRIVED.
        // SAFETY: `old_mask` was filled by pthread_sigmask in this same thread (the type is
        // not Send, so drop runs where bind did).
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut()) };
        ARRIVED.store(false, Ordering::SeqCst);
        IN_USE.store(false, Ordering::SeqCst);
    }
}

/// Stops a server running [`SigioServer::run`] at `addr`: sets `stop`, then sends one empty
/// datagram, whose signal wakes the loop to see the flag.
pub fn wake(addr: SocketAddr, stop: &AtomicBool) -> io::Result<()> {
    stop.store(true, Ordering::SeqCst);
    let from: SocketAddr = if addr.is_ipv4() {
        "0.0.0.0:0".parse().map_err(io::Error::other)?
    } else {
        "[::]:0".parse().map_err(io::Error::other)?
    };
    UdpSocket::bind(from)?.send_to(&[], addr).map(|_| ())
}

/// A [`SigioServer`] on its own thread, bound but not yet serving until [`go`](Spawned::go),
/// so a caller can queue datagrams first: they then raise one pending signal between them.
pub struct Spawned {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    go: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<io::Result<Stats>>>,
}

impl Spawned {
    /// Binds `addr` on a new thread (the one that will get the signals).
    pub fn start(addr: SocketAddr) -> io::Result<Spawned> {
        let (bound_tx, bound_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::Builder::new().name("sigio-server".into()).spawn(
            move || -> io::Result<Stats> {
                let server = SigioServer::bind(addr).and_then(|s| Ok((s.local_addr()?, s)));
                let server = match server {
                    Ok((addr, server)) => {
                        let _ = bound_tx.send(Ok(addr));
                        server
                    }
                    Err(e) => {
                        let _ = bound_tx.send(Err(io::Error::new(e.kind(), e.to_string())));
                        return Err(e);
                    }
                };
                // Until `go`, SIGIO stays blocked: arrivals leave it pending, once.
                if go_rx.recv().is_err() {
                    return Ok(Stats::default()); // dropped before go: nothing to serve
                }
                server.run(&flag)
            },
        )?;
        let addr = bound_rx
            .recv()
            .map_err(|_| io::Error::other("the server thread ended before binding"))??;
        Ok(Spawned {
            addr,
            stop,
            go: Some(go_tx),
            thread: Some(thread),
        })
    }

    /// Where it listens (the real port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Lets the server enter its loop.
    pub fn go(&mut self) {
        if let Some(go) = self.go.take() {
            let _ = go.send(());
        }
    }

    /// Stops the server (see [`wake`]) and returns what it did.
    pub fn stop(mut self) -> io::Result<Stats> {
        self.go();
        wake(self.addr, &self.stop)?;
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| io::Error::other("the SIGIO server thread panicked"))?,
            None => Err(io::Error::other("already stopped")),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.go.take(); // a server never let go ends at once
            if wake(self.addr, &self.stop).is_ok() {
                let _ = thread.join();
            }
        }
    }
}

/// The client side of the demo and the tests: sends `count` numbered datagrams to `server`
/// without reading, and returns them.
pub fn send_burst(
    socket: &UdpSocket,
    server: SocketAddr,
    count: usize,
) -> io::Result<Vec<Vec<u8>>> {
    let mut sent = Vec::with_capacity(count);
    for i in 0..count {
        let message = format!("datagram {i:03}").into_bytes();
        socket.send_to(&message, server)?;
        sent.push(message);
    }
    Ok(sent)
}

/// Receives `count` datagrams, each within `timeout`, and returns them in arrival order.
pub fn receive(socket: &UdpSocket, count: usize, timeout: Duration) -> io::Result<Vec<Vec<u8>>> {
    socket.set_read_timeout(Some(timeout))?;
    let mut buf = [0u8; 2048];
    let mut got = Vec::with_capacity(count);
    while got.len() < count {
        match socket.recv_from(&mut buf) {
            Ok((n, _)) => got.push(buf[..n].to_vec()),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// `-1` from a libc call becomes the `errno` error.
fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}
