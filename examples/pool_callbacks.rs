//! Section 六 of the notes: `ThreadPoolExecutor(4)`, four `submit(task, n)`, and a `parse`
//! callback on each future (异步调用 + 回调).
//!
//! ```text
//! cargo run --example pool_callbacks
//! ```
//!
//! What to watch: all four tasks start at once, each on its own worker; each result is printed
//! by `parse` on the worker that ran the task, not on the main thread; four two-second tasks
//! take about two seconds in all. The logic is `async_callback::example::run`, shared with the
//! lab's demo and its unit test; the pool is `async_callback::pool`.

use std::time::Duration;

fn main() {
    const WORKERS: usize = 4;
    const SLEEP: Duration = Duration::from_secs(2);
    println!(
        "main: a pool of {WORKERS} workers; submitting task(1)..task(4), each sleeps {SLEEP:?}"
    );
    let report = async_callback::example::run(&[1, 2, 3, 4], WORKERS, SLEEP, |event| {
        println!("{event}");
    });
    println!(
        "main: every callback has run after {:.2} s (one task alone takes {:.2} s)",
        report.elapsed.as_secs_f64(),
        SLEEP.as_secs_f64()
    );
}
