//! Section 一's warm-up: `spawn` three functions that sleep 3, 2 and 5 units, then `join`
//! them. In the notes the program patches the standard library with gevent first, spawns
//! `f1`, `f2` and `f3` as greenlets `g1`, `g2`, `g3`, and joins each in turn; each function
//! prints a line, sleeps with plain `time.sleep`, and prints another.
//!
//! What to watch (`cargo run --example spawn_join`):
//! - [`Sleep::Cooperative`]: `may::coroutine::sleep` parks the coroutine and lets the worker
//!   run the others, so all three start at once, `f2` wakes first, then `f1`, then `f3`, and
//!   the whole run takes about 5 units (the longest sleep), not 3 + 2 + 5 = 10.
//! - [`Sleep::Blocking`]: `std::thread::sleep` puts the *worker thread* to sleep. No other
//!   coroutine can run on it meanwhile, so each function runs start to end before the next
//!   starts, and the run takes about 10 units.
//!
//! Both run on one worker: gevent's greenlets share one OS thread, and with more workers
//! `may` would move the waiting coroutines to another thread and hide the mistake.
//!
//! The difference from gevent: `monkey.patch_all()` swaps the standard library's own
//! `time.sleep` (and `socket.socket`, `select.select`, ...) for cooperative versions, so the
//! notes' code, which looks `time.sleep` up through its module at each call, yields. (A name
//! imported before the patch, `from time import sleep`, keeps the blocking original: hence
//! "patch first".) Rust has no monkey-patching: `std::thread::sleep` always
//! blocks the thread, and it is the caller's job to call `may::coroutine::sleep` (and
//! `may::net`, `may::sync`) instead. The compiler does not catch the mistake; the
//! [`Sleep::Blocking`] run shows what it costs.

use clap::Parser;
use std::ffi::OsString;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How a coroutine sleeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sleep {
    /// `may::coroutine::sleep`: the coroutine yields and the worker runs others.
    Cooperative,
    /// `std::thread::sleep`: the worker thread itself sleeps; nothing else runs on it.
    Blocking,
}

/// The notes' three functions: name and how many units each sleeps.
pub const TASKS: [(&str, u32); 3] = [("f1", 3), ("f2", 2), ("f3", 5)];

/// One printed line: `from f1 1` (before the sleep) or `from f1 2` (after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub task: &'static str,
    /// 1 before the sleep, 2 after it, as in the notes' `print('from f1 1')`.
    pub part: u8,
    /// When it was printed, since the spawns.
    pub at: Duration,
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "from {} {}", self.task, self.part)
    }
}

/// What one spawn/join run did.
#[derive(Debug, Clone)]
pub struct Run {
    pub sleep: Sleep,
    /// Every line, in the order it was printed.
    pub lines: Vec<Line>,
    /// From the first spawn to the last join.
    pub elapsed: Duration,
}

impl Run {
    /// The lines as the notes print them, without times.
    pub fn order(&self) -> Vec<String> {
        self.lines.iter().map(Line::to_string).collect()
    }

    /// The run as a student reads it: a heading, each line with its time, the total.
    pub fn report(&self, unit: Duration) -> Vec<String> {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let units = self.elapsed.as_secs_f64() / unit.as_secs_f64();
        let (heading, verdict) = match self.sleep {
            Sleep::Cooperative => (
                "may::coroutine::sleep (cooperative, what gevent's patched time.sleep does):",
                "the longest sleep: the three slept at the same time",
            ),
            Sleep::Blocking => (
                "std::thread::sleep (blocks the worker thread; no monkey-patching in Rust):",
                "the sum: the one worker slept through each sleep in turn",
            ),
        };
        let mut out = vec![heading.to_string()];
        out.extend(
            self.lines
                .iter()
                .map(|l| format!("  {l}   at {:>6.0} ms", ms(l.at))),
        );
        out.push(format!(
            "  joined after {:.0} ms = {units:.1} units, {verdict}",
            ms(self.elapsed)
        ));
        out
    }
}

/// Spawns `f1`, `f2`, `f3`, joins them, and returns what they printed, in order.
///
/// `may`'s scheduler must run one worker (see [`crate::runtime::Runtime::one_worker`]);
/// on more, the blocking run would spread over threads, so it is refused.
pub fn spawn_join(unit: Duration, sleep: Sleep) -> crate::Result<Run> {
    let workers = may::config().get_workers();
    if workers != 1 {
        return Err(format!(
            "spawn/join must run on one worker, as gevent runs on one thread; may has {workers}"
        )
        .into());
    }
    // ANCHOR: spawn_join
    // A coroutine-aware channel: `send` never blocks, and a coroutine that `recv`s would park
    // instead of blocking its worker. (Here only the main thread receives.)
    let (lines, printed) = may::sync::mpsc::channel();
    let start = Instant::now();
    let mut handles = Vec::with_capacity(TASKS.len());
    for (task, units) in TASKS {
        let lines = lines.clone();
        let nap = unit * units;
        let body = move || {
            // `send` fails only once the receiver is gone; the main thread keeps it until
            // every task is joined.
            let _ = lines.send(Line {
                task,
                part: 1,
                at: start.elapsed(),
            });
            match sleep {
                Sleep::Cooperative => may::coroutine::sleep(nap),
                // Wrong on purpose: what gevent code does *without* `monkey.patch_all()`.
                // The worker thread sleeps, and every coroutine queued on it waits too.
                Sleep::Blocking => std::thread::sleep(nap),
            }
            let _ = lines.send(Line {
                task,
                part: 2,
                at: start.elapsed(),
            });
        };
        // SAFETY: `go!` is unsafe because a coroutine may (1) use thread-local storage,
        // which goes wrong once it resumes on another thread (and it may: `may` resumes a
        // coroutine whose sleep ended on its timer thread), and (2) overflow its fixed
        // stack. `body` touches no thread-local, and needs a few hundred bytes of stack.
        let spawned = may::go!(may::coroutine::Builder::new(), body)?;
        handles.push(spawned);
    }
    // `g1.join(); g2.join(); g3.join()`: without these, as the notes say, the main thread
    // would run off the end and the program would exit before any coroutine printed.
    for handle in handles {
        handle
            .join()
            .map_err(|_| "a spawned function panicked".to_string())?;
    }
    let elapsed = start.elapsed();
    // ANCHOR_END: spawn_join
    drop(lines);
    Ok(Run {
        sleep,
        lines: printed.try_iter().collect(),
        elapsed,
    })
}

/// The example's command line.
#[derive(Parser, Debug)]
#[command(
    name = "spawn_join",
    about = "Section 一: spawn f1, f2, f3 (sleeping 3, 2, 5 units), join them; cooperative, then blocking sleep"
)]
pub struct SpawnJoinCli {
    /// Milliseconds per unit; the notes sleep in seconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub unit_ms: u64,
}

/// `cargo run --example spawn_join -- --unit-ms 200`: both runs, one after the other.
pub fn example_main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = SpawnJoinCli::parse_from(args);
    let unit = Duration::from_millis(cli.unit_ms);
    let result = (|| -> crate::Result<()> {
        crate::runtime::init(crate::runtime::Runtime::one_worker())?;
        for sleep in [Sleep::Cooperative, Sleep::Blocking] {
            for line in spawn_join(unit, sleep)?.report(unit) {
                println!("{line}");
            }
        }
        Ok(())
    })();
    protocol::exit_code("spawn_join", result)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Large enough that scheduling noise on a busy machine cannot reorder the wake-ups.
    const UNIT: Duration = Duration::from_millis(40);

    /// The tests share the one worker: a blocking run beside a cooperative one would delay
    /// its starts and so reorder its wake-ups. One run at a time.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn cooperative_sleep_interleaves_f2_then_f1_then_f3() {
        crate::runtime::for_tests();
        let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let run = spawn_join(UNIT, Sleep::Cooperative).unwrap();
        let order = run.order();
        // All three start before any wakes up ...
        let firsts: Vec<_> = order[..3].to_vec();
        assert_eq!(firsts, ["from f1 1", "from f2 1", "from f3 1"], "{order:?}");
        // ... and they wake shortest sleep first.
        assert_eq!(
            order[3..],
            ["from f2 2", "from f1 2", "from f3 2"],
            "{order:?}"
        );
    }

    #[test]
    fn blocking_sleep_runs_one_function_at_a_time() {
        crate::runtime::for_tests();
        let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let run = spawn_join(UNIT, Sleep::Blocking).unwrap();
        // The worker is asleep inside f1, so f2 cannot even start until f1 has finished.
        assert_eq!(
            run.order(),
            [
                "from f1 1",
                "from f1 2",
                "from f2 1",
                "from f2 2",
                "from f3 1",
                "from f3 2"
            ]
        );
    }
}
