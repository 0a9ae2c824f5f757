//! `results.md`: the machine, the command, the targets and one table per cell size, with
//! ratios to the tokio baselines of the same run as the headline columns.
//!
//! On loopback most of a round trip is the kernel's TCP path, so round trips per second
//! differ less between models than the models do: a Python `select` server can come close to
//! tokio on it. The tables therefore lead with ratios and with what the model itself costs
//! (CPU time per round trip, the latency tail, memory, threads), not with throughput alone.

use super::entrants::{Kind, TOKIO_CURRENT, TOKIO_MULTI};
use super::results::{Cell, Count, Measured, Outcome, Results};
use std::fmt::Write as _;

/// Charts embedded in the page, as drawn by [`super::charts`].
pub const FIGURES: &[(&str, &str)] = &[
    (
        "bench-rps.svg",
        "Round trips per second against connections",
    ),
    (
        "bench-cpu.svg",
        "Server CPU time per round trip against connections",
    ),
    ("bench-p99.svg", "p99 latency against connections"),
    (
        "bench-memory.svg",
        "Resident memory per connection against connections",
    ),
    ("bench-syscalls.svg", "System calls per round trip"),
    (
        "bench-cpu-split.svg",
        "Server CPU per round trip, user and kernel",
    ),
];

/// The churn chart, embedded in its section.
pub const CHURN_FIGURE: (&str, &str) = (
    "bench-churn.svg",
    "Server CPU per connection under churn, user and kernel",
);

/// A ratio target of the issue: `variant` (a name prefix) at `conns` reaches `min` times the
/// `baseline`'s round trips per second, at the headline size.
struct RatioTarget {
    variant: &'static str,
    baseline: &'static str,
    min: f64,
}

const RATIO_TARGETS: &[RatioTarget] = &[
    RatioTarget {
        variant: "multiplexing/polling",
        baseline: TOKIO_CURRENT,
        min: 0.9,
    },
    RatioTarget {
        variant: "multiplexing/mio",
        baseline: TOKIO_CURRENT,
        min: 0.9,
    },
    RatioTarget {
        variant: "async-callback/uring",
        baseline: TOKIO_CURRENT,
        min: 0.9,
    },
    RatioTarget {
        variant: "coroutine-spawn",
        baseline: TOKIO_MULTI,
        min: 0.8,
    },
];

/// Connection counts at which the ratio targets apply.
const RATIO_CONNS: &[usize] = &[100, 1000];

/// At this many connections the same four must hold every connection, with no mismatch,
/// in less than this much resident memory.
const HOLD_CONNS: usize = 10_000;
const HOLD_MAX_KIB: u64 = 64 * 1024;

/// The whole page.
pub fn markdown(results: &Results) -> String {
    let mut md = String::new();
    let g = &results.grid;
    let m = &results.machine;
    let _ = writeln!(md, "# Results: every I/O model under one load generator\n");
    let _ = writeln!(
        md,
        "<!-- Written by `cargo lab bench` (crates/lab/src/bench/report.rs). \
         Run it again rather than editing. -->\n"
    );
    if !results.reduced.is_empty() {
        let _ = writeln!(
            md,
            "> **Not the default run** ({}): a partial or shortened measurement. \
             `cargo lab bench` with no flags measures the full grid and rewrites this page.\n",
            results.reduced.join(", ")
        );
    }
    let _ = writeln!(
        md,
        "Measured on {} with `{}` ({:.1} minutes).\n",
        results.date,
        results.command,
        results.elapsed_s / 60.0
    );
    let _ = writeln!(md, "| machine | |\n|---|---|");
    let _ = writeln!(md, "| CPU | {} |", m.cpu);
    let _ = writeln!(md, "| cores | {} |", m.cores);
    let _ = writeln!(md, "| kernel | {} |", m.kernel);
    let _ = writeln!(md, "| memory | {} GiB |", m.memory_gib);
    let load = |l: Option<f64>| l.map_or("unknown".into(), |l| format!("{l:.2}"));
    let _ = writeln!(
        md,
        "| load average (1 min), start / end | {} / {} |",
        load(results.load_average[0]),
        load(results.load_average[1])
    );
    let _ = writeln!(md, "| descriptor limit | {} |\n", g.fd_limit);
    let _ = writeln!(
        md,
        "**How it was measured.** Each cell starts a fresh server, opens the connections \
         (at most {} waiting for their first reply at once) and makes one verified round trip \
         on each; set-up is not timed. After a warm-up of at least {:.2} s, and until every \
         connection has made another round trip, it measures {} back to back; every \
         figure is the median over them. One `mio` load generator in the lab ({}) drives every \
         server alike: each connection writes a message of lower-case letters and bytes >= \
         0x80, reads the reply by its length and checks every byte. The server's CPU time is \
         read from `/proc/PID/stat` at the edges of each window (for a fork server, each \
         child's from `/proc/PID/schedstat`); peak memory is `VmHWM` from `/proc/PID/status` \
         (plus each child's `Pss`), threads are `Threads` there, with every connection open.\n",
        super::loadgen::RAMP,
        g.warmup_s,
        counted(
            g.reps,
            &format!("one window of {:.2} s", g.window_s),
            &format!("{} windows of {:.2} s", g.reps, g.window_s)
        ),
        counted(
            g.client_threads,
            "one thread",
            &format!("{} threads", g.client_threads)
        ),
    );
    if let Some(pass) = g.count_s {
        let _ = writeln!(
            md,
            "**System calls and context switches** come from a counting pass of its own: \
             after the timed windows, on the same connections, `perf stat -e \
             raw_syscalls:sys_enter,context-switches` is attached to the server, given the \
             server's pid and every child it has (a fork server's clients each have one: \
             `-p` covers only the processes named and the children they fork *after* the \
             attach, which perf follows by inheritance), and enabled for {pass:.2} s. Tracing \
             every system call slows the server, so this pass is never timed. The user / \
             kernel split of CPU time is the ratio of the process tree's `utime` to `stime` \
             ticks (with `cutime`/`cstime` of reaped children) over the timed windows, \
             applied to the CPU column; `–` where no tick fell in them. *n/c*: perf could not \
             count (the notes say why).\n"
        );
    }
    let _ = writeln!(
        md,
        "**How to read it.** The **× tokio** columns divide by the tokio servers measured in \
         this same run, cell by cell: `{TOKIO_CURRENT}` (one thread: the fair match for \
         single-threaded event loops) and `{TOKIO_MULTI}` (a worker per core). Above 1× is \
         more round trips per second than tokio; for CPU per round trip, below 1× is cheaper. \
         On loopback most of a round trip is the kernel's TCP path, so round trips per second \
         differ less than the models do; CPU per round trip, p99 latency, threads and memory \
         show what each model costs. The load generator shares the machine's {} with the \
         server; a load average well above the bench's own (about 2 here) means other work \
         shared them too, and the figures are noisier. *held · wrong* is how many connections were held (failures in bold) and how many \
         replies were wrong; n/a cells are beyond a server's limit by design and were not run.\n",
        counted(m.cores, "one core", &format!("{} cores", m.cores))
    );
    targets(&mut md, results);
    for &size in &g.sizes {
        let _ = writeln!(md, "## {} messages\n", size_label(size));
        for &conns in &g.conns {
            let cells: Vec<&Cell> = ordered(results, size, conns);
            if cells.is_empty() {
                continue;
            }
            let _ = writeln!(md, "### {} {}\n", conns, plural(conns, "connection"));
            md.push_str(&table(results, &cells));
            md.push('\n');
        }
    }
    large(&mut md, results);
    churn(&mut md, results);
    let _ = writeln!(
        md,
        "## Charts ({} messages)\n",
        size_label(g.sizes.first().copied().unwrap_or(64))
    );
    for (file, title) in FIGURES {
        let _ = writeln!(md, "![{title}](figures/{file})\n");
    }
    notes(&mut md, results);
    md
}

/// The tables alone, for the terminal.
pub fn tables(results: &Results) -> String {
    let mut out = String::new();
    for &size in &results.grid.sizes {
        for &conns in &results.grid.conns {
            let cells = ordered(results, size, conns);
            if cells.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "\n{} messages, {} connections",
                size_label(size),
                conns
            );
            out.push_str(&table(results, &cells));
        }
    }
    out
}

/// The cells at (`size`, `conns`): baselines first, then the models in the table's order,
/// then the Python servers.
fn ordered(results: &Results, size: usize, conns: usize) -> Vec<&Cell> {
    let mut cells: Vec<&Cell> = results
        .cells
        .iter()
        .filter(|c| c.size == size && c.conns == conns)
        .collect();
    cells.sort_by_key(|c| match c.kind {
        Kind::Baseline => 0,
        Kind::Model => 1,
        Kind::Python => 2,
    });
    cells
}

// ANCHOR: columns
const HEADER: &str = "| server | rt/s × tokio-ct | rt/s × tokio-mt | CPU/rt × tokio-ct \
    | CPU µs/rt | user / kernel µs | syscalls/rt | ctx sw/rt | rt/s | p50 / p99 µs \
    | peak RSS | threads | held · wrong |\n\
    |---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n";
// ANCHOR_END: columns

fn table(results: &Results, cells: &[&Cell]) -> String {
    let mut t = String::from(HEADER);
    for cell in cells {
        let name = &cell.variant;
        let row = match &cell.outcome {
            Outcome::NotApplicable { reason } => {
                format!("| {name} | n/a: {} ||||||||||||", escape(reason))
            }
            Outcome::Failed { reason } => {
                format!("| {name} | **failed**: {} ||||||||||||", escape(reason))
            }
            Outcome::Ran(m) => {
                let ct = results.measured(TOKIO_CURRENT, cell.size, cell.conns);
                let mt = results.measured(TOKIO_MULTI, cell.size, cell.conns);
                let cpu_ratio = match (m.cpu_us_per_rt, ct.and_then(|b| b.cpu_us_per_rt)) {
                    (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
                    _ => "–".into(),
                };
                let wrong = if m.mismatches == 0 {
                    "0".to_string()
                } else {
                    format!("**{}**", m.mismatches)
                };
                format!(
                    "| {name} | {} | {} | {cpu_ratio} | {} | {} | {} | {} | {} | {} / {} | {} \
                     | {} | {} · {wrong} |",
                    rps_ratio(m, ct),
                    rps_ratio(m, mt),
                    m.cpu_us_per_rt.map_or("–".into(), |c| format!("{c:.1}")),
                    user_kernel(m),
                    per_rt(m, Count::syscalls_per_rt),
                    per_rt(m, Count::switches_per_rt),
                    si(m.rps),
                    m.p50_us,
                    m.p99_us,
                    mib(m.rss_peak_kib),
                    threads(m),
                    held(m, cell.conns),
                )
            }
        };
        t.push_str(&row);
        t.push('\n');
    }
    t
}

/// `0.6 / 4.9`: the CPU column split into user mode and kernel.
fn user_kernel(m: &Measured) -> String {
    match (m.user_us_per_rt, m.kernel_us_per_rt) {
        (Some(u), Some(k)) => format!("{u:.1} / {k:.1}"),
        _ => "–".into(),
    }
}

/// A figure of the counting pass: `–` when the run did not count, `n/c` when perf could
/// not (the notes say why).
fn per_rt(m: &Measured, f: fn(&Count) -> Option<f64>) -> String {
    match &m.count {
        None => "–".into(),
        Some(count) => f(count).map_or("n/c".into(), |v| format!("{v:.2}")),
    }
}

fn rps_ratio(m: &Measured, base: Option<&Measured>) -> String {
    match base {
        Some(b) if b.rps > 0.0 => format!("{:.2}×", m.rps / b.rps),
        _ => "–".into(),
    }
}

fn held(m: &Measured, conns: usize) -> String {
    if m.errors == 0 && m.established == conns as u64 {
        format!("{conns}")
    } else {
        format!("**{}/{conns}**, {} failed", m.established, m.errors)
    }
}

fn threads(m: &Measured) -> String {
    if m.processes > 1 {
        format!("{} ({} processes)", m.threads, m.processes)
    } else {
        m.threads.to_string()
    }
}

/// The targets, checked against this run.
fn targets(md: &mut String, results: &Results) {
    let size = results.grid.sizes.first().copied().unwrap_or(64);
    let _ = writeln!(md, "## Targets ({} messages)\n", size_label(size));
    let _ = writeln!(md, "| target | measured | met |\n|---|---|---|");
    let names = |prefix: &str| -> Vec<String> {
        let mut names: Vec<String> = results
            .cells
            .iter()
            .filter(|c| c.variant.starts_with(prefix))
            .map(|c| c.variant.clone())
            .collect();
        names.dedup();
        names
    };
    for target in RATIO_TARGETS {
        for &conns in RATIO_CONNS {
            let label = format!(
                "`{}` ≥ {:.1}× `{}` at {conns} connections",
                target.variant, target.min, target.baseline
            );
            let found = names(target.variant);
            if found.is_empty() {
                let _ = writeln!(md, "| {label} | not in this run | – |");
            }
            for name in found {
                let a = results.measured(&name, size, conns);
                let b = results.measured(target.baseline, size, conns);
                let (text, met) = match (a, b) {
                    (Some(a), Some(b)) if b.rps > 0.0 => {
                        let r = a.rps / b.rps;
                        let met = r >= target.min;
                        let gap = if met {
                            String::new()
                        } else {
                            format!(", {:.0}% short", (target.min - r) / target.min * 100.0)
                        };
                        (
                            format!(
                                "`{name}`: {r:.2}× ({} vs {} rt/s{gap})",
                                si(a.rps),
                                si(b.rps)
                            ),
                            met,
                        )
                    }
                    _ => (format!("`{name}`: not measured at {conns}"), false),
                };
                let _ = writeln!(md, "| {label} | {text} | {} |", yes_no(met));
            }
        }
    }
    for target in RATIO_TARGETS {
        let label = format!(
            "`{}` holds {HOLD_CONNS} connections, 0 mismatches, RSS < {} MiB",
            target.variant,
            HOLD_MAX_KIB / 1024
        );
        let found = names(target.variant);
        if found.is_empty() {
            let _ = writeln!(md, "| {label} | not in this run | – |");
        }
        for name in found {
            let (text, met) = match results.measured(&name, size, HOLD_CONNS) {
                Some(m) => (
                    format!(
                        "`{name}`: {}/{HOLD_CONNS} held, {} failed, {} mismatches, {}",
                        m.established,
                        m.errors,
                        m.mismatches,
                        mib(m.rss_peak_kib)
                    ),
                    m.established == HOLD_CONNS as u64
                        && m.errors == 0
                        && m.mismatches == 0
                        && m.rss_peak_kib < HOLD_MAX_KIB,
                ),
                None => (format!("`{name}`: not measured at {HOLD_CONNS}"), false),
            };
            let _ = writeln!(md, "| {label} | {text} | {} |", yes_no(met));
        }
    }
    md.push('\n');
}

/// Stevens' row and design name (UNP vol. 1, 3rd ed., ch. 30, figure 30.1) for one of our
/// servers, where one maps; the other rows (2 to 5, 7: preforked children, locking around
/// `accept`, descriptor passing, prethreaded with a mutex) have no server of ours.
fn stevens(variant: &str) -> (&'static str, &'static str) {
    match variant {
        "blocking-io/iterative" => ("0", "iterative server (no process control)"),
        "blocking-io/fork" => ("1", "concurrent server, one fork per client"),
        v if v.contains("prefork") => ("2", "preforked, each child calling accept"),
        "blocking-io/thread" => ("6", "concurrent server, one thread per client"),
        "blocking-io/pool" | "async-callback/pool" => {
            ("8", "prethreaded, main thread calling accept")
        }
        _ => (
            "–",
            "not in Stevens' table (one thread or a runtime, no process control)",
        ),
    }
}

/// Connection churn, laid out like Stevens' figure 30.1.
fn churn(md: &mut String, results: &Results) {
    if results.churn.is_empty() {
        return;
    }
    let clients = results
        .churn
        .iter()
        .find_map(|c| c.outcome.as_ref().ok().map(|m| m.clients))
        .unwrap_or(super::churn::CLIENTS);
    let _ = writeln!(
        md,
        "## Connection churn: a connection per request
"
    );
    let _ = writeln!(
        md,
        "{clients} client threads each connect, send one {} B message, read and check the reply \
         and close, in a loop, for {:.1} s per server after a short warm-up (Stevens, *Unix \
         Network Programming* vol. 1, ch. 30, measured each server design the same way). \
         *Process control* is the server's CPU time per connection less the iterative \
         server's, as in his figure 30.1: what creating a process or thread per client, or \
         handing the client over, adds to accepting and serving it. The client closes first \
         and binds each socket to one of {} source addresses in 127.0.0.0/8 before \
         connecting: the TIME_WAIT state stays on the client's side (as a server wants), and \
         cycling the source addresses gives it {}× the ~28,000 ephemeral ports of one \
         address, which a few seconds of churn would otherwise use up. (`SO_LINGER` 0 would \
         leave no TIME_WAIT but ends every connection with a reset.)\n",
        super::churn::SIZE,
        results
            .churn
            .iter()
            .find_map(|c| c.outcome.as_ref().ok().map(|m| m.elapsed_s))
            .unwrap_or(0.0),
        super::churn::SOURCES,
        super::churn::SOURCES,
    );
    let _ = writeln!(
        md,
        "| Stevens | his design | our server | conn/s | × tokio-ct | CPU µs/conn | \
         user / kernel µs | process control µs | failed · wrong |\n\
         |--:|---|---|--:|--:|--:|--:|--:|--:|"
    );
    let find = |name: &str| {
        results
            .churn
            .iter()
            .find(|c| c.variant == name)
            .and_then(|c| c.outcome.as_ref().ok())
    };
    let base = find(TOKIO_CURRENT);
    let iterative = find("blocking-io/iterative").and_then(|m| m.cpu_us_per_conn);
    let mut rows: Vec<&super::results::ChurnCell> = results.churn.iter().collect();
    // Stevens' rows in his order, then ours, then the baselines and the Python servers.
    rows.sort_by_key(|c| {
        let row = stevens(&c.variant).0.parse::<u8>().unwrap_or(u8::MAX);
        (row, c.kind == Kind::Python, c.kind != Kind::Baseline)
    });
    for c in rows {
        let (row, design) = stevens(&c.variant);
        let figures = match &c.outcome {
            Err(reason) => format!("**failed**: {} ||||||", escape(reason)),
            Ok(m) => {
                let ratio = base.filter(|b| b.per_second > 0.0).map_or("–".into(), |b| {
                    format!("{:.2}×", m.per_second / b.per_second)
                });
                let control = match (m.cpu_us_per_conn, iterative) {
                    (Some(cpu), Some(it)) => format!("{:.1}", cpu - it),
                    _ => "–".into(),
                };
                let wrong = if m.mismatches == 0 {
                    "0".to_string()
                } else {
                    format!("**{}**", m.mismatches)
                };
                format!(
                    "{} | {ratio} | {} | {} / {} | {control} | {} · {wrong}",
                    si(m.per_second),
                    m.cpu_us_per_conn.map_or("–".into(), |c| format!("{c:.1}")),
                    m.user_us_per_conn.map_or("–".into(), |c| format!("{c:.1}")),
                    m.kernel_us_per_conn
                        .map_or("–".into(), |c| format!("{c:.1}")),
                    m.errors,
                )
            }
        };
        let _ = writeln!(md, "| {row} | {design} | {} | {figures} |", c.variant);
    }
    md.push('\n');
    let _ = writeln!(md, "![{}](figures/{})\n", CHURN_FIGURE.1, CHURN_FIGURE.0);
    let cost = |name: &str| find(name).and_then(|m| m.cpu_us_per_conn);
    let _ = writeln!(
        md,
        "**What changed since 1998.** Stevens measured a fork per client at roughly ten times \
         the process-control cost of a pool, and a thread per client well below a fork. Both \
         orders hold here{}, but for other reasons than his. A fork no longer copies the \
         parent's memory, only its page tables (copy-on-write), and a small Rust server has few \
         to copy; what a fork per client still pays is the page tables, the child's exit and \
         reaping, and the page faults of its first writes. A thread per client pays a stack \
         mapping, a `clone`, its exit and the wake-ups between it and the acceptor, still a \
         fraction of a fork; a pool pays only the hand-over. (A fork child runs for less than \
         a clock tick, so its user/kernel split, read from tick counts, is rough; its total \
         is exact.) The event loops and runtimes come out *below* the iterative server: it \
         sleeps in `accept` and is woken for every client, while a loop under churn finds \
         the next connection already queued. And accept's thundering herd is gone: Linux wakes one \
         of the processes or threads blocked in `accept` on the same socket (and epoll has \
         `EPOLLEXCLUSIVE` for loops that wait on it), so the locking around `accept` of his \
         rows 3, 4 and 7 is no longer needed. What is left is the kernel's own work per \
         connection, three-way handshake, socket allocation, close and TIME_WAIT, the bulk of \
         every row's kernel time: a server that does no process control at all still spends \
         tens of microseconds of kernel time per connection.\n",
        match (
            cost("blocking-io/fork"),
            cost("blocking-io/thread"),
            cost("blocking-io/pool")
        ) {
            (Some(f), Some(t), Some(p)) => format!(
                " (this run: {f:.0} µs of CPU per connection with a fork, {t:.0} with a thread, \
                 {p:.0} with a pool)"
            ),
            _ => String::new(),
        }
    );
}

/// The large-message cells: bandwidth and CPU per MiB.
fn large(md: &mut String, results: &Results) {
    let cells: Vec<&Cell> = results
        .grid
        .large
        .iter()
        .flat_map(|&(size, conns)| ordered(results, size, conns))
        .collect();
    if cells.is_empty() {
        return;
    }
    let _ = writeln!(md, "## Large messages\n");
    let _ = writeln!(
        md,
        "The same ping-pong with messages larger than a socket buffer: each is written while \
         its reply is already coming back, so a server that finished writing before reading \
         would deadlock. What is measured is copying: MiB/s is message bytes echoed per second \
         (one direction), CPU per MiB is the server's. Cells are shorter ({:.1} s) than the \
         64 B ones and not counted with perf.\n",
        super::grid::LARGE_TIME
            .as_secs_f64()
            .min(results.grid.duration_s)
    );
    for &(size, conns) in &results.grid.large {
        let cells = ordered(results, size, conns);
        if cells.is_empty() {
            continue;
        }
        let _ = writeln!(
            md,
            "### {} messages, {conns} {}\n",
            size_label(size),
            plural(conns, "connection")
        );
        let _ = writeln!(
            md,
            "| server | MiB/s | × tokio-ct | CPU ms/MiB | user / kernel ms/MiB | p99 µs | \
             peak RSS | held · wrong |\n|---|--:|--:|--:|--:|--:|--:|--:|"
        );
        let mib_per = size as f64 / (1024.0 * 1024.0);
        let base = results.measured(TOKIO_CURRENT, size, conns);
        for cell in cells {
            let name = &cell.variant;
            let row = match &cell.outcome {
                Outcome::NotApplicable { reason } => {
                    format!("| {name} | n/a: {} |||||||", escape(reason))
                }
                Outcome::Failed { reason } => {
                    format!("| {name} | **failed**: {} |||||||", escape(reason))
                }
                Outcome::Ran(m) => {
                    let per_mib = |us: Option<f64>| {
                        us.map_or("–".into(), |u| format!("{:.2}", u / 1000.0 / mib_per))
                    };
                    format!(
                        "| {name} | {:.0} | {} | {} | {} / {} | {} | {} | {} · {} |",
                        m.rps * mib_per,
                        rps_ratio(m, base),
                        per_mib(m.cpu_us_per_rt),
                        per_mib(m.user_us_per_rt),
                        per_mib(m.kernel_us_per_rt),
                        m.p99_us,
                        mib(m.rss_peak_kib),
                        held(m, cell.conns),
                        m.mismatches
                    )
                }
            };
            let _ = writeln!(md, "{row}");
        }
        md.push('\n');
    }
}

/// What did not run, and why connections failed where they did.
fn notes(md: &mut String, results: &Results) {
    let mut lines: Vec<String> = results.skipped.clone();
    for c in &results.cells {
        if let Outcome::Ran(m) = &c.outcome {
            if let Some(Count::NotCounted { reason }) = &m.count {
                lines.push(format!(
                    "`{}` at {} connections ({}): not counted (n/c): {}",
                    c.variant,
                    c.conns,
                    size_label(c.size),
                    escape(reason)
                ));
            }
            if let Some(first) = m.error_samples.first() {
                lines.push(format!(
                    "`{}` at {} connections ({}): {} failed, for example: {}",
                    c.variant,
                    c.conns,
                    size_label(c.size),
                    m.errors,
                    escape(first)
                ));
            }
        }
    }
    for c in &results.churn {
        if let Ok(m) = &c.outcome {
            if let Some(first) = m.error_samples.first() {
                lines.push(format!(
                    "`{}` under churn: {} connections failed, for example: {}",
                    c.variant,
                    m.errors,
                    escape(first)
                ));
            }
        }
    }
    lines.extend(results.problems());
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(md, "## Notes\n");
    for line in lines {
        let _ = writeln!(md, "- {line}");
    }
    md.push('\n');
}

fn yes_no(met: bool) -> &'static str {
    if met {
        "yes"
    } else {
        "**no**"
    }
}

/// `64 B`, `16 KiB`, `1 MiB`.
pub fn size_label(size: usize) -> String {
    if size >= 1 << 20 && size % (1 << 20) == 0 {
        format!("{} MiB", size >> 20)
    } else if size >= 1024 && size % 1024 == 0 {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

/// `one` when `n` is 1, else `many`.
fn counted(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        one.to_string()
    } else {
        many.to_string()
    }
}

pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

/// `141.2k`, `2.31M`, `873`.
pub fn si(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Keeps a reason on one table row.
fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(size_label(64), "64 B");
        assert_eq!(size_label(16_384), "16 KiB");
        assert_eq!(size_label(1 << 20), "1 MiB");
        assert_eq!(si(141_234.0), "141.2k");
        assert_eq!(si(873.4), "873");
        assert_eq!(escape("a|b\nc"), "a\\|b c");
    }
}
