//! Misbehaving servers for the clients' unit tests.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

/// A server that reads each message whole, then sends the right reply one byte every
/// `gap`, up to `limit` bytes in all; it stops at the first failed write.
pub fn trickling(gap: Duration, limit: usize) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let mut message = [0u8; 64];
        if stream.read_exact(&mut message).is_err() {
            return;
        }
        for byte in message.iter().cycle().take(limit) {
            if stream.write_all(&[byte.to_ascii_uppercase()]).is_err() {
                return;
            }
            // The gap between bytes is the point of this server, not a synchronisation.
            std::thread::sleep(gap);
        }
    });
    addr
}
