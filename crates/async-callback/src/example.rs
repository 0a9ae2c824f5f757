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
