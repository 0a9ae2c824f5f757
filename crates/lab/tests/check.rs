//! `cargo lab check ADDR` as a student runs it: against a server the lab did not start.

mod common;

use std::process::{Command, Output};

fn check(args: &[&str]) -> Output {
    Command::new(common::lab())
        .arg("check")
        .args(args)
        .output()
        .expect("run lab check")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_real_variant_passes_every_scenario_and_exits_0() {
    let server = common::serve("multiplexing", &["--backend", "mio"]);
    let (addr, pid) = (server.addr().to_string(), server.pid().to_string());
    let out = check(&[&addr, "--pid", &pid]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", server.log_text());
    let passed = text.lines().filter(|l| l.starts_with("pass ")).count();
    assert_eq!(passed, lab::scenarios::SCENARIOS.len(), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
    assert!(text.contains("memory of process"), "{text}");
}

#[test]
fn the_wrong_echo_server_fails_with_a_hint_and_exits_non_zero() {
    // Enough connections for every scenario that runs against it.
    let addr = common::wrong_echo_server(10_000).to_string();
    // --cap 3 skips the 200 concurrent clients (not needed to fail), and proves skipping.
    let out = check(&[&addr, "--cap", "3"]);
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("FAIL  correct reply"), "{text}");
    let hint = lab::check::hint_for("correct reply");
    assert!(text.contains(hint.hint), "{text}");
    assert!(text.contains(&format!("read: {}", hint.chapter)), "{text}");
    assert!(text.contains("skip  200 concurrent clients"), "{text}");
    assert!(text.contains("no --pid"), "{text}");
}

#[test]
fn nobody_listening_fails_every_scenario() {
    let addr = common::closed_port().to_string();
    let out = check(&[&addr, "--cap", "1"]);
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("pass ")), "{text}");
}
