//! Signal-driven I/O: a UDP echo-upper server woken by `SIGIO`, over loopback, in-process.
//!
//! One `SigioServer` per process (the SIGIO handler is process-wide), so the tests take
//! turns through `ONE_AT_A_TIME`.
#![cfg(target_os = "linux")]

use examples::sigio_udp::{receive, send_burst, SigioServer, Spawned};
use protocol::load::reply_matches;
use std::io::ErrorKind;
use std::net::UdpSocket;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
const WAIT: Duration = Duration::from_secs(2);

fn turn() -> MutexGuard<'static, ()> {
    // A test that failed while holding the lock does not make the others fail too.
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn a_burst_queued_while_blocked_is_drained_after_one_signal() {
    let _turn = turn();
    let mut server = Spawned::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sent = send_burst(&client, server.addr(), 32).unwrap();
    server.go();
    let mut replies = receive(&client, sent.len(), WAIT).unwrap();
    replies.sort();
    assert!(sent.iter().zip(&replies).all(|(s, r)| reply_matches(s, r)));
    let stats = server.stop().unwrap();
    assert_eq!(stats.datagrams, 32 + 1, "the burst, and the stop datagram");
    // Signals do not queue: many arrivals, few signals, and one wakeup drained several.
    assert!(stats.max_per_wakeup >= 2, "{stats:?}");
    assert!(stats.signals < 32, "{stats:?}");
    assert!(stats.wakeups <= stats.signals, "{stats:?}");
}

#[test]
fn datagrams_one_at_a_time_from_several_clients_are_each_answered() {
    let _turn = turn();
    let mut server = Spawned::start("127.0.0.1:0".parse().unwrap()).unwrap();
    server.go();
    let clients: Vec<UdpSocket> = (0..3)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    for round in 0..5 {
        for (i, c) in clients.iter().enumerate() {
            let message = format!("client {i} round {round} \u{e9}");
            c.send_to(message.as_bytes(), server.addr()).unwrap();
            let reply = receive(c, 1, WAIT).unwrap();
            assert!(reply_matches(message.as_bytes(), &reply[0]), "{reply:?}");
        }
    }
    let stats = server.stop().unwrap();
    assert_eq!(stats.datagrams, 15 + 1);
    // No fixed number of signals: a reply can reach its client, and the next request
    // arrive, while the loop is still draining; that wakeup then serves both, and the
    // signal the second one raised finds nothing left (an empty wakeup).
    assert!(stats.signals >= 1, "{stats:?}");
    assert!(stats.wakeups <= stats.signals, "{stats:?}");
    assert!(stats.empty_wakeups < stats.wakeups, "{stats:?}");
}

#[test]
fn a_second_server_in_the_same_process_is_refused_with_a_reason() {
    let _turn = turn();
    let first = SigioServer::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let err = SigioServer::bind("127.0.0.1:0".parse().unwrap())
        .err()
        .expect("a second SigioServer must be refused");
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    assert!(err.to_string().contains("process-wide"), "{err}");
    drop(first);
    // Once the first is gone, the process may have another.
    assert!(SigioServer::bind("127.0.0.1:0".parse().unwrap()).is_ok());
}
