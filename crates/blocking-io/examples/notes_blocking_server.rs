//! 二, the blocking server: accept one client, receive from it until it leaves (the 通信循环
//! inside the 连接循环), then accept the next, as minimal Rust. The crate (`src/iterative.rs`,
//! `src/thread.rs`, `src/pool.rs`, `src/fork.rs`) is this plus what production needs.
//!
//! ```text
//! cargo run -p blocking-io --example notes_blocking_server -- --addr 127.0.0.1:8080
//! nc 127.0.0.1 8080
//! ```
//!
//! What to watch: a second `nc` gets nothing until the first one quits: `accept` and `recv`
//! each block the one thread (wait data, then copy data).
//!
//! One line more than the notes: they only print what arrives, and we also send it back
//! upper-cased (as every other server in the notes does), so the lab's checks can run on it.
use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;

// ANCHOR: serve
pub fn serve(s: TcpListener) -> std::io::Result<()> {
    loop {
        // Blocks until a client connects: wait data, then copy data (the new connection).
        let (mut conn, addr) = s.accept()?;
        println!("{addr}");
        let mut buf = [0u8; 1024];
        loop {
            // Blocks until bytes arrive (wait data), then copies them to `buf` (copy data).
            let data = match conn.read(&mut buf) {
                Ok(0) => break, // a FIN: how Linux reports a client that closed normally
                Ok(n) => &buf[..n],
                // A RST: what Windows reports when the client's process dies, and Linux
                // too when the client closed with our reply unread.
                Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
                Err(e) => return Err(e),
            };
            println!("from client msg: {}", String::from_utf8_lossy(data));
            // The added line. On a blocking socket Linux's send waits until it took every
            // byte, so ignoring the count (as Python's `send` callers do) loses nothing here.
            let _sent = conn.write(&data.to_ascii_uppercase())?;
        }
        // `conn.close()`: `conn` is dropped at the end of this iteration.
    }
}
// ANCHOR_END: serve

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let addr = match args.iter().position(|a| a == "--addr") {
        Some(i) => args.get(i + 1).map_or("127.0.0.1:8080", String::as_str),
        None => "127.0.0.1:8080",
    };
    // std listens with a backlog of 128; the notes' `listen(5)` would need socket2.
    let s = TcpListener::bind(addr)?;
    println!("listening on {}", s.local_addr()?); // the lab waits for this line
    std::io::stdout().flush()?;
    serve(s)
}
