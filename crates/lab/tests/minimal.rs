//! The notes' programs in minimal Rust (`crates/*/examples/notes_*.rs`) against every shared
//! scenario, beside their crates' production variants: which scenarios each passes and
//! fails is data, recorded in [`EXPECTED`], so a minimal program that starts passing a
//! scenario it should fail (a bug of the notes silently fixed) or the reverse is caught.
//!
//! `cargo lab minimal-table` runs the same checks and writes the book's table.
//! While working on one program: `LAB_ONLY=nonblocking-b LAB_SCENARIO=reset cargo test -p
//! lab --test minimal`.

mod common;

use lab::minimal::{Verdict, PROGRAMS};
use lab::variants::{find, VARIANTS};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// What a scenario must do against a variant.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Pass,
    /// Fails, for the reason given (the notes' bug it shows).
    Fail(&'static str),
    /// Not run (its cap, or `lab::minimal::SKIPS`).
    Skip,
    /// Seen both ways from one run to the next, for the reason given: recorded as data,
    /// checked only to have run.
    Varies(&'static str),
}
use Expect::{Fail, Pass, Skip, Varies};

/// Every (variant, scenario) the test runs; a pair missing here fails the test.
const EXPECTED: &[(&str, &str, Expect)] = &[
    ("minimal/notes-gevent-server", "correct reply", Pass),
    ("minimal/notes-gevent-server", "all 256 byte values", Pass),
    ("minimal/notes-gevent-server", "half-close", Pass),
    ("minimal/notes-gevent-server", "8 MiB message", Pass),
    ("minimal/notes-gevent-server", "disconnect mid-reply", Pass),
    ("minimal/notes-gevent-server", "200 resets", Pass),
    (
        "minimal/notes-gevent-server",
        "200 concurrent clients",
        Pass,
    ),
    ("minimal/notes-gevent-server", "slow reader", Skip),
    ("minimal/notes-gevent-server", "flood fairness", Skip),
    (
        "minimal/notes-gevent-server",
        "lost replies",
        Fail("a short write's tail is dropped (send count ignored)"),
    ),
    ("minimal/notes-gevent-server", "closed sockets", Pass),
    (
        "minimal/notes-gevent-server",
        "reset while a reply waits",
        Pass,
    ),
    ("minimal/notes-gevent-server", "back to back", Pass),
    ("minimal/notes-gevent-server", "queued twice", Pass),
    ("minimal/notes-blocking-server", "correct reply", Pass),
    ("minimal/notes-blocking-server", "all 256 byte values", Pass),
    ("minimal/notes-blocking-server", "half-close", Pass),
    ("minimal/notes-blocking-server", "8 MiB message", Pass),
    (
        "minimal/notes-blocking-server",
        "disconnect mid-reply",
        Fail("the added reply's send fails with EPIPE, which stops the server"),
    ),
    (
        "minimal/notes-blocking-server",
        "200 resets",
        Fail("a reset on the reply's send stops the server"),
    ),
    (
        "minimal/notes-blocking-server",
        "200 concurrent clients",
        Skip,
    ),
    ("minimal/notes-blocking-server", "slow reader", Skip),
    ("minimal/notes-blocking-server", "flood fairness", Skip),
    ("minimal/notes-blocking-server", "lost replies", Pass),
    ("minimal/notes-blocking-server", "closed sockets", Pass),
    (
        "minimal/notes-blocking-server",
        "reset while a reply waits",
        Fail("a reset on the reply's send stops the server"),
    ),
    ("minimal/notes-blocking-server", "back to back", Pass),
    ("minimal/notes-blocking-server", "queued twice", Pass),
    ("minimal/notes-nonblocking-a", "correct reply", Pass),
    ("minimal/notes-nonblocking-a", "all 256 byte values", Pass),
    ("minimal/notes-nonblocking-a", "half-close", Skip),
    ("minimal/notes-nonblocking-a", "8 MiB message", Pass),
    (
        "minimal/notes-nonblocking-a",
        "disconnect mid-reply",
        Varies("passes or stops on the reset, by timing"),
    ),
    (
        "minimal/notes-nonblocking-a",
        "200 resets",
        Fail("a reset is not caught: the server stops"),
    ),
    (
        "minimal/notes-nonblocking-a",
        "200 concurrent clients",
        Pass,
    ),
    ("minimal/notes-nonblocking-a", "slow reader", Skip),
    ("minimal/notes-nonblocking-a", "flood fairness", Skip),
    (
        "minimal/notes-nonblocking-a",
        "lost replies",
        Fail("a reply the socket refuses is dropped"),
    ),
    (
        "minimal/notes-nonblocking-a",
        "closed sockets",
        Fail("closed sockets stay in r_list"),
    ),
    (
        "minimal/notes-nonblocking-a",
        "reset while a reply waits",
        Fail("a reset is not caught: the server stops"),
    ),
    ("minimal/notes-nonblocking-a", "back to back", Pass),
    ("minimal/notes-nonblocking-a", "queued twice", Pass),
    ("minimal/notes-nonblocking-b", "correct reply", Pass),
    ("minimal/notes-nonblocking-b", "all 256 byte values", Pass),
    ("minimal/notes-nonblocking-b", "half-close", Pass),
    ("minimal/notes-nonblocking-b", "8 MiB message", Pass),
    (
        "minimal/notes-nonblocking-b",
        "disconnect mid-reply",
        Varies(
            "stops when the reset reaches its recv first (it closes the socket, then sends \
             on it: EPIPE, uncaught); survives when its send meets the reset first (caught \
             there); `reset while a reply waits` forces the first order and always fails it",
        ),
    ),
    ("minimal/notes-nonblocking-b", "200 resets", Pass),
    (
        "minimal/notes-nonblocking-b",
        "200 concurrent clients",
        Pass,
    ),
    ("minimal/notes-nonblocking-b", "slow reader", Skip),
    ("minimal/notes-nonblocking-b", "flood fairness", Skip),
    (
        "minimal/notes-nonblocking-b",
        "lost replies",
        Fail("a short send's tail is dropped"),
    ),
    ("minimal/notes-nonblocking-b", "closed sockets", Pass),
    (
        "minimal/notes-nonblocking-b",
        "reset while a reply waits",
        Fail("sends on a socket it closed: EPIPE stops it"),
    ),
    ("minimal/notes-nonblocking-b", "back to back", Pass),
    ("minimal/notes-nonblocking-b", "queued twice", Pass),
    ("minimal/notes-select-server", "correct reply", Pass),
    ("minimal/notes-select-server", "all 256 byte values", Pass),
    (
        "minimal/notes-select-server",
        "half-close",
        Fail("two reads before a send: w_data overwritten"),
    ),
    (
        "minimal/notes-select-server",
        "8 MiB message",
        Fail("KeyError"),
    ),
    (
        "minimal/notes-select-server",
        "disconnect mid-reply",
        Fail("select on a closed socket"),
    ),
    (
        "minimal/notes-select-server",
        "200 resets",
        Varies(
            "survives when recv meets the reset (ConnectionResetError is caught there); \
             stops when select reports the socket writable first and the queued reply's send \
             meets it (uncaught)",
        ),
    ),
    (
        "minimal/notes-select-server",
        "200 concurrent clients",
        Fail("KeyError"),
    ),
    ("minimal/notes-select-server", "slow reader", Skip),
    ("minimal/notes-select-server", "flood fairness", Skip),
    (
        "minimal/notes-select-server",
        "lost replies",
        Fail("KeyError"),
    ),
    ("minimal/notes-select-server", "closed sockets", Pass),
    (
        "minimal/notes-select-server",
        "reset while a reply waits",
        Fail("select on a socket closed while queued"),
    ),
    (
        "minimal/notes-select-server",
        "back to back",
        Fail("w_data overwritten: the first reply is lost"),
    ),
    (
        "minimal/notes-select-server",
        "queued twice",
        Fail("w_list holds it twice: KeyError stops the server"),
    ),
];

impl Expect {
    /// Why it fails or varies, for the failure message.
    fn why(self) -> &'static str {
        match self {
            Fail(why) | Varies(why) => why,
            Pass | Skip => "",
        }
    }
}

fn expected(variant: &str, scenario: &str) -> Option<Expect> {
    EXPECTED
        .iter()
        .find(|(v, s, _)| *v == variant && *s == scenario)
        .map(|(_, _, e)| *e)
}

#[test]
fn every_minimal_program_passes_and_fails_what_it_should() {
    let only = std::env::var("LAB_ONLY").unwrap_or_default();
    let scenario = std::env::var("LAB_SCENARIO").unwrap_or_default();
    // Each minimal variant. Their crates' production variants must pass every scenario,
    // which `conformance.rs` checks; the book's table shows both side by side.
    let names: Vec<&str> = PROGRAMS
        .iter()
        .map(|p| format!("minimal/{}", p.name))
        .filter_map(|n| find(&n).map(|v| v.name))
        .collect();
    let mut wrong = Vec::new();
    for name in names.into_iter().filter(|n| n.contains(&only)) {
        let variant = find(name).expect("listed above");
        let cells = lab::minimal::check(common::lab(), variant, &scenario)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for cell in cells {
            println!(
                "{} / {} ({:.1?}): {:?}",
                cell.variant, cell.scenario, cell.elapsed, cell.verdict
            );
            let ok = matches!(
                (expected(cell.variant, cell.scenario), &cell.verdict),
                (Some(Pass), Verdict::Pass)
                    | (Some(Fail(_)), Verdict::Fail(_))
                    | (Some(Skip), Verdict::Skipped(_))
                    | (Some(Varies(_)), Verdict::Pass | Verdict::Fail(_))
            );
            if !ok {
                let want = expected(cell.variant, cell.scenario);
                wrong.push(format!(
                    "{} / {}: expected {want:?} ({}), got {:?}",
                    cell.variant,
                    cell.scenario,
                    want.map_or("not in EXPECTED", Expect::why),
                    cell.verdict
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "unexpected outcomes:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_minimal_program_is_a_minimal_variant_and_has_a_production_one() {
    for p in PROGRAMS {
        let v = find(&format!("minimal/{}", p.name))
            .unwrap_or_else(|| panic!("{} has no variant", p.name));
        assert!(v.minimal && v.krate == p.name, "{}", v.name);
        let production = find(p.production).unwrap_or_else(|| panic!("no {}", p.production));
        assert!(!production.minimal, "{} is compared with itself", p.name);
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(p.file);
        assert!(file.exists(), "{} is not at {}", p.name, p.file);
    }
    assert_eq!(
        VARIANTS.iter().filter(|v| v.minimal).count(),
        PROGRAMS.len(),
        "a minimal variant without a program"
    );
}

#[test]
fn the_expected_table_names_only_real_variants_and_scenarios() {
    for (v, s, _) in EXPECTED {
        assert!(find(v).is_some(), "no variant {v}");
        assert!(
            lab::scenarios::SCENARIOS.iter().any(|sc| sc.name == *s),
            "no scenario {s}"
        );
    }
}

/// A connected pair on loopback: (client, server's end).
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    for s in [&client, &server] {
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
    }
    (client, server)
}

/// Waits, at most 5 s, until `fd` reports one of `events` (POLLERR and POLLHUP always
/// count); returns what it reported.
fn wait_for(fd: std::os::fd::RawFd, events: libc::c_short) -> libc::c_short {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: `p` is one valid pollfd for an open descriptor, and the count says one.
    let ready = unsafe { libc::poll(&mut p, 1, 5000) };
    assert_eq!(ready, 1, "nothing reported on fd {fd} within 5 s");
    p.revents
}

/// What the notes' two branches (`if not data` "for Linux", `except ConnectionResetError`
/// "for Windows") meet on Linux, checked. A client that closes normally sends a FIN: `recv`
/// returns 0 bytes, on Linux and on Windows alike. A client that closes with data still
/// unread in its socket (or with SO_LINGER 0) sends a RST, and Linux reports it as
/// ECONNRESET too, once: bytes that arrived before it are read first, the next `recv` fails
/// with ECONNRESET, and after that `recv` returns 0 and `send` fails with EPIPE. (Windows
/// reports a reset on a client killed with its socket open, which Linux closes with a FIN.)
#[test]
fn linux_reports_a_fin_as_eof_and_a_reset_once_as_econnreset() {
    let mut buf = [0u8; 16];
    let (client, mut server) = pair();
    drop(client);
    assert_eq!(server.read(&mut buf).expect("a FIN is no error"), 0);

    let (mut client, mut server) = pair();
    client.write_all(b"abc").expect("send");
    server.write_all(b"reply").expect("reply");
    // The reply is in the client's socket, unread: closing now is a reset.
    wait_for(client.as_raw_fd(), libc::POLLIN);
    drop(client);
    let revents = wait_for(server.as_raw_fd(), 0);
    assert!(
        revents & libc::POLLERR != 0,
        "no error reported: {revents:#x}"
    );
    assert_eq!(server.read(&mut buf).expect("data before the reset"), 3);
    let reset = server.read(&mut buf).expect_err("the reset");
    assert_eq!(reset.kind(), std::io::ErrorKind::ConnectionReset);
    assert_eq!(server.read(&mut buf).expect("then EOF"), 0);
    let pipe = server.write(b"x").expect_err("sending after a reset");
    assert_eq!(pipe.kind(), std::io::ErrorKind::BrokenPipe);
}
