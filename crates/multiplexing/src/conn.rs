//! One connection's state, shared by the three backends: the notes' `r_list` entry and its
//! `w_data[r]` reply, kept together in one named type.
//!
//! Section 五 keeps a socket in `r_list` while it may send, and in `w_list` (with its reply in
//! `w_data`) while a reply waits. Here that is [`Conn::wants_read`] and [`Conn::wants_write`],
//! derived from one [`Pending`] buffer instead of two lists that can disagree. The backends
//! differ only in *when* they call [`Conn::read_once`] and [`Conn::flush`]; what a read and a
//! write do is written once, here, with `WouldBlock`, `Interrupted`, short writes and EOF in
//! plain sight.
//!
//! What to watch: nothing here ever waits. A socket registered with a poller is non-blocking,
//! so every call either moves bytes or says `WouldBlock`, and the event loop goes on to the
//! next ready socket.

use protocol::limits::READ_SIZE;
use protocol::pending::Pending;
use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;

/// What one call on the socket achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Bytes moved (or EOF arrived); calling again may move more.
    Progress,
    /// The kernel said `WouldBlock`: nothing more until the poller reports this socket again.
    Blocked,
}

/// One client, as every backend keeps it. `S` is std's `TcpStream` (`polling`, `select`) or
/// mio's (`mio`): anything that reads and writes without blocking.
#[derive(Debug)]
pub struct Conn<S> {
    pub stream: S,
    /// Who it is, for every log line about it.
    pub peer: SocketAddr,
    /// Replies the socket has not taken yet (the notes' `w_data[conn]`), bounded.
    pending: Pending,
    /// The peer shut down its writing half (`recv` returned no bytes). No request will come any
    /// more, but every reply already owed is still sent before we close: a half-close.
    eof: bool,
}

impl<S: Read + Write> Conn<S> {
    pub fn new(stream: S, peer: SocketAddr) -> Conn<S> {
        Conn {
            stream,
            peer,
            pending: Pending::new(),
            eof: false,
        }
    }

    /// Whether to watch it for reading (the notes' `r_list`): not after EOF, and not while
    /// its replies are backed up (backpressure: a client that sends and never reads would
    /// otherwise grow our memory without bound).
    pub fn wants_read(&self) -> bool {
        !self.eof && !self.pending.is_full()
    }

    /// Whether to watch it for writing (the notes' `w_list`): only while a reply waits. A
    /// socket is writable almost always, so a level-triggered poller told to watch an idle
    /// socket for writing would wake us on every turn for nothing.
    pub fn wants_write(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The peer has finished sending and every reply has gone out: time to close.
    pub fn is_finished(&self) -> bool {
        self.eof && self.pending.is_empty()
    }

    /// Reply bytes still queued.
    pub fn queued(&self) -> usize {
        self.pending.len()
    }

    // ANCHOR: level
    /// One turn of a level-triggered loop (`polling`, `select`) for a socket reported ready:
    /// send what is queued if it is writable, then at most one `recv` if it is readable.
    ///
    /// One `recv` even when more bytes wait: level-triggered means the next wait reports
    /// this socket again while any byte is unread, so stopping loses nothing, and no single
    /// busy client holds the loop while the others wait.
    pub fn on_ready(
        &mut self,
        readable: bool,
        writable: bool,
        buf: &mut [u8; READ_SIZE],
    ) -> io::Result<()> {
        if writable && self.wants_write() {
            self.flush()?;
        }
        if readable && self.wants_read() {
            self.read_once(buf)?;
        }
        Ok(())
    }
    // ANCHOR_END: level

    // ANCHOR: read_once
    /// One `recv`, at most [`Pending::room`] bytes (the notes' 1024, less near the bound),
    /// and its reply: written to the socket at once when nothing is queued ahead of it, and
    /// whatever the socket does not take (all of it, if a reply already waits) is queued.
    ///
    /// Errors are the peer's (a reset, most often): the caller closes this connection only.
    pub fn read_once(&mut self, buf: &mut [u8; READ_SIZE]) -> io::Result<Step> {
        let room = self.pending.room();
        debug_assert!(room > 0, "read_once is only called while wants_read()");
        let n = loop {
            match self.stream.read(&mut buf[..room]) {
                // EOF: the peer closed or half-closed. Owed replies still go out.
                Ok(0) => {
                    self.eof = true;
                    if !self.pending.is_empty() {
                        protocol::log!(
                            "[{}] half-closed; {} reply bytes still to send",
                            self.peer,
                            self.pending.len()
                        );
                    }
                    return Ok(Step::Progress);
                }
                Ok(n) => break n,
                // Readiness is a hint, not a promise: another event may have drained it.
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(Step::Blocked),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        let request = &mut buf[..n];
        protocol::upper_in_place(request);
        if self.pending.is_empty() {
            // The common case: the reply goes straight to the kernel, no copy, no buffer.
            let sent = send_until_blocked(&mut self.stream, request)?;
            self.pending.push(&request[sent..]);
        } else {
            // Replies must leave in order: this one waits behind the ones already queued.
            self.pending.push(request);
        }
        Ok(Step::Progress)
    }
    // ANCHOR_END: read_once

    // ANCHOR: flush
    /// Sends queued replies until none is left ([`Step::Progress`]) or the socket is full
    /// ([`Step::Blocked`]). A short `send` keeps its unsent tail for next time; the notes' server
    /// sends `w_data[w]` once, ignores how much `send` took, and would have lost the rest.
    pub fn flush(&mut self) -> io::Result<Step> {
        if self.pending.is_empty() {
            return Ok(Step::Progress);
        }
        let sent = send_until_blocked(&mut self.stream, self.pending.unsent())?;
        self.pending.advance(sent);
        Ok(if self.pending.is_empty() {
            Step::Progress
        } else {
            Step::Blocked
        })
    }
    // ANCHOR_END: flush
}

/// Logs why a connection ended: `Ok` when the peer finished and got every reply, else the
/// error that ended it (a reset, most often). `open` is how many connections remain.
pub fn log_end(peer: SocketAddr, how: &io::Result<()>, open: usize) {
    match how {
        Ok(()) => protocol::log!("[{peer}] closed by peer ({open} open)"),
        Err(err) => protocol::log!("[{peer}] {err}; closed ({open} open)"),
    }
}

/// Writes as much of `bytes` as the socket takes now; returns how much that was.
///
/// It stops only when everything is sent or the kernel says `WouldBlock`, never after a mere
/// short write: an edge-triggered poller reports writability again only after `WouldBlock`.
fn send_until_blocked<S: Write>(stream: &mut S, bytes: &[u8]) -> io::Result<usize> {
    let mut sent = 0;
    while sent < bytes.len() {
        match stream.write(&bytes[sent..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::limits::MAX_PENDING;
    use std::collections::VecDeque;

    /// A non-blocking socket played by hand: `incoming` is what the peer sent (then EOF if
    /// `closed`, else `WouldBlock`); the socket takes at most `window` more bytes.
    #[derive(Default)]
    struct FakeSocket {
        incoming: VecDeque<u8>,
        closed: bool,
        window: usize,
        taken: Vec<u8>,
        reads: usize,
    }

    impl Read for FakeSocket {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.reads += 1;
            if self.incoming.is_empty() {
                return if self.closed {
                    Ok(0)
                } else {
                    Err(ErrorKind::WouldBlock.into())
                };
            }
            let n = buf.len().min(self.incoming.len());
            for (slot, byte) in buf.iter_mut().zip(self.incoming.drain(..n)) {
                *slot = byte;
            }
            Ok(n)
        }
    }

    impl Write for FakeSocket {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.window == 0 {
                return Err(ErrorKind::WouldBlock.into());
            }
            // At most 100 bytes per call, so short writes happen.
            let n = buf.len().min(self.window).min(100);
            self.taken.extend_from_slice(&buf[..n]);
            self.window -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn conn(socket: FakeSocket) -> Conn<FakeSocket> {
        Conn::new(socket, "127.0.0.1:9".parse().unwrap())
    }

    #[test]
    fn a_reply_the_socket_takes_at_once_is_never_queued() {
        let mut c = conn(FakeSocket {
            incoming: b"hello".iter().copied().collect(),
            window: 1 << 20,
            ..Default::default()
        });
        let mut buf = [0; READ_SIZE];
        assert_eq!(c.read_once(&mut buf).unwrap(), Step::Progress);
        assert_eq!(c.stream.taken, b"HELLO");
        assert!(!c.wants_write());
        assert_eq!(c.read_once(&mut buf).unwrap(), Step::Blocked);
    }

    #[test]
    fn a_short_write_keeps_its_tail_and_order() {
        let mut c = conn(FakeSocket {
            incoming: vec![b'a'; 300].into(),
            window: 150,
            ..Default::default()
        });
        let mut buf = [0; READ_SIZE];
        c.read_once(&mut buf).unwrap();
        assert_eq!(
            c.stream.taken.len(),
            150,
            "it wrote until the window closed"
        );
        assert_eq!(c.queued(), 150);
        // A second request while a reply waits: its reply must queue behind, not jump ahead.
        c.stream.incoming.extend(b"xyz");
        c.read_once(&mut buf).unwrap();
        assert_eq!(c.queued(), 153);
        assert!(c.wants_write());
        assert_eq!(c.flush().unwrap(), Step::Blocked);
        c.stream.window = 1 << 20;
        assert_eq!(c.flush().unwrap(), Step::Progress);
        let mut want = vec![b'A'; 300];
        want.extend_from_slice(b"XYZ");
        assert_eq!(c.stream.taken, want);
    }

    #[test]
    fn backed_up_replies_stop_reading() {
        let mut c = conn(FakeSocket {
            incoming: vec![b'q'; 4 * MAX_PENDING].into(),
            window: 0,
            ..Default::default()
        });
        let mut buf = [0; READ_SIZE];
        while c.wants_read() {
            assert_eq!(c.read_once(&mut buf).unwrap(), Step::Progress);
            assert!(c.queued() <= MAX_PENDING, "a read never passes the bound");
        }
        assert_eq!(c.queued(), MAX_PENDING);
        let reads = c.stream.reads;
        c.stream.window = 1000;
        c.flush().unwrap();
        assert!(c.wants_read(), "reading resumes once the peer takes some");
        assert_eq!(c.stream.reads, reads, "no read happened while it was full");
    }

    #[test]
    fn eof_still_sends_what_is_owed_then_finishes() {
        let mut c = conn(FakeSocket {
            incoming: b"bye".iter().copied().collect(),
            closed: true,
            window: 0,
            ..Default::default()
        });
        let mut buf = [0; READ_SIZE];
        c.read_once(&mut buf).unwrap();
        c.read_once(&mut buf).unwrap();
        assert!(!c.wants_read() && c.wants_write() && !c.is_finished());
        c.stream.window = 10;
        c.flush().unwrap();
        assert!(c.is_finished());
        assert_eq!(c.stream.taken, b"BYE");
    }
}
