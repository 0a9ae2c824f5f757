//! `--mode prefork --workers N`: a process pool (进程池), section 三's "process pools are
//! blocking I/O too", and section 七's 池 with processes in it (装进程:进程池).
//!
//! N processes are forked once, at start, and every one of them calls `accept` on the one
//! listening socket they all inherited. This is Stevens' "TCP preforked server, no locking
//! around accept" (UNP ch. 30): the kernel hands each new connection to one of the processes
//! blocked in `accept`, so no process has to pass sockets to another. Each child serves its
//! client with the same blocking 通信循环 as every other mode, one client at a time, so N
//! clients are served at once and client N+1 waits in the listen queue until one leaves,
//! exactly like the thread pool (`--mode pool`), but with processes.
//!
//! What the parent does instead of accepting:
//! - waits for its children (`waitpid`), and forks a new one for any that dies, so the pool
//!   stays at N (a crash in one child costs only the client it was serving);
//! - forwards SIGTERM and SIGINT to its children, waits for them, then dies of the same
//!   signal, so `kill PARENT` stops the whole pool;
//! - holds no connection at all, so it can never run out of descriptors for them.
//!
//! Each child asks the kernel to kill it when its parent dies (`PR_SET_PDEATHSIG`), so a
//! parent killed with SIGKILL (the lab's tests do that) leaves no orphan serving on.
//!
//! What to watch: `cargo lab serve blocking-io --mode prefork --workers 2`, then three
//! `nc 127.0.0.1 PORT`: two are answered, each by its own process (the log names its pid),
//! the third is answered only once one of the first two quits. `kill -9` a child and the log
//! shows the parent starting another.
//!
//! Production servers that prefork (Apache's prefork MPM, nginx's workers, gunicorn) add
//! what this one leaves out: a pool that grows and shrinks with the load, and either a lock
//! around `accept` or `SO_REUSEPORT` / `EPOLLEXCLUSIVE` so that one connection wakes one
//! process (Linux already wakes only one process blocked in `accept` on the same socket).
//!
//! Linux only: `prctl(PR_SET_PDEATHSIG)` is Linux's.

use protocol::accept::{Episode, BACK_OFF};
use std::net::TcpListener;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A child that dies sooner than this after its start is replaced only after [`BACK_OFF`]:
/// if every child crashes at once (a bug, a missing file), the parent must not fork in a
/// tight loop.
const SHORT_LIFE: Duration = Duration::from_secs(1);

/// The children's pids, one slot per worker (0 when empty), for the signal handler: it must
/// reach them without a lock, so they are atomics in a slice allocated once, before any
/// handler is installed.
static CHILDREN: OnceLock<Box<[AtomicI32]>> = OnceLock::new();

/// The signal that asked the pool to stop, or 0. Set by the handler, read by the parent.
static STOPPING: AtomicI32 = AtomicI32::new(0);

/// One worker slot, as the parent sees it.
#[derive(Debug, Clone, Copy)]
struct Worker {
    pid: libc::pid_t,
    started: Instant,
}

// ANCHOR: prefork
pub fn run(listener: TcpListener, workers: usize) -> crate::Result<()> {
    let slots = CHILDREN.get_or_init(|| (0..workers).map(|_| AtomicI32::new(0)).collect());
    if slots.len() != workers {
        return Err("the prefork pool can be started once per process".into());
    }
    install_forwarder()?;
    let parent = std::process::id() as libc::pid_t;
    let mut pool: Vec<Option<Worker>> = vec![None; workers];
    for slot in 0..workers {
        start_worker(&listener, parent, slot, &mut pool);
    }
    loop {
        // Blocked until a child dies or a signal arrives (the handler is installed without
        // SA_RESTART, so a signal ends this wait with EINTR and the loop looks at STOPPING).
        let mut status = 0;
        // SAFETY: `waitpid` writes one int into `status`, which lives on this stack.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid == -1 {
            let err = std::io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => {}
                // ECHILD: no child left; only possible once stopping has emptied the pool.
                _ if stopping().is_some() => {}
                _ => return Err(format!("waitpid: {err}").into()),
            }
        } else if let Some(slot) = pool.iter().position(|w| w.is_some_and(|w| w.pid == pid)) {
            let lived = pool[slot].map(|w| w.started.elapsed()).unwrap_or_default();
            pool[slot] = None;
            slots[slot].store(0, Ordering::SeqCst);
            if stopping().is_none() {
                protocol::log!(
                    "worker {slot} (process {pid}) {}; starting another",
                    describe(status)
                );
                if lived < SHORT_LIFE {
                    std::thread::sleep(BACK_OFF);
                }
                start_worker(&listener, parent, slot, &mut pool);
            }
        }
        if let Some(signal) = stopping() {
            if pool.iter().all(Option::is_none) {
                protocol::log!("every worker has stopped; stopping on signal {signal}");
                die_of(signal);
                return Ok(());
            }
        }
    }
}
// ANCHOR_END: prefork

// ANCHOR: worker
/// Forks the worker for `slot`. Signals are blocked around the fork, so the handler never
/// sees a child that is not yet in [`CHILDREN`], and a child never runs the handler.
fn start_worker(
    listener: &TcpListener,
    parent: libc::pid_t,
    slot: usize,
    pool: &mut [Option<Worker>],
) {
    let blocked = block_stop_signals();
    if stopping().is_some() {
        restore_mask(&blocked);
        return;
    }
    // SAFETY: this process runs one thread (the parent never starts another), so no lock can
    // be held by a thread that does not exist in the child.
    match unsafe { libc::fork() } {
        -1 => {
            // EAGAIN (process limit) or ENOMEM: the slot stays empty until a child dies and
            // the parent tries again; the others keep serving.
            let err = std::io::Error::last_os_error();
            protocol::log!("worker {slot}: cannot fork: {err}");
        }
        0 => {
            // The child. It must never return into the parent's loop: `_exit` ends it.
            become_worker(parent, &blocked);
            let served = std::panic::catch_unwind(|| serve_forever(listener, slot)).is_ok();
            // SAFETY: `_exit` is always safe to call; it ends this process at once, without
            // the parent's atexit handlers or buffers.
            unsafe { libc::_exit(if served { 0 } else { 1 }) };
        }
        pid => {
            pool[slot] = Some(Worker {
                pid,
                started: Instant::now(),
            });
            if let Some(slots) = CHILDREN.get() {
                slots[slot].store(pid, Ordering::SeqCst);
            }
            protocol::log!("worker {slot} is process {pid}, accepting");
        }
    }
    restore_mask(&blocked);
}

/// The child's side of the fork: die with the parent, and take the default signal actions
/// back before signals are unblocked.
fn become_worker(parent: libc::pid_t, blocked: &libc::sigset_t) {
    // SAFETY: plain system calls with integer arguments. PR_SET_PDEATHSIG asks the kernel to
    // send SIGKILL when the parent dies. If it died between our fork and this call, the
    // request comes too late: then our parent is already someone else, and we leave.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        if libc::getppid() != parent {
            libc::_exit(0);
        }
        // The forwarding handler is the parent's business: a worker stops on SIGTERM/SIGINT.
        libc::signal(libc::SIGTERM, libc::SIG_DFL);
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
    restore_mask(blocked);
}

/// One worker: the 连接循环 around the 通信循环, one client at a time, forever.
fn serve_forever(listener: &TcpListener, slot: usize) {
    let me = std::process::id();
    let mut episode = Episode::new();
    loop {
        // Every worker blocks here on the same listener; the kernel gives each connection
        // to one of them.
        let Some((stream, peer)) = crate::conn::accept(listener, &mut episode) else {
            continue;
        };
        protocol::log!("[{peer}] connected; served by worker {slot} (process {me})");
        crate::conn::serve(stream, peer);
    }
}
// ANCHOR_END: worker

/// The stop signal received, if any.
fn stopping() -> Option<libc::c_int> {
    match STOPPING.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// "exited with status 1" or "was killed by signal 9".
fn describe(status: libc::c_int) -> String {
    if libc::WIFEXITED(status) {
        format!("exited with status {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("was killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("ended with wait status {status}")
    }
}

// ANCHOR: forward
/// Passes a stop signal on to every worker; the parent's loop then waits for them.
extern "C" fn forward(signal: libc::c_int) {
    STOPPING.store(signal, Ordering::SeqCst);
    if let Some(slots) = CHILDREN.get() {
        for slot in slots.iter() {
            let pid = slot.load(Ordering::SeqCst);
            if pid > 0 {
                // SAFETY: `kill` is async-signal-safe, and so are the atomic loads above
                // (`OnceLock::get` is one atomic load once it is set, which it was before
                // this handler was installed). A pid is stored only while its child is ours.
                unsafe { libc::kill(pid, signal) };
            }
        }
    }
}
// ANCHOR_END: forward

fn install_forwarder() -> std::io::Result<()> {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: a zeroed `sigaction` is a valid "no flags, empty mask" value; the handler
        // only touches atomics and calls `kill`. No SA_RESTART: the parent's `waitpid` must
        // return with EINTR so it sees the stop at once.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = forward as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// Blocks SIGTERM and SIGINT; returns the mask to restore.
fn block_stop_signals() -> libc::sigset_t {
    // SAFETY: both sets are plain structs on this stack, initialised by `sigemptyset` (the
    // old one by `sigprocmask`) before they are read.
    unsafe {
        let mut stop: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut stop);
        libc::sigaddset(&mut stop, libc::SIGTERM);
        libc::sigaddset(&mut stop, libc::SIGINT);
        libc::sigprocmask(libc::SIG_BLOCK, &stop, &mut old);
        old
    }
}

fn restore_mask(old: &libc::sigset_t) {
    // SAFETY: `old` came from `sigprocmask` in `block_stop_signals`.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, old, std::ptr::null_mut()) };
}

/// Ends the parent with `signal`'s default action, as if the forwarder had never been there,
/// so whoever sent it sees the process killed by it.
fn die_of(signal: libc::c_int) {
    // SAFETY: restoring the default action and raising the signal are plain system calls;
    // the signal is unblocked here (the loop never leaves it blocked).
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}
