//! 五 IO多路复用, timed: wait for readiness, then `recvmsg`, with three pollers.
//!
//! The notes' `select.select(r_list, ...)`, then `conn.recv(1024)` for each readable socket.
//! Here three ways to wait: `select(2)` itself, `polling` level-triggered and `mio`
//! edge-triggered (both on epoll), as the `multiplexing` crate's backends do. Watch the two
//! steps after the arrival: the poller's return is the notification, and the `recvmsg` that
//! follows is the copy, now a call of its own that cannot block.
//!
//! Readiness is a hint, not a promise: if `recvmsg` still says `EAGAIN`, wait again.

use super::timestamp::{recv_stamped, RealTime, Stamped};
use super::{After, Link, Outcome, Received};
use std::io::{self, ErrorKind};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// How long one wait may last: the client sends within milliseconds, and a lab run must end
/// even if it never does.
const STUCK: Duration = Duration::from_secs(10);

/// The key `polling` reports our one socket under.
const CONN_KEY: usize = 0;
/// The token `mio` reports our one socket under.
const CONN_TOKEN: mio::Token = mio::Token(0);

/// A readiness model's `Received`: told at `notified`, copied by the `recvmsg` that gave `got`.
fn told_then_copied(got: Stamped, notified: RealTime, wasted: u64) -> Received {
    Received {
        len: got.len,
        arrival: got.arrival,
        after: After::NotifyThenCopy {
            notified,
            copied: RealTime::now(),
        },
        wasted,
    }
}

fn stuck() -> io::Error {
    io::Error::new(ErrorKind::TimedOut, "no data within 10 s")
}

// ANCHOR: select
/// Receives one message: `select` until the socket is readable, then `recvmsg`.
pub fn receive_select(socket: &impl AsRawFd, buf: &mut [u8]) -> io::Result<Received> {
    let fd = socket.as_raw_fd();
    // select's fd_set is a fixed bitmap: a descriptor past it cannot be watched at all.
    if fd >= libc::FD_SETSIZE as i32 {
        return Err(io::Error::other(
            "select can watch descriptors below 1024 only",
        ));
    }
    let mut wasted = 0;
    loop {
        // SAFETY: an all-zero fd_set is an empty set; FD_SET gets a descriptor below
        // FD_SETSIZE (checked above) and a pointer to that local set.
        let mut readable: libc::fd_set = unsafe { std::mem::zeroed() };
        unsafe { libc::FD_SET(fd, &mut readable) };
        let mut timeout = libc::timeval {
            tv_sec: STUCK.as_secs() as libc::time_t,
            tv_usec: 0,
        };
        // SAFETY: the set and the timeout are live locals; the sets not watched are null.
        let ready = unsafe {
            libc::select(
                fd + 1,
                &mut readable,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &mut timeout,
            )
        };
        let error = io::Error::last_os_error(); // errno, read at once; meaningful if -1
        let notified = RealTime::now(); // select returned: the program is told
        match ready {
            -1 if error.kind() == ErrorKind::Interrupted => continue,
            -1 => return Err(error),
            0 => return Err(stuck()),
            _ => {}
        }
        match recv_stamped(socket, buf) {
            Ok(got) => return Ok(told_then_copied(got, notified, wasted)),
            Err(err) if err.kind() == ErrorKind::WouldBlock => wasted += 1,
            Err(err) => return Err(err),
        }
    }
}
// ANCHOR_END: select

pub fn run_select(link: &mut Link) -> crate::Result<Outcome> {
    let socket = link.accept()?;
    socket.set_nonblocking(true)?;
    let mut buf = [0u8; protocol::limits::READ_SIZE];
    let samples = link.pacer().collect(|| receive_select(&socket, &mut buf))?;
    Ok(Outcome::Measured(samples))
}

// ANCHOR: polling
/// Receives one message: wait on a `polling::Poller` that has the socket registered
/// level-triggered, then `recvmsg`.
///
/// Level-triggered: the socket stays registered and is reported while it has unread data,
/// so nothing needs re-arming between messages (polling's default, oneshot, would).
pub fn receive_polling(
    poller: &polling::Poller,
    events: &mut polling::Events,
    socket: &impl AsRawFd,
    buf: &mut [u8],
) -> io::Result<Received> {
    let mut wasted = 0;
    loop {
        events.clear();
        match poller.wait(events, Some(STUCK)) {
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
        let notified = RealTime::now(); // epoll_wait returned: the program is told
        if !events
            .iter()
            .any(|event| event.key == CONN_KEY && event.readable)
        {
            return Err(stuck());
        }
        match recv_stamped(socket, buf) {
            Ok(got) => return Ok(told_then_copied(got, notified, wasted)),
            Err(err) if err.kind() == ErrorKind::WouldBlock => wasted += 1,
            Err(err) => return Err(err),
        }
    }
}
// ANCHOR_END: polling

pub fn run_polling(link: &mut Link) -> crate::Result<Outcome> {
    let socket = link.accept()?;
    socket.set_nonblocking(true)?;
    let poller = polling::Poller::new()?;
    // SAFETY: polling requires the source to be deleted from the poller before it is
    // dropped; `socket` outlives this function's delete call below, on every path.
    unsafe {
        poller.add_with_mode(
            &socket,
            polling::Event::readable(CONN_KEY),
            polling::PollMode::Level,
        )?
    };
    let mut events = polling::Events::new();
    let mut buf = [0u8; protocol::limits::READ_SIZE];
    let samples = link
        .pacer()
        .collect(|| receive_polling(&poller, &mut events, &socket, &mut buf));
    poller.delete(&socket)?;
    Ok(Outcome::Measured(samples?))
}

// ANCHOR: mio
/// Receives one message: `mio::Poll` with the socket registered (mio is always
/// edge-triggered), then `recvmsg`, then drain until `WouldBlock`.
///
/// Edge-triggered: an event is reported once per arrival, not while data is unread, so mio's
/// contract is to read until `WouldBlock` after each event.
pub fn receive_mio(
    poll: &mut mio::Poll,
    events: &mut mio::Events,
    socket: &mio::net::TcpStream,
    buf: &mut [u8],
) -> io::Result<Received> {
    let mut wasted = 0;
    loop {
        match poll.poll(events, Some(STUCK)) {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
        let notified = RealTime::now(); // epoll_wait returned: the program is told
        if !events
            .iter()
            .any(|event| event.token() == CONN_TOKEN && event.is_readable())
        {
            return Err(stuck());
        }
        match recv_stamped(socket, buf) {
            Ok(got) => {
                let received = told_then_copied(got, notified, wasted);
                // The drain is not part of this message's copy; it only keeps mio's contract.
                // After the last message it may meet the client's close (EOF): also empty.
                let mut rest = [0u8; protocol::limits::READ_SIZE];
                match recv_stamped(socket, &mut rest) {
                    Err(err)
                        if matches!(
                            err.kind(),
                            ErrorKind::WouldBlock | ErrorKind::UnexpectedEof
                        ) => {}
                    Ok(_) => return Err(io::Error::other("a second message came unasked")),
                    Err(err) => return Err(err),
                }
                return Ok(Received {
                    wasted: received.wasted + 1,
                    ..received
                });
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => wasted += 1,
            Err(err) => return Err(err),
        }
    }
}
// ANCHOR_END: mio

pub fn run_mio(link: &mut Link) -> crate::Result<Outcome> {
    let std_socket = link.accept()?;
    // mio requires a non-blocking socket: it never blocks in a read of its own.
    std_socket.set_nonblocking(true)?;
    let mut socket = mio::net::TcpStream::from_std(std_socket);
    let mut poll = mio::Poll::new()?;
    poll.registry()
        .register(&mut socket, CONN_TOKEN, mio::Interest::READABLE)?;
    let mut events = mio::Events::with_capacity(8);
    let mut buf = [0u8; protocol::limits::READ_SIZE];
    let samples = link
        .pacer()
        .collect(|| receive_mio(&mut poll, &mut events, &socket, &mut buf))?;
    Ok(Outcome::Measured(samples))
}
