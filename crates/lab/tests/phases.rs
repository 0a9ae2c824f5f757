//! `cargo lab phases`: the instrument measures what it says, every model's receive runs,
//! and missing timestamps give a clear error.
//!
//! Nothing here asserts speed: the bounds only check that the wait is the think time and
//! that the copy is not something else by mistake (a millisecond is ages for 50 bytes).
#![cfg(target_os = "linux")]

mod common;

use lab::phases::pace::MESSAGE;
use lab::phases::{self, Outcome, Sample, Shape, MODELS};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

fn model(slug: &str) -> &'static phases::Model {
    MODELS
        .iter()
        .find(|m| m.slug == slug)
        .unwrap_or_else(|| panic!("no model {slug}"))
}

fn measured(slug: &str, think: Duration, samples: usize) -> Option<Vec<Sample>> {
    match phases::measure(model(slug), think, samples).unwrap_or_else(|e| panic!("{e}")) {
        Outcome::Measured(samples) => Some(samples),
        Outcome::Unavailable(why) => {
            println!("{slug} not measured here: {why}");
            None
        }
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort_unstable();
    values[values.len() / 2]
}

#[test]
fn the_blocking_wait_is_the_think_time_and_the_copy_is_short() {
    let think = Duration::from_millis(10);
    let samples = measured("blocking", think, 20).expect("blocking recv always runs");
    let phases: Vec<_> = samples.iter().filter_map(Sample::phases).collect();
    assert!(phases.len() >= 18, "too many samples out of order");
    for p in &phases {
        // The client sends `think` after the wait starts, never sooner.
        assert!(
            p.wait >= think,
            "wait {:?} shorter than the think time",
            p.wait
        );
        assert_eq!(
            p.notification, None,
            "a blocking recv tells and copies in one step"
        );
    }
    // Medians, so one preemption on a busy machine cannot fail the test.
    let wait = median(phases.iter().map(|p| p.wait).collect());
    let copy = median(phases.iter().map(|p| p.copy).collect());
    assert!(
        wait <= think + Duration::from_millis(5),
        "median wait {wait:?} for a think time of {think:?}"
    );
    assert!(copy < Duration::from_millis(1), "median copy {copy:?}");
}

#[test]
fn every_model_receives_every_message_in_order() {
    for m in MODELS {
        let Some(samples) = measured(m.slug, Duration::from_millis(1), 5) else {
            // Only io_uring may be refused (seccomp, a sysctl, an old kernel).
            assert_eq!(m.slug, "io-uring", "{} must run everywhere", m.name);
            continue;
        };
        assert_eq!(samples.len(), 5, "{}", m.name);
        let expected = match m.slug {
            "blocking" | "io-uring" => Shape::OneStep,
            "callback" => Shape::CopyThenNotify,
            _ => Shape::NotifyThenCopy,
        };
        for sample in &samples {
            assert_eq!(sample.received.len, MESSAGE.len(), "{}", m.name);
            assert_eq!(sample.received.after.shape(), expected, "{}", m.name);
            let p = sample
                .phases()
                .unwrap_or_else(|| panic!("{}: {sample:?}", m.name));
            assert!(p.wait >= Duration::from_millis(1), "{}: {p:?}", m.name);
        }
        if m.slug == "nonblocking" {
            // A millisecond of think time is thousands of recvmsg calls that find nothing.
            assert!(samples.iter().all(|s| s.received.wasted > 0), "{samples:?}");
        }
    }
}

/// A connected pair whose receiving side has NOT asked for timestamps.
fn unstamped_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

#[test]
fn a_receive_without_timestamps_says_why_it_cannot_measure() {
    let (mut client, server) = unstamped_pair();
    client.write_all(MESSAGE).unwrap();
    let mut buf = [0; 1024];
    let err = phases::blocking::receive(&server, &mut buf).unwrap_err();
    assert!(phases::timestamp::is_missing_stamp(&err));
    let text = err.to_string();
    assert!(text.contains("without an SCM_TIMESTAMPNS"), "{text}");
    assert!(text.contains("SO_TIMESTAMPNS is not on"), "{text}");
}

#[test]
fn an_io_uring_completion_without_a_timestamp_says_why_too() {
    let mut ring = match phases::uring::Ring::new() {
        Ok(ring) => ring,
        Err(why) => {
            println!("io_uring not available here: {why}");
            return;
        }
    };
    let (mut client, server) = unstamped_pair();
    client.write_all(MESSAGE).unwrap();
    use std::os::fd::AsRawFd;
    let err = ring.receive(server.as_raw_fd()).unwrap_err();
    assert!(phases::timestamp::is_missing_stamp(&err), "{err}");
}

#[test]
fn lab_phases_prints_the_table_and_writes_the_page() {
    let out = std::env::temp_dir().join(format!("lab-phases-{}", std::process::id()));
    let output = std::process::Command::new(common::lab())
        .args(["phases", "--think-ms", "1", "--samples", "5", "--out"])
        .arg(&out)
        .output()
        .expect("run lab phases");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("| model "), "{stdout}");
    for m in MODELS {
        assert!(stdout.contains(m.name), "{} missing from\n{stdout}", m.name);
    }
    let page = std::fs::read_to_string(out.join("phases.md")).expect("phases.md written");
    assert!(
        page.contains("--think-ms 1 --samples 5"),
        "the page names its command"
    );
    // Every figure the page shows exists, and every model's code is included by anchor.
    for line in page.lines().filter(|l| l.starts_with("![")) {
        let figure = line.split("](").nth(1).unwrap().trim_end_matches(')');
        assert!(out.join(figure).is_file(), "{figure} not written");
    }
    for m in MODELS {
        let (file, anchor) = m.source;
        let include = format!("{file}:{anchor}}}}}");
        assert!(page.contains(&include), "no include of {include}");
        let source = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("src/phases")
                .join(file),
        )
        .unwrap();
        assert!(
            source.contains(&format!("// ANCHOR: {anchor}\n")),
            "{file} has no anchor {anchor}"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}
