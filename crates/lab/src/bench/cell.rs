//! One cell: a fresh server, N connections, a warm-up, then `--reps` measured windows.
//!
//! The server is started anew for every cell, so its peak resident memory (`VmHWM`, a peak
//! over the process's whole life) is this cell's peak and not a larger earlier cell's. Its
//! CPU time is read from `/proc` at the edges of each window, so set-up (thousands of
//! handshakes, thread spawns, forks) is not charged to the round trips. An external server
//! ([`CellServer::External`](super::server::CellServer)) is the exception: it is not
//! restarted, so its peak is over its whole life, and without its pid nothing of its cost
//! is read at all.
//!
//! Then, on the same connections and the same server, a counting pass of its own: `perf
//! stat` attached to the server's process tree counts system calls and context switches
//! over [`COUNT_PASS`](super::grid::COUNT_PASS). Tracing every system call slows the server
//! (and, while the tracepoint is on, every process on the machine), so it is kept out of the
//! timed windows: perf attaches only after they have ended.

use super::entrants::Entrant;
use super::grid::Grid;
use super::loadgen::{self, Load, LoadSpec, Phase};
use super::results::{median, Count, Measured, Outcome, Rep};
use super::tree;
use crate::syscalls;
use std::path::Path;
use std::time::{Duration, Instant};

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
    // The process tree the cost is read from. An external server given without its pid has
    // none: every reading below is then skipped, and the round trips stand alone.
    let pid = server.pid();
    let idle = pid.ok().map(|pid| tree::sample(pid).unwrap_or_default());
    let cpu_now = || pid.ok().map(|pid| tree::cpu_times(pid).unwrap_or_default());
    let spec = LoadSpec {
        addr: server.addr(),
        conns,
        size,
        threads: grid.client_threads,
        // The counting pass has a window of its own, after the timed ones.
        windows: grid.reps + usize::from(grid.count.is_some()),
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
        edges.push((at, cpu_now()));
        if i < grid.reps {
            // Reading a fork server's 10,000 children takes a while: the window still
            // lasts its length, counted from its edge.
            std::thread::sleep((at + grid.window()).saturating_duration_since(Instant::now()));
        }
    }
    // Every connection is still open: threads and memory as they are under this load.
    let loaded = pid.ok().map(|pid| tree::sample(pid).unwrap_or_default());
    let counted = grid.count.map(|pass| match pid {
        Ok(pid) => count_pass(pid, &load, grid.reps, pass),
        Err(why) => Err(why.to_string()),
    });
    let report = load.finish();
    // ANCHOR_END: phases

    if let Some(reason) = server.died() {
        return Outcome::Failed { reason };
    }
    let no_cost = pid.err().map(str::to_string);
    let watched_by_clients = server.judged_by_connections();
    drop(server);
    let total = report.total();
    let rounds = report.setup.rounds
        + report.warm.rounds
        + report.windows.iter().map(|w| w.rounds).sum::<u64>();
    // A server the bench did not start may be gone, or never listened there: a cell in
    // which not one round trip succeeded is a failure, with the clients' own reason.
    if watched_by_clients && rounds == 0 {
        let why = report
            .errors
            .first()
            .map_or("no connection made a round trip", String::as_str);
        return Outcome::Failed {
            reason: format!("no round trip with the external server: {why}"),
        };
    }

    let reps: Vec<Rep> = report
        .windows
        .iter()
        .zip(edges.windows(2))
        .map(|(tally, edge)| {
            let (start, cpu_start) = edge[0];
            let (end, cpu_end) = edge[1];
            let elapsed = end.duration_since(start).as_secs_f64();
            let cpu_s = cpu_start
                .zip(cpu_end)
                .map(|(a, b)| b.total.saturating_sub(a.total).as_secs_f64());
            let summary = tally.summary(conns, end.duration_since(start));
            Rep {
                rounds: tally.rounds,
                elapsed_s: elapsed,
                rps: summary.rps,
                p50_us: summary.p50_us,
                p99_us: summary.p99_us,
                cpu_s,
                cpu_us_per_rt: cpu_s
                    .filter(|_| tally.rounds > 0)
                    .map(|cpu_s| cpu_s * 1e6 / tally.rounds as f64),
            }
        })
        .collect();
    let of = |f: fn(&Rep) -> f64| median(reps.iter().map(f).collect());
    let cpu_us_per_rt = of(|r| r.cpu_us_per_rt.unwrap_or(f64::NAN));
    // The user share over all the timed windows (more ticks than one), applied to the
    // median, so that user + kernel is the CPU column.
    let user_share = match (edges.first(), edges.last()) {
        (Some((_, Some(first))), Some((_, Some(last)))) => first
            .split(last)
            .map(|(user, kernel)| user.as_secs_f64() / (user + kernel).as_secs_f64().max(1e-9)),
        _ => None,
    };
    let split = cpu_us_per_rt
        .zip(user_share)
        .map(|(cpu, share)| (cpu * share, cpu * (1.0 - share)));
    let count = counted.map(|counted| match counted {
        Ok(counts) => Count::Counted {
            rounds: report.windows.get(grid.reps).map_or(0, |t| t.rounds),
            seconds: counts.seconds,
            syscalls: counts.syscalls,
            context_switches: counts.context_switches,
        },
        Err(reason) => Count::NotCounted { reason },
    });
    Outcome::Ran(Box::new(Measured {
        established: total.established,
        served: report.setup.rounds,
        errors: total.errors,
        mismatches: total.mismatches,
        rps: of(|r| r.rps).unwrap_or(0.0),
        p50_us: of(|r| r.p50_us as f64).unwrap_or(0.0) as u64,
        p99_us: of(|r| r.p99_us as f64).unwrap_or(0.0) as u64,
        cpu_us_per_rt,
        user_us_per_rt: split.map(|s| s.0),
        kernel_us_per_rt: split.map(|s| s.1),
        count,
        rss_idle_kib: idle.map(|s| s.rss_kib),
        rss_peak_kib: loaded.map(|s| s.hwm_kib),
        threads: loaded.map(|s| s.threads),
        processes: loaded.map(|s| s.processes),
        no_cost,
        setup_s: round_ms(setup),
        error_samples: report.errors,
        reps,
    }))
}

/// What the counting pass read.
struct Counts {
    seconds: f64,
    syscalls: u64,
    context_switches: u64,
}

// ANCHOR: count_pass
/// The counting pass: perf attached to the server and every child it has now (a fork
/// server's clients each have one; children forked later are followed by perf itself),
/// enabled for `pass` while the load runs in window `index`, then read. Any failure is the
/// reason the cell shows instead of a count; the timed figures stand either way.
fn count_pass(pid: u32, load: &Load, index: usize, pass: Duration) -> Result<Counts, String> {
    syscalls::available()?;
    let mut pids = vec![pid];
    pids.extend(
        crate::procfs::children(pid)
            .into_iter()
            .filter(|&(_, state)| state != 'Z')
            .map(|(child, _)| child),
    );
    let counter =
        syscalls::Counter::attach_tree(&pids, &[syscalls::EVENT, syscalls::CONTEXT_SWITCHES])
            .map_err(|e| e.to_string())?;
    let (elapsed, counts) = counter
        .count_events(|| {
            let start = Instant::now();
            load.set_phase(Phase::Window(index));
            std::thread::sleep(pass);
            load.set_phase(Phase::Warm);
            Ok(start.elapsed())
        })
        .map_err(|e| e.to_string())?;
    Ok(Counts {
        seconds: elapsed.as_secs_f64(),
        syscalls: counts.first().copied().unwrap_or(0),
        context_switches: counts.get(1).copied().unwrap_or(0),
    })
}
// ANCHOR_END: count_pass

fn round_ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}
