//! Sockets whose calls suspend the task instead of blocking the thread: what gevent's
//! `monkey.patch_all()` swaps into the `socket` module, made visible here by `.await`.
//!
//! Every call follows one pattern. Try the system call first, on a non-blocking socket (most
//! of the time data is already there, and asking epoll first would cost a system call for
//! nothing). Only on `WouldBlock` tell the reactor which task waits and return `Pending`;
//! when the socket becomes ready the task is polled again and simply tries again. Readiness
//! is a hint, not a promise, so "try again" may meet `WouldBlock` once more: that is fine.
//! Each call also spends one unit of the task's budget, so a socket that never runs dry
//! cannot keep its task from yielding (see `executor::BUDGET`).

use crate::executor::spend_budget;
use crate::reactor::{self, Direction};
use std::future::poll_fn;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::task::Poll;

/// A socket known to this thread's reactor; deleted from epoll before it is closed.
pub(crate) struct Registered<S: AsRawFd> {
    pub(crate) socket: S,
    pub(crate) key: usize,
}

impl<S: AsRawFd> Registered<S> {
    pub(crate) fn new(socket: S) -> io::Result<Registered<S>> {
        // SAFETY: `socket` is open, and `Drop` below deregisters it before it is closed.
        let key = reactor::with(|r| unsafe { r.register(socket.as_raw_fd()) })?;
        Ok(Registered { socket, key })
    }

    // ANCHOR: ready
    /// Waits until the socket may be ready in `dir`: registers on the first poll and returns
    /// on the next one (after the reactor's wake). The caller tries its call again.
    pub(crate) async fn ready(&self, dir: Direction) -> io::Result<()> {
        let mut waiting = false;
        poll_fn(|cx| {
            if waiting {
                return Poll::Ready(Ok(()));
            }
            waiting = true;
            match reactor::with(|r| r.wait_on(self.key, dir, cx.waker())) {
                Ok(()) => Poll::Pending,
                Err(err) => Poll::Ready(Err(err)),
            }
        })
        .await
    }
    // ANCHOR_END: ready

    /// Runs `call` until it does not say `WouldBlock` (waiting for `dir` in between) or
    /// `Interrupted` (a signal: just try again).
    async fn io<T>(
        &self,
        dir: Direction,
        mut call: impl FnMut(&S) -> io::Result<T>,
    ) -> io::Result<T> {
        spend_budget().await;
        loop {
            match call(&self.socket) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.ready(dir).await?,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                done => return done,
            }
        }
    }
}

impl<S: AsRawFd> Drop for Registered<S> {
    fn drop(&mut self) {
        // Fails only when the thread (and its reactor) is already gone: nothing to delete.
        let _ = reactor::with(|r| {
            r.deregister(self.key, &self.socket);
            Ok(())
        });
    }
}

/// A listening socket whose `accept` suspends the task.
pub struct TcpListener(Registered<std::net::TcpListener>);

impl TcpListener {
    /// Takes a bound listener (from `protocol::listen::bind`), non-blocking from now on.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener(Registered::new(listener)?))
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.socket.local_addr()
    }

    // ANCHOR: accept
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = self.0.io(Direction::Read, |l| l.accept()).await?;
        Ok((TcpStream::from_std(stream)?, peer))
    }
    // ANCHOR_END: accept
}

/// A connected socket whose `read` and `write_all` suspend the task.
pub struct TcpStream(pub(crate) Registered<std::net::TcpStream>);

impl TcpStream {
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        Ok(TcpStream(Registered::new(stream)?))
    }

    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.0.socket.set_nodelay(on)
    }

    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.0.socket.shutdown(how)
    }

    /// Waits until the socket may have bytes to read, for a caller that makes its own system
    /// call on it (the lab times a `recvmsg` that returns the kernel's receive stamp): tokio
    /// calls this `readable()`. Readiness is a hint: the call may still find `WouldBlock`.
    pub async fn readable(&self) -> io::Result<()> {
        self.0.ready(Direction::Read).await
    }

    // ANCHOR: read
    /// Reads what has arrived, up to `buf.len()`; `Ok(0)` is EOF.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.io(Direction::Read, |mut s| s.read(buf)).await
    }
    // ANCHOR_END: read

    // ANCHOR: write_all
    /// Writes all of `buf`, however the kernel splits it. While the send buffer is full the
    /// task waits here, so it reads nothing new meanwhile: that is the backpressure.
    pub async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.0.io(Direction::Write, |mut s| s.write(buf)).await? {
                0 => return Err(ErrorKind::WriteZero.into()),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }
    // ANCHOR_END: write_all
}

/// The descriptor, for calls the type does not wrap (socket options, `recvmsg` with control
/// data). Reading or writing through it bypasses the reactor: follow `WouldBlock` with
/// [`TcpStream::readable`].
impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.socket.as_fd()
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.0.socket.as_raw_fd()
    }
}
