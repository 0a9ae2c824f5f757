//! Signal-driven I/O over UDP (`SIGIO`, `O_ASYNC` + `F_SETOWN`): the fourth of Stevens' five
//! I/O models, the one the notes skip. Linux only.
//!
//! ```text
//! cargo run --example sigio_udp                    # a burst of 32 datagrams, one signal
//! cargo run --example sigio_udp -- --serve         # the server alone on 127.0.0.1:8080
//! nc -u 127.0.0.1 8080                             # then type: each line is one datagram
//! ```
//!
//! What to watch: `signals` is far below `datagrams`, because signals do not queue; that is
//! why the main loop drains until WouldBlock. The logic lives in `examples/src/sigio_udp.rs`.

use std::process::ExitCode;

#[cfg(target_os = "linux")]
fn main() -> ExitCode {
    use clap::Parser;

    #[derive(Parser)]
    #[command(about = "Signal-driven I/O: a UDP echo-upper server woken by SIGIO")]
    struct Cli {
        /// Only run the server (until Ctrl-C), for nc -u or your own client.
        #[arg(long)]
        serve: bool,
        /// Where `--serve` listens.
        #[arg(long, default_value = protocol::limits::DEFAULT_ADDR)]
        addr: std::net::SocketAddr,
    }

    let cli = Cli::parse();
    let result = if cli.serve { serve(cli.addr) } else { demo() };
    protocol::exit_code("sigio_udp", result)
}

#[cfg(target_os = "linux")]
fn serve(addr: std::net::SocketAddr) -> protocol::Result<()> {
    let server = examples::sigio_udp::SigioServer::bind(addr)?;
    protocol::announce(server.local_addr()?)?;
    server.run(&std::sync::atomic::AtomicBool::new(false))?;
    Ok(())
}

#[cfg(target_os = "linux")]
fn demo() -> protocol::Result<()> {
    use examples::sigio_udp::{receive, send_burst, Spawned};
    use std::net::UdpSocket;
    use std::time::Duration;

    const BURST: usize = 32;
    let timeout = Duration::from_secs(2);
    let mut server = Spawned::start("127.0.0.1:0".parse()?)?;
    let client = UdpSocket::bind("127.0.0.1:0")?;

    println!("--- 1. {BURST} datagrams arrive while SIGIO is blocked, then the loop starts ---");
    let sent = send_burst(&client, server.addr(), BURST)?;
    server.go();
    let replies = receive(&client, BURST, timeout)?;
    let all_right = sent
        .iter()
        .zip(&replies)
        .all(|(s, r)| protocol::load::reply_matches(s, r));
    println!(
        "client: {} replies, first {:?}, last {:?}, all upper-cased: {}",
        replies.len(),
        String::from_utf8_lossy(&replies[0]),
        String::from_utf8_lossy(&replies[BURST - 1]),
        if all_right { "yes" } else { "NO" }
    );

    println!("\n--- 2. one datagram at a time: one signal each ---");
    for i in 0..3 {
        let message = format!("one at a time {i}");
        client.send_to(message.as_bytes(), server.addr())?;
        let reply = receive(&client, 1, timeout)?;
        println!("client: {:?}", String::from_utf8_lossy(&reply[0]));
    }

    let stats = server.stop()?;
    println!(
        "\n=> measured: {} signals woke the loop {} times for {} datagrams \
         (the stop datagram included); one wakeup drained {}: signals do not queue",
        stats.signals, stats.wakeups, stats.datagrams, stats.max_per_wakeup
    );
    if all_right {
        Ok(())
    } else {
        Err("a reply did not match".into())
    }
}

#[cfg(not(target_os = "linux"))]
fn main() -> ExitCode {
    eprintln!("sigio_udp: signal-driven I/O here relies on Linux's F_SETOWN_EX; Linux only");
    ExitCode::FAILURE
}
