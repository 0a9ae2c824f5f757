//! 六, the notes' pool with callbacks: `ThreadPoolExecutor(4)`, `submit(task, n)` four times,
//! and `add_done_callback(parse)` on each future, as minimal Rust on the crate's own pool
//! (`src/pool.rs`, a `Pool` and a `Future` shaped like Python's).
//!
//! ```text
//! cargo run -p async-callback --example notes_pool_callback
//! ```
//!
//! What to watch: the four "is running" lines come at once from four workers; two seconds
//! later each square is printed by `parse`, on the worker that finished the task: `main`
//! never waited for any one result (异步调用 + 回调).
use async_callback::pool::{current_thread_name, Future, Pool};
use std::time::Duration;

// ANCHOR: task
fn task(n: u64) -> u64 {
    println!("{} is running", current_thread_name());
    std::thread::sleep(Duration::from_secs(2)); // a worker thread: blocking it is fine
    n * n
}

fn parse(obj: &Future<u64>) {
    // The task has finished when a callback runs, so `result` does not wait here.
    match obj.result() {
        Ok(res) => println!("{res}"),
        Err(e) => println!("task failed: {e:?}"),
    }
}
// ANCHOR_END: task

// ANCHOR: main
fn main() {
    let t = Pool::new(4);
    // Each callback is attached with the method's full path, `Future::add_done_callback`:
    // the same call as `future1.add_done_callback(parse)`, spelled so the type it belongs
    // to is on the page.

    let future1 = t.submit(|| task(1));
    Future::add_done_callback(&future1, parse);

    let future2 = t.submit(|| task(2));
    Future::add_done_callback(&future2, parse);

    let future3 = t.submit(|| task(3));
    Future::add_done_callback(&future3, parse);

    let future4 = t.submit(|| task(4));
    Future::add_done_callback(&future4, parse);

    // Python waits for the pool's threads when the program ends; Rust returning from main
    // would end them mid-task, so we wait for every task and callback explicitly.
    t.join();
}
// ANCHOR_END: main
