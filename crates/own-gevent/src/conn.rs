//! The communication loop (通信循环) of one connection, as one task: section 二's blocking
//! `talk(conn)` (read up to 1024 bytes, upper-case, send it all back), with `.await` at the
//! two places where gevent would switch greenlets.
//!
//! What to watch: memory per connection is this future's state (the 1 KiB buffer, the
//! socket and the position in the loop), a few hundred bytes more than the buffer, with no
//! stack. Backpressure needs no `Pending` queue: while `write_all` waits on a client that
//! does not read, this task reads nothing more.

use crate::net::TcpStream;
use std::net::SocketAddr;

// ANCHOR: talk
/// Serves one connection until the peer closes, resets or breaks it; ends only this task.
pub async fn talk(mut stream: TcpStream, peer: SocketAddr) {
    // Replies are small: without this, Nagle would hold each one for the client's delayed ACK.
    if let Err(err) = stream.set_nodelay(true) {
        protocol::log!("[{peer}] TCP_NODELAY: {err}");
    }
    let mut buf = [0u8; protocol::limits::READ_SIZE];
    loop {
        let n = match stream.read(&mut buf).await {
            // EOF: the peer closed, or shut down its writing half. Every reply owed so far
            // has been written in full already, so closing loses nothing.
            Ok(0) => {
                protocol::log!("[{peer}] closed by peer");
                return;
            }
            Ok(n) => n,
            // A reset (the notes' ConnectionResetError) or any other failure of this socket.
            Err(err) => {
                protocol::log!("[{peer}] read failed: {err}");
                return;
            }
        };
        protocol::upper_in_place(&mut buf[..n]);
        if let Err(err) = stream.write_all(&buf[..n]).await {
            protocol::log!("[{peer}] write failed: {err}");
            return;
        }
    }
    // Dropping `stream` deletes it from epoll, then closes it.
}
// ANCHOR_END: talk
