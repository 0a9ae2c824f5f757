//! One connection of the fixed server (四 b): its entry in the notes' `r_list` and, as its
//! own [`Pending`] output, its entries in `w_list`.
//!
//! The notes keep replies in a separate list of `(conn, data)` tuples. Here each connection
//! owns its pending output, so a connection's replies stay in order, a partial send keeps
//! its unsent tail, and dropping the connection drops its replies with it. Every call is
//! non-blocking and tried as a question: "anything for me?" `WouldBlock` means "not yet".
//!
//! What to watch: [`Conn::try_read`] stops reading while the output is full (backpressure),
//! and a peer's EOF does not close the connection at once: its replies are sent first.

use crate::{interrupted, would_block};
use protocol::limits::READ_SIZE;
use protocol::pending::Pending;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

// ANCHOR: conn
/// A connection the server polls.
pub struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    /// Upper-cased bytes not yet taken by `send`: the notes' `w_list` entry for this
    /// connection, bounded (see [`Pending::is_full`]).
    out: Pending,
    /// The peer sent EOF (it closed, or shut down its writing half): read no more, but send
    /// what it is owed, then close.
    eof: bool,
    /// Why the connection is finished, once it is; the loop drops it after the pass.
    end: Option<String>,
    /// Whether the backpressure line was logged, so a bulk transfer logs it once, not at
    /// every refill.
    told_backpressure: bool,
}
// ANCHOR_END: conn

impl Conn {
    /// A freshly accepted connection, already non-blocking (see [`crate::accept`]).
    pub fn new(stream: TcpStream, peer: SocketAddr) -> Conn {
        Conn {
            stream,
            peer,
            out: Pending::new(),
            eof: false,
            end: None,
            told_backpressure: false,
        }
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Bytes owed to the peer and not yet sent.
    pub fn unsent(&self) -> usize {
        self.out.len()
    }

    // ANCHOR: try_read
    /// 收消息: this connection's turn in `for conn in r_list: data = conn.recv(1024)`.
    ///
    /// Reads until `WouldBlock`, EOF, or the output bound, and queues each reply. Returns
    /// whether anything happened. The notes take one `recv` per pass; draining instead lets
    /// a connection move 64 KiB per pass rather than 1 KiB, which matters once the loop
    /// sleeps between passes (`--sleep-ms`). The output bound still caps one pass's work.
    pub fn try_read(&mut self, buf: &mut [u8; READ_SIZE]) -> bool {
        let mut progress = false;
        while self.is_open() && !self.eof {
            // Backpressure: while the peer has not taken 64 KiB of its replies, leave its
            // requests in the kernel. Its socket buffers fill, its `send` blocks, and our
            // memory stays bounded, however much it writes.
            if self.out.is_full() {
                if !self.told_backpressure {
                    self.told_backpressure = true;
                    protocol::log!(
                        "[{}] {} reply bytes back up: not reading from it until it takes some",
                        self.peer,
                        self.out.len()
                    );
                }
                break;
            }
            // `room()` is at most the notes' 1024 and never lets one read pass the bound.
            let room = self.out.room();
            match self.stream.read(&mut buf[..room]) {
                // `if not data:` in the notes. EOF is not the end of our work: a client that
                // half-closed still waits for every reply. (The notes close at once; a reply
                // still in `w_list` then meets a closed socket, and the `OSError` EBADF that
                // `send` raises is not caught: their server crashes.)
                Ok(0) => {
                    self.eof = true;
                    progress = true;
                    if self.out.is_empty() {
                        self.finish("closed by peer".into());
                    } else {
                        protocol::log!(
                            "[{}] sent EOF; sending its last {} reply bytes, then closing",
                            self.peer,
                            self.out.len()
                        );
                    }
                }
                Ok(n) => {
                    protocol::upper_in_place(&mut buf[..n]);
                    // The notes append `(conn, data.upper())` to `w_list`: their correct
                    // move, queue the reply instead of sending it here (a `send` here is
                    // their 错误做法).
                    self.out.push(&buf[..n]);
                    progress = true;
                }
                // The notes' `BlockingIOError` branch: nothing has arrived yet.
                Err(err) if would_block(&err) => break,
                Err(err) if interrupted(&err) => continue,
                // The notes' `ConnectionResetError` branch: close, and note it in `del_rlist`.
                // On Linux a reset shows up here; unsent replies have nobody to go to, and
                // they are dropped with this `Conn` (the notes leave them in `w_list`).
                Err(err) => {
                    self.finish(format!("read failed: {err}"));
                    progress = true;
                }
            }
        }
        progress
    }
    // ANCHOR_END: try_read

    // ANCHOR: try_write
    /// 发消息: this connection's turn in `for item in w_list: conn.send(res)`.
    ///
    /// Sends until the output is empty or `WouldBlock`. A `send` may take only part of what
    /// it is given (the peer's window or our send buffer is full): the rest stays queued,
    /// where the notes' `conn.send(res); del_wlist.append(item)` would lose it.
    pub fn try_write(&mut self) -> bool {
        let mut progress = false;
        while self.is_open() && !self.out.is_empty() {
            match self.stream.write(self.out.unsent()) {
                Ok(0) => {
                    self.finish("send took no bytes".into());
                    progress = true;
                }
                Ok(n) => {
                    self.out.advance(n);
                    progress = true;
                }
                // The peer has not read enough of what we sent; try again next pass.
                Err(err) if would_block(&err) => break,
                Err(err) if interrupted(&err) => continue,
                // Reset, or a broken pipe after the peer closed: only this connection ends.
                Err(err) => {
                    self.finish(format!("send failed: {err}"));
                    progress = true;
                }
            }
        }
        if self.is_open() && self.eof && self.out.is_empty() {
            self.finish("closed by peer; every reply sent".into());
            progress = true;
        }
        progress
    }
    // ANCHOR_END: try_write

    /// Still to be polled. `false` is the notes' `del_rlist.append(conn)`: the loop removes
    /// (and so closes) the connection after the pass, never while iterating over the list.
    pub fn is_open(&self) -> bool {
        self.end.is_none()
    }

    /// Why the connection finished, if it did.
    pub fn end(&self) -> Option<&str> {
        self.end.as_deref()
    }

    fn finish(&mut self, why: String) {
        if self.end.is_none() {
            self.end = Some(why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Shutdown, TcpListener};

    /// A connected pair over loopback: the server side as a `Conn`, the client side blocking
    /// with a timeout, so a test can never hang.
    fn pair() -> (Conn, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let (stream, peer) = listener.accept().unwrap();
        stream.set_nonblocking(true).unwrap();
        (Conn::new(stream, peer), client)
    }

    /// Polls `conn` until `done` holds, at most `passes` times (each pass as the server does).
    fn poll_until(conn: &mut Conn, passes: usize, done: impl Fn(&Conn) -> bool) -> bool {
        let mut buf = [0u8; READ_SIZE];
        for _ in 0..passes {
            conn.try_read(&mut buf);
            conn.try_write();
            if done(conn) {
                return true;
            }
            std::thread::yield_now();
        }
        false
    }

    #[test]
    fn nothing_to_read_is_not_an_error() {
        let (mut conn, _client) = pair();
        let mut buf = [0u8; READ_SIZE];
        assert!(!conn.try_read(&mut buf), "WouldBlock is no progress");
        assert!(!conn.try_write());
        assert!(conn.is_open());
    }

    #[test]
    fn replies_after_a_half_close_are_sent_before_closing() {
        let (mut conn, mut client) = pair();
        let message = vec![b'q'; 200 * 1024];
        // 200 KiB is more than the output bound, so the server must alternate reading and
        // sending while the client reads; a writer thread keeps the client side honest.
        let mut writer = client.try_clone().unwrap();
        let to_send = message.clone();
        let sending = std::thread::spawn(move || {
            writer.write_all(&to_send).unwrap();
            writer.shutdown(Shutdown::Write).unwrap();
        });
        let reading = std::thread::spawn(move || {
            let mut reply = Vec::new();
            client.read_to_end(&mut reply).map(|_| reply)
        });
        assert!(poll_until(&mut conn, 1_000_000, |c| !c.is_open()));
        assert_eq!(conn.end(), Some("closed by peer; every reply sent"));
        drop(conn);
        sending.join().unwrap();
        let reply = reading.join().unwrap().unwrap();
        assert_eq!(reply, protocol::upper(&message));
    }

    #[test]
    fn a_peer_that_does_not_read_is_not_read_from() {
        let (mut conn, client) = pair();
        let mut writer = client.try_clone().unwrap();
        // The client writes far more than the bound and never reads. Its writes fail with a
        // timeout once the server stops reading and the socket buffers are full.
        writer
            .set_write_timeout(Some(std::time::Duration::from_millis(300)))
            .unwrap();
        let sending = std::thread::spawn(move || {
            let chunk = vec![b'x'; 64 * 1024];
            let mut written = 0usize;
            while written < 256 * 1024 * 1024 {
                match writer.write(&chunk) {
                    Ok(n) => written += n,
                    Err(_) => break,
                }
            }
            written
        });
        assert!(poll_until(&mut conn, 10_000_000, |c| c.told_backpressure));
        // Once stopped, however many passes follow, the queue never passes the bound.
        let mut buf = [0u8; READ_SIZE];
        for _ in 0..1000 {
            conn.try_read(&mut buf);
            conn.try_write();
            assert!(conn.unsent() <= protocol::limits::MAX_PENDING);
        }
        let written = sending.join().unwrap();
        assert!(written < 256 * 1024 * 1024, "the server kept reading");
        assert!(conn.is_open());
    }

    #[test]
    fn a_reset_finishes_only_this_connection() {
        let (mut conn, client) = pair();
        socket2::SockRef::from(&client)
            .set_linger(Some(std::time::Duration::ZERO))
            .unwrap();
        (&client).write_all(b"bye").unwrap();
        drop(client);
        assert!(poll_until(&mut conn, 1_000_000, |c| !c.is_open()));
        let why = conn.end().unwrap_or_default();
        assert!(
            why.starts_with("read failed") || why.starts_with("send failed"),
            "{why}"
        );
    }
}
