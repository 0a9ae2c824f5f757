//! The kernel's receive timestamp: when the data reached the socket (二 wait data ends here).
//!
//! With `SO_TIMESTAMPNS` on, Linux stamps every packet as it enters the network stack, and a
//! `recvmsg` that returns its bytes also returns that stamp as a control message
//! (`SCM_TIMESTAMPNS`). The stamp is the only instant of the four that the program cannot
//! see for itself: it is the kernel saying "the wait ended here".
//!
//! Watch the clock: the stamp is read from `CLOCK_REALTIME`, so every other instant is read
//! from that clock too ([`RealTime::now`]). `std::time::Instant` is `CLOCK_MONOTONIC`, which
//! counts from boot: the two cannot be subtracted. Realtime can be stepped (by NTP or by
//! hand); a sample that sees time run backwards is dropped, not trusted
//! ([`RealTime::since`]).
//!
//! For TCP the stamp is that of the last packet whose bytes the call returned; the lab sends
//! one short message per sample, one packet, so it is that message's arrival.

use nix::sys::socket::{self, sockopt, ControlMessageOwned, MsgFlags};
use nix::sys::time::TimeSpec;
use nix::time::{clock_gettime, ClockId};
use std::io::{self, IoSliceMut, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::OnceLock;
use std::time::Duration;

/// An instant on `CLOCK_REALTIME`, in nanoseconds since the Unix epoch: the kernel's clock
/// for receive timestamps, so the one clock all four instants are read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RealTime(i64);

impl RealTime {
    /// Now, on the clock the kernel stamps packets with.
    pub fn now() -> RealTime {
        // clock_gettime fails only for an unknown clock or a bad pointer; CLOCK_REALTIME
        // exists on every Linux and nix owns the pointer, so this cannot fail.
        let now = clock_gettime(ClockId::CLOCK_REALTIME).expect("CLOCK_REALTIME always exists");
        RealTime::from(now)
    }

    /// How long after `earlier` this is; `None` if it is before it, which only a realtime
    /// clock step during the sample can cause.
    pub fn since(self, earlier: RealTime) -> Option<Duration> {
        let nanos = self.0.checked_sub(earlier.0)?;
        u64::try_from(nanos).ok().map(Duration::from_nanos)
    }
}

impl From<TimeSpec> for RealTime {
    fn from(ts: TimeSpec) -> RealTime {
        RealTime(ts.tv_sec() * 1_000_000_000 + ts.tv_nsec())
    }
}

/// What one `recvmsg` gave: the bytes' count and the kernel's stamp of their arrival.
#[derive(Clone, Copy, Debug)]
pub struct Stamped {
    pub len: usize,
    pub arrival: RealTime,
}

/// Room for the control messages of one `recvmsg`: one `SCM_TIMESTAMPNS` needs
/// `CMSG_SPACE(sizeof(struct timespec))` = 32 bytes on 64-bit Linux. Aligned like a
/// `cmsghdr`, because the kernel writes headers into it and we read them back in place.
#[repr(C, align(8))]
pub struct ControlBuf(pub [u8; 64]);

impl ControlBuf {
    pub fn new() -> ControlBuf {
        ControlBuf([0; 64])
    }
}

impl Default for ControlBuf {
    fn default() -> ControlBuf {
        ControlBuf::new()
    }
}

/// Asks the kernel to stamp what arrives on `socket` (`SO_TIMESTAMPNS`), once it is sure
/// the kernel really stamps packets.
///
/// The error says what it means for the lab, because the user sees it as is.
pub fn enable(socket: &impl AsFd) -> io::Result<()> {
    stamping_is_on()?;
    ask_for_stamps(socket)
}

fn ask_for_stamps(socket: &impl AsFd) -> io::Result<()> {
    socket::setsockopt(socket, sockopt::ReceiveTimestampns, &true).map_err(|errno| {
        io::Error::other(format!(
            "the kernel refused SO_TIMESTAMPNS ({errno}): without receive timestamps the \
             wait and copy phases cannot be told apart, so `cargo lab phases` cannot run here"
        ))
    })
}

/// How many probe messages [`stamping_is_on`] sends before it gives up, 1 ms apart.
const PROBES: u32 = 1000;

/// A probe connection whose receiving socket asks for stamps for as long as the lab runs.
static PROBE: OnceLock<Result<(TcpStream, TcpStream), String>> = OnceLock::new();

/// Makes sure packets are being stamped, waiting (at most a second) until they are.
///
/// Linux stamps packets only while some socket wants it, and turns that on lazily: the
/// first socket that asks switches it on from a deferred work item, so packets arriving in
/// the next moment come without a stamp. So the lab opens a probe connection of its own,
/// asks for stamps on it, sends itself a byte until one comes back stamped, and keeps that
/// socket open, so stamping stays on between one model's socket and the next's.
fn stamping_is_on() -> io::Result<()> {
    let probe = PROBE.get_or_init(|| {
        let probe = || -> io::Result<(TcpStream, TcpStream)> {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let mut client = TcpStream::connect(listener.local_addr()?)?;
            let (server, _) = listener.accept()?;
            server.set_read_timeout(Some(Duration::from_secs(1)))?;
            ask_for_stamps(&server)?;
            for _ in 0..PROBES {
                client.write_all(b"?")?;
                match recv_stamped(&server, &mut [0; 1]) {
                    Ok(_) => return Ok((client, server)),
                    Err(err) if is_missing_stamp(&err) => {
                        // Nothing to wait on: the kernel's deferred work gives no sign.
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(err) => return Err(err),
                }
            }
            Err(io::Error::other(format!(
                "the kernel accepts SO_TIMESTAMPNS but stamped none of {PROBES} probe \
                 packets in a second: receive timestamps do not work here"
            )))
        };
        probe().map_err(|err| err.to_string())
    });
    match probe {
        Ok(_) => Ok(()),
        Err(why) => Err(io::Error::other(why.clone())),
    }
}

// ANCHOR: recv_stamped
/// One `recvmsg` on `socket` into `buf`, returning the bytes' count and their arrival stamp.
///
/// Called exactly where each model would call `recv`: it blocks if the socket blocks, and
/// returns `WouldBlock` if the socket is non-blocking and nothing has arrived.
pub fn recv_stamped(socket: &impl AsRawFd, buf: &mut [u8]) -> io::Result<Stamped> {
    let mut control = ControlBuf::new();
    let mut iov = [IoSliceMut::new(buf)];
    let got = socket::recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut control.0),
        MsgFlags::empty(),
    )?; // WouldBlock and Interrupted come back as they are: the caller's model handles them
    if got.bytes == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the lab's client closed the connection mid-measurement",
        ));
    }
    // MSG_CTRUNC (the stamp did not fit) shows up here as ENOBUFS.
    let messages = got
        .cmsgs()
        .map_err(|errno| io::Error::other(format!("control messages truncated ({errno})")))?;
    let arrival = messages
        .filter_map(|message| match message {
            ControlMessageOwned::ScmTimestampns(ts) => Some(RealTime::from(ts)),
            _ => None,
        })
        .last();
    stamped(got.bytes, arrival)
}
// ANCHOR_END: recv_stamped

/// Pairs a byte count with its stamp, or says plainly why there is none.
pub fn stamped(len: usize, arrival: Option<RealTime>) -> io::Result<Stamped> {
    match arrival {
        Some(arrival) => Ok(Stamped { len, arrival }),
        None => Err(missing_stamp(len)),
    }
}

/// The error for bytes that came without a stamp: the one thing a user must read to know
/// why `cargo lab phases` stopped.
pub fn missing_stamp(len: usize) -> io::Error {
    io::Error::other(MissingStamp { len })
}

/// Whether `err` is [`missing_stamp`]'s.
pub fn is_missing_stamp(err: &io::Error) -> bool {
    err.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<MissingStamp>().is_some())
}

#[derive(Debug)]
struct MissingStamp {
    len: usize,
}

impl std::fmt::Display for MissingStamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "recvmsg returned {} bytes without an SCM_TIMESTAMPNS control message: either \
             SO_TIMESTAMPNS is not on for this socket or this kernel does not stamp received \
             packets, so the wait and copy phases cannot be told apart",
            self.len
        )
    }
}

impl std::error::Error for MissingStamp {}

/// Finds the `SCM_TIMESTAMPNS` stamp in a `msghdr` the kernel filled in by itself, as an
/// io_uring `RecvMsg` completion does (nix parses only the `msghdr`s of its own `recvmsg`).
///
/// # Safety
/// `msg.msg_control` must point to `msg.msg_controllen` readable bytes, aligned for
/// `cmsghdr`, that the kernel wrote control messages into (or that are zero).
pub unsafe fn stamp_in_msghdr(msg: &libc::msghdr) -> Option<RealTime> {
    let mut found = None;
    // SAFETY: the caller guarantees msg_control/msg_controllen describe the kernel-written,
    // aligned control buffer; CMSG_FIRSTHDR/CMSG_NXTHDR never step past msg_controllen.
    let mut header = unsafe { libc::CMSG_FIRSTHDR(msg) };
    while !header.is_null() {
        // SAFETY: a non-null header from CMSG_FIRSTHDR/NXTHDR lies wholly inside the buffer.
        let h = unsafe { &*header };
        let timespec_len = unsafe { libc::CMSG_LEN(size_of::<libc::timespec>() as u32) };
        if h.cmsg_level == libc::SOL_SOCKET
            && h.cmsg_type == libc::SCM_TIMESTAMPNS
            && h.cmsg_len as usize >= timespec_len as usize
        {
            // SAFETY: cmsg_len says the data holds a whole timespec; it may be unaligned.
            let ts = unsafe { (libc::CMSG_DATA(header) as *const libc::timespec).read_unaligned() };
            found = Some(RealTime::from(TimeSpec::from(ts)));
        }
        // SAFETY: as above; it returns null after the last header.
        header = unsafe { libc::CMSG_NXTHDR(msg, header) };
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn a_stamp_comes_with_the_bytes_once_enabled() {
        let (mut client, server) = pair();
        enable(&server).unwrap();
        let before = RealTime::now();
        client.write_all(b"hello").unwrap();
        let mut buf = [0; 16];
        let got = recv_stamped(&server, &mut buf).unwrap();
        let after = RealTime::now();
        assert_eq!(&buf[..got.len], b"hello");
        // The stamp is on the same clock as RealTime::now, between the send and the return.
        assert!(got.arrival.since(before).is_some(), "stamp before the send");
        assert!(after.since(got.arrival).is_some(), "stamp after the return");
    }

    #[test]
    fn bytes_without_a_stamp_are_an_error_that_says_why() {
        let (mut client, server) = pair();
        // SO_TIMESTAMPNS deliberately left off: the kernel sends no control message.
        client.write_all(b"hello").unwrap();
        let mut buf = [0; 16];
        let err = recv_stamped(&server, &mut buf).unwrap_err();
        assert!(is_missing_stamp(&err));
        let text = err.to_string();
        assert!(text.contains("SO_TIMESTAMPNS"), "{text}");
        assert!(text.contains("5 bytes"), "{text}");
    }

    #[test]
    fn an_empty_msghdr_has_no_stamp() {
        let mut control = ControlBuf::new();
        // SAFETY: zeroed is a valid msghdr (null pointers, zero lengths).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = control.0.len();
        // SAFETY: msg_control points to our aligned, zeroed 64-byte buffer.
        assert_eq!(unsafe { stamp_in_msghdr(&msg) }, None);
    }

    #[test]
    fn time_running_backwards_is_not_a_duration() {
        let a = RealTime(1_000);
        let b = RealTime(3_500);
        assert_eq!(b.since(a), Some(Duration::from_nanos(2_500)));
        assert_eq!(a.since(b), None);
    }
}
