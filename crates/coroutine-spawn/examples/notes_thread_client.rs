//! 一, the homework's client: 1000 threads, each one connection sending
//! `"<thread name> hello"` and printing the reply, as minimal Rust with std threads.
//!
//! ```text
//! cargo run -p coroutine-spawn --example notes_gevent_server &
//! cargo run -p coroutine-spawn --example notes_thread_client -- --addr 127.0.0.1:8080
//! ```
//!
//! What to watch: the server above serves all thousand with a handful of threads, while
//! this client needs a thousand. The notes loop for ever; we stop after `ROUNDS` so a run
//! is bounded (the crate's client, `src/client.rs`, also verifies every reply).
use std::io::{Read, Write};
use std::net::TcpStream;

const ROUNDS: usize = 10;

fn client(addr: &str) -> std::io::Result<()> {
    let mut client = TcpStream::connect(addr)?;
    for _ in 0..ROUNDS {
        let name = std::thread::current().name().unwrap_or("Thread").to_owned();
        let data = format!("{name} hello");
        client.write_all(data.as_bytes())?;
        let mut res = [0u8; 1024];
        // One read may return part of the reply (TCP is a stream): fine for printing.
        let n = client.read(&mut res)?;
        println!("{}", String::from_utf8_lossy(&res[..n]));
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let addr = match args.iter().position(|a| a == "--addr") {
        Some(i) => args
            .get(i + 1)
            .cloned()
            .unwrap_or_else(|| "127.0.0.1:8080".into()),
        None => "127.0.0.1:8080".into(),
    };
    let mut threads = Vec::new();
    for i in 0..1000 {
        let addr = addr.clone();
        // Python names them Thread-1, Thread-2, ...; small stacks, as they only do I/O.
        let t = std::thread::Builder::new()
            .name(format!("Thread-{}", i + 1))
            .stack_size(64 * 1024)
            .spawn(move || {
                if let Err(e) = client(&addr) {
                    eprintln!("client: {e}");
                }
            })?;
        threads.push(t);
    }
    // Python waits for non-daemon threads before it exits; Rust must join them by hand.
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}
