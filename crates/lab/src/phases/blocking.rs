//! 三 阻塞IO, timed: one blocking `recvmsg` sleeps through the wait and returns with the
//! bytes copied.
//!
//! This is `conn.recv(1024)` in the notes' section 二 server and every mode of the
//! `blocking-io` crate. Watch the figure: there is no notification of its own. The kernel
//! wakes the thread and the thread copies inside the same call, so from user space "told"
//! and "copied" are one instant, and the span after the arrival (wake-up plus copy) is
//! drawn as one step.

use super::timestamp::{recv_stamped, RealTime};
use super::{After, Link, Outcome, Received};
use std::os::fd::AsRawFd;

// ANCHOR: blocking
/// Receives one message the blocking way: one call, asleep until the data has arrived and
/// been copied into `buf`.
pub fn receive(socket: &impl AsRawFd, buf: &mut [u8]) -> std::io::Result<Received> {
    let got = loop {
        match recv_stamped(socket, buf) {
            // Wait data + copy data, both inside this one call.
            Ok(got) => break got,
            // A signal woke us before any data came: wait again (std's `read` does the same).
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    };
    let done = RealTime::now(); // told and copied: the same instant
    Ok(Received {
        len: got.len,
        arrival: got.arrival,
        after: After::OneStep { done },
        wasted: 0,
    })
}
// ANCHOR_END: blocking

pub fn run(link: &mut Link) -> crate::Result<Outcome> {
    let socket = link.accept()?;
    let mut buf = [0u8; protocol::limits::READ_SIZE];
    let samples = link.pacer().collect(|| receive(&socket, &mut buf))?;
    Ok(Outcome::Measured(samples))
}
