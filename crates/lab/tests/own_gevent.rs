//! `own-gevent` as processes: a thousand connections held and served on one thread, a peer
//! that resets or half-closes ending only its own task, a flood that does not starve the
//! others, and the client. (The shared scenarios, the never-reading client and the
//! out-of-descriptors check run in `conformance.rs` under the variant `own-gevent/stackless`.)

mod common;

use lab::scenarios::{connect, round_trip};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

const LOG_WAIT: Duration = Duration::from_secs(10);

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
    drop(held);
    // And the load client: 1000 tasks on its one thread, every reply verified.
    common::load_passes("own-gevent", server.addr(), 1000, 5);
    assert_eq!(lab::procfs::status(server.pid()).unwrap().threads, 1);
}

#[test]
fn a_reset_or_a_half_close_ends_only_its_own_task() {
    let server = common::serve("own-gevent", &[]);
    let mut stays = connect(server.addr()).unwrap();
    round_trip(&mut stays, b"before").unwrap();

    // Half-close: send, shut down writing, still get the whole reply, then EOF.
    let mut half = connect(server.addr()).unwrap();
    let half_peer = half.local_addr().unwrap();
    let message = protocol::load::Messages::new(9, 0).next_message(20_000);
    half.write_all(&message).unwrap();
    half.shutdown(Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    half.read_to_end(&mut reply).unwrap();
    assert!(protocol::load::reply_matches(&message, &reply));
    assert!(
        server.wait_for_log(|l| l == format!("[{half_peer}] closed by peer"), LOG_WAIT),
        "{}",
        server.log_text()
    );

    // Reset: send, then close with linger 0 (RST) before reading the reply.
    let reset = connect(server.addr()).unwrap();
    let reset_peer = reset.local_addr().unwrap();
    (&reset).write_all(&[b'r'; 50_000]).unwrap();
    socket2::SockRef::from(&reset)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(reset);
    let prefix = format!("[{reset_peer}] ");
    assert!(
        server.wait_for_log(
            |l| l.starts_with(&prefix) && (l.contains("failed") || l.contains("closed")),
            LOG_WAIT
        ),
        "the reset was not logged:\n{}",
        server.log_text()
    );

    // The first client's task never noticed.
    round_trip(&mut stays, b"after").unwrap();
    assert!(server.log_text().contains("connected; served by a task"));
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
