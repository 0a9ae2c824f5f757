//! `server --naive`: the notes' first version, 四 a 非阻塞IO模型(基础bug版), kept wrong on
//! purpose and made to confess.
//!
//! It does what the notes' code does, step for step: accept until `BlockingIOError`, then
//! for each connection in `r_list` one `recv(1024)` and, at once, one `send` of the
//! upper-cased bytes, moving on to the next connection whenever either call raises
//! `BlockingIOError`.
//!
//! - **Flaw 1, lost replies.** The reply is sent right after the `recv`. When the client is
//!   not reading fast enough, its window and our send buffer fill up, and `send` answers
//!   `WouldBlock` (or takes only part of the reply). The notes' `except` catches that and
//!   moves on: those bytes are never sent. The client is short of replies with no error.
//! - **Flaw 2, closed sockets kept forever.** `recv` returning `b''` (EOF) is not checked: the
//!   socket stays in `r_list`, is polled on every pass for ever, and its descriptor is never
//!   closed. Every client that leaves makes the loop slower and the process fatter.
//!
//! Both flaws are counted, never hidden: once a second the server logs one line,
//! `naive stats: sockets=.. closed_still_held=.. dropped_replies=.. dropped_bytes=..
//! refused=..` (see [`Stats`]). The notes print `rlist` on every pass; once a second is the
//! same information without flooding the terminal.
//!
//! Two changes keep it from harming the machine, and both are deliberate departures:
//! - a reset (`ConnectionResetError` from `recv`, or `BrokenPipeError` from `send` to a peer
//!   that has gone) would crash the notes' server, which catches only `BlockingIOError`;
//!   here it is counted like an EOF: noticed for the statistics, then ignored like the rest;
//! - `r_list` is capped at [`MAX_SOCKETS`]: past it, new clients are accepted and closed at
//!   once with a log line, instead of leaking descriptors until the process runs out.
//!
//! What to watch: `nc 127.0.0.1 8080`, type a line, quit; `closed_still_held` goes up by one
//! and never comes down. The fix is [`crate::fixed`].

use crate::accept::Acceptor;
use crate::{interrupted, would_block};
use protocol::limits::READ_SIZE;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// The most sockets the naive list holds. Closed ones are never removed, so this is reached
/// by 512 clients that come and go; it stays well below the usual 1024-descriptor limit.
pub const MAX_SOCKETS: usize = 512;

/// How often the statistics line is logged.
pub const REPORT_EVERY: Duration = Duration::from_secs(1);

/// How the statistics line starts, so tests and the demo can find it.
pub const STATS_PREFIX: &str = "naive stats:";

// ANCHOR: naive_conn
/// An entry of the naive `r_list`: the socket, and what we noticed about it for the
/// statistics (the notes' version notices nothing).
struct NaiveConn {
    stream: TcpStream,
    /// EOF or an error was seen. Counted, then ignored: the socket stays in the list.
    dead: bool,
}
// ANCHOR_END: naive_conn

/// What the naive server has lost so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Sockets in the list, each polled on every pass.
    pub sockets: usize,
    /// Of those, sockets whose peer has gone (EOF or reset): dead weight, never closed.
    pub closed_still_held: usize,
    /// Replies the `send` did not take in full (`WouldBlock` or a short send), so lost.
    pub dropped_replies: u64,
    /// Reply bytes lost that way.
    pub dropped_bytes: u64,
    /// Clients closed at once because the list was at [`MAX_SOCKETS`].
    pub refused: u64,
}

impl Stats {
    /// The line logged once a second.
    pub fn line(&self) -> String {
        format!(
            "{STATS_PREFIX} sockets={} closed_still_held={} dropped_replies={} dropped_bytes={} \
             refused={}",
            self.sockets,
            self.closed_still_held,
            self.dropped_replies,
            self.dropped_bytes,
            self.refused
        )
    }

    /// Reads back a line written by [`Stats::line`] (as tests and the demo find it in the
    /// server's log), or `None` for any other line.
    pub fn parse(line: &str) -> Option<Stats> {
        let rest = line.trim().strip_prefix(STATS_PREFIX)?;
        let mut stats = Stats::default();
        for pair in rest.split_whitespace() {
            let (key, value) = pair.split_once('=')?;
            let value: u64 = value.parse().ok()?;
            match key {
                "sockets" => stats.sockets = usize::try_from(value).ok()?,
                "closed_still_held" => stats.closed_still_held = usize::try_from(value).ok()?,
                "dropped_replies" => stats.dropped_replies = value,
                "dropped_bytes" => stats.dropped_bytes = value,
                "refused" => stats.refused = value,
                _ => return None,
            }
        }
        Some(stats)
    }

    /// Counts a reply that `send` did not take in full; `bytes` of it are lost.
    fn lost(&mut self, bytes: usize) {
        // The empty "reply" sent after an EOF fails on a reset socket (EPIPE) on every pass;
        // it carried nothing, so nothing is lost.
        if bytes == 0 {
            return;
        }
        self.dropped_replies += 1;
        self.dropped_bytes += bytes as u64;
    }
}

/// The naive server's state: the listener, `r_list`, and the count of what went wrong.
pub struct NaiveServer {
    acceptor: Acceptor,
    r_list: Vec<NaiveConn>,
    stats: Stats,
    buf: [u8; READ_SIZE],
}

impl NaiveServer {
    pub fn new(listener: TcpListener) -> std::io::Result<NaiveServer> {
        Ok(NaiveServer {
            acceptor: Acceptor::new(listener)?,
            r_list: Vec::new(),
            stats: Stats::default(),
            buf: [0; READ_SIZE],
        })
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    // ANCHOR: naive_pass
    /// One pass of the notes' `while True:` body.
    pub fn pass(&mut self) {
        // `conn, addr = s.accept(); r_list.append(conn)`, until `BlockingIOError`.
        while let Some((stream, peer)) = self.acceptor.accept() {
            if self.r_list.len() >= MAX_SOCKETS {
                self.stats.refused += 1;
                protocol::log!(
                    "[{peer}] refused: the list is full ({MAX_SOCKETS} sockets, {} of them \
                     closed but still held)",
                    self.stats.closed_still_held
                );
                continue;
            }
            protocol::log!("[{peer}] connected");
            self.r_list.push(NaiveConn {
                stream,
                dead: false,
            });
        }
        self.stats.sockets = self.r_list.len();

        for conn in &mut self.r_list {
            // `data = conn.recv(1024)`
            let n = match conn.stream.read(&mut self.buf) {
                Ok(n) => n,
                // The notes' `BlockingIOError` branch: on to the next connection.
                Err(err) if would_block(&err) || interrupted(&err) => continue,
                // A reset. The notes' server would die here; we note it and carry on.
                Err(_) => {
                    mark_dead(conn, &mut self.stats);
                    continue;
                }
            };
            // Flaw 2: `b''` is not checked. We notice it for the count, then do exactly what
            // the notes do: upper-case and "send" the empty reply, and keep the socket.
            if n == 0 {
                mark_dead(conn, &mut self.stats);
            }
            let reply = &mut self.buf[..n];
            protocol::upper_in_place(reply);
            // `conn.send(data.upper())`: one try, right here.
            match conn.stream.write(reply) {
                Ok(sent) if sent == n => {}
                // Flaw 1: a short send. The notes ignore the count `send` returns, so the
                // tail of the reply is lost.
                Ok(sent) => self.stats.lost(n - sent),
                // Flaw 1: the `BlockingIOError` branch swallows the whole reply.
                Err(err) if would_block(&err) || interrupted(&err) => self.stats.lost(n),
                // The peer is gone (broken pipe, reset): the reply is lost with it.
                Err(_) => {
                    self.stats.lost(n);
                    mark_dead(conn, &mut self.stats);
                }
            }
        }
    }
    // ANCHOR_END: naive_pass
}

/// Counts a socket whose peer has gone, once. It stays in the list all the same.
fn mark_dead(conn: &mut NaiveConn, stats: &mut Stats) {
    if !conn.dead {
        conn.dead = true;
        stats.closed_still_held += 1;
    }
}

/// Runs the naive loop forever, logging [`Stats`] once a second.
pub fn run(listener: TcpListener) -> crate::Result<()> {
    let mut server = NaiveServer::new(listener)?;
    protocol::log!(
        "naive: the notes' first version (四 a); it loses replies and keeps closed sockets, \
         and says so once a second"
    );
    let mut last_report = Instant::now();
    loop {
        server.pass();
        if last_report.elapsed() >= REPORT_EVERY {
            protocol::log!("{}", server.stats().line());
            last_report = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn server() -> (NaiveServer, SocketAddr) {
        let listener = protocol::listen::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        (NaiveServer::new(listener).unwrap(), addr)
    }

    fn passes_until(server: &mut NaiveServer, done: impl Fn(&Stats) -> bool) -> bool {
        for _ in 0..1_000_000 {
            server.pass();
            if done(&server.stats()) {
                return true;
            }
        }
        false
    }

    #[test]
    fn the_stats_line_reads_back() {
        let stats = Stats {
            sockets: 7,
            closed_still_held: 3,
            dropped_replies: 12,
            dropped_bytes: 12288,
            refused: 1,
        };
        assert_eq!(Stats::parse(&stats.line()), Some(stats));
        assert_eq!(Stats::parse("[127.0.0.1:1] connected"), None);
        assert_eq!(Stats::parse("naive stats: sockets=x"), None);
    }

    #[test]
    fn a_polite_client_gets_its_reply() {
        // The first version looks right to the notes' client, which reads every reply.
        let (mut server, addr) = server();
        let mut client = TcpStream::connect(addr).unwrap();
        client.set_nonblocking(true).unwrap();
        client.write_all(b"hello").unwrap();
        let mut reply = [0u8; 5];
        let mut got = 0;
        for _ in 0..1_000_000 {
            server.pass();
            if let Ok(n) = client.read(&mut reply[got..]) {
                got += n;
            }
            if got == 5 {
                break;
            }
        }
        assert_eq!(&reply, b"HELLO");
        assert_eq!(server.stats().dropped_replies, 0);
    }

    #[test]
    fn closed_sockets_stay_in_the_list() {
        let (mut server, addr) = server();
        let clients: Vec<_> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
        assert!(passes_until(&mut server, |s| s.sockets == 3));
        drop(clients);
        assert!(passes_until(&mut server, |s| s.closed_still_held == 3));
        // However many passes follow, they are still polled.
        for _ in 0..100 {
            server.pass();
        }
        assert_eq!(server.stats().sockets, 3);
    }

    #[test]
    fn a_reset_socket_is_held_but_loses_nothing() {
        let (mut server, addr) = server();
        let client = TcpStream::connect(addr).unwrap();
        assert!(passes_until(&mut server, |s| s.sockets == 1));
        socket2::SockRef::from(&client)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(client);
        assert!(passes_until(&mut server, |s| s.closed_still_held == 1));
        for _ in 0..100 {
            server.pass();
        }
        let stats = server.stats();
        assert_eq!((stats.sockets, stats.dropped_replies), (1, 0), "{stats:?}");
    }

    #[test]
    fn a_client_that_does_not_read_loses_replies() {
        let (mut server, addr) = server();
        // A small receive window, so replies back up after a few KiB.
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        socket.connect(&addr.into()).unwrap();
        let mut client: TcpStream = socket.into();
        client.set_nonblocking(true).unwrap();
        let chunk = vec![b'z'; 64 * 1024];
        let mut written = 0;
        for _ in 0..1_000_000 {
            if written < 16 * 1024 * 1024 {
                if let Ok(n) = client.write(&chunk) {
                    written += n;
                }
            }
            server.pass();
            if server.stats().dropped_replies > 0 {
                break;
            }
        }
        let stats = server.stats();
        assert!(
            stats.dropped_replies > 0 && stats.dropped_bytes > 0,
            "{stats:?}"
        );
    }
}
