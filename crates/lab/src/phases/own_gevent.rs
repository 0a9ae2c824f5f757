//! 自己实现gevent, timed: a task of our own runtime (`crates/own-gevent`) waits for a socket.
//!
//! The task tries `recvmsg` first; on `EAGAIN` it tells the reactor which task waits for
//! this socket and returns `Pending`. When epoll reports the socket readable, the reactor
//! wakes the task and the executor polls it again: that poll is the notification. Unlike
//! `may`, one thread does everything (the loop, the wake-up, the copy), so no hand-off
//! between threads sits in the notification.

use super::timestamp::{recv_stamped, RealTime};
use super::{After, Link, Outcome, Received};
use std::io::{self, ErrorKind};

// ANCHOR: own_gevent
/// Receives one message in a task: `recvmsg`; on `EAGAIN`, wait (suspended) until our
/// reactor says the socket is readable, then try again.
pub async fn receive(stream: &own_gevent::TcpStream, buf: &mut [u8]) -> io::Result<Received> {
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
                stream.readable().await?;
                told = RealTime::now(); // polled again: the task is told
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}
// ANCHOR_END: own_gevent

pub fn run(link: &mut Link) -> crate::Result<Outcome> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    link.start_client(listener.local_addr()?)?;
    let pacer = link.pacer();
    // The runtime lives on this thread: `block_on` runs its loop until the future is done.
    let stream = own_gevent::block_on(async move {
        let listener = own_gevent::TcpListener::from_std(listener)?;
        let (stream, _) = listener.accept().await?;
        Ok::<_, io::Error>(stream)
    })?;
    super::timestamp::enable(&stream)?;
    let mut buf = [0u8; protocol::limits::READ_SIZE];
    // One `block_on` per message: the pacer's loop is plain code, and each receive is a task
    // that the loop drives until the bytes are in.
    let samples = pacer.collect(|| own_gevent::block_on(receive(&stream, &mut buf)))?;
    Ok(Outcome::Measured(samples))
}
