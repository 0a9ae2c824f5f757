//! A client that sends a lot before it reads any reply: where do the replies go meanwhile?
//!
//! A correct event-loop server keeps them (bounded) and stops reading until the client
//! catches up, so every byte arrives in the end. The notes' first non-blocking server (四 a)
//! sends each reply once, right after its `recv`, and loses whatever the socket did not take.
//! The tests and the section 四 demo both measure it with [`late_reader`].

use protocol::load::Messages;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

/// What a [`late_reader`] run saw.
#[derive(Debug, Clone, Copy)]
pub struct LateReader {
    /// Bytes the client wrote.
    pub sent: usize,
    /// Reply bytes that came back.
    pub received: usize,
    /// Every byte came back, upper-cased, in order.
    pub intact: bool,
}

impl LateReader {
    /// Reply bytes that never came.
    pub fn lost(&self) -> usize {
        self.sent.saturating_sub(self.received)
    }
}

/// Connects with a small receive buffer (so replies back up after a few KiB), writes `total`
/// bytes from a thread, runs `before_reading`, then reads until every reply byte is in or
/// `silence` passes without one.
///
/// `before_reading` decides how late the client reads: the tests wait for the server's log
/// to show the backup, the demo simply pauses.
pub fn late_reader(
    addr: SocketAddr,
    total: usize,
    before_reading: impl FnOnce(),
    silence: Duration,
) -> crate::Result<LateReader> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.set_recv_buffer_size(4096)?;
    socket.connect_timeout(&addr.into(), Duration::from_secs(10))?;
    let mut stream: std::net::TcpStream = socket.into();
    stream.set_read_timeout(Some(silence))?;
    // A server that stops reading for good must not hang the writer: give up after a while.
    stream.set_write_timeout(Some(Duration::from_secs(20)))?;
    let message = Messages::new(13, 0).next_message(total);
    let expected = protocol::upper(&message);
    let mut writer = stream.try_clone()?;
    let sending = std::thread::spawn(move || writer.write_all(&message));

    before_reading();

    let mut reply = Vec::with_capacity(total);
    let mut buf = vec![0u8; 64 * 1024];
    while reply.len() < total {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
            // `silence` passed without a byte: whatever is missing is not coming.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    }
    sending.join().map_err(|_| "writer thread panicked")??;
    Ok(LateReader {
        sent: total,
        received: reply.len(),
        intact: reply == expected,
    })
}
