//! Section 七, sockets over UDP: boundaries kept, a lost datagram retried a bounded number of
//! times, a reply larger than the buffer reported as truncated.

use examples::udp_echo::{Client, RequestError, Server, CLIENT_BUF};
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(2);

fn start(drop_first: u64) -> Server {
    Server::start("127.0.0.1:0".parse().unwrap(), drop_first).unwrap()
}

fn client(addr: SocketAddr, timeout: Duration, attempts: u32) -> Client {
    Client::new(addr, timeout, attempts, CLIENT_BUF).unwrap()
}

#[test]
fn each_datagram_comes_back_as_one_with_its_own_length() {
    let server = start(0);
    let mut c = client(server.addr(), WAIT, 1);
    let sent: [&[u8]; 4] = [b"hello", b"world", b"", &[b'z'; CLIENT_BUF]];
    // All sent before anything is read: on TCP these would be one stream of bytes.
    for m in sent {
        c.send(m).unwrap();
    }
    for m in sent {
        let (bytes, d) = c.recv(WAIT).unwrap();
        assert_eq!(bytes, protocol::upper(m));
        assert_eq!((d.len, d.truncated), (m.len(), false));
    }
    let stats = server.stop().unwrap();
    assert_eq!((stats.received, stats.answered), (4, 4));
}

#[test]
fn a_lost_request_is_sent_again_and_answered() {
    let server = start(1);
    let mut c = client(server.addr(), Duration::from_millis(500), 3);
    let reply = c.request(b"are you there").unwrap();
    assert_eq!(reply.data, b"ARE YOU THERE");
    assert_eq!(reply.attempts, 2, "the first attempt was dropped");
    // Once nothing is lost, one attempt does.
    assert_eq!(c.request(b"again").unwrap().attempts, 1);
    let stats = server.stop().unwrap();
    assert_eq!((stats.received, stats.dropped, stats.answered), (3, 1, 2));
}

#[test]
fn retries_are_bounded_when_nothing_ever_comes_back() {
    let server = start(u64::MAX);
    let timeout = Duration::from_millis(100);
    let mut c = client(server.addr(), timeout, 3);
    match c.request(b"hello") {
        Err(RequestError::NoReply {
            attempts,
            timeout: t,
        }) => {
            assert_eq!((attempts, t), (3, timeout));
        }
        other => panic!("expected NoReply, got {other:?}"),
    }
    // Every attempt reached the server, and no more than the three.
    assert_eq!(server.stop().unwrap().received, 3);
}

#[test]
fn a_reply_larger_than_the_buffer_is_reported_truncated_not_cut_silently() {
    let server = start(0);
    let mut c = client(server.addr(), WAIT, 1);
    match c.request(&[b'x'; 3000]) {
        Err(RequestError::Truncated { len, buf }) => {
            assert_eq!(buf, CLIENT_BUF);
            // Linux reports the real length; elsewhere we only know it did not fit.
            if cfg!(target_os = "linux") {
                assert_eq!(len, 3000);
            } else {
                assert!(len >= buf);
            }
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    // The same size with a buffer that fits is fine.
    let mut big = Client::new(server.addr(), WAIT, 1, 4096).unwrap();
    assert_eq!(big.request(&[b'x'; 3000]).unwrap().data, vec![b'X'; 3000]);
}

#[test]
fn a_late_reply_to_an_earlier_attempt_is_skipped() {
    // The test plays the server by hand, to decide exactly what comes back when.
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server.set_read_timeout(Some(WAIT)).unwrap();
    let addr = server.local_addr().unwrap();
    let asking = thread::spawn(move || {
        let mut c = client(addr, Duration::from_millis(500), 3);
        c.request(b"new")
    });
    let mut buf = [0u8; 64];
    let (n, peer) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"new", "attempt 1, left unanswered");
    let (n, _) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"new", "attempt 2, after the timeout");
    server.send_to(b"OLD", peer).unwrap(); // a reply to some earlier request
    server.send_to(b"NEW", peer).unwrap();
    let reply = asking.join().unwrap().unwrap();
    assert_eq!(
        (reply.data, reply.attempts, reply.stale),
        (b"NEW".to_vec(), 2, 1)
    );
}

#[test]
fn a_closed_port_is_reported_as_refused() {
    // A port that was free a moment ago: nobody listens there now.
    let addr = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut c = client(addr, Duration::from_millis(500), 3);
    match c.request(b"hello") {
        // The ICMP "port unreachable" comes back to a connected UDP socket as ECONNREFUSED.
        Err(RequestError::Io(e)) => assert_eq!(e.kind(), ErrorKind::ConnectionRefused),
        other => panic!("expected ConnectionRefused, got {other:?}"),
    }
}
