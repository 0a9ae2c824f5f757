//! 一, the warm-up: `spawn(f1)`, `spawn(f2)`, `spawn(f3)`, then `join` each, as minimal Rust
//! on `may`. The crate's version with timings is `src/spawn_join.rs`.
//!
//! ```text
//! cargo run -p coroutine-spawn --example notes_spawn_join
//! ```
//!
//! What to watch: the three "1" lines print at once, then f2, f1, f3 finish after 2, 3 and
//! 5 seconds: the whole run takes about 5 s, not 10, because each sleep parks its coroutine
//! and lets the others run (what `monkey.patch_all()` makes `time.sleep` do in gevent).
use may::coroutine::{sleep, spawn};
use std::time::Duration;

fn f1() {
    println!("from f1 1");
    // `may::coroutine::sleep`, not `std::thread::sleep`: the std one would hold the worker
    // thread, as an unpatched `time.sleep` holds gevent's one thread.
    sleep(Duration::from_secs(3));
    println!("from f1 2");
}

fn f2() {
    println!("from f2 1");
    sleep(Duration::from_secs(2));
    println!("from f2 2");
}

fn f3() {
    println!("from f3 1");
    sleep(Duration::from_secs(5));
    println!("from f3 2");
}

fn main() {
    // SAFETY: `spawn` is unsafe because a coroutine may resume on another worker thread (so
    // it must not hold thread-local state across a yield) and runs on a small fixed stack.
    // f1..f3 hold no thread-local across their sleep (println! takes and releases stdout's
    // lock before it) and use a few hundred bytes of stack.
    let (g1, g2, g3) = unsafe { (spawn(f1), spawn(f2), spawn(f3)) };
    // Without these joins `main` would return at once and the process would end with the
    // coroutines half done, as the notes warn for a gevent program without `join`.
    for g in [g1, g2, g3] {
        if g.join().is_err() {
            eprintln!("a coroutine panicked");
        }
    }
}
