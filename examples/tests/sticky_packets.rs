//! Section 七, sticky packets (粘包): the bug happens over loopback, the length header fixes
//! it, and a header over the maximum costs only its own connection.

use examples::sticky_packets::{
    announce_too_much, messages, with_header, without_header, FramedServer, LARGE_LEN, SMALL,
};
use protocol::framing::{self, Decoded, Decoder, MAX_FRAME};
use protocol::limits::READ_SIZE;
use protocol::load::reply_matches;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn start() -> FramedServer {
    FramedServer::start("127.0.0.1:0".parse().unwrap(), MAX_FRAME).unwrap()
}

fn connect(server: &FramedServer) -> TcpStream {
    let stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

/// Reads until `count` frames have been decoded.
fn read_frames(stream: &mut TcpStream, count: usize) -> Vec<Vec<u8>> {
    let mut decoder = Decoder::default();
    let mut frames = Vec::new();
    let mut buf = [0u8; READ_SIZE];
    while frames.len() < count {
        let n = stream.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "server closed after {} of {count} frames",
            frames.len()
        );
        decoder.push(&buf[..n]);
        while let Decoded::Frame(frame) = decoder.decode().unwrap() {
            frames.push(frame);
        }
    }
    frames
}

#[test]
fn without_a_header_two_sends_stick_together_and_one_large_send_comes_in_pieces() {
    let run = without_header().unwrap();
    assert_eq!(run.sent.len(), 3);
    // Two messages, one read: the server cannot tell where "hello" ended.
    assert_eq!(run.reads[0], [SMALL[0], SMALL[1]].concat());
    // One message, several reads, none larger than recv(1024).
    let pieces = &run.reads[1..];
    assert!(
        pieces.len() >= LARGE_LEN / READ_SIZE,
        "{} reads",
        pieces.len()
    );
    assert!(pieces.iter().all(|p| !p.is_empty() && p.len() <= READ_SIZE));
    // Every byte arrived, in order: only the boundaries are lost.
    assert_eq!(pieces.concat(), run.sent[2]);
    assert_ne!(run.reads.len(), run.sent.len());
}

#[test]
fn with_a_header_the_same_exchange_comes_back_message_by_message() {
    let server = start();
    let run = with_header(server.addr()).unwrap();
    assert_eq!(run.replies.len(), run.sent.len());
    for (sent, reply) in run.sent.iter().zip(&run.replies) {
        assert!(reply_matches(sent, reply), "{} bytes", sent.len());
    }
    assert!(run.reads >= LARGE_LEN / READ_SIZE, "{} reads", run.reads);
}

#[test]
fn frames_glued_in_one_write_or_trickled_byte_by_byte_are_all_served() {
    let server = start();
    let mut stream = connect(&server);
    stream.set_nodelay(true).unwrap();
    let sent = messages();
    let mut wire = Vec::new();
    for m in &sent {
        framing::encode_into(&mut wire, m).unwrap();
    }
    // All three frames in one send.
    stream.write_all(&wire).unwrap();
    let replies = read_frames(&mut stream, sent.len());
    assert!(sent.iter().zip(&replies).all(|(s, r)| reply_matches(s, r)));
    // One small frame, one byte per send.
    for byte in framing::encode(b"trickle").unwrap() {
        stream.write_all(&[byte]).unwrap();
    }
    assert_eq!(read_frames(&mut stream, 1), vec![b"TRICKLE".to_vec()]);
}

#[test]
fn a_header_over_the_maximum_drops_only_its_own_connection() {
    let server = start();
    let mut bystander = connect(&server);
    bystander
        .write_all(&framing::encode(b"before").unwrap())
        .unwrap();
    assert_eq!(read_frames(&mut bystander, 1), vec![b"BEFORE".to_vec()]);

    // Refused on the header alone: the server does not wait for 4 GiB, nor for 64 KiB + 1.
    announce_too_much(server.addr(), u32::MAX).unwrap();
    announce_too_much(server.addr(), MAX_FRAME as u32 + 1).unwrap();

    // The connection that was already open, and a new one, are still served.
    bystander
        .write_all(&framing::encode(b"after").unwrap())
        .unwrap();
    assert_eq!(read_frames(&mut bystander, 1), vec![b"AFTER".to_vec()]);
    assert_eq!(with_header(server.addr()).unwrap().replies.len(), 3);
}

#[test]
fn replies_owed_before_a_bad_header_are_still_sent() {
    let server = start();
    let mut stream = connect(&server);
    let mut wire = framing::encode(b"owed").unwrap();
    wire.extend_from_slice(&u32::MAX.to_be_bytes());
    stream.write_all(&wire).unwrap();
    assert_eq!(read_frames(&mut stream, 1), vec![b"OWED".to_vec()]);
    let mut rest = Vec::new();
    // Then the server closes: EOF (or a reset, if it had unread bytes when it closed).
    match stream.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty(), "{} unexpected bytes", rest.len()),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
    }
}
