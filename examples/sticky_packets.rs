//! Sticky packets (粘包) and the custom header: section 七, 网络编程 5.
//!
//! ```text
//! cargo run --example sticky_packets               # the bug, then the fix, over loopback
//! cargo run --example sticky_packets -- --serve    # the framed echo-upper server on :8080
//! printf '\0\0\0\005hello' | nc -q1 127.0.0.1 8080 | xxd   # a frame by hand: 00000005 HELLO
//! ```
//!
//! What to watch: without a header, 3 messages come out as some other number of "messages";
//! with one, exactly 3. The logic lives in `examples/src/sticky_packets.rs`.

use clap::Parser;
use examples::sticky_packets::{self as sticky, FramedServer};
use protocol::framing::MAX_FRAME;
use std::net::SocketAddr;
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "Sticky packets (粘包) shown, then fixed with a 4-byte length header")]
struct Cli {
    /// Only run the framed server (until Ctrl-C), for nc or your own client.
    #[arg(long)]
    serve: bool,

    /// Where `--serve` listens.
    #[arg(long, default_value = protocol::limits::DEFAULT_ADDR)]
    addr: SocketAddr,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.serve {
        let args = ["sticky_packets", "--addr", &cli.addr.to_string()];
        return sticky::server_main(args.iter().map(Into::into).collect());
    }
    protocol::exit_code("sticky_packets", run())
}

fn run() -> protocol::Result<()> {
    println!("--- 1. no header: the server takes each recv(1024) for one message ---");
    let naive = sticky::without_header()?;
    for message in &naive.sent {
        println!("client sent    {}", sticky::show(message, 24));
    }
    for (i, read) in naive.reads.iter().enumerate() {
        println!("server read {}: {}", i + 1, sticky::show(read, 24));
    }
    println!(
        "=> {} messages sent, the naive server saw {}: the first read glued two together (粘包), \
         the large one came in pieces",
        naive.sent.len(),
        naive.reads.len()
    );

    println!("\n--- 2. a 4-byte big-endian length header before each message ---");
    let server = FramedServer::start("127.0.0.1:0".parse()?, MAX_FRAME)?;
    let framed = sticky::with_header(server.addr())?;
    for reply in &framed.replies {
        println!("client decoded {}", sticky::show(reply, 24));
    }
    let all_right = framed.replies.len() == framed.sent.len()
        && framed
            .sent
            .iter()
            .zip(&framed.replies)
            .all(|(s, r)| protocol::load::reply_matches(s, r));
    println!(
        "=> {} messages sent, {} replies decoded from {} reads, every byte verified: {}",
        framed.sent.len(),
        framed.replies.len(),
        framed.reads,
        if all_right { "yes" } else { "NO" }
    );

    println!("\n--- 3. a header announcing 1 GiB (more than the {MAX_FRAME}-byte maximum) ---");
    sticky::announce_too_much(server.addr(), 1 << 30)?;
    println!("=> the server refused it on the header alone and dropped only that connection");
    let again = sticky::with_header(server.addr())?;
    println!(
        "=> a new connection is still served: {} replies",
        again.replies.len()
    );
    if all_right {
        Ok(())
    } else {
        Err("a framed reply did not match".into())
    }
}
