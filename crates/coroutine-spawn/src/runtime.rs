//! Starting `may`'s scheduler: how many worker threads, how big each coroutine's stack, and
//! whether the workers are pinned to cores. Section 一's gevent has none of these knobs: it
//! runs every greenlet on the one thread that imported it.
//!
//! What to watch: `may` reads its configuration *once*, when the first coroutine or socket
//! starts the scheduler; a later `may::config()` call changes nothing for the workers. So the
//! configuration goes through [`init`], which records what it set and refuses a second,
//! different one instead of letting it be silently ignored.
//!
//! The three settings, and why each has its default:
//! - workers: one per core, like tokio's multi-thread runtime. Each worker is an OS thread
//!   that runs coroutines and waits in its own `epoll`; the process also has `may`'s timer
//!   thread and the thread that called `main`.
//! - stack size: [`DEFAULT_STACK`], 16 KiB. A stackful coroutine cannot grow its stack (Go
//!   can, by copying it; `may` cannot, because Rust code holds raw pointers into it), so the
//!   size is fixed at spawn time. See [`DEFAULT_STACK`] for why 16 KiB is enough here.
//! - pinning: off. `may` pins worker *i* to core *i* unless told otherwise. On a machine
//!   where the load client, the kernel's TCP work and other programs share those cores, a
//!   pinned worker cannot move away from a busy core, and runs become slower and noisier.
//!   The scheduler of the OS does better here; `--pin-workers` turns pinning back on.

use std::sync::{Mutex, OnceLock};

/// Default coroutine stack, in bytes.
///
/// Why 16 KiB is enough: a connection's coroutine holds the notes' 1024-byte read buffer and
/// a few frames of `may`'s read/write path and of a log line: about 3.2 KiB at its deepest,
/// measured with `--measure-stack` (which makes `may` report each connection coroutine's
/// peak when it ends); a debug build peaks near 7 KiB. The lab's test
/// `crates/lab/tests/coroutine_spawn.rs` asserts the peak stays under half of this default in
/// a release build (three quarters in a debug one) through the deepest shared scenarios.
///
/// Why not smaller, to save memory: it would not. Only pages a coroutine touches become
/// resident: the top page (its frames) and the bottom page (where `generator`, under `may`,
/// writes sentinel words on every new stack to estimate its use later). A connection costs about 8.4 KiB of RSS with 8, 16 or 64 KiB
/// stacks alike (measured); the stack size buys headroom and costs address space. Only a
/// one-page (4 KiB) stack would halve that, with no room left for a panic message.
///
/// Overflowing it hits a guard page: `may` reports "coroutine has overflowed its stack" and
/// ends the process, so never run unknown or deeply recursive code (a big parser, a regex
/// compiler) on one of these stacks.
pub const DEFAULT_STACK: usize = 16 * 1024;

/// Smallest stack accepted: two pages, which still hold a debug build's deepest connection
/// (about 7 KiB); one page would not.
pub const MIN_STACK: usize = 8 * 1024;

/// Largest stack accepted: the size of a thread's stack; beyond it a thread is the better tool.
pub const MAX_STACK: usize = 8 * 1024 * 1024;

/// What the scheduler is started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Runtime {
    /// Worker threads (`may::config().set_workers`).
    pub workers: usize,
    /// Stack per coroutine, in bytes.
    pub stack_bytes: usize,
    /// Pin worker *i* to core *i* (`may`'s default; ours is off).
    pub pin_workers: bool,
    /// Ask `may` to fill every stack with a marker and print each coroutine's peak use when
    /// it ends. Costs a full write of every stack, so only for finding the right size.
    pub measure_stack: bool,
}

impl Runtime {
    /// The defaults: a worker per core, [`DEFAULT_STACK`], not pinned.
    pub fn per_core() -> Runtime {
        Runtime {
            workers: cores(),
            stack_bytes: DEFAULT_STACK,
            pin_workers: false,
            measure_stack: false,
        }
    }

    /// One worker: gevent's model, every coroutine on one OS thread.
    pub fn one_worker() -> Runtime {
        Runtime {
            workers: 1,
            ..Runtime::per_core()
        }
    }

    /// The stack size in the unit `may` takes: machine words, not bytes.
    ///
    /// Rounded up to whole pages (only whole pages can be mapped), which also keeps the word
    /// count even: `may` treats an *odd* count as "measure this stack" and prints a line for
    /// every coroutine that ends. [`Runtime::measure_stack`] asks for exactly that, on purpose.
    pub fn stack_words(&self) -> usize {
        const PAGE: usize = 4096;
        let bytes = self.stack_bytes.div_ceil(PAGE) * PAGE;
        let words = bytes / std::mem::size_of::<usize>();
        if self.measure_stack {
            words + 1
        } else {
            words
        }
    }
}

/// Logical cores, the default worker count.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The configuration this process started `may` with, once [`init`] has run.
static STARTED: OnceLock<Runtime> = OnceLock::new();

/// Configures `may`'s scheduler, once per process, before anything else starts it, and
/// starts it.
///
/// Calling it again with the same settings is fine (tests do); with different ones it is an
/// error, because `may` would keep the first ones without a word.
pub fn init(runtime: Runtime) -> crate::Result<()> {
    // Serialises the first calls, so two threads cannot both configure `may`.
    static CONFIGURING: Mutex<()> = Mutex::new(());
    let _guard = CONFIGURING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(started) = STARTED.get() {
        return if *started == runtime {
            Ok(())
        } else {
            Err(format!(
                "may's scheduler already runs with {started:?}; it cannot be restarted with \
                 {runtime:?}"
            )
            .into())
        };
    }
    // ANCHOR: configure
    let config = may::config();
    config.set_workers(runtime.workers.max(1));
    config.set_stack_size(runtime.stack_words());
    config.set_worker_pin(runtime.pin_workers);
    // ANCHOR_END: configure
    // `STARTED` was empty when checked above, under the lock, so this cannot fail. (Code
    // that used `may` before this `init` would already have started the scheduler with the
    // defaults; the server and the client call `init` before anything else.)
    let _ = STARTED.set(runtime);
    // Start the scheduler now, with a coroutine that does nothing: its start-up (threads,
    // epoll, a pool of ready-made coroutine stacks) then happens here, and is not charged to
    // the first thing a program times.
    // Its stack size is forced even: with `measure_stack` an odd default would make `may`
    // print a line for it when it ends, before the server's `listening on` line.
    let warm_up = may::coroutine::Builder::new().stack_size(runtime.stack_words() & !1);
    // SAFETY: the body is empty: it touches no thread-local and needs no stack to speak of.
    let warm_up = may::go!(warm_up, || ())?;
    warm_up
        .join()
        .map_err(|_| "may's first coroutine panicked".to_string())?;
    Ok(())
}

/// What [`init`] configured, if it ran.
pub fn started() -> Option<Runtime> {
    STARTED.get().copied()
}

/// The one runtime every unit test of this crate shares (one process, one scheduler): a
/// single worker, so the spawn/join tests can show a blocked worker.
#[cfg(test)]
pub fn for_tests() {
    if let Err(err) = init(Runtime::one_worker()) {
        panic!("{err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_words_are_whole_pages_and_even_unless_measuring() {
        let mut rt = Runtime::per_core();
        let word = std::mem::size_of::<usize>();
        assert_eq!(rt.stack_words(), DEFAULT_STACK / word);
        rt.stack_bytes = 10_000;
        assert_eq!(rt.stack_words(), 12 * 1024 / word);
        assert_eq!(rt.stack_words() % 2, 0);
        rt.measure_stack = true;
        assert_eq!(
            rt.stack_words() % 2,
            1,
            "may measures stacks of odd size only"
        );
    }

    #[test]
    fn a_second_different_configuration_is_refused() {
        for_tests();
        for_tests();
        assert_eq!(started(), Some(Runtime::one_worker()));
        let other = Runtime {
            workers: 7,
            ..Runtime::one_worker()
        };
        assert!(init(other).is_err());
    }
}
