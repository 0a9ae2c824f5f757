//! 四 非阻塞IO, timed: a busy loop of non-blocking `recvmsg` until the data is there.
//!
//! The notes' first non-blocking server asks every socket again and again, and `recv` answers
//! `BlockingIOError` (`EAGAIN`) until data comes. Watch two numbers: the notification is short
//! (the loop asks again within a microsecond or so), and the wasted calls are many: the
//! whole wait is spent on a core, which is why the notes do not recommend this model.
//!
//! "Told" here is the start of the call that found the data: from the arrival to then, the
//! data sat in the kernel while the loop was busy with a call that had just missed it.

use super::timestamp::{recv_stamped, RealTime};
use super::{After, Link, Outcome, Received};
use std::io::ErrorKind;
use std::os::fd::AsRawFd;

// ANCHOR: busy_loop
/// Receives one message by asking until the answer is not `EAGAIN`. The socket must be
/// non-blocking.
pub fn receive(socket: &impl AsRawFd, buf: &mut [u8]) -> std::io::Result<Received> {
    let mut wasted = 0;
    loop {
        let asked = RealTime::now();
        match recv_stamped(socket, buf) {
            Ok(got) => {
                let copied = RealTime::now();
                return Ok(Received {
                    len: got.len,
                    arrival: got.arrival,
                    after: After::NotifyThenCopy {
                        notified: asked, // this call is the one that found the data
                        copied,
                    },
                    wasted,
                });
            }
            // Nothing yet: the wait phase, spent on the CPU. Ask again at once.
            Err(err) if err.kind() == ErrorKind::WouldBlock => wasted += 1,
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}
// ANCHOR_END: busy_loop

pub fn run(link: &mut Link) -> crate::Result<Outcome> {
    let socket = link.accept()?;
    socket.set_nonblocking(true)?;
    let mut buf = [0u8; protocol::limits::READ_SIZE];
    let samples = link.pacer().collect(|| receive(&socket, &mut buf))?;
    Ok(Outcome::Measured(samples))
}
