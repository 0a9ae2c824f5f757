//! 六 异步IO, the kernel's own: an io_uring `RecvMsg` completion.
//!
//! The notes' asynchronous model is "ask, go on, be told when it is done". io_uring is that
//! model in the kernel: the program submits a receive, and the kernel waits for the data,
//! copies it into the program's buffer, then posts a completion. Watch the figure: the copy
//! happens before the program hears anything, so "told" and "copied" are one step from the
//! program's side, as for a blocking `recv`, but the thread could have done other work
//! throughout (here it just waits for the completion, to be timed).
//!
//! Buffers given to the kernel belong to it until their completion is reaped: [`Ring`]
//! keeps them in one heap block and leaks it rather than free it while a receive is in
//! flight. Production code keeps such state in a slab keyed by `user_data`, as io-uring's
//! `tcp_echo` example does.

use super::timestamp::{self, ControlBuf, RealTime};
use super::{After, Link, Outcome, Received};
use io_uring::{opcode, types, IoUring, Probe};
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, RawFd};

/// `user_data` of our one kind of operation, so a completion says what it completes.
const RECV: u64 = 1;

/// One `RecvMsg`'s memory, shared with the kernel while the operation is in flight.
struct RecvOp {
    msg: libc::msghdr,
    iov: libc::iovec,
    buf: [u8; protocol::limits::READ_SIZE],
    control: ControlBuf,
}

/// A ring with room for one receive at a time, and that receive's memory.
pub struct Ring {
    ring: IoUring,
    /// Boxed so its address stays put while the kernel holds pointers into it.
    op: ManuallyDrop<Box<RecvOp>>,
    in_flight: bool,
}

impl Ring {
    /// A ring, or the reason this system cannot give one (for the table).
    pub fn new() -> Result<Ring, String> {
        let ring = IoUring::new(8).map_err(|err| {
            format!(
                "io_uring unavailable ({err}): a kernel before 5.1, \
                 kernel.io_uring_disabled set, or a seccomp filter (as in many containers)"
            )
        })?;
        // Probe for what we use rather than fail on the first submission.
        let mut probe = Probe::new();
        ring.submitter()
            .register_probe(&mut probe)
            .map_err(|err| format!("io_uring cannot be probed ({err}): kernel before 5.6"))?;
        if !probe.is_supported(opcode::RecvMsg::CODE) {
            return Err("this kernel's io_uring has no RecvMsg (added in 5.3)".into());
        }
        let op = Box::new(RecvOp {
            // SAFETY: all-zero is a valid msghdr and iovec (null pointers, zero lengths);
            // `receive` points them at the buffers before every submission.
            msg: unsafe { std::mem::zeroed() },
            iov: unsafe { std::mem::zeroed() },
            buf: [0; protocol::limits::READ_SIZE],
            control: ControlBuf::new(),
        });
        Ok(Ring {
            ring,
            op: ManuallyDrop::new(op),
            in_flight: false,
        })
    }

    // ANCHOR: io_uring
    /// Receives one message: submit a `RecvMsg`, then wait for its completion. When the
    /// completion comes the kernel has already waited and copied.
    pub fn receive(&mut self, fd: RawFd) -> io::Result<Received> {
        let op = &mut **self.op;
        op.iov = libc::iovec {
            iov_base: op.buf.as_mut_ptr().cast(),
            iov_len: op.buf.len(),
        };
        op.control = ControlBuf::new(); // zeroed, so a missing stamp reads as none
        op.msg.msg_iov = &mut op.iov;
        op.msg.msg_iovlen = 1;
        op.msg.msg_control = op.control.0.as_mut_ptr().cast();
        op.msg.msg_controllen = op.control.0.len();
        let entry = opcode::RecvMsg::new(types::Fd(fd), &mut op.msg)
            .build()
            .user_data(RECV);
        // SAFETY: the msghdr, iovec and buffers it points to live in `self.op`, a heap block
        // that is neither moved nor freed until this completion is reaped (`in_flight`
        // makes Drop leak it otherwise).
        unsafe { self.ring.submission().push(&entry) }
            .map_err(|_| io::Error::other("io_uring submission queue full"))?;
        self.in_flight = true;
        let completion = loop {
            // The thread sleeps here; it could be submitting other work instead.
            match self.ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
            if let Some(completion) = self.ring.completion().next() {
                break completion;
            }
        };
        let done = RealTime::now(); // the completion: already copied, told now
        self.in_flight = false;
        debug_assert_eq!(completion.user_data(), RECV);
        let len = match completion.result() {
            n if n < 0 => return Err(io::Error::from_raw_os_error(-n)), // -errno
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => n as usize,
        };
        // SAFETY: the kernel filled `msg.msg_control` (our aligned, zeroed buffer of
        // `msg_controllen` bytes) and the operation is complete, so we may read it.
        let arrival = unsafe { timestamp::stamp_in_msghdr(&op.msg) };
        let got = timestamp::stamped(len, arrival)?;
        Ok(Received {
            len: got.len,
            arrival: got.arrival,
            after: After::OneStep { done },
            wasted: 0,
        })
    }
    // ANCHOR_END: io_uring
}

impl Drop for Ring {
    fn drop(&mut self) {
        if !self.in_flight {
            // SAFETY: no operation is in flight, so the kernel holds no pointer into it;
            // it is dropped once, here.
            unsafe { ManuallyDrop::drop(&mut self.op) };
        }
        // Otherwise the kernel may still write into it: leak it (about 1 KiB) instead.
    }
}

pub fn run(link: &mut Link) -> crate::Result<Outcome> {
    let mut ring = match Ring::new() {
        Ok(ring) => ring,
        Err(why) => return Ok(Outcome::Unavailable(why)),
    };
    let socket = link.accept()?;
    let fd = socket.as_raw_fd();
    let samples = link.pacer().collect(|| ring.receive(fd))?;
    Ok(Outcome::Measured(samples))
}
