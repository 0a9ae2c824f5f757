//! Misbehaving servers for the clients' unit tests, and the client side the servers' unit
//! tests share.

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

/// A client socket to a server under test, with bounded reads and writes.
pub fn connect(addr: SocketAddr) -> std::net::TcpStream {
    let stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Writes `message` from one thread, then half-closes, while this one reads the whole
/// reply back; asserts it is the right reply and returns it.
pub fn exchange(mut stream: std::net::TcpStream, message: Vec<u8>) -> Vec<u8> {
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        writer.write_all(&message).unwrap();
        writer.shutdown(std::net::Shutdown::Write).unwrap();
        message
    });
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let message = sender.join().unwrap();
    assert!(
        protocol::load::reply_matches(&message, &reply),
        "reply differs"
    );
    reply
}
