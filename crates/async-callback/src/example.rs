//! The notes' section 六 program: four tasks `n -> n*n` that sleep, a pool of four, and a
//! `parse` callback that prints each result.
//!
//! In the notes, `task(n)` announces which thread runs it, sleeps two seconds and returns
//! `n` squared; `parse` takes the finished future, asks it for its `result()` and prints
//! it. The main program makes a `ThreadPoolExecutor` of four workers, then for n = 1..4 calls
//! `submit(task, n)` and hangs `parse` on the returned future with `add_done_callback`.
//!
//! The logic lives here, in the library, so the `pool_callbacks` example, the lab's demo and
//! the unit test all run the same code. What to watch: the main thread submits all four and
//! is free at once; four two-second tasks on four workers finish in about two seconds, not
//! eight; and each `parse` runs on the worker that ran its task, not on the main thread.
//! Events reach the main thread over a channel, so the caller decides how to print them.
//!
//! [`submit_then_wait`] and [`submit_with_callbacks`] are the summary's two ways to submit
//! (提交的两种方式, section 七): the same four tasks, once with the caller waiting for each
//! `result()` in place (同步调用, about 4 units) and once with callbacks (异步调用+回调, about 1).

use crate::pool::{current_thread_name, Pool};
use std::fmt;
use std::time::{Duration, Instant};

/// Something the program printed, with the thread that printed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub what: What,
    /// `current_thread().name` where it happened.
    pub thread: String,
    /// Time since the program started.
    pub at: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    /// `task(n)` started: the notes' task announces the thread that runs it.
    Running { n: u64 },
    /// `parse` got the result of `task(n)`, which the notes' `parse` prints.
    Parsed { n: u64, result: u64 },
    /// `task(n)` failed; `parse` got the error instead of a result.
    Failed { n: u64, error: String },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.at.as_secs_f64();
        match &self.what {
            What::Running { n } => write!(f, "{at:5.2}s  {} is running task({n})", self.thread),
            What::Parsed { n, result } => write!(
                f,
                "{at:5.2}s  parse: task({n}) = {result}   (callback ran on {})",
                self.thread
            ),
            What::Failed { n, error } => {
                write!(f, "{at:5.2}s  parse: task({n}) failed: {error}")
            }
        }
    }
}

/// What a run saw.
#[derive(Debug, Clone)]
pub struct Report {
    /// From the first `submit` until the last callback had run.
    pub elapsed: Duration,
    /// Every event, in the order the main thread received them.
    pub events: Vec<Event>,
}

// ANCHOR: example
/// Runs `task(n)` for each of `inputs` on a pool of `workers`, each task sleeping `sleep`,
/// with a `parse` callback on each future. `on_event` is called on the calling thread as each
/// event arrives (the example prints them).
pub fn run(
    inputs: &[u64],
    workers: usize,
    sleep: Duration,
    mut on_event: impl FnMut(&Event),
) -> Report {
    let start = Instant::now();
    let pool = Pool::new(workers);
    // Workers and callbacks report to the main thread through this channel. It closes when
    // the last sender is dropped, that is, when the last callback has run.
    let (events, received) = crossbeam_channel::unbounded();
    for &n in inputs {
        let task_events = events.clone();
        let future = pool.submit(move || {
            let _ = task_events.send(event(What::Running { n }, start));
            std::thread::sleep(sleep); // the notes' two-second sleep: this worker is blocked
            n * n
        });
        let parse_events = events.clone();
        // `parse(obj)`: by the time it runs the task is done, so `result()` does not wait.
        future.add_done_callback(move |obj| {
            let what = match obj.result() {
                Ok(&result) => What::Parsed { n, result },
                Err(panicked) => What::Failed {
                    n,
                    error: panicked.to_string(),
                },
            };
            let _ = parse_events.send(event(what, start));
        });
    }
    drop(events);
    // The main thread was free as soon as the loop above ended; here it chooses to wait.
    let mut seen = Vec::with_capacity(inputs.len() * 2);
    for event in received {
        on_event(&event);
        seen.push(event);
    }
    Report {
        elapsed: start.elapsed(),
        events: seen,
    }
}
// ANCHOR_END: example

// ANCHOR: sync_vs_async
/// One way of submitting the four tasks, timed: the notes' summary (七) names two, 同步调用
/// (synchronous call) and 异步调用+回调 (asynchronous call with a callback).
#[derive(Debug, Clone)]
pub struct Submitted {
    /// `n * n` for each input, in the order the caller got them.
    pub results: Vec<u64>,
    /// From the first `submit` until the caller had every result.
    pub elapsed: Duration,
}

impl Submitted {
    /// The elapsed time in units of one task's sleep (a count, so it reads the same on any
    /// machine: 4 tasks in turn take about 4 units, side by side about 1).
    pub fn units(&self, unit: Duration) -> f64 {
        self.elapsed.as_secs_f64() / unit.as_secs_f64()
    }
}

/// 同步调用: submit a task, then ask for its `result()` at once, before submitting the next.
///
/// `result()` blocks the caller until that task is done, so the pool never holds more than one
/// task: four workers, and still the four sleeps run one after another. Python's
/// `pool.submit(task, n).result()` does the same. What makes a call synchronous is the caller
/// waiting in place, not the pool.
pub fn submit_then_wait(inputs: &[u64], workers: usize, unit: Duration) -> Submitted {
    let start = Instant::now();
    let pool = Pool::new(workers);
    let mut results = Vec::with_capacity(inputs.len());
    for &n in inputs {
        let future = pool.submit(move || {
            std::thread::sleep(unit);
            n * n
        });
        // Waits here, in place: the next task is not even submitted yet.
        match future.result() {
            Ok(&square) => results.push(square),
            Err(panicked) => protocol::log!("task({n}) failed: {panicked}"),
        }
    }
    Submitted {
        results,
        elapsed: start.elapsed(),
    }
}

/// 异步调用+回调: submit every task with a callback that hands its result on, and only then
/// wait for the results. The caller does not wait per task, so the four sleeps overlap on the
/// four workers.
pub fn submit_with_callbacks(inputs: &[u64], workers: usize, unit: Duration) -> Submitted {
    let start = Instant::now();
    let pool = Pool::new(workers);
    let (done, results) = crossbeam_channel::unbounded();
    for &n in inputs {
        let future = pool.submit(move || {
            std::thread::sleep(unit);
            n * n
        });
        let done = done.clone();
        future.add_done_callback(move |finished| {
            // The receiver lives until every result is in; a failed task sends nothing.
            if let Ok(&square) = finished.result() {
                let _ = done.send(square);
            }
        });
    }
    // Every task is submitted before the caller waits for anything. The channel closes when
    // the last callback has run and dropped its sender.
    drop(done);
    Submitted {
        results: results.iter().collect(),
        elapsed: start.elapsed(),
    }
}
// ANCHOR_END: sync_vs_async

fn event(what: What, start: Instant) -> Event {
    Event {
        what,
        thread: current_thread_name(),
        at: start.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_tasks_are_parsed_on_workers_with_the_right_results() {
        let mut printed = 0;
        let report = run(&[1, 2, 3, 4], 4, Duration::from_millis(50), |_| {
            printed += 1
        });
        assert_eq!(printed, 8, "one running and one parse line per task");
        let mut parsed: Vec<(u64, u64)> = report
            .events
            .iter()
            .filter_map(|e| match e.what {
                What::Parsed { n, result } => {
                    assert!(e.thread.starts_with("worker-"), "parse ran on {}", e.thread);
                    Some((n, result))
                }
                _ => None,
            })
            .collect();
        parsed.sort_unstable();
        assert_eq!(parsed, [(1, 1), (2, 4), (3, 9), (4, 16)]);
        // Each task is parsed after it started running.
        for n in 1..=4 {
            let pos = |want: &What| report.events.iter().position(|e| &e.what == want);
            assert!(pos(&What::Running { n }) < pos(&What::Parsed { n, result: n * n }));
        }
        assert!(report.elapsed >= Duration::from_millis(50));
    }

    /// The count of units, not a speed: 4 tasks of one unit each, on 4 workers. Submitting and
    /// waiting in place runs them one at a time (at least 4 units); with callbacks they overlap
    /// (at least 1 unit, and far from 4). The tolerance above is generous: a loaded machine
    /// adds time, never removes it.
    #[test]
    fn waiting_in_place_takes_four_units_and_callbacks_take_one() {
        let unit = Duration::from_millis(100);
        let synchronous = submit_then_wait(&[1, 2, 3, 4], 4, unit);
        assert_eq!(synchronous.results, [1, 4, 9, 16]);
        let units = synchronous.units(unit);
        assert!(
            (4.0..6.0).contains(&units),
            "synchronous took {units:.2} units"
        );

        let asynchronous = submit_with_callbacks(&[1, 2, 3, 4], 4, unit);
        let mut results = asynchronous.results.clone();
        results.sort_unstable();
        assert_eq!(results, [1, 4, 9, 16]);
        let units = asynchronous.units(unit);
        assert!(
            (1.0..2.5).contains(&units),
            "asynchronous took {units:.2} units"
        );
    }

    #[test]
    fn events_read_like_the_notes() {
        let e = Event {
            what: What::Parsed { n: 3, result: 9 },
            thread: "worker-1".into(),
            at: Duration::from_millis(2004),
        };
        assert_eq!(
            e.to_string(),
            " 2.00s  parse: task(3) = 9   (callback ran on worker-1)"
        );
    }
}
