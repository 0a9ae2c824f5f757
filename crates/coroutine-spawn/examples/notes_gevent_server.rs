//! 一, the homework's server: `talk(conn)` per connection, `server` accepting in a loop
//! (the 连接循环), and the main line `spawn(server, ...).join()`, as minimal Rust on `may`.
//! The crate (`src/server.rs`, `src/conn.rs`) is this plus what production needs.
//!
//! ```text
//! cargo run -p coroutine-spawn --example notes_gevent_server -- --addr 127.0.0.1:8080
//! nc 127.0.0.1 8080
//! ```
//!
//! What to watch: every client gets a coroutine, yet the process keeps a handful of threads.
use may::net::{TcpListener, TcpStream};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{FromRawFd, IntoRawFd};

// ANCHOR: talk
fn talk(mut conn: TcpStream) -> std::io::Result<()> {
    let mut buf = [0u8; 1024];
    loop {
        // may's read parks this coroutine until data comes, as gevent's patched recv does.
        let data = match conn.read(&mut buf) {
            Ok(0) => break, // `if not data: break`: the client closed (a FIN)
            Ok(n) => &buf[..n],
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => return Err(e),
        };
        // Python's `send` may take only part of the bytes and returns how many; the notes
        // ignore that count, and so do we here. The crate writes the tail too (write_all).
        let _sent = conn.write(&data.to_ascii_uppercase())?;
    }
    Ok(()) // `conn.close()`: dropping the stream closes it
}
// ANCHOR_END: talk

// ANCHOR: server
fn server(s: TcpListener) -> std::io::Result<()> {
    loop {
        let (conn, addr) = s.accept()?;
        println!("{addr}");
        // SAFETY: `spawn` is unsafe because a coroutine may resume on another worker (no
        // thread-local may be held across a yield) and has a small fixed stack. `talk` owns
        // its socket and a 1 KiB buffer and holds no thread-local across a read or write.
        let _g = unsafe {
            may::coroutine::spawn(move || {
                if let Err(e) = talk(conn) {
                    eprintln!("talk: {e}"); // as gevent prints a greenlet's traceback
                }
            })
        };
    }
}

/// The notes' main line: `spawn(server, ip, port).join()`.
pub fn serve(listener: std::net::TcpListener) -> std::io::Result<()> {
    // SAFETY: `into_raw_fd` gives up the std listener's ownership of an open listening
    // socket, so the may listener becomes its one owner.
    let s = unsafe { TcpListener::from_raw_fd(listener.into_raw_fd()) };
    // SAFETY: as in `server`: the accept loop holds no thread-local across a yield.
    let g = unsafe { may::coroutine::spawn(move || server(s)) };
    g.join()
        .map_err(|_| std::io::Error::other("server panicked"))?
}
// ANCHOR_END: server

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let addr = match args.iter().position(|a| a == "--addr") {
        Some(i) => args.get(i + 1).map_or("127.0.0.1:8080", String::as_str),
        None => "127.0.0.1:8080",
    };
    let listener = std::net::TcpListener::bind(addr)?;
    println!("listening on {}", listener.local_addr()?); // the lab waits for this line
    std::io::stdout().flush()?;
    serve(listener)
}
