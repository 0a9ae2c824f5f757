//! Demo for section 一: gevent's spawn/join and its greenlet-per-connection server, on `may`.
//!
//! Two measurements: how long three sleeping coroutines take when they sleep cooperatively
//! and when they block their worker; and what a coroutine per connection costs next to a
//! thread per connection under the same 1000 clients (threads and memory from `/proc`).

use super::{start_server, watch};
use crate::procfs;
use coroutine_spawn::runtime::Runtime;
use coroutine_spawn::spawn_join::{spawn_join, Sleep};
use protocol::load::Summary;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One unit of the notes' sleeps (they use seconds); short, so the demo is too.
const UNIT: Duration = Duration::from_millis(200);

/// Clients in the server half, as in the notes' `for i in range(1000)`.
const CLIENTS: &str = "1000";

/// How long each load runs, in seconds.
const LOAD_SECS: &str = "2";

/// 一: spawn/join, then 1000 clients on coroutines and on threads.
pub fn section_1(lab: &Path) -> crate::Result<()> {
    watch(
        "f1, f2, f3 sleep 3, 2 and 5 units on ONE worker thread, as gevent runs on one thread\n\
         may::coroutine::sleep parks only the coroutine: f2 wakes first, all done in ~5 units\n\
         std::thread::sleep blocks the worker: one function at a time, ~10 units\n\
         then 1000 clients: a coroutine per connection keeps a handful of threads",
    );
    let (cooperative, blocking) = spawn_and_join()?;

    println!("  (1000 client coroutines, {LOAD_SECS} s, against each server; server logs hidden)");
    let coroutines = under_load(lab, "coroutine-spawn", &[])?;
    let threads = under_load(lab, "blocking-io", &["--mode", "thread"])?;

    println!(
        "  {:<28} {:>8} {:>12} {:>12} {:>14}",
        "server", "threads", "peak RSS", "round trips/s", "CPU per trip"
    );
    for load in [&coroutines, &threads] {
        println!(
            "  {:<28} {:>8} {:>9.1} MiB {:>12.0} {:>11.1} µs",
            load.name,
            load.peak_threads,
            load.peak_rss_kib as f64 / 1024.0,
            load.summary.rps,
            load.cpu_per_trip_us()
        );
    }
    println!(
        "=> measured: spawn/join took {:.1} units cooperative vs {:.1} units blocking; \
         under {CLIENTS} connections coroutine-spawn ran {} threads ({:.1} MiB), \
         blocking-io --mode thread {} threads ({:.1} MiB)",
        cooperative,
        blocking,
        coroutines.peak_threads,
        coroutines.peak_rss_kib as f64 / 1024.0,
        threads.peak_threads,
        threads.peak_rss_kib as f64 / 1024.0
    );
    Ok(())
}

/// Runs the spawn/join example in this process; returns both totals in units.
fn spawn_and_join() -> crate::Result<(f64, f64)> {
    println!(
        "  $ cargo run --example spawn_join -- --unit-ms {}   (run here, in-process)",
        UNIT.as_millis()
    );
    coroutine_spawn::runtime::init(Runtime::one_worker())?;
    let mut units = Vec::new();
    for sleep in [Sleep::Cooperative, Sleep::Blocking] {
        let run = spawn_join(UNIT, sleep)?;
        for line in run.report(UNIT) {
            println!("  example  | {line}");
        }
        units.push(run.elapsed.as_secs_f64() / UNIT.as_secs_f64());
    }
    Ok((units[0], units[1]))
}

/// What one server did under the load.
struct Load {
    name: String,
    peak_threads: u64,
    peak_rss_kib: u64,
    cpu: Duration,
    summary: Summary,
}

impl Load {
    fn cpu_per_trip_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.summary.rounds.max(1) as f64
    }
}

/// Starts `krate`'s server, runs the coroutine load client against it and samples the
/// server's `/proc/PID/status` while the load runs.
fn under_load(lab: &Path, krate: &str, args: &[&str]) -> crate::Result<Load> {
    let server = start_server(lab, krate, args)?;
    server.quiet();
    let pid = server.pid();
    let cpu_before = procfs::cpu_time(pid)?;
    let mut client = Command::new(lab)
        .args([
            "client",
            "coroutine-spawn",
            "--addr",
            &server.addr().to_string(),
        ])
        .args(["--conns", CLIENTS, "--duration", LOAD_SECS, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Sampling, not synchronisation: the thread count is only visible while clients are
    // connected, so look a few times a second until the client is done (bounded).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut peak_threads = 0;
    while client.try_wait()?.is_none() && Instant::now() < deadline {
        peak_threads = peak_threads.max(procfs::status(pid)?.threads);
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = client.wait_with_output()?;
    let cpu = procfs::cpu_time(pid)?.saturating_sub(cpu_before);
    let status = procfs::status(pid)?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let summary: Summary = serde_json::from_str(line).map_err(|e| {
        format!(
            "the load client printed no summary ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    println!("  client   | {}", summary.line(false));
    if !output.status.success() {
        return Err(format!("the load client failed against {krate}").into());
    }
    Ok(Load {
        name: format!("{krate} {}", args.join(" ")),
        peak_threads,
        peak_rss_kib: status.hwm_kib,
        cpu,
        summary,
    })
}
