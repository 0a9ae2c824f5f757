//! `cargo lab bench` as a process, its load generator against servers that break the
//! service, and the Python yardsticks against the scenarios every server must pass.
//!
//! Speed is never asserted: only that the figures exist, and that wrong replies are caught.

mod common;

use lab::bench::loadgen::{Load, LoadSpec, Phase};
use lab::bench::results::{Outcome, Results};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::time::Duration;

/// A scratch directory under the target folder, emptied first.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_tiny_run_writes_the_table_the_json_and_the_charts() {
    let out = scratch("bench-tiny");
    let output = Command::new(common::lab())
        .args(["bench", "--variants", "blocking-io/iterative"])
        .args(["--conns", "1,2", "--sizes", "64", "--duration", "0.3"])
        .args(["--reps", "2", "--only", "echo", "--no-count", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");

    let json = std::fs::read_to_string(out.join("results.json")).unwrap();
    let results: Results = serde_json::from_str(&json).unwrap();
    let cell = |variant: &str, conns: usize| {
        results
            .cells
            .iter()
            .find(|c| c.variant == variant && c.conns == conns)
            .unwrap_or_else(|| panic!("no cell {variant} at {conns}: {json}"))
    };
    // Ran: every connection held, every reply checked, the server's cost read from /proc.
    for variant in [
        "blocking-io/iterative",
        "baseline/tokio-current",
        "baseline/tokio-multi",
    ] {
        let Outcome::Ran(m) = &cell(variant, 1).outcome else {
            panic!("{variant} did not run: {json}");
        };
        assert_eq!((m.established, m.errors, m.mismatches), (1, 0, 0));
        assert_eq!(m.reps.len(), 2);
        assert!(m.rps > 0.0 && m.p99_us >= m.p50_us && m.p50_us > 0);
        assert!(m.rss_peak_kib.is_some_and(|k| k > 0) && m.threads.is_some_and(|t| t >= 1));
        assert!(m.no_cost.is_none(), "{m:?}");
        assert!(m.cpu_us_per_rt.is_some_and(|c| c > 0.0), "{m:?}");
    }
    // Not applicable: recorded with the cap's reason, not run.
    match &cell("blocking-io/iterative", 2).outcome {
        Outcome::NotApplicable { reason } => assert!(reason.contains("at most 1"), "{reason}"),
        other => panic!("the iterative server ran at 2 connections: {other:?}"),
    }
    assert!(matches!(
        cell("baseline/tokio-multi", 2).outcome,
        Outcome::Ran(_)
    ));

    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    for needle in [
        "## Targets",
        "### 2 connections",
        "| blocking-io/iterative | n/a: ",
        "| baseline/tokio-current | 1.00× |",
        "rt/s × tokio-ct",
        results.machine.kernel.as_str(),
        "cargo lab bench --variants blocking-io/iterative",
        "> **Not the default run** (connections [1, 2], 0.30 s per cell in 2 window(s), only \
         variants matching [\"blocking-io/iterative\"], only workloads [Echo], no system call \
         count)",
    ] {
        assert!(md.contains(needle), "results.md lacks {needle:?}:\n{md}");
    }
    for (file, _) in lab::bench::report::FIGURES {
        assert!(md.contains(&format!("(figures/{file})")));
        let svg = std::fs::read_to_string(out.join("figures").join(file)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("blocking-io/iterative"));
    }
    // The terminal shows the tables too.
    assert!(stdout.contains("| blocking-io/iterative |"), "{stdout}");
}

/// The counting pass, on the server it is hardest for: a process per connection, each
/// forked before perf attaches. A blocking server makes one `recv` and one `send` per round
/// trip whichever process makes them; a count near zero would mean the children were missed.
#[test]
fn the_counting_pass_counts_a_fork_servers_children() {
    if let Err(why) = lab::syscalls::available() {
        println!("skipped: {why}");
        return;
    }
    let out = scratch("bench-count");
    let output = Command::new(common::lab())
        .args(["bench", "--variants", "blocking-io/fork", "--conns", "3"])
        .args([
            "--duration",
            "0.3",
            "--reps",
            "1",
            "--only",
            "echo",
            "--count",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let json = std::fs::read_to_string(out.join("results.json")).unwrap();
    let results: Results = serde_json::from_str(&json).unwrap();
    let m = results
        .measured("blocking-io/fork", 64, 3)
        .unwrap_or_else(|| panic!("the fork server did not run: {json}"));
    assert_eq!(m.processes, Some(4), "a child per connection: {m:?}");
    let calls = m.count.as_ref().and_then(|c| c.syscalls_per_rt());
    let switches = m.count.as_ref().and_then(|c| c.switches_per_rt());
    println!("fork server: {calls:?} system calls, {switches:?} context switches per round trip");
    assert!(
        calls.is_some_and(|c| (1.8..4.0).contains(&c)),
        "{:?}",
        m.count
    );
    // Each blocking recv sleeps until the next message: about one switch per round trip.
    assert!(switches.is_some_and(|s| s > 0.5), "{:?}", m.count);
    let (user, kernel) = (m.user_us_per_rt.unwrap(), m.kernel_us_per_rt.unwrap());
    assert!(user >= 0.0 && kernel > 0.0, "{m:?}");
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(md.contains("| syscalls/rt |"), "{md}");
}

/// `cargo lab bench` on the baselines only, echo at one connection for one 0.3 s window,
/// writing into `out`; the caller adds its own flags (an external server).
fn small_bench(out: &std::path::Path) -> Command {
    let mut command = Command::new(common::lab());
    command
        .args([
            "bench",
            "--quick",
            "--only",
            "echo",
            "--variants",
            "baseline",
        ])
        .args(["--conns", "1", "--duration", "0.3", "--reps", "1", "--out"])
        .arg(out);
    command
}

/// Runs [`small_bench`] with `extra` flags and returns what it wrote and printed.
fn bench_with(name: &str, extra: &[String]) -> (Results, String, String) {
    let out = scratch(name);
    let output = small_bench(&out).args(extra).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let json = std::fs::read_to_string(out.join("results.json")).unwrap();
    let results: Results = serde_json::from_str(&json).unwrap();
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    let zh = std::fs::read_to_string(out.join("zh/results.md")).unwrap();
    (results, md, zh)
}

/// A server of ours stands in for a student's: the bench is told only its address, so it
/// measures round trips and leaves CPU, memory and threads unread; given its pid too, it
/// reads them as for a model. Either way the server is not started or stopped by the bench.
#[test]
fn an_external_server_is_measured_beside_the_models() {
    let server = common::serve("multiplexing", &["--backend", "mio"]);
    let external = format!("ours={}", server.addr());
    let ours = |results: &Results| {
        let cell = results
            .cells
            .iter()
            .find(|c| c.variant == "ours")
            .unwrap_or_else(|| panic!("no external cell: {results:?}"));
        assert_eq!(cell.kind, lab::bench::entrants::Kind::External);
        let Outcome::Ran(m) = &cell.outcome else {
            panic!("the external server did not run: {:?}", cell.outcome);
        };
        m.clone()
    };

    let (results, md, zh) = bench_with("bench-external", &["--external".into(), external.clone()]);
    let m = ours(&results);
    assert_eq!((m.established, m.errors, m.mismatches), (1, 0, 0), "{m:?}");
    assert!(m.rps > 0.0 && m.reps[0].rounds > 0, "{m:?}");
    assert_eq!(m.cpu_us_per_rt, None, "no pid, no CPU figure: {m:?}");
    assert_eq!((m.rss_peak_kib, m.threads), (None, None), "{m:?}");
    assert_eq!(m.no_cost.as_deref(), Some("no --external-pid"));
    // The baselines ran beside it, and its ratio to tokio is in its row.
    assert!(results.measured("baseline/tokio-current", 64, 1).is_some());
    let row = md
        .lines()
        .find(|l| l.starts_with("| ours (external) | "))
        .unwrap_or_else(|| panic!("no external row:\n{md}"));
    assert!(
        row.contains("× | ") && row.contains("n/a: no --external-pid"),
        "{row}"
    );
    assert!(md.contains("**External servers** (`ours`)"), "{md}");
    assert!(
        zh.contains("| ours（外部） | ") && zh.contains("**外部服务端**"),
        "{zh}"
    );

    let pid = format!("ours={}", server.pid());
    let args = ["--external".into(), external, "--external-pid".into(), pid];
    let (results, _, _) = bench_with("bench-external-pid", &args);
    let m = ours(&results);
    assert_eq!((m.established, m.errors, m.mismatches), (1, 0, 0), "{m:?}");
    assert!(m.cpu_us_per_rt.is_some_and(|c| c > 0.0), "{m:?}");
    assert!(
        m.rss_peak_kib.is_some_and(|k| k > 0) && m.threads == Some(1),
        "{m:?}"
    );
    assert!(m.no_cost.is_none());
    // Not restarted between runs: the same process served both.
    let mut server = server;
    assert!(server.is_running(), "{}", server.log_text());
}

/// Churn against an external server: connections per second, and no CPU figure without
/// its pid (the bench cannot tell which process serves the port).
#[test]
fn an_external_server_churns_without_a_cpu_figure() {
    let server = common::serve("multiplexing", &["--backend", "mio"]);
    let out = scratch("bench-external-churn");
    let output = Command::new(common::lab())
        .args([
            "bench",
            "--only",
            "churn",
            "--variants",
            "baseline/tokio-current",
        ])
        .args(["--duration", "0.3", "--out"])
        .arg(&out)
        .arg("--external")
        .arg(format!("ours={}", server.addr()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let json = std::fs::read_to_string(out.join("results.json")).unwrap();
    let results: Results = serde_json::from_str(&json).unwrap();
    let ours = results
        .churn
        .iter()
        .find(|c| c.variant == "ours")
        .and_then(|c| c.outcome.as_ref().ok())
        .unwrap_or_else(|| panic!("the external server did not churn: {json}"));
    assert_eq!((ours.errors, ours.mismatches), (0, 0), "{ours:?}");
    assert!(ours.connections > 10 && ours.per_second > 0.0, "{ours:?}");
    assert_eq!(ours.cpu_us_per_conn, None, "{ours:?}");
    assert_eq!(ours.no_cost.as_deref(), Some("no --external-pid"));
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(
        md.contains("| – | an external server, of its own design | ours (external) |")
            && md.contains("n/a: no --external-pid"),
        "{md}"
    );
}

/// An external address where nothing listens: the cell fails with the clients' reason,
/// and the run fails as for a server that died.
#[test]
fn an_external_server_that_is_not_there_fails_its_cell() {
    let out = scratch("bench-external-gone");
    let output = small_bench(&out)
        .args(["--timeout", "2", "--external"])
        .arg(format!("gone={}", common::closed_port()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("gone, 1 connection(s), 64 B: no round trip"),
        "{stderr}"
    );
    let json = std::fs::read_to_string(out.join("results.json")).unwrap();
    assert!(
        json.contains("refused"),
        "the load generator's reason: {json}"
    );
}

#[test]
fn an_external_server_elsewhere_or_unnamed_is_refused() {
    let run = |args: &[&str]| {
        Command::new(common::lab())
            .args(["bench", "--quick", "--out", "/nonexistent/never-written"])
            .args(args)
            .output()
            .unwrap()
    };
    let far = run(&["--external", "x=10.0.0.1:80"]);
    assert!(!far.status.success());
    assert!(String::from_utf8_lossy(&far.stderr).contains("not a loopback address"));
    let orphan = run(&["--external", "x=127.0.0.1:9", "--external-pid", "y=1"]);
    assert!(!orphan.status.success());
    assert!(String::from_utf8_lossy(&orphan.stderr).contains("no --external is called"));
}

#[test]
fn an_unknown_variant_filter_is_refused() {
    let output = Command::new(common::lab())
        .args(["bench", "--variants", "no-such-model", "--quick"])
        .args(["--out", "/nonexistent/never-written"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no variant matches"));
}

/// A server that breaks the service in some way, one thread per connection.
fn broken_server(serve: fn(std::net::TcpStream)) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16).flatten() {
            std::thread::spawn(move || serve(stream));
        }
    });
    addr
}

/// Runs the load generator for a moment: set-up, then one short window.
fn load(addr: SocketAddr, conns: usize, size: usize) -> lab::bench::loadgen::LoadReport {
    let spec = LoadSpec {
        addr,
        conns,
        size,
        threads: 1,
        windows: 1,
        timeout: Duration::from_secs(2),
        seed: 7,
        rounds: None,
    };
    let load = Load::start(&spec).unwrap();
    load.wait_ready(Duration::from_secs(5));
    load.set_phase(Phase::Window(0));
    std::thread::sleep(Duration::from_millis(200));
    load.finish()
}

#[test]
fn the_load_generator_catches_a_reply_that_is_not_upper_cased() {
    // Plain echo: the notes' server without `.upper()`.
    let report = load(common::wrong_echo_server(2), 2, 64);
    let total = report.total();
    assert_eq!((total.established, total.errors), (2, 0), "{report:?}");
    assert!(total.rounds > 2, "{report:?}");
    assert_eq!(total.mismatches, total.rounds, "every reply is wrong");
}

#[test]
fn the_load_generator_catches_a_byte_too_many_and_an_early_close() {
    // One extra byte after each reply: read by length, it shifts every later reply.
    let addr = broken_server(|mut stream| {
        let mut buf = [0u8; 64];
        while stream.read_exact(&mut buf).is_ok() {
            buf.make_ascii_uppercase();
            let extra = [&buf[..], b"!"].concat();
            if stream.write_all(&extra).is_err() {
                return;
            }
        }
    });
    let report = load(addr, 1, 64);
    assert!(report.total().mismatches > 0, "{report:?}");

    // Half a reply, then close: the connection fails, and the report says why.
    let addr = broken_server(|mut stream| {
        let mut buf = [0u8; 64];
        if stream.read_exact(&mut buf).is_ok() {
            buf.make_ascii_uppercase();
            let _ = stream.write_all(&buf[..32]);
        }
    });
    let report = load(addr, 3, 64);
    let total = report.total();
    assert_eq!((total.errors, total.rounds), (3, 0), "{report:?}");
    assert!(report.errors[0].contains("closed by the server after 32 of 64"));
}

#[test]
fn the_load_generator_verifies_16_kib_replies_split_by_the_server() {
    // Every model reads 1024 bytes at a time, so a 16 KiB reply comes back in pieces while
    // the message is still going out.
    let server = common::serve("baseline", &["--flavor", "current-thread"]);
    let report = load(server.addr(), 4, 16 * 1024);
    let total = report.total();
    assert_eq!((total.errors, total.mismatches), (0, 0), "{report:?}");
    assert!(report.windows[0].rounds > 0 && total.established == 4);
}

#[test]
fn the_load_generator_verifies_1_mib_replies() {
    // Far larger than a socket buffer: the server replies to the first kilobytes while the
    // rest is still going out, so the generator must write and read in the same pass.
    let server = common::serve("baseline", &["--flavor", "current-thread"]);
    let report = load(server.addr(), 2, 1 << 20);
    let total = report.total();
    assert_eq!((total.errors, total.mismatches), (0, 0), "{report:?}");
    assert!(total.rounds >= 2 && total.established == 2, "{report:?}");
}

/// Churn against the process-per-connection server: every connection is a fork, and the
/// cell still reads the children's CPU time (reaped ones through the parent's cutime).
#[test]
fn the_churn_workload_runs_for_one_variant() {
    let out = scratch("bench-churn");
    let output = Command::new(common::lab())
        .args(["bench", "--variants", "blocking-io/fork", "--only", "churn"])
        .args(["--duration", "0.3", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let json = std::fs::read_to_string(out.join("results.json")).unwrap();
    let results: Results = serde_json::from_str(&json).unwrap();
    assert!(results.cells.is_empty(), "churn alone: no echo cell");
    let fork = results
        .churn
        .iter()
        .find(|c| c.variant == "blocking-io/fork")
        .and_then(|c| c.outcome.as_ref().ok())
        .unwrap_or_else(|| panic!("the fork server did not churn: {json}"));
    assert_eq!((fork.errors, fork.mismatches), (0, 0), "{fork:?}");
    assert!(fork.connections > 10 && fork.per_second > 0.0, "{fork:?}");
    assert!(fork.cpu_us_per_conn.is_some_and(|c| c > 0.0), "{fork:?}");
    // The page can be written again from the JSON alone, without measuring.
    std::fs::remove_file(out.join("results.md")).unwrap();
    let redraw = Command::new(common::lab())
        .args(["bench", "--redraw", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(redraw.status.success(), "{redraw:?}");
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    for needle in [
        "## Connection churn",
        "| 1 | concurrent server, one fork per client | blocking-io/fork |",
        "TIME_WAIT",
    ] {
        assert!(md.contains(needle), "results.md lacks {needle:?}:\n{md}");
    }
}

#[test]
fn the_baseline_client_is_the_load_generator_and_judges_the_server() {
    let server = common::serve("baseline", &["--flavor", "multi-thread"]);
    common::load_passes("baseline", server.addr(), 3, 20);
    common::check_interactive_client("baseline", server.addr());
    common::check_load_client_fails_on_wrong_replies("baseline");
    common::check_load_client_fails_when_nobody_listens("baseline");
    common::check_load_client_times_out_a_whole_round("baseline");
}

/// The Python yardsticks keep the same contract as every Rust server, so the bench compares
/// like with like: they pass the shared scenarios (when Python is here to run them).
#[test]
fn the_python_yardsticks_pass_the_scenarios() {
    let lab_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let servers = [
        ("select_server.py", None),
        ("gevent_server.py", Some("gevent")),
    ];
    let mut ran = 0;
    for (file, module) in servers {
        let import = format!("import {}", module.unwrap_or("select"));
        let usable = Command::new("python3")
            .args(["-c", &import])
            .output()
            .is_ok_and(|o| o.status.success());
        if !usable {
            println!(
                "skipped {file}: python3 {} is not here",
                module.unwrap_or("")
            );
            continue;
        }
        let mut command = Command::new("python3");
        command
            .arg(lab_dir.join("python").join(file))
            .args(["--addr", "127.0.0.1:0"]);
        let server = lab::process::ServerProcess::start_command(command, file.into())
            .unwrap_or_else(|e| panic!("{e}"));
        for scenario in lab::scenarios::SCENARIOS {
            let target = lab::scenarios::Target {
                addr: server.addr(),
                pid: Some(server.pid()),
            };
            if let Err(err) = (scenario.run)(&target) {
                panic!(
                    "{file} / {}: {err}\nits output:\n{}",
                    scenario.name,
                    server.log_text()
                );
            }
        }
        ran += 1;
        println!("checked {file}");
    }
    println!("{ran} Python yardstick(s) checked");
}
