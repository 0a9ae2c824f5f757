//! `own-gevent` as processes: a thousand connections held and served on one thread, a peer
//! that resets or half-closes ending only its own task, a flood that does not starve the
//! others, and the client. (The shared scenarios, the never-reading client and the
//! out-of-descriptors check run in `conformance.rs` under the variant `own-gevent/stackless`.)

mod common;

use lab::scenarios::{connect, round_trip};
use std::net::TcpStream;

#[test]
fn a_thousand_connections_are_held_and_served_on_one_thread() {
    let server = common::serve("own-gevent", &[]);
    // Held open by this process, all at once, then each makes a round trip.
    let mut held: Vec<TcpStream> = (0..1000).map(|_| connect(server.addr()).unwrap()).collect();
    for (i, stream) in held.iter_mut().enumerate() {
        round_trip(stream, format!("held {i}").as_bytes()).unwrap();
    }
    let status = lab::procfs::status(server.pid()).unwrap();
    assert_eq!(status.threads, 1, "{}", server.log_text());
    // While they are all idle, the one thread sleeps in epoll_wait: no CPU. (A measurement
    // window, not synchronisation: the clients simply stay silent for it.)
    const IDLE: std::time::Duration = std::time::Duration::from_millis(500);
    let before = lab::procfs::cpu_time(server.pid()).unwrap();
    std::thread::sleep(IDLE);
    let used = lab::procfs::cpu_time(server.pid()).unwrap() - before;
    assert!(
        used <= std::time::Duration::from_millis(20),
        "{used:?} of CPU in {IDLE:?} with 1000 idle connections"
    );
    drop(held);
    // And the load client: 1000 tasks on its one thread, every reply verified.
    common::load_passes("own-gevent", server.addr(), 1000, 5);
    assert_eq!(lab::procfs::status(server.pid()).unwrap().threads, 1);
}

#[test]
fn a_reset_or_a_half_close_ends_only_its_own_task() {
    let server = common::serve("own-gevent", &[]);
    common::assert_a_reset_or_a_half_close_ends_only_its_own_connection(
        &server,
        "connected; served by a task",
    );
}

#[test]
fn a_flooding_connection_does_not_starve_the_others() {
    let server = common::serve("own-gevent", &[]);
    let seen = lab::scenarios::flood_fairness(server.addr())
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log_text()));
    println!("own-gevent: {seen:?}");
    assert!(seen.newcomers > 0 && seen.round_trips > 0);
    assert!(seen.worst_round_trip < lab::scenarios::FLOOD_WORST_ALLOWED);
    assert!(seen.worst_newcomer < lab::scenarios::FLOOD_WORST_ALLOWED);
}

#[test]
fn interactive_client_reads_each_reply_by_length() {
    let server = common::serve("own-gevent", &[]);
    common::check_interactive_client("own-gevent", server.addr());
}

#[test]
fn load_client_fails_on_a_wrong_reply() {
    common::check_load_client_fails_on_wrong_replies("own-gevent");
}

#[test]
fn load_client_fails_when_nobody_listens() {
    common::check_load_client_fails_when_nobody_listens("own-gevent");
    common::check_load_client_times_out_a_whole_round("own-gevent");
}
