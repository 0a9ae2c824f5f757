//! 二 copy data (拷贝数据) by itself: one `recv` of bytes that are already queued.
//!
//! The models' timings after the arrival are tens of microseconds, and almost none of that
//! is the copy: a blocking `recv` that returns with the bytes includes waking the sleeping
//! thread (the scheduler's wake-up and the return to user space), and a readiness model's
//! `recvmsg` is a system call of its own on caches that went cold while the thread slept.
//! Copying a few dozen bytes from the kernel into a buffer takes far less. This measures it
//! with nothing else in the way: the lab sends one message to itself, waits until every byte
//! of it is in the receive buffer (a `MSG_PEEK` that waits, so no sleep and no guess), then
//! times a `recv` that cannot wait, because its data is known to be there.
//!
//! What remains in the number besides the copy is the system call's entry and exit and two
//! reads of the clock: an upper bound on the copy, not the copy to the nanosecond.

use super::pace::MESSAGE;
use super::report::Spread;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// How long a peek may wait for a message the lab has just sent to itself.
const STUCK: Duration = Duration::from_secs(5);

/// Peeks allowed for one message before giving up: one is the rule over loopback (one short
/// write, one packet); more than a few means the message is not arriving whole.
const MAX_PEEKS: usize = 100;

// ANCHOR: copy_alone
/// Times `samples` receives of one message whose bytes are already queued: the copy, and
/// the system call around it, with no wait and no wake-up.
pub fn measure(samples: usize) -> crate::Result<Spread> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let mut sender = crate::scenarios::connect(listener.local_addr()?)?;
    let (mut receiver, _) = listener.accept()?;
    receiver.set_read_timeout(Some(STUCK))?;
    let mut buf = [0u8; protocol::limits::READ_SIZE];
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        sender.write_all(MESSAGE)?;
        wait_until_queued(&receiver, &mut buf)?;
        // Data known present: this `read` copies and returns, it has nothing to wait for.
        let before = Instant::now();
        let n = receiver.read(&mut buf)?;
        let copied = before.elapsed();
        if n != MESSAGE.len() {
            return Err(format!("read {n} of {} queued bytes", MESSAGE.len()).into());
        }
        times.push(copied);
    }
    Spread::of(times).ok_or_else(|| "no samples asked for".into())
}
// ANCHOR_END: copy_alone

/// Waits (in the kernel, not by spinning) until the whole message is in `stream`'s receive
/// buffer, without taking it out: `MSG_PEEK` returns as soon as some bytes are there.
fn wait_until_queued(stream: &TcpStream, buf: &mut [u8]) -> crate::Result<()> {
    for _ in 0..MAX_PEEKS {
        match stream.peek(buf) {
            Ok(0) => return Err("the lab's own connection closed".into()),
            Ok(n) if n >= MESSAGE.len() => return Ok(()),
            Ok(_) => continue, // part of it: the rest is on its way
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err("the message did not arrive whole".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_is_one_whole_message_read_without_waiting() {
        // Not a speed test: a millisecond is far beyond any copy of 50 bytes, so a median
        // above it would mean the read waited, and the instrument measures the wrong thing.
        let spread = measure(20).unwrap_or_else(|e| panic!("{e}"));
        assert!(spread.p50 < Duration::from_millis(1), "{spread:?}");
    }
}
