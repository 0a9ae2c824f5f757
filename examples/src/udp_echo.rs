//! Sockets over UDP (基于udp协议的套接字): section 七, 网络编程 item 7, and the summary's two
//! claims about UDP: datagrams have no 粘包, and UDP is unreliable but efficient.
//!
//! The same echo-upper service as every other crate, over datagrams. Three things differ
//! from TCP, and each is made observable here:
//! - **Boundaries are kept.** One `sendto` is one datagram is one `recvfrom`: no connection,
//!   no stream, so no sticky packets (compare `sticky_packets`).
//! - **Nothing is retransmitted for you.** A lost request or reply is simply gone, so the
//!   client waits a bounded time and sends again, a bounded number of times
//!   ([`Client::request`]). [`serve`] can drop the first datagrams it receives on purpose so
//!   you can watch a retry.
//! - **A datagram larger than the buffer is cut**, and the rest is discarded by the kernel.
//!   `recvfrom(1024)` in Python hides that; we ask `recvmsg` for its `MSG_TRUNC` flag and
//!   report [`RequestError::Truncated`] with the real length.
//!
//! Production alternatives: a request id in every datagram (DNS's 16-bit ID) instead of
//! matching replies by content, and exponential backoff with jitter between attempts.

use protocol::limits::READ_SIZE;
use socket2::{MaybeUninitSlice, SockRef};
use std::fmt;
use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The server's receive buffer: the largest UDP payload there is (65,535 minus the 8-byte
/// UDP header), so the server never truncates a request.
pub const SERVER_BUF: usize = 65_535 - 8;

/// The client's receive buffer by default: the notes' `recvfrom(1024)`.
pub const CLIENT_BUF: usize = READ_SIZE;

/// On Linux, `MSG_TRUNC` passed *in* makes `recv` return the datagram's real length even
/// when it was cut. Elsewhere only the flag that comes *out* of `recvmsg` says it was cut.
#[cfg(target_os = "linux")]
const REAL_LENGTH: libc::c_int = libc::MSG_TRUNC;
#[cfg(not(target_os = "linux"))]
const REAL_LENGTH: libc::c_int = 0;

/// What a server did before it stopped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ServerStats {
    /// Datagrams received (the stop datagram excluded).
    pub received: u64,
    /// Replies sent.
    pub answered: u64,
    /// Requests dropped on purpose to simulate loss.
    pub dropped: u64,
}

// ANCHOR: server
/// The notes' UDP server: `recvfrom`, upper-case, `sendto`, for ever (until `stop` is set
/// and one more datagram arrives). The first `drop_first` requests get no reply, as if the
/// network had lost them.
///
/// No connection loop and no communication loop: one socket serves every client, and each
/// datagram carries its sender's address.
pub fn serve(socket: &UdpSocket, drop_first: u64, stop: &AtomicBool) -> io::Result<ServerStats> {
    let mut stats = ServerStats::default();
    let mut buf = vec![0u8; SERVER_BUF];
    loop {
        // Wait data + copy data, once per datagram: a whole datagram or nothing.
        let (n, peer) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // An ICMP error caused by one of our earlier replies (the client is gone): it
            // concerns that client only.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
                ) =>
            {
                protocol::log!("an earlier reply bounced: {e}");
                continue;
            }
            Err(e) => return Err(e),
        };
        if stop.load(Ordering::SeqCst) {
            return Ok(stats);
        }
        stats.received += 1;
        if stats.received <= drop_first {
            stats.dropped += 1;
            protocol::log!(
                "[{peer}] dropping datagram {} of {n} bytes (simulated loss)",
                stats.received
            );
            continue;
        }
        protocol::upper_in_place(&mut buf[..n]);
        // A datagram goes whole or not at all: there is no partial `sendto` to resume.
        match socket.send_to(&buf[..n], peer) {
            Ok(_) => stats.answered += 1,
            Err(e) => protocol::log!("[{peer}] reply of {n} bytes failed: {e}"),
        }
    }
}
// ANCHOR_END: server

/// [`serve`] on a background thread, for the demo and the tests.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<ServerStats>>>,
}

impl Server {
    /// Binds `addr` (port 0 allowed) and serves until [`stop`](Server::stop) or drop.
    pub fn start(addr: SocketAddr, drop_first: u64) -> io::Result<Server> {
        let socket = UdpSocket::bind(addr)?;
        let addr = socket.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("udp-echo".into())
            .spawn(move || serve(&socket, drop_first, &flag))?;
        Ok(Server {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// Where it listens (the real port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server and returns what it did.
    pub fn stop(mut self) -> io::Result<ServerStats> {
        self.shut_down()
            .unwrap_or_else(|| Err(io::Error::other("server already stopped")))
    }

    fn shut_down(&mut self) -> Option<io::Result<ServerStats>> {
        let thread = self.thread.take()?;
        self.stop.store(true, Ordering::SeqCst);
        // `recv_from` has no stop button: one empty datagram wakes it to see the flag.
        let woken = UdpSocket::bind(unspecified(self.addr))
            .and_then(|s| s.send_to(&[], self.addr).map(|_| ()));
        if let Err(e) = woken {
            // Without the wake-up the thread never returns: leave it rather than hang.
            return Some(Err(e));
        }
        Some(
            thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the UDP server thread panicked"))),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}

/// The any-address of `addr`'s family, port 0: where a client binds.
fn unspecified(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    }
}

/// Why a request got no usable reply.
#[derive(Debug)]
pub enum RequestError {
    /// Every attempt timed out: the request or its reply was lost each time (or no one is
    /// listening and no ICMP error came back to say so).
    NoReply { attempts: u32, timeout: Duration },
    /// The reply was `len` bytes, more than the `buf` bytes we had room for: the kernel
    /// kept only the first `buf` (on Linux `len` is exact; elsewhere it is a lower bound).
    Truncated { len: usize, buf: usize },
    /// The socket failed; `ConnectionRefused` here means the server's port is closed.
    Io(io::Error),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::NoReply { attempts, timeout } => write!(
                f,
                "no reply after {attempts} attempts of {} ms each",
                timeout.as_millis()
            ),
            RequestError::Truncated { len, buf } => write!(
                f,
                "reply of {len} bytes truncated to the {buf}-byte receive buffer"
            ),
            RequestError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RequestError {}

impl From<io::Error> for RequestError {
    fn from(e: io::Error) -> Self {
        RequestError::Io(e)
    }
}

/// One datagram as the kernel handed it over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram {
    /// Its length on the wire (exact on Linux even when truncated).
    pub len: usize,
    /// It was longer than the buffer; only the first `buf.len()` bytes were kept.
    pub truncated: bool,
}

/// A reply and what it took to get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub data: Vec<u8>,
    /// Sends needed: 1 when nothing was lost.
    pub attempts: u32,
    /// Replies to earlier requests that arrived late and were skipped.
    pub stale: u32,
}

/// A UDP client of one server.
pub struct Client {
    socket: UdpSocket,
    buf: Vec<u8>,
    timeout: Duration,
    attempts: u32,
}

impl Client {
    /// A client of `server` that waits `timeout` per attempt, sends at most `attempts`
    /// times, and receives into `buf_size` bytes.
    pub fn new(
        server: SocketAddr,
        timeout: Duration,
        attempts: u32,
        buf_size: usize,
    ) -> io::Result<Client> {
        if timeout.is_zero() || attempts == 0 {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                "timeout and attempts must be positive",
            ));
        }
        let socket = UdpSocket::bind(unspecified(server))?;
        // `connect` on UDP sends nothing: it fixes the peer for `send`, makes the kernel
        // drop datagrams from anyone else, and lets an ICMP "port unreachable" come back
        // to us as ConnectionRefused.
        socket.connect(server)?;
        Ok(Client {
            socket,
            buf: vec![0; buf_size],
            timeout,
            attempts,
        })
    }

    /// Sends one datagram: all of `msg`, or an error (no partial sends in UDP).
    pub fn send(&self, msg: &[u8]) -> io::Result<()> {
        self.socket.send(msg).map(|_| ())
    }

    /// Receives one datagram, waiting at most `wait`; returns its bytes (as many as fit)
    /// and whether it was cut.
    pub fn recv(&mut self, wait: Duration) -> io::Result<(Vec<u8>, Datagram)> {
        self.socket.set_read_timeout(Some(wait))?;
        let d = self.recv_datagram()?;
        Ok((self.buf[..d.len.min(self.buf.len())].to_vec(), d))
    }

    // ANCHOR: truncated
    /// One `recvmsg` into our buffer, with the truncation the kernel reports.
    fn recv_datagram(&mut self) -> io::Result<Datagram> {
        let sock = SockRef::from(&self.socket);
        let mut bufs = [MaybeUninitSlice::new(crate::as_uninit(&mut self.buf))];
        loop {
            match sock.recv_vectored_with_flags(&mut bufs, REAL_LENGTH) {
                Ok((len, flags)) => {
                    return Ok(Datagram {
                        len,
                        // MSG_TRUNC in msg_flags: the datagram did not fit and its tail is
                        // gone. Python's recvfrom(1024) drops it without a word.
                        truncated: flags.is_truncated(),
                    });
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
    // ANCHOR_END: truncated

    // ANCHOR: request
    /// Sends `msg` and waits for its upper-cased echo, resending after each timeout.
    ///
    /// Resending is safe only because echo-upper is idempotent: a server that receives the
    /// request twice does no harm. A reply that is not the one we owe is a late reply to an
    /// earlier request (its first attempt was slow, not lost); it is skipped.
    pub fn request(&mut self, msg: &[u8]) -> Result<Reply, RequestError> {
        let expected = protocol::upper(msg);
        let mut stale = 0;
        for attempt in 1..=self.attempts {
            self.send(msg)?;
            let deadline = Instant::now() + self.timeout;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break; // this attempt is lost: send again
                }
                self.socket.set_read_timeout(Some(left))?;
                match self.recv_datagram() {
                    Ok(d) if d.truncated => {
                        return Err(RequestError::Truncated {
                            len: d.len,
                            buf: self.buf.len(),
                        })
                    }
                    Ok(d) if self.buf[..d.len] == expected[..] => {
                        return Ok(Reply {
                            data: expected,
                            attempts: attempt,
                            stale,
                        })
                    }
                    Ok(_) => stale += 1,
                    // The read timeout: WouldBlock on Unix, TimedOut on Windows.
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        break
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Err(RequestError::NoReply {
            attempts: self.attempts,
            timeout: self.timeout,
        })
    }
    // ANCHOR_END: request
}
