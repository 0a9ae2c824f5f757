//! `nonblocking-io` as processes: the fixed server under load and under a client that never
//! reads, the naive server's two flaws made to show, and the busy-loop client.
//!
//! The shared scenarios run against `nonblocking-io/busy` and `nonblocking-io/sleep-1ms` in
//! `conformance.rs`. The naive server is not in the variant table (it fails them by design);
//! its flaws are asserted here, from both sides: what a client sees and what the server logs
//! in its once-a-second `naive stats:` line.

mod common;

use lab::late_reader::late_reader;
use lab::process::ServerProcess;
use lab::scenarios::{connect, round_trip};
use nonblocking_io::naive::Stats;
use std::time::{Duration, Instant};

/// How long a test waits for a server's log line. The naive server logs its statistics once
/// a second, so this is several of its reports.
const LOG_WAIT: Duration = Duration::from_secs(10);

/// Bytes a late reader sends: more than any socket buffer the kernel may grow, so the naive
/// server's sends must fail somewhere.
const LATE_TOTAL: usize = 8 * 1024 * 1024;

/// The fixed server's log line when it stops reading a client whose replies back up.
const BACKPRESSURE: &str = "not reading from it";

fn variant(name: &str) -> ServerProcess {
    let variant = lab::variants::find(name).unwrap_or_else(|| panic!("no variant {name}"));
    common::serve_variant(variant)
}

/// Waits for a `naive stats:` line that satisfies `pred`, and returns it.
fn wait_for_stats(server: &ServerProcess, pred: impl Fn(&Stats) -> bool) -> Stats {
    let found = |line: &str| Stats::parse(line).is_some_and(|s| pred(&s));
    assert!(
        server.wait_for_log(found, LOG_WAIT),
        "no matching stats line; the naive server's log:\n{}",
        server.log_text()
    );
    let log = server.log_text();
    let last = log.lines().rev().find(|l| found(l));
    last.and_then(Stats::parse)
        .unwrap_or_else(|| panic!("the stats line left the log:\n{log}"))
}

#[test]
fn a_thousand_concurrent_connections_every_byte_verified() {
    for name in ["nonblocking-io/busy", "nonblocking-io/sleep-1ms"] {
        let server = variant(name);
        let addr = server.addr().to_string();
        // The busy-loop client: one thread, 1000 non-blocking connections.
        let out = common::client(
            "nonblocking-io",
            &[
                "--addr", &addr, "--conns", "1000", "--rounds", "5", "--size", "700", "--json",
            ],
            b"",
        );
        let s = common::summary(&out);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            (s.established, s.rounds, s.bytes, s.mismatches, s.errors),
            (1000, 5000, 5000 * 700, 0, 0),
            "{name}"
        );
    }
}

#[test]
fn a_never_reading_client_is_stopped_by_backpressure() {
    const TOTAL: usize = 64 * 1024 * 1024;
    for name in ["nonblocking-io/busy", "nonblocking-io/sleep-1ms"] {
        let server = variant(name);
        // Writes up to 64 MiB and never reads, while another client is served.
        let seen = lab::scenarios::never_reading_client(server.addr(), server.pid(), TOTAL)
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", server.log_text()));
        println!(
            "{name}: took {} bytes, grew {} KiB",
            seen.written, seen.growth_kib
        );
        assert!(
            seen.written < TOTAL,
            "{name} read all {TOTAL} bytes: it never stopped reading"
        );
        assert!(
            seen.growth_kib < 16 * 1024,
            "{name} grew by {} KiB",
            seen.growth_kib
        );
        assert!(
            server.wait_for_log(|l| l.contains(BACKPRESSURE), Duration::from_secs(5)),
            "{name} did not log that it stopped reading:\n{}",
            server.log_text()
        );
    }
}

#[test]
fn the_fixed_server_keeps_every_reply_for_a_late_reader() {
    let server = variant("nonblocking-io/busy");
    // The client starts reading only once the server has said it stopped reading.
    let seen = late_reader(
        server.addr(),
        LATE_TOTAL,
        || assert!(server.wait_for_log(|l| l.contains(BACKPRESSURE), LOG_WAIT)),
        Duration::from_secs(5),
    )
    .unwrap();
    assert!(seen.intact, "lost {} of {} bytes", seen.lost(), seen.sent);
}

#[test]
fn the_naive_server_loses_replies_when_the_client_reads_late() {
    let server = common::serve("nonblocking-io", &["--naive"]);
    // The client starts reading only once the server has logged a lost reply.
    let seen = late_reader(
        server.addr(),
        LATE_TOTAL,
        || {
            wait_for_stats(&server, |s| s.dropped_replies > 0);
        },
        Duration::from_millis(500),
    )
    .unwrap();
    assert!(seen.lost() > 0 && !seen.intact, "{seen:?}");
    // What the client is missing is exactly what the server counted as dropped.
    let stats = wait_for_stats(&server, |s| s.dropped_bytes == seen.lost() as u64);
    assert!(stats.dropped_replies > 0);
    // The naive server still answers a client that reads every reply, as the notes' does.
    let mut polite = connect(server.addr()).unwrap();
    round_trip(&mut polite, b"still answering").unwrap();
}

#[test]
fn the_naive_server_keeps_closed_sockets_after_clients_leave() {
    let server = common::serve("nonblocking-io", &["--naive"]);
    for i in 0..5 {
        let mut client = connect(server.addr()).unwrap();
        round_trip(&mut client, format!("client {i}").as_bytes()).unwrap();
    }
    // All five have left; the server still polls all five.
    let stats = wait_for_stats(&server, |s| s.closed_still_held == 5);
    assert_eq!(stats.sockets, 5);
    // And their descriptors are still open: the listener plus five dead connections.
    assert_eq!(lab::procfs::open_sockets(server.pid()).unwrap(), 6);
}

#[test]
fn the_fixed_server_closes_sockets_when_clients_leave() {
    let server = variant("nonblocking-io/busy");
    let mut peers = Vec::new();
    for i in 0..5 {
        let mut client = connect(server.addr()).unwrap();
        round_trip(&mut client, format!("client {i}").as_bytes()).unwrap();
        // The server names each connection by the client's own address.
        peers.push(client.local_addr().unwrap());
    }
    for peer in peers {
        let line = format!("[{peer}] closed by peer");
        assert!(
            server.wait_for_log(|l| l.starts_with(&line), LOG_WAIT),
            "no `{line}`:\n{}",
            server.log_text()
        );
    }
    // The close line is logged just before the socket is dropped; give the drop its moment
    // (bounded), then only the listener is left.
    let deadline = Instant::now() + LOG_WAIT;
    let mut sockets = lab::procfs::open_sockets(server.pid()).unwrap();
    while sockets != 1 && Instant::now() < deadline {
        std::thread::yield_now();
        sockets = lab::procfs::open_sockets(server.pid()).unwrap();
    }
    assert_eq!(sockets, 1, "{}", server.log_text());
}

#[test]
fn the_naive_server_fills_its_list_with_dead_sockets_then_refuses_everyone() {
    use nonblocking_io::naive::MAX_SOCKETS;
    let server = common::serve("nonblocking-io", &["--naive"]);
    for i in 0..MAX_SOCKETS {
        let mut client = connect(server.addr()).unwrap();
        round_trip(&mut client, format!("client {i}").as_bytes()).unwrap();
    }
    wait_for_stats(&server, |s| s.closed_still_held == MAX_SOCKETS);
    // Nobody is connected, yet the list is full: the next client is closed at once.
    let mut late = connect(server.addr()).unwrap();
    assert!(round_trip(&mut late, b"anyone there?").is_err());
    let stats = wait_for_stats(&server, |s| s.refused >= 1);
    assert_eq!(stats.sockets, MAX_SOCKETS);
}

#[test]
fn interactive_client_reads_each_reply_by_length() {
    let server = variant("nonblocking-io/busy");
    common::check_interactive_client("nonblocking-io", server.addr());
}

#[test]
fn load_client_fails_on_a_wrong_reply() {
    common::check_load_client_fails_on_wrong_replies("nonblocking-io");
}

#[test]
fn load_client_fails_when_nobody_listens() {
    common::check_load_client_fails_when_nobody_listens("nonblocking-io");
    common::check_load_client_times_out_a_whole_round("nonblocking-io");
}

#[test]
fn load_client_gives_up_on_a_silent_server() {
    // The kernel completes the handshakes from the listen queue; nobody ever answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let out = common::client(
        "nonblocking-io",
        &[
            "--addr",
            &addr,
            "--conns",
            "3",
            "--rounds",
            "1",
            "--timeout",
            "0.3",
            "--json",
        ],
        b"",
    );
    let s = common::summary(&out);
    assert!(!out.status.success());
    assert_eq!((s.established, s.rounds, s.errors), (3, 0, 3));
    drop(silent);
}
