//! `--mode fork`: a process per connection, the 多进程 (multi-process) part of the formula the
//! notes' chapter opens with, which builds `socketserver` from processes, threads and I/O models.
//!
//! The parent only accepts; each child serves one client and exits. Two chores come with
//! processes that threads do not have, and both are here in plain sight:
//! - after `fork` both processes hold the connected socket; the parent closes its copy at
//!   once, or the client would never see EOF when the child closes (and the parent would run
//!   out of descriptors);
//! - a child that exits stays a zombie until its parent collects its status. A `SIGCHLD`
//!   handler collects every finished child, as Stevens' `sig_chld` does (UNP 5.9).
//!
//! Linux and other Unix only: `fork(2)` is the point of this mode.

use std::net::TcpListener;
use std::os::fd::AsRawFd;

// ANCHOR: fork
pub fn run(listener: TcpListener) -> crate::Result<()> {
    install_reaper()?;
    let mut episode = protocol::accept::Episode::new();
    loop {
        let Some((stream, peer)) = crate::conn::accept(&listener, &mut episode) else {
            continue;
        };
        // SAFETY: `fork` is sound to call here because this process runs one thread (neither
        // this binary nor the lab starts another before serving), so no lock can be held by a
        // thread that does not exist in the child.
        match unsafe { libc::fork() } {
            -1 => {
                // EAGAIN (process limit) or ENOMEM: refuse this client, keep serving.
                let err = std::io::Error::last_os_error();
                protocol::log!("[{peer}] refused: cannot fork: {err}");
            }
            0 => {
                // The child. It must never return into the accept loop: catch a panic, then
                // leave with `_exit`, which skips the parent's atexit handlers and buffers.
                // SAFETY: the child owns a copy of every descriptor; closing its copy of the
                // listener affects only the child. `listener` is never used or dropped here
                // again, because `_exit` below does not return.
                unsafe { libc::close(listener.as_raw_fd()) };
                let served =
                    std::panic::catch_unwind(move || crate::conn::serve(stream, peer)).is_ok();
                // SAFETY: `_exit` is always safe to call; it ends this process at once.
                unsafe { libc::_exit(if served { 0 } else { 1 }) };
            }
            child => {
                protocol::log!("[{peer}] connected; served by process {child}");
                // The parent's copy of the socket: close it now (see the module docs).
                drop(stream);
            }
        }
    }
}
// ANCHOR_END: fork

// ANCHOR: reaper
/// Collects every child that has exited, so none stays a zombie.
extern "C" fn reap_children(_signal: libc::c_int) {
    // SAFETY: `waitpid` is async-signal-safe; WNOHANG makes it return 0 at once when no
    // child has finished. Several exits may be merged into one signal, hence the loop.
    // `errno` is saved and restored because the handler may interrupt code that reads it.
    unsafe {
        let errno = *libc::__errno_location();
        while libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) > 0 {}
        *libc::__errno_location() = errno;
    }
}
// ANCHOR_END: reaper

fn install_reaper() -> std::io::Result<()> {
    // SAFETY: `sigaction` is given a zeroed struct (a valid "no flags, empty mask" value) with
    // a handler that only calls async-signal-safe functions. SA_RESTART resumes interrupted
    // system calls; SA_NOCLDSTOP skips signals for stopped (not exited) children.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = reap_children as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART | libc::SA_NOCLDSTOP;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGCHLD, &action, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
