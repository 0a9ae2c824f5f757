//! Every server variant in the lab's table against every shared scenario.
//!
//! A variant whose cap (by design) is below what a scenario needs is excused with the
//! reason printed; what it does instead is asserted in that crate's own test file.

mod common;

use lab::process::ServerProcess;
use lab::scenarios::{self, SCENARIOS};

use lab::variants::{Variant, VARIANTS};
use std::net::TcpStream;
use std::time::Duration;

/// The variants to check: all of them, or while working on one crate, those whose name
/// contains `LAB_ONLY` (`LAB_ONLY=multiplexing/ cargo test -p lab --test conformance`).
/// The notes' minimal programs are left out: they keep the notes' bugs on purpose, and
/// `tests/minimal.rs` checks which scenarios each fails.
fn variants() -> impl Iterator<Item = &'static lab::variants::Variant> {
    let only = std::env::var("LAB_ONLY").unwrap_or_default();
    VARIANTS
        .iter()
        .filter(move |v| !v.minimal && v.name.contains(&only))
}

/// Likewise for scenarios, with `LAB_SCENARIO`.
fn scenarios() -> impl Iterator<Item = &'static scenarios::Scenario> {
    let only = std::env::var("LAB_SCENARIO").unwrap_or_default();
    SCENARIOS.iter().filter(move |s| s.name.contains(&only))
}

/// Whether the whole table is being checked (no filter): only then is the count asserted.
fn unfiltered() -> bool {
    std::env::var_os("LAB_ONLY").is_none() && std::env::var_os("LAB_SCENARIO").is_none()
}

#[test]
fn every_variant_passes_every_scenario_it_can() {
    let mut failures = Vec::new();
    let mut ran = 0;
    for variant in variants() {
        let mut server = common::serve_variant(variant);
        for scenario in scenarios() {
            if let Err(why) = variant.serves(scenario.concurrent) {
                println!("excused: {} / {}: {why}", variant.name, scenario.name);
                continue;
            }
            ran += 1;
            let target = scenarios::Target {
                addr: server.addr(),
                pid: Some(server.pid()),
            };
            if let Err(err) = (scenario.run)(&target) {
                failures.push(format!("{} / {}: {err}", variant.name, scenario.name));
            }
            if !server.is_running() {
                failures.push(format!(
                    "{} died during {}; its output:\n{}",
                    variant.name,
                    scenario.name,
                    server.log_text()
                ));
                server = common::serve_variant(variant);
            }
        }
        println!("checked {}", variant.name);
    }
    assert!(
        !unfiltered() || ran >= VARIANTS.iter().filter(|v| !v.minimal).count() * 5,
        "too few scenarios ran: {ran}"
    );
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

#[test]
fn a_server_that_breaks_the_service_fails_the_scenarios() {
    // The scenarios must be able to fail: a plain echo server (no upper-casing) must not pass
    // `correct reply`, and a server that closes at once must not pass `half-close`.
    let echo = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = echo.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in echo.incoming().take(2) {
            let mut stream = stream.unwrap();
            let mut reader = stream.try_clone().unwrap();
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut reader, &mut stream);
            });
        }
    });
    assert!(lab::scenarios::correct_reply(addr).is_err());
    assert!(lab::scenarios::all_byte_values(addr).is_err());
}

#[test]
fn no_variant_grows_under_a_never_reading_client() {
    const TOTAL: usize = 64 * 1024 * 1024;
    for variant in variants() {
        // The check serves a second client while the first never reads.
        if let Err(why) = variant.serves(2) {
            println!("excused: {}: {why}", variant.name);
            continue;
        }
        let server = common::serve_variant(variant);
        let seen = lab::scenarios::never_reading_client(server.addr(), server.pid(), TOTAL)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", variant.name, server.log_text()));
        println!(
            "{}: took {} bytes, grew {} KiB",
            variant.name, seen.written, seen.growth_kib
        );
        assert!(
            seen.growth_kib < 16 * 1024,
            "{} grew by {} KiB under a client that never reads",
            variant.name,
            seen.growth_kib
        );
    }
}

#[test]
fn no_variant_spins_or_stops_when_out_of_descriptors() {
    for variant in variants() {
        out_of_descriptors(variant, scenarios::round_trip);
    }
}

/// Section 七's framed server (`examples/src/sticky_packets.rs`) keeps the same promise. It
/// speaks frames, so the exchange is one framed message and its framed reply.
#[test]
fn the_examples_framed_server_does_not_spin_when_out_of_descriptors() {
    let framed = Variant {
        name: "examples/sticky-packets",
        krate: "sticky-packets",
        args: &[],
        cap: None,
        minimal: false,
    };
    out_of_descriptors(&framed, framed_round_trip);
}

/// One frame out (a 4-byte big-endian length, then the body), one frame back, checked.
fn framed_round_trip(stream: &mut TcpStream, message: &[u8]) -> lab::Result<()> {
    use std::io::{Read, Write};
    stream.write_all(&protocol::framing::encode(message)?)?;
    let mut header = [0u8; protocol::framing::HEADER_LEN];
    stream.read_exact(&mut header)?;
    let mut body = vec![0; u32::from_be_bytes(header) as usize];
    stream.read_exact(&mut body)?;
    if body == protocol::upper(message) {
        Ok(())
    } else {
        Err(format!("wrong framed reply {:?}", String::from_utf8_lossy(&body)).into())
    }
}

fn out_of_descriptors(variant: &Variant, exchange: fn(&mut TcpStream, &[u8]) -> lab::Result<()>) {
    // 64 descriptors and 100 clients held open: a server that keeps its connections in one
    // process runs out, and `accept` fails with EMFILE while the rest wait in the listen
    // queue. It must keep serving who it has, not spin on the failing `accept`, and serve
    // newcomers once clients leave. (A fork server's parent never runs out: its children
    // hold the connections. Capped servers hold few at a time. Both must pass all the same.)
    const FDS: u64 = 64;
    const OPEN: usize = 100;
    const WINDOW: Duration = Duration::from_millis(1500);
    let server = ServerProcess::start_variant_with_fd_limit(common::lab(), variant, FDS)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut conns: Vec<TcpStream> = (0..OPEN)
        .map(|_| scenarios::connect(server.addr()).unwrap())
        .collect();
    // The first client is accepted before the descriptors run out, and still served.
    exchange(&mut conns[0], b"served while out of descriptors")
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", variant.name, server.log_text()));

    // A measurement window, not synchronisation: the 99 others stay queued all along.
    let before = lab::procfs::cpu_time(server.pid()).unwrap();
    std::thread::sleep(WINDOW);
    let used = lab::procfs::cpu_time(server.pid()).unwrap() - before;
    let sockets = lab::procfs::open_sockets(server.pid()).unwrap_or(0);
    println!(
        "{}: {used:?} of CPU in {WINDOW:?} with {OPEN} clients held, {sockets} sockets open",
        variant.name
    );
    // The check must really have run the server out: an uncapped single-process server
    // holds sockets up to its limit (less the few descriptors it had before).
    if variant.cap.is_none() && variant.name != "blocking-io/fork" {
        assert!(
            sockets + 16 >= FDS as usize,
            "{} holds only {sockets} sockets: it never ran out of descriptors",
            variant.name
        );
    }
    if variant.name == "nonblocking-io/busy" {
        println!("excused from the CPU check: busy polling uses a whole core by design");
    } else {
        assert!(
            used < WINDOW / 5,
            "{} used {used:?} of CPU in {WINDOW:?} while out of descriptors: it spins",
            variant.name
        );
    }
    // One line per episode, not per retry: a server that logs every failed accept writes
    // hundreds of lines in the window.
    let accept_lines = server
        .log_text()
        .lines()
        .filter(|l| l.starts_with("accept"))
        .count();
    assert!(
        accept_lines <= 3,
        "{} logged {accept_lines} accept lines while out of descriptors:\n{}",
        variant.name,
        server.log_text()
    );

    drop(conns);
    let mut fresh = scenarios::connect(server.addr()).unwrap();
    exchange(&mut fresh, b"served after the others left").unwrap_or_else(|e| {
        panic!(
            "{}: no new client served after the others left: {e}\n{}",
            variant.name,
            server.log_text()
        )
    });
}
