//! Section 一's program on our runtime: `spawn` three functions that sleep 3, 2 and 5
//! units, then `join` them.
//!
//! What to watch: with our `sleep(..).await` the three sleep at once and the run takes 5
//! units (the longest); with `std::thread::sleep` the one thread sleeps through each in
//! turn and it takes 10 (the sum). This is Rust's face of gevent's monkey patching: gevent
//! replaces `time.sleep` so plain-looking code yields; Rust replaces nothing, and the call
//! that yields is the one with `.await` after it. The blocking one compiles just as well.

use crate::executor::{block_on, joinall, spawn};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How a task sleeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sleep {
    /// `own_gevent::sleep(..).await`: the task yields, the others run.
    Cooperative,
    /// `std::thread::sleep`: wrong on purpose, the thread (and every task) sleeps.
    Blocking,
}

/// The notes' three functions: name and how many units each sleeps.
pub const TASKS: [(&str, u32); 3] = [("f1", 3), ("f2", 2), ("f3", 5)];

/// What one run printed (`from f1 1` before its sleep, `from f1 2` after) and how long it took.
#[derive(Debug, Clone)]
pub struct Run {
    pub lines: Vec<String>,
    pub elapsed: Duration,
}

impl Run {
    /// The run's length in units.
    pub fn units(&self, unit: Duration) -> f64 {
        self.elapsed.as_secs_f64() / unit.as_secs_f64()
    }
}

/// Spawns `f1`, `f2`, `f3` on this thread's runtime, joins all three, and reports.
pub fn spawn_join(unit: Duration, how: Sleep) -> Run {
    let lines = Rc::new(RefCell::new(Vec::new()));
    let start = Instant::now();
    // ANCHOR: spawn_join
    let handles: Vec<_> = TASKS
        .iter()
        .map(|&(name, units)| {
            let lines = Rc::clone(&lines);
            spawn(async move {
                lines.borrow_mut().push(format!("from {name} 1"));
                match how {
                    Sleep::Cooperative => crate::sleep(unit * units).await,
                    Sleep::Blocking => std::thread::sleep(unit * units),
                }
                lines.borrow_mut().push(format!("from {name} 2"));
            })
        })
        .collect();
    // `g1.join(); g2.join(); g3.join()`, as gevent's `joinall`.
    let results = block_on(joinall(handles));
    // ANCHOR_END: spawn_join
    let elapsed = start.elapsed();
    debug_assert!(
        results.iter().all(Result::is_ok),
        "the sleepers do not panic"
    );
    let lines = lines.borrow().clone();
    Run { lines, elapsed }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Large enough that a busy machine's scheduling noise is a fraction of a unit.
    const UNIT: Duration = Duration::from_millis(40);

    #[test]
    fn cooperative_sleep_takes_the_longest_sleep_and_interleaves() {
        let run = spawn_join(UNIT, Sleep::Cooperative);
        let units = run.units(UNIT);
        assert!((4.9..7.0).contains(&units), "{units:.2} units, not about 5");
        let expected = [
            "from f1 1",
            "from f2 1",
            "from f3 1",
            "from f2 2",
            "from f1 2",
            "from f3 2",
        ];
        assert_eq!(run.lines, expected);
    }

    #[test]
    fn blocking_sleep_takes_the_sum_one_at_a_time() {
        let run = spawn_join(UNIT, Sleep::Blocking);
        let units = run.units(UNIT);
        assert!(
            (9.9..12.0).contains(&units),
            "{units:.2} units, not about 10"
        );
        let expected = [
            "from f1 1",
            "from f1 2",
            "from f2 1",
            "from f2 2",
            "from f3 1",
            "from f3 2",
        ];
        assert_eq!(run.lines, expected);
    }
}
