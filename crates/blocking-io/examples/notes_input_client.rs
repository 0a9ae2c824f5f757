//! 二, the client: read a line at the `>>: ` prompt, skip it if empty, send it, as minimal
//! Rust. The crate's client (`src/client.rs`) is a load generator instead.
//!
//! ```text
//! cargo run -p blocking-io --example notes_blocking_server &
//! cargo run -p blocking-io --example notes_input_client -- --addr 127.0.0.1:8080
//! ```
//!
//! What to watch: `send` returns at once, before the server has read anything: it only
//! copies the bytes into the kernel (copy data, no wait data). A very large send could
//! still block, once the kernel's buffer is full.
use std::io::{BufRead, Write};
use std::net::TcpStream;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let addr = match args.iter().position(|a| a == "--addr") {
        Some(i) => args.get(i + 1).map_or("127.0.0.1:8080", String::as_str),
        None => "127.0.0.1:8080",
    };
    let mut client = TcpStream::connect(addr)?;
    let mut lines = std::io::stdin().lock().lines();
    loop {
        print!(">>: ");
        std::io::stdout().flush()?;
        // End of input (Ctrl-D) ends the loop; Python's `input()` would raise EOFError.
        let Some(line) = lines.next() else { break };
        let data = line?.trim().to_owned();
        if data.is_empty() {
            continue; // just Enter: ask again
        }
        client.write_all(data.as_bytes())?;
        println!("has send");
    }
    Ok(())
}
