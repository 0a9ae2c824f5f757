//! The fixed server, 四 b 非阻塞IO模型(修正): one thread, one loop, every socket polled.
//!
//! Each pass of the loop does what the notes' `while True:` body does, in the same order:
//! accept whoever is waiting, 收消息 (try to read each connection), 发消息 (try to send each
//! connection's pending replies), 回收无用连接 (drop the finished connections). Nothing in a
//! pass ever waits; every call that would wait answers `WouldBlock` and we move on.
//!
//! What to watch: run it and look at `top`. With no client at all this process uses a whole
//! core, asking the kernel "anything yet?" hundreds of thousands of times a second. That is
//! the model's flaw, not a bug here. `--sleep-ms N` naps after a pass that found nothing to
//! do: the notes' commented-out `time.sleep(0.05)`, which they say turns this model into
//! multiplexing. It does not: a napping loop is still polling, and nothing wakes it when a
//! socket becomes ready. It saves the CPU, and a request that arrives during a nap waits up to
//! N ms for its reply. The real fix is to let the kernel say which socket is ready (`select`,
//! `epoll`: section 五), which ends the wait the moment one is.
//!
//! Simplified on purpose: a client that connects and then says nothing (or never reads its
//! replies) is kept for as long as it stays connected. A production server would also close
//! connections idle past a timeout, and cap how many it accepts.

use crate::accept::Acceptor;
use crate::conn::Conn;
use protocol::limits::READ_SIZE;
use std::net::TcpListener;
use std::time::Duration;

// ANCHOR: server
/// The listener and every connection the loop polls.
pub struct Server {
    acceptor: Acceptor,
    /// The notes' `r_list`. Each [`Conn`] also carries its pending replies, so this one list
    /// is both `r_list` and `w_list`.
    conns: Vec<Conn>,
    /// One read buffer for every connection: a reply is copied into the connection's output
    /// before the next connection is read, so nothing else needs to hold on to it.
    buf: [u8; READ_SIZE],
}
// ANCHOR_END: server

impl Server {
    pub fn new(listener: TcpListener) -> std::io::Result<Server> {
        Ok(Server {
            acceptor: Acceptor::new(listener)?,
            conns: Vec::new(),
            buf: [0; READ_SIZE],
        })
    }

    // ANCHOR: pass
    /// One pass over everything; returns whether anything happened (a connection came or
    /// went, or a byte moved), so the caller knows whether a nap would cost anyone.
    pub fn pass(&mut self) -> bool {
        let mut progress = false;

        // `conn, addr = s.accept(); r_list.append(conn)`, until `BlockingIOError`.
        while let Some((stream, peer)) = self.acceptor.accept() {
            protocol::log!("[{peer}] connected; polled with the others by the one thread");
            self.conns.push(Conn::new(stream, peer));
            progress = true;
        }

        // 收消息: ask every connection for data. Most answer `WouldBlock`.
        for conn in &mut self.conns {
            progress |= conn.try_read(&mut self.buf);
        }

        // 发消息: send what each connection is owed, as far as its socket takes it.
        for conn in &mut self.conns {
            progress |= conn.try_write();
        }

        // 回收无用连接: the notes collect finished connections in `del_rlist` and remove them
        // after the loop, because `r_list.remove(conn)` inside `for conn in r_list` skips
        // the next element (错误做法). In Rust that mistake does not compile: the `for` loops
        // above borrow `self.conns`, so removing from it there is refused. `retain` is the
        // whole `del_rlist` dance in one call: it drops (and so closes) what is finished.
        self.conns.retain(|conn| match conn.end() {
            None => true,
            Some(why) => {
                protocol::log!("[{}] {why}", conn.peer());
                false
            }
        });
        progress
    }
    // ANCHOR_END: pass

    /// Connections being polled.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }
}

// ANCHOR: run
/// Runs the loop forever. With `nap`, sleeps that long after a pass that found nothing to do.
pub fn run(listener: TcpListener, nap: Option<Duration>) -> crate::Result<()> {
    let mut server = Server::new(listener)?;
    match nap {
        None => protocol::log!("busy polling: this thread never waits, so it uses a whole core"),
        Some(nap) => protocol::log!(
            "polling with a {} ms nap after every idle pass",
            nap.as_millis()
        ),
    }
    loop {
        let progress = server.pass();
        // The notes sleep after every pass without a new connection; we sleep only after a
        // pass where nothing at all happened, so a server under load never naps and an idle
        // one barely runs. The cost lands on the first request after a quiet spell.
        if let Some(nap) = nap {
            if !progress {
                std::thread::sleep(nap);
            }
        }
    }
}
// ANCHOR_END: run

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    /// A server on port 0, driven pass by pass by the test itself: no thread, no timing.
    fn server() -> (Server, std::net::SocketAddr) {
        let listener = protocol::listen::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        (Server::new(listener).unwrap(), addr)
    }

    fn client(addr: std::net::SocketAddr) -> TcpStream {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nonblocking(true).unwrap();
        stream
    }

    /// Runs passes until `done` holds (bounded), returning whether it did.
    fn passes_until(server: &mut Server, mut done: impl FnMut(&Server) -> bool) -> bool {
        for _ in 0..1_000_000 {
            server.pass();
            if done(server) {
                return true;
            }
        }
        false
    }

    #[test]
    fn two_clients_are_served_by_one_thread_without_waiting() {
        let (mut server, addr) = server();
        let mut a = client(addr);
        let mut b = client(addr);
        assert!(passes_until(&mut server, |s| s.connections() == 2));
        // B asks first while A stays silent: A's silence costs B nothing.
        b.write_all(b"from b").unwrap();
        let mut reply = Vec::new();
        let mut buf = [0u8; 16];
        assert!(passes_until(&mut server, |_| {
            if let Ok(n) = b.read(&mut buf) {
                reply.extend_from_slice(&buf[..n]);
            }
            reply.len() == 6
        }));
        assert_eq!(reply, b"FROM B");
        a.write_all(b"a").unwrap();
        let mut one = [0u8; 1];
        assert!(passes_until(&mut server, |_| matches!(
            a.read(&mut one),
            Ok(1)
        )));
        assert_eq!(&one, b"A");
    }

    #[test]
    fn finished_connections_leave_the_list() {
        let (mut server, addr) = server();
        let clients: Vec<_> = (0..5).map(|_| client(addr)).collect();
        assert!(passes_until(&mut server, |s| s.connections() == 5));
        drop(clients);
        assert!(passes_until(&mut server, |s| s.connections() == 0));
    }

    #[test]
    fn an_idle_pass_reports_no_progress() {
        let (mut server, addr) = server();
        let _idle = client(addr);
        assert!(passes_until(&mut server, |s| s.connections() == 1));
        assert!(
            !server.pass(),
            "nothing happened, so a nap would cost nobody"
        );
    }
}
