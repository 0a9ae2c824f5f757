//! `cargo lab bench`: every server variant under one load generator, beside tokio.
//!
//! ```text
//! cargo lab bench                          # the full grid, ~10 minutes on 2 cores
//! cargo lab bench --quick --out /tmp/b     # smoke test: 1 and 100 connections, 1 s
//! cargo lab bench --variants multiplexing --conns 100,1000 --sizes 64
//! ```
//!
//! Every variant registered in [`VARIANTS`](crate::variants::VARIANTS) runs, the tokio
//! baselines (registered there too, as crate `baseline`) are the yardstick every ratio is
//! divided by, and the notes' own Python servers run when `python3` (and `gevent`) are here.
//! `--external mine=127.0.0.1:9000` adds a server that is already running (a student's own,
//! in any language) to the same run, and `--external-pid mine=PID` lets its cost be read.
//! Output: a progress bar, a table per cell size on the terminal, and `results.md`,
//! `results.json` and `figures/bench-*.svg` in `--out` (the book's `docs/src` by default),
//! with the same page in Chinese in `--out`'s `zh/` (by default the Chinese book's
//! `docs/zh/src`), whose `figures` lead to the same charts.
//!
//! - [`entrants`]: who runs; [`grid`]: which cells, and the time budget;
//! - [`loadgen`]: the mio load generator; [`cell`]: one cell; [`server`]: the server of a
//!   cell, ours or external; [`tree`]: the server's cost;
//! - [`results`], [`report`], [`charts`], [`machine`]: what is written.
//!
//! The run fails (non-zero exit) on any mismatched reply or a server that did not start or
//! died, never on a speed figure: speed depends on the machine, correctness does not.

pub mod cell;
pub mod charts;
pub mod churn;
pub mod entrants;
pub mod grid;
pub mod loadgen;
pub mod machine;
pub mod report;
pub mod results;
pub mod server;
pub mod tree;

pub use grid::BenchArgs;

use grid::{Grid, Planned};
use indicatif::{ProgressBar, ProgressStyle};
use results::{Cell, GridInfo, Outcome, Results};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Runs the bench as `args` say, writes its results, and fails if any cell was wrong.
pub fn run(args: &BenchArgs) -> crate::Result<()> {
    if args.redraw {
        let (out, out_zh) = outs(args);
        let json = std::fs::read_to_string(out.join("results.json"))?;
        let results: Results = serde_json::from_str(&json)?;
        write(&results, &out, &out_zh)?;
        println!(
            "bench: redrew {} and {} from its results.json",
            out.display(),
            out_zh.join("results.md").display()
        );
        return Ok(());
    }
    let started = Instant::now();
    let load_before = machine::load_average();
    let grid = Grid::from_args(args)?;
    let fd_limit = loadgen::raise_fd_limit()?;
    let (all, skipped) = entrants::all();
    let externals = entrants::externals(&args.external, &args.external_pid, &all)?;
    let unmatched = |f: &String| !all.iter().any(|e| e.name.contains(f.as_str()));
    if !args.variants.is_empty() && args.variants.iter().all(unmatched) {
        return Err(format!(
            "no variant matches {:?} (see `cargo lab variants`)",
            args.variants
        )
        .into());
    }
    let mut entrants = entrants::select(all, &args.variants);
    entrants.extend(externals);
    for line in &skipped {
        println!("{line}");
    }
    let plan = grid.plan(&entrants, fd_limit);
    let runnable = plan.iter().filter(|c| c.skip.is_none()).count();
    let estimate = grid.estimate(&plan);
    let churn_estimate = grid.churn_estimate(entrants.len());
    println!(
        "bench: {} servers, workloads {:?}, {runnable} cells to run ({} not applicable), \
         {:.2} s measured per echo cell in {} window(s); about {:.1} minutes",
        entrants.len(),
        grid.workloads,
        plan.len() - runnable,
        grid.duration.as_secs_f64(),
        grid.reps,
        (estimate + churn_estimate).as_secs_f64() / 60.0
    );
    for line in fd_warnings(&grid, fd_limit) {
        println!("{line}");
    }

    let lab = std::env::current_exe()?;
    let cells = run_cells(&lab, &entrants, &plan, &grid, estimate);
    let churn = if grid.workloads.contains(&grid::Workload::Churn) {
        run_churn(&lab, &entrants, &grid)
    } else {
        Vec::new()
    };
    let results = Results {
        machine: machine::Machine::this(),
        date: crate::phases::page::utc_now(),
        load_average: [load_before, machine::load_average()],
        command: command_line(),
        grid: GridInfo {
            conns: grid.conns.clone(),
            sizes: grid.sizes.clone(),
            other_size_conns: grid.other_size_conns.clone(),
            duration_s: grid.duration.as_secs_f64(),
            reps: grid.reps,
            window_s: grid.window().as_secs_f64(),
            warmup_s: grid.warmup.as_secs_f64(),
            client_threads: grid.client_threads,
            fd_limit,
            count_s: grid.count.map(|d| d.as_secs_f64()),
            large: grid.large.clone(),
        },
        skipped,
        reduced: grid.reductions(args),
        cells,
        churn,
        elapsed_s: started.elapsed().as_secs_f64(),
    };
    print!("{}", report::tables(&results));
    let (out, out_zh) = outs(args);
    write(&results, &out, &out_zh)?;
    println!(
        "\nbench: wrote {}, {} and {} (charts in {}) in {:.1} minutes",
        out.join("results.md").display(),
        out_zh.join("results.md").display(),
        out.join("results.json").display(),
        out.join("figures").display(),
        results.elapsed_s / 60.0
    );
    let problems = results.problems();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} cell(s) went wrong:\n  {}",
            problems.len(),
            problems.join("\n  ")
        )
        .into())
    }
}

/// Runs every cell in order, with a progress bar measured in estimated time (a cell of
/// 10,000 connections takes longer than one of 1), and one line per cell.
fn run_cells(
    lab: &Path,
    entrants: &[entrants::Entrant],
    plan: &[Planned],
    grid: &Grid,
    estimate: Duration,
) -> Vec<Cell> {
    let bar = ProgressBar::new(estimate.as_millis() as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] ~{eta} left  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    let say = |line: String| {
        if bar.is_hidden() {
            println!("{line}");
        } else {
            bar.println(line);
        }
    };
    let mut cells = Vec::with_capacity(plan.len());
    let total = plan.iter().filter(|c| c.skip.is_none()).count();
    let mut done = 0;
    for planned in plan {
        let entrant = &entrants[planned.entrant];
        let label = format!(
            "{}, {} {}, {}",
            entrant.name,
            planned.conns,
            report::plural(planned.conns, "connection"),
            report::size_label(planned.size)
        );
        let outcome = match &planned.skip {
            Some(reason) => Outcome::NotApplicable {
                reason: reason.clone(),
            },
            None => {
                done += 1;
                bar.set_message(format!("[{done}/{total}] {label}"));
                let outcome = if planned.large {
                    cell::run(lab, entrant, planned.size, planned.conns, &grid.for_large())
                } else {
                    cell::run(lab, entrant, planned.size, planned.conns, grid)
                };
                bar.inc(grid.estimate(std::slice::from_ref(planned)).as_millis() as u64);
                say(format!("[{done}/{total}] {label}: {}", one_line(&outcome)));
                outcome
            }
        };
        cells.push(Cell {
            variant: entrant.name.clone(),
            kind: entrant.kind,
            size: planned.size,
            conns: planned.conns,
            outcome,
        });
    }
    bar.finish_and_clear();
    cells
}

/// The churn workload, server by server, one line each.
fn run_churn(lab: &Path, entrants: &[entrants::Entrant], grid: &Grid) -> Vec<results::ChurnCell> {
    entrants
        .iter()
        .enumerate()
        .map(|(i, entrant)| {
            let outcome = churn::run(lab, entrant, grid);
            let line = match &outcome {
                Ok(m) => format!(
                    "{} conn/s, CPU {} µs/conn, errors {}, mismatches {}",
                    report::si(m.per_second),
                    m.cpu_us_per_conn.map_or_else(
                        || m.no_cost.clone().unwrap_or("–".into()),
                        |c| format!("{c:.1}")
                    ),
                    m.errors,
                    m.mismatches
                ),
                Err(reason) => format!("FAILED: {reason}"),
            };
            println!(
                "[churn {}/{}] {}: {line}",
                i + 1,
                entrants.len(),
                entrant.name
            );
            results::ChurnCell {
                variant: entrant.name.clone(),
                kind: entrant.kind,
                outcome,
            }
        })
        .collect()
}

/// A cell's outcome in one line, for the progress log.
fn one_line(outcome: &Outcome) -> String {
    match outcome {
        Outcome::NotApplicable { reason } => format!("n/a: {reason}"),
        Outcome::Failed { reason } => format!("FAILED: {reason}"),
        Outcome::Ran(m) if m.no_cost.is_some() => format!(
            "{} rt/s, p99 {} µs, held {}, errors {}, mismatches {} (no CPU, memory or \
             threads: {})",
            report::si(m.rps),
            m.p99_us,
            m.established,
            m.errors,
            m.mismatches,
            m.no_cost.as_deref().unwrap_or_default()
        ),
        Outcome::Ran(m) => format!(
            "{} rt/s, CPU {} µs/rt (user {}), {} syscalls/rt, p99 {} µs, RSS {:.1} MiB, \
             threads {}, held {}, errors {}, mismatches {}",
            report::si(m.rps),
            m.cpu_us_per_rt.map_or("–".into(), |c| format!("{c:.1}")),
            m.user_us_per_rt.map_or("–".into(), |c| format!("{c:.1}")),
            m.count
                .as_ref()
                .and_then(|c| c.syscalls_per_rt())
                .map_or("–".into(), |c| format!("{c:.2}")),
            m.p99_us,
            m.rss_peak_kib.unwrap_or(0) as f64 / 1024.0,
            m.threads.unwrap_or(0),
            m.established,
            m.errors,
            m.mismatches
        ),
    }
}

/// What a descriptor limit too low for the grid costs, said up front.
fn fd_warnings(grid: &Grid, fd_limit: u64) -> Vec<String> {
    grid.conns
        .iter()
        .filter_map(|&c| loadgen::fd_shortfall(c, fd_limit).map(|why| (c, why)))
        .map(|(c, why)| format!("bench: cells of {c} connections will not run: {why}"))
        .collect()
}

/// results.md, results.json and the charts in `out`, and the same page in Chinese in
/// `out_zh`, whose `figures` are the English page's (one set of charts for both).
pub fn write(results: &Results, out: &Path, out_zh: &Path) -> crate::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("results.md"), report::markdown(results, false))?;
    std::fs::write(
        out.join("results.json"),
        serde_json::to_string_pretty(results)? + "\n",
    )?;
    charts::draw_all(results, &out.join("figures"))?;
    std::fs::create_dir_all(out_zh)?;
    share_figures(out, out_zh)?;
    std::fs::write(out_zh.join("results.md"), report::markdown(results, true))?;
    Ok(())
}

/// Makes `out_zh/figures` lead to `out/figures`, as the book's `docs/zh/src/figures` does,
/// so the Chinese page's images show in a `--out` folder too. Anything already there (the
/// book's own link, or a folder someone made) is left alone.
fn share_figures(out: &Path, out_zh: &Path) -> crate::Result<()> {
    let link = out_zh.join("figures");
    if link.symlink_metadata().is_ok() {
        return Ok(());
    }
    // `out_zh` is `out/zh` when `--out` is given, so `../figures` is the English page's.
    // Elsewhere (the book), the link is there already and this is not reached; an absolute
    // target would break when the folder is moved, so the relative one is the only kind made.
    if out_zh.parent() == Some(out) {
        std::os::unix::fs::symlink("../figures", &link)?;
    }
    Ok(())
}

/// Where the two pages go: `--out DIR` and `DIR/zh`, or the two books' sources.
fn outs(args: &BenchArgs) -> (PathBuf, PathBuf) {
    match &args.out {
        Some(out) => (out.clone(), out.join("zh")),
        None => {
            let lab = Path::new(env!("CARGO_MANIFEST_DIR"));
            // crates/lab -> the workspace root.
            let root = lab.ancestors().nth(2).unwrap_or(lab);
            (root.join("docs/src"), root.join("docs/zh/src"))
        }
    }
}

/// `cargo lab bench ...` as typed (the lab binary is what `cargo lab` runs).
fn command_line() -> String {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .map(|a| {
            if a.contains(char::is_whitespace) {
                format!("'{a}'")
            } else {
                a
            }
        })
        .collect();
    format!("cargo lab {}", args.join(" "))
}
