//! `--backend pool`: the notes' 异步调用 + 回调 applied to a server.
//!
//! The accept loop `submit`s each connection's blocking communication loop (recv, upper,
//! send, as in 三) to a [`Pool`], and hangs a callback on the returned future that logs how
//! the connection ended, on whichever thread finished it. The accept loop never waits for a
//! client: that is the "asynchronous call". But look where the waiting went: each worker is
//! blocked in one client's `recv`, through wait data and copy data, for as long as that
//! client stays. So:
//!
//! - **the pool bounds how many connections are served at once**: with `--workers N`,
//!   connection N+1 is accepted, its task waits in the queue, and its bytes sit unanswered in
//!   the kernel until a worker is free (the log says so; the demo measures it);
//! - by Stevens' definition this is synchronous I/O, however asynchronous the *call* looks.
//!   Compare [`crate::uring`], where nobody is blocked in `recv`.
//!
//! Production code that must block (a database driver, a file system) does this with a
//! bounded pool too (`tokio::task::spawn_blocking`), but never ties a worker to an idle
//! connection for its whole life.

use crate::pool::{current_thread_name, Pool};
use protocol::accept::{Episode, Next, BACK_OFF};
use protocol::limits::READ_SIZE;
use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

/// What one connection's task returns to its callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// Replies sent (one per `recv`).
    pub replies: u64,
    /// Bytes received and sent back.
    pub bytes: u64,
    /// How the connection ended.
    pub end: String,
}

impl fmt::Display for Served {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} replies, {} bytes)",
            self.end, self.replies, self.bytes
        )
    }
}

// ANCHOR: accept_loop
pub fn run(listener: TcpListener, workers: usize) -> crate::Result<()> {
    let pool = Pool::start("worker", workers)?;
    if let Some((missing, err)) = pool.not_started() {
        protocol::log!(
            "{missing} of {workers} workers could not be started ({err}); serving with fewer"
        );
    }
    let workers = pool.workers();
    let mut episode = Episode::new();
    loop {
        // Wait data + copy data for a connection: the accept loop's own blocking call.
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => {
                episode.accepted();
                accepted
            }
            // Every connection is one task, queued or running: `busy` is how many are open.
            Err(err) => match episode.failed(&err, Some(pool.busy())) {
                // A blocking listener never says WouldBlock; if it did, accept again.
                Next::Again | Next::Drained => continue,
                // Out of descriptors or memory: the connection stays queued, so accepting
                // at once would fail again. The workers go on serving meanwhile.
                Next::BackOff => {
                    std::thread::sleep(BACK_OFF);
                    continue;
                }
            },
        };
        let busy = pool.busy();
        if busy >= workers {
            protocol::log!(
                "[{peer}] connected; all {workers} workers busy, it waits for a free worker \
                 ({} already waiting)",
                busy - workers
            );
        } else {
            protocol::log!("[{peer}] connected");
        }
        // 异步调用: submit returns at once; the task runs when a worker is free.
        let future = pool.submit(move || talk(stream, peer));
        // 回调: runs on the worker right after `talk` returns (or here, if it already did).
        future.add_done_callback(move |done| match done.result() {
            Ok(served) => protocol::log!(
                "[{peer}] done: {served}; callback ran on {}",
                current_thread_name()
            ),
            Err(panicked) => protocol::log!("[{peer}] its task failed: {panicked}"),
        });
    }
}
// ANCHOR_END: accept_loop

// ANCHOR: talk
/// One connection's communication loop (通信循环), run by a worker. The worker is blocked in
/// `read` through both phases, and in `write_all` while a slow client's window is full.
fn talk(mut stream: TcpStream, peer: SocketAddr) -> Served {
    let mut served = Served {
        replies: 0,
        bytes: 0,
        end: String::new(),
    };
    // Small replies are written at once: do not let Nagle hold them back.
    if let Err(err) = stream.set_nodelay(true) {
        protocol::log!("[{peer}] TCP_NODELAY: {err}");
    }
    let mut buf = [0u8; READ_SIZE];
    served.end = loop {
        let n = match stream.read(&mut buf) {
            // EOF: closed or half-closed by the peer; every reply so far was written in full.
            Ok(0) => break "closed by peer".to_string(),
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => break format!("read failed: {err}"),
        };
        protocol::upper_in_place(&mut buf[..n]);
        // `write_all` loops over short writes; a client that never reads blocks this worker
        // (and only it) once both socket buffers are full. Memory does not grow.
        if let Err(err) = stream.write_all(&buf[..n]) {
            break format!("write failed: {err}");
        }
        served.replies += 1;
        served.bytes += n as u64;
    };
    served
}
// ANCHOR_END: talk

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn talk_answers_until_eof_and_reports_what_it_served() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            stream.write_all(b"abc").unwrap();
            stream.shutdown(std::net::Shutdown::Write).unwrap();
            let mut reply = Vec::new();
            stream.read_to_end(&mut reply).unwrap();
            reply
        });
        let (stream, peer) = listener.accept().unwrap();
        let served = talk(stream, peer);
        assert_eq!(client.join().unwrap(), b"ABC");
        assert_eq!(served.bytes, 3);
        assert_eq!(served.end, "closed by peer");
        assert_eq!(
            served.to_string(),
            format!("closed by peer ({} replies, 3 bytes)", served.replies)
        );
    }
}
