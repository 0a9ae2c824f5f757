//! `blocking-io` as processes: what its capped modes do instead of the concurrent scenarios,
//! the fork mode's children, and its client in both modes.

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
