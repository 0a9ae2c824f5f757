//! A UDP echo-upper server and client (基于udp协议的套接字): section 七, 网络编程 7.
//!
//! ```text
//! cargo run --example udp_echo                       # boundaries, a retry, a truncation
//! cargo run --example udp_echo -- server --drop-first 1   # terminal 1 (127.0.0.1:8080)
//! cargo run --example udp_echo -- client             # terminal 2: the >>: client
//! nc -u 127.0.0.1 8080                               # or netcat in UDP mode
//! ```
//!
//! What to watch: three datagrams come back as three (no sticky packets); a dropped request
//! is answered on the second attempt; a reply larger than the client's 1024-byte buffer is
//! reported as truncated. The logic lives in `examples/src/udp_echo.rs`.

use clap::{Parser, Subcommand};
use examples::udp_echo::{self, Client, Server, CLIENT_BUF};
use std::io::BufRead;
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "UDP echo-upper: datagram boundaries, retries on loss, truncation")]
struct Cli {
    #[command(subcommand)]
    part: Option<Part>,
}

#[derive(Subcommand)]
enum Part {
    /// Only the server, until Ctrl-C.
    Server {
        #[arg(long, default_value = protocol::limits::DEFAULT_ADDR)]
        addr: SocketAddr,
        /// Leave the first N requests unanswered, as if the network had lost them.
        #[arg(long, default_value_t = 0)]
        drop_first: u64,
    },
    /// Only the client: the notes' >>: prompt, each line one datagram.
    Client {
        #[arg(long, default_value = protocol::limits::DEFAULT_ADDR)]
        addr: SocketAddr,
        /// Milliseconds to wait for a reply before sending again.
        #[arg(long, default_value_t = 500)]
        timeout_ms: u64,
        /// Sends per request, the first included.
        #[arg(long, default_value_t = 3)]
        attempts: u32,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.part {
        None => demo(),
        Some(Part::Server { addr, drop_first }) => server(addr, drop_first),
        Some(Part::Client {
            addr,
            timeout_ms,
            attempts,
        }) => client(addr, Duration::from_millis(timeout_ms), attempts),
    };
    protocol::exit_code("udp_echo", result)
}

fn server(addr: SocketAddr, drop_first: u64) -> protocol::Result<()> {
    let socket = UdpSocket::bind(addr)?;
    protocol::announce(socket.local_addr()?)?;
    udp_echo::serve(&socket, drop_first, &AtomicBool::new(false))?;
    Ok(())
}

fn client(addr: SocketAddr, timeout: Duration, attempts: u32) -> protocol::Result<()> {
    let mut client = Client::new(addr, timeout, attempts, CLIENT_BUF)?;
    let mut lines = std::io::stdin().lock().lines();
    loop {
        eprint!(">>: ");
        let Some(line) = lines.next() else {
            return Ok(());
        };
        let line = line?;
        let data = line.trim();
        if data.is_empty() {
            continue;
        }
        // A lost or truncated reply is this request's problem: say so and ask for the next.
        match client.request(data.as_bytes()) {
            Ok(reply) => println!("{}", String::from_utf8_lossy(&reply.data)),
            Err(e) => eprintln!("udp_echo: {e}"),
        }
    }
}

fn demo() -> protocol::Result<()> {
    let server = Server::start("127.0.0.1:0".parse()?, 1)?;
    let timeout = Duration::from_millis(300);
    let mut client = Client::new(server.addr(), timeout, 3, CLIENT_BUF)?;

    println!("--- 1. a lost datagram: the server drops the first request it receives ---");
    let reply = client.request(b"anyone there?")?;
    println!(
        "client got {:?} on attempt {} (each attempt waits {} ms)",
        String::from_utf8_lossy(&reply.data),
        reply.attempts,
        timeout.as_millis()
    );

    println!("\n--- 2. three sends, then three receives: boundaries are kept ---");
    let sent: [&[u8]; 3] = [b"hello", b"world", b"!"];
    for message in sent {
        client.send(message)?;
    }
    for _ in sent {
        let (bytes, _) = client.recv(Duration::from_secs(2))?;
        let n = bytes.len();
        let unit = if n == 1 { "byte" } else { "bytes" };
        println!(
            "client recvfrom: {:?} ({n} {unit})",
            String::from_utf8_lossy(&bytes)
        );
    }

    println!("\n--- 3. a 3000-byte reply into the notes' recvfrom({CLIENT_BUF}) ---");
    match client.request(&[b'x'; 3000]) {
        Err(e @ udp_echo::RequestError::Truncated { .. }) => println!("client: {e}"),
        other => return Err(format!("expected a truncated reply, got {other:?}").into()),
    }

    let stats = server.stop()?;
    println!(
        "\n=> measured: server received {} datagrams, answered {}, dropped {}: \
         1 loss cost the client 1 retry, 0 sticky packets",
        stats.received, stats.answered, stats.dropped
    );
    Ok(())
}
