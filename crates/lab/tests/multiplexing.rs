//! `multiplexing` as processes: a thousand clients on one thread, `select`'s `FD_SETSIZE`
//! wall, running out of descriptors without stopping or spinning, and its client.
//!
//! The shared scenarios and the never-reading client run for all three backends in
//! `conformance.rs`, through the lab's table of variants.

mod common;

use lab::scenarios::{connect, correct_reply, round_trip};
use lab::variants::SELECT_CONNS;
use std::net::TcpStream;
use std::time::Duration;

/// How long a test waits for a line in the server's log.
const LOG_WAIT: Duration = Duration::from_secs(10);

/// Lets this test process hold `n` descriptors (a few over 1024 for the `select` test),
/// within the hard limit.
fn allow_fds(n: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read or write one live `rlimit`.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < n {
            limit.rlim_cur = n.min(limit.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
    assert!(limit.rlim_cur >= n, "this test needs {n} descriptors");
}

/// 1000 connections at once, every reply verified, and the server still has one thread.
fn thousand_connections(backend: &str) {
    let server = common::serve("multiplexing", &["--backend", backend]);
    common::load_passes("multiplexing", server.addr(), 1000, 5);
    let threads = lab::procfs::status(server.pid()).unwrap().threads;
    assert_eq!(threads, 1, "one thread serves everyone");
}

#[test]
fn polling_serves_a_thousand_connections_from_one_thread() {
    thousand_connections("polling");
}

#[test]
fn mio_serves_a_thousand_connections_from_one_thread() {
    thousand_connections("mio");
}

#[test]
fn select_refuses_the_connection_past_fd_setsize_and_serves_the_others() {
    allow_fds(1200);
    // Above FD_SETSIZE, so the kernel hands out descriptor 1024 and `select` must refuse it
    // (with the common soft limit of 1024, `accept` would fail with EMFILE first).
    let server = common::serve(
        "multiplexing",
        &["--backend", "select", "--max-fds", "2048"],
    );
    let mut served: Vec<TcpStream> = Vec::new();
    let refused = loop {
        assert!(served.len() < 1100, "no connection was refused");
        let mut stream = connect(server.addr()).unwrap();
        match round_trip(&mut stream, format!("client {}", served.len()).as_bytes()) {
            Ok(()) => served.push(stream),
            Err(err) => break err,
        }
    };
    assert!(
        server.wait_for_log(|l| l.contains("does not fit in select's fd_set"), LOG_WAIT),
        "refused ({refused}) without the reason in the log:\n{}",
        server.log_text()
    );
    // Descriptors 0 to 3 (stdio, the listener) are taken; 4 to 1023 hold clients.
    assert!(
        (SELECT_CONNS..libc::FD_SETSIZE).contains(&served.len()),
        "served {} before refusing",
        served.len()
    );
    // Everyone admitted is still served, the first and the last alike.
    let last = served.len() - 1;
    round_trip(&mut served[0], b"first, still here").unwrap();
    round_trip(&mut served[last], b"last, still here").unwrap();
    // One leaves; once the server has closed it, its descriptor is free for a newcomer.
    drop(served.remove(0));
    assert!(
        server.wait_for_log(|l| l.contains("closed by peer"), LOG_WAIT),
        "{}",
        server.log_text()
    );
    correct_reply(server.addr()).unwrap();
}

/// Runs `backend` with 64 descriptors, opens 100 connections (more than fit), and checks
/// that it keeps serving the ones it has, does not spin while out, logs the episode once
/// (not once per retry), and serves new clients once they are gone.
fn out_of_descriptors(backend: &str) {
    const OPEN: usize = 100;
    const STARTED: &str = "accept: out of resources";
    const ENDED: &str = "accept: accepting again after";
    let server = common::serve("multiplexing", &["--backend", backend, "--max-fds", "64"]);
    // The kernel completes every handshake from the listen queue, accepted or not.
    let mut conns: Vec<TcpStream> = (0..OPEN).map(|_| connect(server.addr()).unwrap()).collect();
    assert!(
        server.wait_for_log(|l| l.contains(STARTED), LOG_WAIT),
        "{backend}: never ran out of descriptors:\n{}",
        server.log_text()
    );
    // Connections are accepted in order, so the first was admitted; it is still served.
    round_trip(&mut conns[0], b"served while out of descriptors").unwrap();

    // A measurement window, not synchronisation: the server stays out of descriptors for
    // all of it, because we hold every connection. It retries ten times a second.
    const WINDOW: Duration = Duration::from_millis(1500);
    let pid = server.pid();
    let before = lab::procfs::cpu_time(pid).unwrap();
    std::thread::sleep(WINDOW);
    let used = lab::procfs::cpu_time(pid).unwrap() - before;
    assert!(
        used < WINDOW / 5,
        "{backend} used {used:?} of CPU in {WINDOW:?} while out of descriptors: it spins"
    );
    let log = server.log_text();
    let lines = log.lines().filter(|l| l.contains(STARTED)).count();
    assert_eq!(
        lines, 1,
        "{backend}: one episode of running out, logged {lines} times (once per retry?):\n{log}"
    );

    drop(conns);
    correct_reply(server.addr()).unwrap_or_else(|e| {
        panic!(
            "{backend}: no new client served after the others left: {e}\n{}",
            server.log_text()
        )
    });
    assert!(
        server.wait_for_log(|l| l.contains(ENDED), LOG_WAIT),
        "{backend}: the end of the episode is not logged:\n{}",
        server.log_text()
    );
}

#[test]
fn polling_survives_running_out_of_descriptors() {
    out_of_descriptors("polling");
}

#[test]
fn mio_survives_running_out_of_descriptors() {
    out_of_descriptors("mio");
}

#[test]
fn select_survives_running_out_of_descriptors() {
    out_of_descriptors("select");
}

#[test]
fn interactive_client_reads_each_reply_by_length() {
    let server = common::serve("multiplexing", &[]);
    common::check_interactive_client("multiplexing", server.addr());
}

#[test]
fn load_client_fails_on_wrong_replies() {
    common::check_load_client_fails_on_wrong_replies("multiplexing");
}

#[test]
fn load_client_fails_when_nobody_listens() {
    common::check_load_client_fails_when_nobody_listens("multiplexing");
    common::check_load_client_times_out_a_whole_round("multiplexing");
}
