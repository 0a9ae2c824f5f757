//! One cell: a fresh server, N connections, a warm-up, then `--reps` measured windows.
//!
//! The server is started anew for every cell, so its peak resident memory (`VmHWM`, a peak
//! over the process's whole life) is this cell's peak and not a larger earlier cell's. Its
//! CPU time is read from `/proc` at the edges of each window, so set-up (thousands of
//! handshakes, thread spawns, forks) is not charged to the round trips.

use super::entrants::Entrant;
use super::grid::Grid;
use super::loadgen::{self, Load, LoadSpec, Phase};
use super::results::{median, Measured, Outcome, Rep};
use super::tree;
use std::path::Path;
use std::time::{Duration, Instant};

/// Lines of a dead server's output quoted in the report.
const LOG_TAIL: usize = 8;

/// Runs `entrant` at `conns` connections of `size`-byte messages.
pub fn run(lab: &Path, entrant: &Entrant, size: usize, conns: usize, grid: &Grid) -> Outcome {
    let mut server = match entrant.start(lab) {
        Ok(server) => server,
        Err(err) => {
            return Outcome::Failed {
                reason: format!("the server did not start: {err}"),
            }
        }
    };
    let pid = server.pid();
    let idle = tree::sample(pid).unwrap_or_default();
    let spec = LoadSpec {
        addr: server.addr(),
        conns,
        size,
        threads: grid.client_threads,
        windows: grid.reps,
        timeout: grid.timeout,
        seed: 1,
        rounds: None,
    };
    let load = match Load::start(&spec) {
        Ok(load) => load,
        Err(err) => {
            return Outcome::Failed {
                reason: format!("the load generator did not start: {err}"),
            }
        }
    };

    // ANCHOR: phases
    let setup_start = Instant::now();
    load.wait_ready(loadgen::setup_timeout(conns, grid.timeout));
    let setup = setup_start.elapsed();
    load.set_phase(Phase::Warm);
    std::thread::sleep(grid.warmup);
    // At least one round trip per connection after set-up: with 10,000 connections the
    // first wave (10,000 messages at once, 10,000 threads woken at once) can take longer
    // than the warm-up, and must not fall into a measured window.
    load.wait_warmed(loadgen::setup_timeout(conns, grid.timeout));
    // Each window's edges: when it began, and the server's CPU time then. The phase switches
    // first and /proc is read right after, the same way at both edges of every window.
    let mut edges = Vec::with_capacity(grid.reps + 1);
    for i in 0..=grid.reps {
        load.set_phase(if i < grid.reps {
            Phase::Window(i)
        } else {
            Phase::Warm // unmeasured again: connections stay open for the readings below
        });
        let at = Instant::now();
        edges.push((at, tree::cpu(pid).unwrap_or_default()));
        if i < grid.reps {
            // Reading a fork server's 10,000 children takes a while: the window still
            // lasts its length, counted from its edge.
            std::thread::sleep((at + grid.window()).saturating_duration_since(Instant::now()));
        }
    }
    // Every connection is still open: threads and memory as they are under this load.
    let loaded = tree::sample(pid).unwrap_or_default();
    let report = load.finish();
    // ANCHOR_END: phases

    if !server.is_running() {
        let log = server.log_text();
        let tail: Vec<&str> = log.lines().rev().take(LOG_TAIL).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Outcome::Failed {
            reason: format!("the server died during the cell; its last words: {tail:?}"),
        };
    }
    drop(server);

    let reps: Vec<Rep> = report
        .windows
        .iter()
        .zip(edges.windows(2))
        .map(|(tally, edge)| {
            let (start, cpu_start) = edge[0];
            let (end, cpu_end) = edge[1];
            let elapsed = end.duration_since(start).as_secs_f64();
            let cpu_s = cpu_end.saturating_sub(cpu_start).as_secs_f64();
            let summary = tally.summary(conns, end.duration_since(start));
            Rep {
                rounds: tally.rounds,
                elapsed_s: elapsed,
                rps: summary.rps,
                p50_us: summary.p50_us,
                p99_us: summary.p99_us,
                cpu_s,
                cpu_us_per_rt: (tally.rounds > 0).then(|| cpu_s * 1e6 / tally.rounds as f64),
            }
        })
        .collect();
    let total = report.total();
    let of = |f: fn(&Rep) -> f64| median(reps.iter().map(f).collect());
    Outcome::Ran(Measured {
        established: total.established,
        served: report.setup.rounds,
        errors: total.errors,
        mismatches: total.mismatches,
        rps: of(|r| r.rps).unwrap_or(0.0),
        p50_us: of(|r| r.p50_us as f64).unwrap_or(0.0) as u64,
        p99_us: of(|r| r.p99_us as f64).unwrap_or(0.0) as u64,
        cpu_us_per_rt: of(|r| r.cpu_us_per_rt.unwrap_or(f64::NAN)),
        rss_idle_kib: idle.rss_kib,
        rss_peak_kib: loaded.hwm_kib,
        threads: loaded.threads,
        processes: loaded.processes,
        setup_s: round_ms(setup),
        error_samples: report.errors,
        reps,
    })
}

fn round_ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}
