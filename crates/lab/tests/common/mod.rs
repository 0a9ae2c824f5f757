//! Shared by the lab's process-level tests.
#![allow(dead_code)]

use lab::process::ServerProcess;
use lab::variants::Variant;
use std::path::Path;
use std::process::{Command, Output, Stdio};

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

/// A broken server for the negative tests: it echoes without upper-casing, so every reply a
/// load client checks is a mismatch. Serves its first `conns` connections, then stops.
pub fn echo_without_upper(conns: usize) -> std::net::SocketAddr {
    let echo = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the broken server");
    let addr = echo.local_addr().expect("its address");
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

/// Runs `krate`'s interactive client against `addr` with a scripted stdin (an empty line, and
/// spaces to strip) and asserts the notes' `>>: ` transcript, each reply read by its length.
pub fn interactive_client_works(krate: &str, addr: std::net::SocketAddr) {
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
