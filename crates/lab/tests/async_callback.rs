//! `async-callback` as processes: a thousand connections on io_uring from one thread, the
//! pool backend's bound and its callbacks, the fallback when io_uring is forbidden, and the
//! client in its three modes. The shared scenarios and the never-reading client run for both
//! backends in `conformance.rs`.

mod common;

use lab::scenarios::{connect, round_trip};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn uring_serves_a_thousand_connections_at_once_from_one_thread() {
    let server = common::serve("async-callback", &["--backend", "uring"]);
    // The client is the io_uring load client: a thousand connections from its one thread.
    let s = common::load_passes("async-callback", server.addr(), 1000, 5);
    assert_eq!(s.bytes, 5000 * 64, "every byte of every reply was verified");
    let connected = server.log_text().matches("] connected").count();
    assert_eq!(connected, 1000, "the server saw every connection");
    let threads = lab::procfs::status(server.pid()).unwrap().threads;
    assert_eq!(threads, 1, "the uring server runs on one thread");
}

// ANCHOR: multishot_fallback
#[test]
fn without_multishot_the_multishot_backend_falls_back_to_uring_and_serves() {
    // The probe's override makes it answer as a kernel older than 6.0 would.
    let mut command = std::process::Command::new(common::lab());
    command
        .args(["serve", "async-callback", "--addr", "127.0.0.1:0"])
        .args(["--backend", "uring-multishot"])
        .env(async_callback::probe::DENY_MULTISHOT_ENV, "1");
    let server = lab::process::ServerProcess::start_command(command, "no multishot".into())
        .unwrap_or_else(|e| panic!("{e}"));
    let fell_back = |l: &str| {
        l.starts_with("io_uring multishot is unavailable")
            && l.contains(async_callback::probe::DENY_MULTISHOT_ENV)
            && l.ends_with("falling back to --backend uring")
    };
    assert!(
        server.wait_for_log(fell_back, Duration::from_secs(10)),
        "no fallback line:\n{}",
        server.log_text()
    );
    let mut stream = connect(server.addr()).unwrap();
    round_trip(&mut stream, b"served by plain uring").unwrap();
    let log = server.log_text();
    assert!(
        !log.contains("uring-multishot:"),
        "multishot started anyway:\n{log}"
    );
    assert_eq!(log.lines().filter(|l| fell_back(l)).count(), 1, "{log}");
}

#[test]
fn with_multishot_the_multishot_backend_says_so_and_does_not_fall_back() {
    let server = common::serve("async-callback", &["--backend", "uring-multishot"]);
    let mut stream = connect(server.addr()).unwrap();
    round_trip(&mut stream, b"served by multishot").unwrap();
    // The startup line goes to stderr, read by another thread than `listening on`: wait
    // for it rather than reading the log once.
    let said = |l: &str| {
        l.contains("uring-multishot: ") || l.contains("io_uring multishot is unavailable")
    };
    assert!(
        server.wait_for_log(said, Duration::from_secs(10)),
        "{}",
        server.log_text()
    );
    let log = server.log_text();
    if log.contains("io_uring multishot is unavailable") {
        println!("skipped: this kernel has no multishot:\n{log}");
        return;
    }
    assert!(log.contains("uring-multishot: "), "{log}");
}
// ANCHOR_END: multishot_fallback

#[test]
fn a_pool_of_two_serves_a_third_client_only_after_one_leaves() {
    let server = common::serve("async-callback", &["--backend", "pool", "--workers", "2"]);
    common::assert_a_pool_of_two_serves_a_third_client_only_after_one_leaves(&server);
    // The done-callback of the client that left logged how it ended, on its worker.
    assert!(
        server.wait_for_log(
            |l| l.contains("done: closed by peer") && l.contains("callback ran on worker-"),
            Duration::from_secs(10)
        ),
        "no done-callback line:\n{}",
        server.log_text()
    );
}

#[test]
fn the_clients_interactive_mode_reads_each_reply_by_length() {
    let server = common::serve("async-callback", &[]);
    common::check_interactive_client("async-callback", server.addr());
}

#[test]
fn the_pool_load_client_verifies_every_reply_too() {
    let server = common::serve("async-callback", &["--backend", "uring"]);
    let addr = server.addr().to_string();
    let out = common::client(
        "async-callback",
        &[
            "--addr",
            &addr,
            "--backend",
            "pool",
            "--conns",
            "20",
            "--rounds",
            "10",
            "--size",
            "3000",
            "--json",
        ],
        b"",
    );
    let s = common::passed(&out);
    assert_eq!((s.established, s.rounds, s.mismatches), (20, 200, 0));
}

#[test]
fn the_load_client_fails_on_a_wrong_reply() {
    common::check_load_client_fails_on_wrong_replies("async-callback");
}

#[test]
fn the_load_client_fails_when_nobody_listens() {
    common::check_load_client_fails_when_nobody_listens("async-callback");
    common::check_load_client_times_out_a_whole_round("async-callback");
}

// ANCHOR: seccomp
/// Runs `lab ARGS` in a process where `io_uring_setup` fails with EPERM, as under a
/// container's default seccomp profile: the situation the fallback exists for.
fn lab_without_io_uring(args: &[&str]) -> Child {
    let mut command = Command::new(common::lab());
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed: it builds a filter on the stack and calls
    // `prctl` twice, nothing else (no allocation, no lock).
    unsafe {
        command.pre_exec(|| {
            let nr = libc::SYS_io_uring_setup as u32;
            let errno = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
            // A = the syscall number; if A == io_uring_setup return EPERM, else allow.
            let filter = [
                bpf(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, 0),
                bpf(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, 0, 1, nr),
                bpf(libc::BPF_RET | libc::BPF_K, 0, 0, errno),
                bpf(libc::BPF_RET | libc::BPF_K, 0, 0, libc::SECCOMP_RET_ALLOW),
            ];
            let program = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr().cast_mut(),
            };
            // Unprivileged filters need no_new_privs; the filter applies to the exec'd lab.
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &program as *const libc::sock_fprog,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn().expect("start the lab without io_uring")
}
// ANCHOR_END: seccomp

fn bpf(code: u32, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// Waits (bounded) for `child` to exit and returns its output.
fn finish(child: Child) -> std::process::Output {
    let pid = child.id();
    let (done, output) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match output.recv_timeout(Duration::from_secs(30)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            // SAFETY: `kill` only sends a signal; the pid is our own unreaped child.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("the child did not exit in time");
        }
    }
}

#[test]
fn without_io_uring_an_explicit_uring_backend_refuses_to_start() {
    let child = lab_without_io_uring(&[
        "serve",
        "async-callback",
        "--addr",
        "127.0.0.1:0",
        "--backend",
        "uring",
    ]);
    let out = finish(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "it started: {stderr}");
    assert!(
        stderr.contains("--backend uring: io_uring is unavailable") && stderr.contains("seccomp"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "it announced an address");
}

#[test]
fn without_io_uring_the_default_falls_back_to_the_pool_and_serves() {
    let mut child = lab_without_io_uring(&["serve", "async-callback", "--addr", "127.0.0.1:0"]);
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, received) = mpsc::channel();
    let out_lines = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = out_lines.send(format!("stdout: {line}"));
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(format!("stderr: {line}"));
        }
    });
    let is_fallback =
        |l: &str| l.starts_with("stderr: io_uring is unavailable") && l.contains("--backend pool");
    let mut seen = Vec::new();
    let mut addr = None;
    let mut fell_back = false;
    // The server writes the fallback line before it binds, but stdout and stderr are read by
    // two threads, so their lines can reach this channel in either order: wait for both.
    while addr.is_none() || !fell_back {
        let Ok(line) = received.recv_timeout(Duration::from_secs(20)) else {
            let _ = child.kill();
            panic!("no `listening on` line or no fallback line; saw {seen:?}");
        };
        fell_back |= is_fallback(&line);
        if addr.is_none() {
            addr = line
                .strip_prefix("stdout: ")
                .and_then(protocol::announce::parse_announce);
        }
        seen.push(line);
    }
    let served = addr.map(|addr| {
        let mut stream = connect(addr)?;
        round_trip(&mut stream, b"served by the pool")
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(fell_back, "no fallback line: {seen:?}");
    served.unwrap().unwrap();
}

#[test]
fn without_io_uring_the_load_client_falls_back_too() {
    let server = common::serve("async-callback", &["--backend", "uring"]);
    let addr = server.addr().to_string();
    let child = lab_without_io_uring(&[
        "client",
        "async-callback",
        "--addr",
        &addr,
        "--conns",
        "5",
        "--rounds",
        "4",
        "--json",
    ]);
    let out = finish(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("falling back to --backend pool"),
        "{stderr}"
    );
    let s = common::summary(&out);
    assert_eq!((s.established, s.rounds, s.mismatches), (5, 20, 0));
}

#[test]
fn out_of_descriptors_each_backend_backs_off_and_logs_once_per_episode() {
    // 64 descriptors and 100 clients held open: `accept` fails with EMFILE until clients
    // leave. The uring server has 16 accepts in flight, each failing every back-off; the
    // pool server's workers hold 4 clients and it accepts the rest until it runs out. Either
    // way: one line when the episode starts, one when it ends, none between.
    const FDS: u64 = 64;
    const OPEN: usize = 100;
    for name in [
        "async-callback/uring",
        "async-callback/uring-multishot",
        "async-callback/pool",
    ] {
        let variant = lab::variants::find(name).unwrap();
        let server =
            lab::process::ServerProcess::start_variant_with_fd_limit(common::lab(), variant, FDS)
                .unwrap_or_else(|e| panic!("{e}"));
        let conns: Vec<_> = (0..OPEN).map(|_| connect(server.addr()).unwrap()).collect();
        let started = |l: &str| l.contains("accept: out of resources");
        assert!(
            server.wait_for_log(started, Duration::from_secs(10)),
            "{name}: no episode line:\n{}",
            server.log_text()
        );
        drop(conns);
        // Accepting works again once the clients leave; the episode's end says how many
        // attempts failed, all of them within this one episode.
        let ended = |l: &str| l.contains("accept: accepting again after");
        let text = || server.log_text();
        assert!(
            server.wait_for_log(ended, Duration::from_secs(10)),
            "{name}: the episode never ended:\n{}",
            text()
        );
        let log = text();
        let failures: u64 = log
            .lines()
            .find_map(|l| {
                l.split("accepting again after ")
                    .nth(1)?
                    .split(' ')
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap_or(0);
        println!("{name}: one episode of {failures} failed accepts");
        assert_eq!(log.lines().filter(|l| started(l)).count(), 1, "{log}");
        assert!(!log.contains("accept failed"), "a line per failure:\n{log}");
        assert!(failures >= 1, "{log}");
    }
}
