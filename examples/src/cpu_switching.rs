//! Section 七's remark on coroutines (单线程下实现并发): switching between tasks that have no
//! I/O to wait for does not make them faster; it only adds the cost of every switch.
//!
//! The same CPU-bound work runs twice on one thread:
//! - **in turn**: a plain loop runs task 1's steps, then task 2's, and so on (串行);
//! - **in coroutines**: one `may` coroutine per task on one worker, each calling
//!   `yield_now()` after every step, so the worker switches to the next coroutine each time,
//!   as gevent would if every step were a `gevent.sleep(0)`.
//!
//! Both compute the same results; the coroutine version also counts its switches, seen from
//! inside: each step notes which task ran the step before it, and a different task there
//! means the worker switched. What to watch: the coroutine version is slower by about
//! (switches × the cost of one switch), and nothing is gained, because no task ever waits
//! for anything another task could use the time for. Coroutines pay off only when a task
//! would otherwise wait (for I/O, a timer), which is what gevent's `monkey.patch_all()` and
//! our coroutine-aware sockets detect.
//!
//! `cargo run --release --example cpu_switching` (`-- --tasks 4 --steps 1000000`).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How much CPU work one step does: a few dozen arithmetic operations (a few nanoseconds), so
/// the cost of a switch is not lost in the work around it.
pub const WORK_PER_STEP: u32 = 4;

/// One step of one task: `WORK_PER_STEP` rounds of a 64-bit mix (splitmix64), from `state`.
pub fn step(mut state: u64) -> u64 {
    for _ in 0..WORK_PER_STEP {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        state ^= z ^ (z >> 31);
    }
    state
}

/// Task `task`'s starting state: different per task, so a mixed-up result shows.
fn seed(task: usize) -> u64 {
    task as u64 + 1
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Run {
    /// Each task's final state, by task.
    pub results: Vec<u64>,
    pub elapsed: Duration,
    /// `yield_now` calls (0 for the plain loop).
    pub yields: u64,
    /// Steps that followed a step of another task: switches the worker really made.
    pub switches: u64,
}

// ANCHOR: in_turn
/// Every task's steps, one task after another, in a plain loop.
pub fn in_turn(tasks: usize, steps: u64) -> Run {
    let start = Instant::now();
    let results = (0..tasks)
        .map(|task| (0..steps).fold(seed(task), |state, _| step(state)))
        .collect();
    Run {
        // `black_box`: the optimiser must not skip work whose result is never used.
        results: std::hint::black_box(results),
        elapsed: start.elapsed(),
        yields: 0,
        switches: 0,
    }
}
// ANCHOR_END: in_turn

/// Marks "no step has run yet" in [`in_coroutines`]' last-task cell.
const NOBODY: usize = usize::MAX;

// ANCHOR: in_coroutines
/// The same steps, one coroutine per task, each yielding after every step.
///
/// `may` must run one worker (like gevent on its one thread; see
/// `coroutine_spawn::runtime::Runtime::one_worker`): on more, the coroutines would run in
/// parallel and measure something else, so it is refused.
pub fn in_coroutines(tasks: usize, steps: u64) -> protocol::Result<Run> {
    let workers = may::config().get_workers();
    if workers != 1 {
        return Err(
            format!("needs may on one worker, as gevent on one thread; has {workers}").into(),
        );
    }
    let yields = Arc::new(AtomicU64::new(0));
    let switches = Arc::new(AtomicU64::new(0));
    // The task whose step ran last. Atomics, not a lock: a std lock must never be held
    // across a yield, and only the one worker touches these anyway.
    let last = Arc::new(AtomicUsize::new(NOBODY));
    let start = Instant::now();
    let (counted_yields, counted_switches) = (yields.clone(), switches.clone());
    // Spawned from a coroutine, not from this thread: a coroutine spawned on the worker goes
    // on the worker's own run queue, and `go!` does not yield, so all the tasks are queued
    // before the first runs. (Spawned from this thread, they would arrive one by one from
    // outside, while the first already spins through its yields: measured, a worker busy
    // with a coroutine that yields and is at once runnable may never pick up the others.)
    let main = move || -> Result<Vec<u64>, String> {
        let mut handles = Vec::with_capacity(tasks);
        for task in 0..tasks {
            let (yields, switches, last) = (yields.clone(), switches.clone(), last.clone());
            let body = move || {
                let mut state = seed(task);
                for _ in 0..steps {
                    state = step(state);
                    let before = last.swap(task, Ordering::Relaxed);
                    if before != task && before != NOBODY {
                        switches.fetch_add(1, Ordering::Relaxed);
                    }
                    // Nothing to wait for, and we give the worker away all the same.
                    yields.fetch_add(1, Ordering::Relaxed);
                    may::coroutine::yield_now();
                }
                state
            };
            // SAFETY: `go!` is unsafe because a coroutine must not rely on thread-local
            // storage (it may resume on another thread) and must fit its fixed stack. `body`
            // touches no thread-local, and its frames (a loop and `step`) need well under a
            // page.
            handles
                .push(may::go!(may::coroutine::Builder::new(), body).map_err(|e| e.to_string())?);
        }
        // `join` parks this coroutine (it does not block the worker) until each task ends.
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| "a task panicked".to_string()))
            .collect()
    };
    // SAFETY: as above: `main` touches no thread-local and needs little stack; it only spawns
    // and joins.
    let results = may::go!(may::coroutine::Builder::new(), main)?
        .join()
        .map_err(|_| "the main coroutine panicked".to_string())??;
    let (yields, switches) = (counted_yields, counted_switches);
    Ok(Run {
        results,
        elapsed: start.elapsed(),
        yields: yields.load(Ordering::Relaxed),
        switches: switches.load(Ordering::Relaxed),
    })
}
// ANCHOR_END: in_coroutines

/// The example's command line.
#[derive(clap::Parser, Debug)]
#[command(
    name = "cpu_switching",
    about = "Section 七: CPU-bound tasks in turn, then in coroutines that yield after every step"
)]
pub struct Cli {
    /// Tasks (coroutines in the second run).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub tasks: u64,
    /// Steps per task; each coroutine yields after every one.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub steps: u64,
}

/// Runs of each version in the example; the fastest is reported.
const RUNS: usize = 5;

/// `cargo run --release --example cpu_switching`.
pub fn example_main() -> protocol::Result<()> {
    use clap::Parser;
    let cli = Cli::parse();
    coroutine_spawn::runtime::init(coroutine_spawn::runtime::Runtime::one_worker())?;
    let (tasks, steps) = (cli.tasks as usize, cli.steps);
    // The fastest of a few runs of each: on a shared machine a slow run says more about the
    // neighbours than about the code.
    let plain = (0..RUNS)
        .map(|_| in_turn(tasks, steps))
        .min_by_key(|r| r.elapsed)
        .ok_or("no run")?;
    println!(
        "in turn:       {tasks} tasks x {steps} steps in {:8.1} ms, no switches",
        ms(plain.elapsed)
    );
    let mut coroutines = in_coroutines(tasks, steps)?;
    for _ in 1..RUNS {
        let again = in_coroutines(tasks, steps)?;
        if again.elapsed < coroutines.elapsed {
            coroutines = again;
        }
    }
    println!(
        "in coroutines: {tasks} tasks x {steps} steps in {:8.1} ms, {} yields, {} switches",
        ms(coroutines.elapsed),
        coroutines.yields,
        coroutines.switches
    );
    if coroutines.results != plain.results {
        return Err("the two runs computed different results".into());
    }
    let extra = coroutines.elapsed.as_secs_f64() - plain.elapsed.as_secs_f64();
    println!(
        "same results; the coroutines took {:.2}x as long: {:.0} ns more per switch, for nothing \
         (fastest of {RUNS} runs each)",
        coroutines.elapsed.as_secs_f64() / plain.elapsed.as_secs_f64(),
        extra * 1e9 / coroutines.switches.max(1) as f64
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
