//! 四 a, the notes' first non-blocking server, bugs kept on purpose, as minimal Rust. The
//! crate's `src/naive.rs` is the same program with statistics, and `src/fixed.rs` the fix.
//!
//! ```text
//! cargo run -p nonblocking-io --example notes_nonblocking_a -- --addr 127.0.0.1:8080
//! nc 127.0.0.1 8080
//! ```
//!
//! What to watch: one core at 100% with no client at all (the loop never waits), and
//! `rlist: N` never going down when clients leave. Its two bugs, each shown by a lab
//! scenario (`crates/lab/tests/minimal.rs`): a reply the socket cannot take at once is lost
//! (`lost replies`), and a closed connection stays in `r_list` for ever (`closed sockets`).
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};

// ANCHOR: serve
pub fn serve(s: TcpListener) -> std::io::Result<()> {
    // Every call on `s` now returns WouldBlock (Python: BlockingIOError) instead of waiting.
    s.set_nonblocking(true)?;
    let mut r_list: Vec<TcpStream> = Vec::new();
    let mut shown = None;
    loop {
        match s.accept() {
            Ok((conn, _addr)) => {
                // Linux's accept does not pass O_NONBLOCK on to the new socket (Windows,
                // where the notes ran, does): without this line the first recv would block.
                conn.set_nonblocking(true)?;
                r_list.push(conn);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                // The notes print on every pass, millions of lines a second; we print when
                // the count changes, which is what there is to see.
                if shown != Some(r_list.len()) {
                    println!("rlist: {}", r_list.len());
                    shown = Some(r_list.len());
                }
                for conn in &mut r_list {
                    let mut buf = [0u8; 1024];
                    // Receive and reply in one go, both inside one `try`. Bug 1: a reply the
                    // socket cannot take now (WouldBlock), or takes only part of, is dropped.
                    // Bug 2: a closed client reads as 0 bytes, we "send" 0 bytes back, and
                    // the socket stays in r_list for ever. A reset (not caught in the notes
                    // either) ends the whole server.
                    let sent = conn
                        .read(&mut buf)
                        .and_then(|n| conn.write(&buf[..n].to_ascii_uppercase()));
                    match sent {
                        Ok(_) => {}
                        Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                        Err(e) => return Err(e),
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
}
// ANCHOR_END: serve

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let addr = match args.iter().position(|a| a == "--addr") {
        Some(i) => args.get(i + 1).map_or("127.0.0.1:8080", String::as_str),
        None => "127.0.0.1:8080",
    };
    let s = TcpListener::bind(addr)?;
    println!("listening on {}", s.local_addr()?); // the lab waits for this line
    std::io::stdout().flush()?;
    serve(s)
}
