//! `blocking-io` as processes: what its capped modes do instead of the concurrent scenarios,
//! the fork and prefork modes' children, and its client in both modes.

mod common;

use lab::scenarios::{connect, round_trip};
use std::io::Read;
use std::time::Duration;

#[test]
fn iterative_serves_the_second_client_only_after_the_first_leaves() {
    let server = common::serve("blocking-io", &["--mode", "iterative"]);
    let mut first = connect(server.addr()).unwrap();
    round_trip(&mut first, b"first").unwrap();

    let mut second = connect(server.addr()).unwrap();
    std::io::Write::write_all(&mut second, b"second").unwrap();
    common::assert_no_reply_yet(&mut second);

    drop(first);
    let mut reply = [0u8; 6];
    second.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"SECOND");
}

#[test]
fn a_pool_of_two_serves_a_third_client_only_after_one_leaves() {
    let server = common::serve("blocking-io", &["--mode", "pool", "--workers", "2"]);
    common::assert_a_pool_of_two_serves_a_third_client_only_after_one_leaves(&server);
}

#[test]
fn thread_mode_serves_a_thousand_connections_at_once() {
    let server = common::serve("blocking-io", &["--mode", "thread"]);
    common::load_passes("blocking-io", server.addr(), 1000, 5);
}

#[test]
fn fork_mode_leaves_no_zombie_children() {
    let server = common::serve("blocking-io", &["--mode", "fork"]);
    for i in 0..20 {
        let mut stream = connect(server.addr()).unwrap();
        round_trip(&mut stream, format!("client {i}").as_bytes()).unwrap();
    }
    // Each child exits once its client has gone; the SIGCHLD handler must then collect it.
    // Poll /proc (bounded) until no child of the server is left, zombie or alive.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut children = lab::procfs::children(server.pid());
    while !children.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        children = lab::procfs::children(server.pid());
    }
    assert!(children.is_empty(), "children left: {children:?}");
    let served = server.log_text().matches("served by process").count();
    assert_eq!(served, 20, "{}", server.log_text());
}

#[test]
fn interactive_client_reads_each_reply_by_length() {
    let server = common::serve("blocking-io", &["--mode", "thread"]);
    common::check_interactive_client("blocking-io", server.addr());
}

#[test]
fn load_client_fails_on_a_wrong_reply() {
    common::check_load_client_fails_on_wrong_replies("blocking-io");
}

#[test]
fn load_client_fails_when_nobody_listens() {
    common::check_load_client_fails_when_nobody_listens("blocking-io");
    common::check_load_client_times_out_a_whole_round("blocking-io");
}

/// The demos echo a server's log as soon as it has started: its `listening on` line must
/// already be in the log by then, or it prints after the first client's lines.
#[test]
fn the_listening_line_is_logged_before_start_returns() {
    for _ in 0..20 {
        let server = common::serve("blocking-io", &["--mode", "iterative"]);
        assert!(
            server.log_text().starts_with("listening on "),
            "{}",
            server.log_text()
        );
    }
}

/// Whether `pid` is a live process: its /proc entry exists and it is not a zombie (a dead
/// child waiting for whoever inherited it to collect it serves nobody).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim().to_string())
        })
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

/// Polls (bounded) until the server has `n` live children; returns their pids, sorted.
fn wait_for_children(server_pid: u32, n: usize) -> Vec<u32> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut live: Vec<u32> = lab::procfs::children(server_pid)
            .into_iter()
            .map(|(pid, _)| pid)
            .filter(|&pid| alive(pid))
            .collect();
        live.sort_unstable();
        if live.len() == n || std::time::Instant::now() >= deadline {
            return live;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pids that served clients, from the log lines `served by worker S (process PID)`.
fn serving_pids(log: &str) -> std::collections::BTreeSet<u32> {
    log.lines()
        .filter_map(|l| l.split("(process ").nth(1))
        .filter_map(|rest| rest.trim_end_matches(')').parse().ok())
        .collect()
}

#[test]
fn prefork_children_share_the_listener_and_serve_one_client_each() {
    let mut server = common::serve("blocking-io", &["--mode", "prefork", "--workers", "2"]);
    let children = wait_for_children(server.pid(), 2);
    assert_eq!(children.len(), 2, "{}", server.log_text());

    // Two clients at once, each held by its own process: both are answered while both stay.
    let mut a = connect(server.addr()).unwrap();
    let mut b = connect(server.addr()).unwrap();
    round_trip(&mut a, b"a").unwrap();
    round_trip(&mut b, b"b").unwrap();
    round_trip(&mut a, b"a again").unwrap();
    let served_by = serving_pids(&server.log_text());
    assert_eq!(
        served_by,
        children.iter().copied().collect(),
        "a and b were not served by the two children:\n{}",
        server.log_text()
    );
    // The parent holds no connection: its only socket is the listener.
    assert_eq!(lab::procfs::open_sockets(server.pid()).unwrap(), 1);

    // The third waits in the listen queue: nobody accepts it while both workers are busy.
    let mut c = connect(server.addr()).unwrap();
    std::io::Write::write_all(&mut c, b"third").unwrap();
    common::assert_no_reply_yet(&mut c);
    drop(b);
    let mut reply = [0u8; 5];
    c.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"THIRD");
    round_trip(&mut a, b"still here").unwrap();
    assert!(server.is_running());
}

#[test]
fn prefork_restarts_a_dead_child_and_stops_with_its_parent() {
    let mut server = common::serve("blocking-io", &["--mode", "prefork", "--workers", "2"]);
    let children = wait_for_children(server.pid(), 2);
    assert_eq!(children.len(), 2, "{}", server.log_text());

    // A child killed outright is replaced, and the pool serves on.
    // SAFETY: `kill` with a pid we just read as the server's child, and a signal number.
    unsafe { libc::kill(children[0] as libc::pid_t, libc::SIGKILL) };
    assert!(
        server.wait_for_log(
            |l| l.contains("was killed by signal 9"),
            Duration::from_secs(10)
        ),
        "{}",
        server.log_text()
    );
    let after = wait_for_children(server.pid(), 2);
    assert_eq!(after.len(), 2, "{}", server.log_text());
    assert!(!after.contains(&children[0]), "{after:?}");
    let mut stream = connect(server.addr()).unwrap();
    round_trip(&mut stream, b"after a restart").unwrap();
    drop(stream);

    // SIGTERM to the parent is forwarded: every child stops, then the parent.
    // SAFETY: as above, for the server process this test started.
    unsafe { libc::kill(server.pid() as libc::pid_t, libc::SIGTERM) };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.is_running() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!server.is_running(), "{}", server.log_text());
    // Its last words may still be on their way through the pipe after it exited.
    assert!(
        server.wait_for_log(
            |l| l.contains("every worker has stopped"),
            Duration::from_secs(5)
        ),
        "{}",
        server.log_text()
    );
    for pid in after {
        assert!(!alive(pid), "worker {pid} outlived its parent's SIGTERM");
    }
}

#[test]
fn prefork_children_die_with_a_killed_parent() {
    let server = common::serve("blocking-io", &["--mode", "prefork", "--workers", "3"]);
    let children = wait_for_children(server.pid(), 3);
    assert_eq!(children.len(), 3, "{}", server.log_text());
    // Dropping a ServerProcess is SIGKILL: no handler runs, nothing is forwarded. Only
    // PR_SET_PDEATHSIG stops the children.
    drop(server);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while children.iter().any(|&pid| alive(pid)) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let orphans: Vec<u32> = children.into_iter().filter(|&pid| alive(pid)).collect();
    assert!(orphans.is_empty(), "orphans left serving: {orphans:?}");
}
