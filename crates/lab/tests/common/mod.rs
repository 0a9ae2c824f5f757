//! Shared by the lab's process-level tests.
#![allow(dead_code)]

use lab::process::ServerProcess;
use lab::scenarios::{connect, round_trip};
use lab::variants::Variant;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The lab binary cargo built for these tests: it runs every crate's server by name, so the
/// five binaries called `server` never have to be told apart.
pub fn lab() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lab"))
}

/// Starts `krate`'s server with `args` on port 0, panicking with its output if it fails.
pub fn serve(krate: &str, args: &[&str]) -> ServerProcess {
    ServerProcess::start(lab(), krate, args).unwrap_or_else(|e| panic!("{e}"))
}

pub fn serve_variant(variant: &Variant) -> ServerProcess {
    ServerProcess::start_variant(lab(), variant, &[]).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `lab client KRATE ARGS` with `stdin` as its input, to completion.
pub fn client(krate: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(lab())
        .args(["client", krate])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the lab client");
    if let Some(mut input) = child.stdin.take() {
        use std::io::Write;
        input.write_all(stdin).expect("write the client's stdin");
    }
    child.wait_with_output().expect("wait for the lab client")
}

/// Parses the JSON summary line a load client printed last.
pub fn summary(output: &Output) -> protocol::load::Summary {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "no JSON summary ({e}) in stdout {stdout:?}; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// A server that echoes without upper-casing, on a thread of this test process, serving
/// `conns` connections: every reply it sends is wrong, so a load client must fail.
pub fn wrong_echo_server(conns: usize) -> std::net::SocketAddr {
    let echo = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the echo server");
    let addr = echo.local_addr().expect("the echo server's address");
    std::thread::spawn(move || {
        for stream in echo.incoming().take(conns).flatten() {
            let Ok(mut writer) = stream.try_clone() else {
                continue;
            };
            let mut reader = stream;
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut reader, &mut writer);
            });
        }
    });
    addr
}

/// An address where nobody listens: bound once to learn a free port, then closed.
pub fn closed_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("learn a free port")
}

/// Runs `krate`'s interactive client against `addr` with two lines and an empty one, and
/// checks it printed each reply, read by its length, and asked again after the empty line.
pub fn check_interactive_client(krate: &str, addr: std::net::SocketAddr) {
    let addr = addr.to_string();
    let out = client(krate, &["--addr", &addr], b"hello\n\n  world \n");
    assert!(
        out.status.success(),
        "{krate}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        ">>: HELLO\n>>: >>: WORLD\n>>: \n",
        "{krate}"
    );
}

/// Checks that `krate`'s load client exits non-zero, counting every round as a mismatch,
/// against a server whose replies are all wrong.
pub fn check_load_client_fails_on_wrong_replies(krate: &str) {
    let addr = wrong_echo_server(2).to_string();
    let out = client(
        krate,
        &["--addr", &addr, "--conns", "2", "--rounds", "3", "--json"],
        b"",
    );
    let s = summary(&out);
    assert!(!out.status.success(), "{krate}");
    assert_eq!((s.rounds, s.mismatches), (6, 6), "{krate}");
}

/// Checks that `krate`'s load client exits non-zero, counting every connection as failed,
/// when nobody listens.
pub fn check_load_client_fails_when_nobody_listens(krate: &str) {
    let addr = closed_port().to_string();
    let out = client(krate, &["--addr", &addr, "--conns", "3", "--json"], b"");
    let s = summary(&out);
    assert!(!out.status.success(), "{krate}");
    assert_eq!((s.established, s.errors), (0, 3), "{krate}");
}

/// Runs `krate`'s load client against `addr` with `conns` connections of `rounds` round trips
/// each, and asserts that every connection was established and every reply verified.
pub fn load_passes(
    krate: &str,
    addr: std::net::SocketAddr,
    conns: usize,
    rounds: u64,
) -> protocol::load::Summary {
    let (addr, conns_arg, rounds_arg) = (addr.to_string(), conns.to_string(), rounds.to_string());
    let args = [
        "--addr",
        &addr,
        "--conns",
        &conns_arg,
        "--rounds",
        &rounds_arg,
        "--json",
    ];
    let out = client(krate, &args, b"");
    let s = summary(&out);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        (s.established, s.rounds, s.mismatches, s.errors),
        (conns as u64, conns as u64 * rounds, 0, 0)
    );
    s
}

/// Parses the summary of a load run that must have passed, with the client's stderr in the
/// panic if it did not.
pub fn passed(output: &Output) -> protocol::load::Summary {
    assert!(
        output.status.success(),
        "the load client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    summary(output)
}

/// Proves a client got no reply yet: a read that times out (the reply is not there) rather
/// than returning data. Bounded; the order of events is what the tests assert.
pub fn assert_no_reply_yet(stream: &mut TcpStream) {
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!("expected no reply yet, got {other:?}"),
    }
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
}

/// The pool bound, for a server started with two workers: clients A and B hold both, a third
/// is accepted but answered only after B leaves (order, not time), and A is still served.
pub fn assert_a_pool_of_two_serves_a_third_client_only_after_one_leaves(server: &ServerProcess) {
    let mut a = connect(server.addr()).unwrap();
    let mut b = connect(server.addr()).unwrap();
    round_trip(&mut a, b"a").unwrap();
    round_trip(&mut b, b"b").unwrap();

    let mut c = connect(server.addr()).unwrap();
    c.write_all(b"third").unwrap();
    assert!(
        server.wait_for_log(
            |l| l.contains("waits for a free worker"),
            Duration::from_secs(10)
        ),
        "the server did not log that the third client waits:\n{}",
        server.log_text()
    );
    assert_no_reply_yet(&mut c);

    drop(b);
    let mut reply = [0u8; 5];
    c.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"THIRD");
    // The remaining worker still serves its own client.
    round_trip(&mut a, b"still here").unwrap();
}

/// A server on a thread of this test process that answers every 64-byte message correctly
/// but one byte every 50 ms: each read a client makes succeeds well inside any per-read
/// timeout, while a whole reply takes 3.2 s.
pub fn trickling_server() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the trickler");
    let addr = listener.local_addr().expect("the trickler's address");
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4).flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut message = [0u8; 64];
                while stream.read_exact(&mut message).is_ok() {
                    for b in message.to_ascii_uppercase() {
                        // Pacing, not synchronisation: the point is a slow reply.
                        std::thread::sleep(Duration::from_millis(50));
                        if stream.write_all(&[b]).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

/// Checks that `krate`'s load client gives up on a round trip once `--timeout` (0.5 s) has
/// passed since the round began, however steadily the bytes trickle in.
pub fn check_load_client_times_out_a_whole_round(krate: &str) {
    let addr = trickling_server().to_string();
    let started = std::time::Instant::now();
    let out = client(
        krate,
        &[
            "--addr",
            &addr,
            "--conns",
            "1",
            "--rounds",
            "1",
            "--size",
            "64",
            "--timeout",
            "0.5",
            "--json",
        ],
        b"",
    );
    let took = started.elapsed();
    let s = summary(&out);
    assert!(
        !out.status.success(),
        "{krate}: a 3.2 s reply passed a 0.5 s timeout"
    );
    assert_eq!((s.rounds, s.errors), (0, 1), "{krate}");
    assert!(
        took < Duration::from_secs(3),
        "{krate}: the client took {took:?}: --timeout bounded each read, not the round"
    );
}

/// A half-close gets every reply then EOF, and a reset (linger 0, reply unread) is logged and
/// ends only its own connection: `stays`, connected before both, is still served after.
/// `served_by` is the words the server logs for a new connection ("served by a task").
pub fn assert_a_reset_or_a_half_close_ends_only_its_own_connection(
    server: &ServerProcess,
    served_by: &str,
) {
    const LOG_WAIT: Duration = Duration::from_secs(10);
    let mut stays = connect(server.addr()).unwrap();
    round_trip(&mut stays, b"before").unwrap();

    // Half-close: send, shut down writing, still get the whole reply, then EOF.
    let mut half = connect(server.addr()).unwrap();
    let half_peer = half.local_addr().unwrap();
    let message = protocol::load::Messages::new(9, 0).next_message(20_000);
    half.write_all(&message).unwrap();
    half.shutdown(std::net::Shutdown::Write).unwrap();
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

    // The first client's connection never noticed.
    round_trip(&mut stays, b"after").unwrap();
    assert!(
        server.log_text().contains(served_by),
        "{}",
        server.log_text()
    );
}
