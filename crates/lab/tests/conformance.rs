//! Every server variant in the lab's table against every shared scenario.
//!
//! A variant whose cap (by design) is below what a scenario needs is excused with the
//! reason printed; what it does instead is asserted in that crate's own test file.

mod common;

use lab::scenarios::SCENARIOS;
use lab::variants::VARIANTS;

#[test]
fn every_variant_passes_every_scenario_it_can() {
    let mut failures = Vec::new();
    let mut ran = 0;
    for variant in VARIANTS {
        let mut server = common::serve_variant(variant);
        for scenario in SCENARIOS {
            if let Err(why) = variant.serves(scenario.concurrent) {
                println!("excused: {} / {}: {why}", variant.name, scenario.name);
                continue;
            }
            ran += 1;
            if let Err(err) = (scenario.run)(server.addr()) {
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
    assert!(ran >= VARIANTS.len() * 5, "too few scenarios ran: {ran}");
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
    for variant in VARIANTS {
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
