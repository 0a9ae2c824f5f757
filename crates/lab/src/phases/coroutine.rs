//! 一 协程, timed: a `may` coroutine parks on `EAGAIN` and is resumed when data arrives.
//!
//! The notes' gevent `spawn(talk, conn)`: code that reads like blocking code, while the
//! runtime switches to other coroutines whenever one would block. may's `TcpStream::read`
//! is a plain `read(2)`, which cannot return the kernel's timestamp, so here the coroutine
//! does what that `read` does inside, in plain sight: try `recvmsg` on the stream's own
//! non-blocking socket, and on `EAGAIN` park with may's `wait_io` until may's event loop
//! (epoll, edge-triggered) reports the socket readable. The resumption is the notification.
//!
//! Watch the notification: the packet wakes may's I/O thread, which schedules the coroutine
//! on a worker thread; that hand-off is what the coroutine's convenience costs.

use super::timestamp::{recv_stamped, RealTime};
use super::{After, Link, Outcome, Received};
use may::io::WaitIo;
use std::io::{self, ErrorKind};

/// The coroutine's stack, in machine words (may's unit): may stacks are fixed and do not
/// grow, so give this one four times may's default for the formatting in error paths.
const STACK_WORDS: usize = 0x4000;

// ANCHOR: may
/// Receives one message in a coroutine: `recvmsg`; on `EAGAIN`, park until may's event
/// loop says the socket is readable, then try again.
pub fn receive(stream: &may::net::TcpStream, buf: &mut [u8]) -> io::Result<Received> {
    let mut wasted = 0;
    let mut told = RealTime::now();
    loop {
        match recv_stamped(stream, buf) {
            Ok(got) => {
                return Ok(Received {
                    len: got.len,
                    arrival: got.arrival,
                    after: After::NotifyThenCopy {
                        notified: told,
                        copied: RealTime::now(),
                    },
                    wasted,
                });
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => {
                wasted += 1;
                // Park: this worker thread runs other coroutines until the socket is ready.
                stream.wait_io();
                told = RealTime::now(); // resumed: the coroutine is told
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}
// ANCHOR_END: may

pub fn run(link: &mut Link) -> crate::Result<Outcome> {
    // may's own listener, so the stream is registered with may's event loop as the
    // `coroutine-spawn` server's streams are.
    let listener = may::net::TcpListener::bind("127.0.0.1:0")?;
    link.start_client(listener.local_addr()?)?;
    let pacer = link.pacer();
    let coroutine = may::coroutine::Builder::new()
        .name("phases-may".into())
        .stack_size(STACK_WORDS);
    // SAFETY: may's spawn is unsafe for two reasons. A coroutine can resume on another
    // thread, so thread-local storage must not be held across a park: this one touches
    // thread-locals (errno, std's channel) only inside calls that never park. And its stack
    // is fixed: STACK_WORDS leaves ample room for recvmsg and error formatting.
    let handle = unsafe {
        coroutine.spawn(move || -> crate::Result<Outcome> {
            let (stream, _) = listener.accept()?; // parks until the client's connection
            super::timestamp::enable(stream.inner())?;
            let mut buf = [0u8; protocol::limits::READ_SIZE];
            let samples = pacer.collect(|| receive(&stream, &mut buf))?;
            Ok(Outcome::Measured(samples))
        })
    }?;
    handle
        .join()
        .map_err(|_| "the may coroutine panicked".into())
        .and_then(|outcome| outcome)
}
