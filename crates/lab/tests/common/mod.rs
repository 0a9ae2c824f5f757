//! Shared by the lab's process-level tests.
#![allow(dead_code)]

use lab::process::ServerProcess;
use lab::scenarios::{connect, round_trip};
use lab::variants::Variant;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
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

/// A server that echoes without upper-casing, for its first two connections: every reply a
/// load client gets from it must count as a mismatch.
pub fn plain_echo_server() -> SocketAddr {
    let echo = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = echo.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in echo.incoming().take(2).flatten() {
            let mut writer = stream.try_clone().unwrap();
            let mut reader = stream;
            std::thread::spawn(move || std::io::copy(&mut reader, &mut writer));
        }
    });
    addr
}

/// The notes' `>>: ` client of `krate` against a server at `addr`: an empty line asks again,
/// each reply is read by its length, end of input exits cleanly.
pub fn assert_interactive_client_reads_each_reply_by_length(krate: &str, addr: SocketAddr) {
    let out = client(
        krate,
        &["--addr", &addr.to_string()],
        b"hello\n\n  world \n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        ">>: HELLO\n>>: >>: WORLD\n>>: \n"
    );
}
