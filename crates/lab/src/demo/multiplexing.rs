//! Demo for section 五: one thread serves a thousand clients and sleeps while they are idle;
//! and the notes' remark that with a single socket, multiplexing is no faster than blocking.

use super::{start_server, watch, Talker};
use crate::process::ServerProcess;
use crate::procfs;
use crate::scenarios::{connect, round_trip};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

/// Connections held open at once.
const CONNS: usize = 1000;

/// How long the idle server's CPU time is watched.
const IDLE: Duration = Duration::from_secs(1);

/// Round trips timed on a single connection (after [`WARM_UP`] untimed ones).
const ROUNDS: usize = 2000;
const WARM_UP: usize = 200;

/// 五: IO multiplexing.
pub fn section_5(lab: &Path) -> crate::Result<()> {
    watch(
        "one thread serves every client: Threads in /proc/PID/status stays 1 with 1000 connected\n\
         while they are idle the thread sleeps in epoll_wait (wait data for all at once): no CPU\n\
         with one client a reply costs a wait and then a recv, where blocking costs just the recv:\n\
         the notes' remark that for one socket multiplexing is slower than blocking I/O",
    );
    let server = start_server(lab, "multiplexing", &["--backend", "polling"])?;
    Talker::connect("client A", server.addr())?.say("hello, select")?;

    // A thousand "connected" lines would bury the point: keep the server quiet from here.
    server.quiet();
    println!("  demo     | opening {CONNS} connections, one round trip each   (server log hidden)");
    let held = hold_idle_connections(server.addr())?;
    let status = procfs::status(server.pid())?;
    println!(
        "  /proc    | Threads: {}   VmRSS: {} KiB   with {} connections open",
        status.threads,
        status.rss_kib,
        held.len()
    );
    let before = procfs::cpu_time(server.pid())?;
    // A measurement window, not synchronisation: the clients simply stay idle for it.
    std::thread::sleep(IDLE);
    let idle_cpu = procfs::cpu_time(server.pid())? - before;
    println!(
        "  /proc    | CPU time used in {:.0} s with {} idle clients: {:.0} ms",
        IDLE.as_secs_f64(),
        held.len(),
        idle_cpu.as_secs_f64() * 1e3
    );
    drop(held);

    println!("  demo     | one client, {ROUNDS} round trips of 64 bytes each, median time:");
    let multiplexing = median_round_trip(&server)?;
    println!(
        "  client   | multiplexing (polling): {:.1} us",
        micros(multiplexing)
    );
    drop(server);
    let blocking = ServerProcess::start(lab, "blocking-io", &["--mode", "thread"])?;
    println!("  $ cargo lab serve blocking-io --mode thread   (server log hidden)");
    let blocked = median_round_trip(&blocking)?;
    println!(
        "  client   | blocking-io (thread):   {:.1} us",
        micros(blocked)
    );

    println!(
        "=> measured: {} thread served {CONNS} connections and used {:.0} ms of CPU in {:.0} s \
         while they idled; one client's round trip took {:.1} us multiplexed vs {:.1} us \
         blocking ({:.2}x)",
        status.threads,
        idle_cpu.as_secs_f64() * 1e3,
        IDLE.as_secs_f64(),
        micros(multiplexing),
        micros(blocked),
        micros(multiplexing) / micros(blocked)
    );
    Ok(())
}

/// Opens [`CONNS`] connections, each served one round trip so the server has really
/// accepted it, and returns them open and idle.
fn hold_idle_connections(addr: SocketAddr) -> crate::Result<Vec<std::net::TcpStream>> {
    // This process holds all of them: make sure its descriptor limit allows it.
    ::multiplexing::fd_limit::raise_to(CONNS as u64 + 64)?;
    let mut held = Vec::with_capacity(CONNS);
    for i in 0..CONNS {
        let mut stream = connect(addr)?;
        round_trip(&mut stream, format!("client {i}").as_bytes())?;
        held.push(stream);
    }
    Ok(held)
}

/// The median of [`ROUNDS`] timed 64-byte round trips on one connection to `server`.
fn median_round_trip(server: &ServerProcess) -> crate::Result<Duration> {
    let mut stream = connect(server.addr())?;
    let message = [b'm'; 64];
    for _ in 0..WARM_UP {
        round_trip(&mut stream, &message)?;
    }
    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        round_trip(&mut stream, &message)?;
        times.push(start.elapsed());
    }
    times.sort_unstable();
    Ok(times[ROUNDS / 2])
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
