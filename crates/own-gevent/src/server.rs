//! The connection loop (连接循环) of the notes' gevent server: accept, then `spawn(talk,
//! conn)` for every client; the loop is itself a spawned task that `main` joins, as in the
//! notes' `spawn(server, ...).join()`.
//!
//! What to watch: `Threads: 1` in `/proc/PID/status` with a thousand clients connected.

use crate::executor::{live_tasks, spawn};
use crate::net::TcpListener;
use crate::timer::sleep;
use protocol::accept::{Episode, Next, BACK_OFF};

// ANCHOR: serve
/// Accepts for ever, one task per connection.
pub async fn serve(listener: TcpListener) {
    let mut episode = Episode::new();
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                episode.accepted();
                protocol::log!("[{peer}] connected; served by a task of its own");
                // Detached: the JoinHandle is dropped, the task runs on (gevent's `spawn`).
                drop(spawn(crate::conn::talk(stream, peer)));
            }
            Err(err) => match episode.failed(&err, Some(live_tasks().saturating_sub(1))) {
                // `accept` waits out `WouldBlock` itself; a lost connection needs nothing.
                Next::Again | Next::Drained => {}
                // Out of descriptors or memory: `accept` would fail again at once. Pause
                // with *our* sleep; `std::thread::sleep` would stop every connection too.
                Next::BackOff => sleep(BACK_OFF).await,
            },
        }
    }
}
// ANCHOR_END: serve

#[cfg(test)]
mod tests {
    use crate::executor::{block_on, spawn};
    use crate::net::{TcpListener, TcpStream};
    use std::net::Shutdown;

    /// One thread runs the server and the clients: the test itself is a task.
    #[test]
    fn replies_a_half_close_and_a_reset_end_only_their_own_task() {
        let listener = protocol::listen::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let listener = TcpListener::from_std(listener).unwrap();
        drop(spawn(super::serve(listener)));
        block_on(crate::timer::timeout(
            std::time::Duration::from_secs(10),
            async move {
                let mut stays = TcpStream::connect(addr).await.unwrap();
                stays.write_all(b"first").await.unwrap();
                let mut reply = [0u8; 5];
                crate::client::read_exact(&mut stays, &mut reply)
                    .await
                    .unwrap();
                assert_eq!(&reply, b"FIRST");

                let message: Vec<u8> = (0..8192).map(|i| b'a' + (i % 26) as u8).collect();
                let mut half = TcpStream::connect(addr).await.unwrap();
                half.write_all(&message).await.unwrap();
                half.shutdown(Shutdown::Write).unwrap();
                let mut all = vec![0; message.len()];
                crate::client::read_exact(&mut half, &mut all)
                    .await
                    .unwrap();
                assert_eq!(all, message.to_ascii_uppercase());
                assert_eq!(half.read(&mut [0; 1]).await.unwrap(), 0, "then EOF");

                stays.write_all(b"still served").await.unwrap();
                let mut reply = [0u8; 12];
                crate::client::read_exact(&mut stays, &mut reply)
                    .await
                    .unwrap();
                assert_eq!(&reply, b"STILL SERVED");
            },
        ))
        .unwrap();
    }
}
