//! The notes' `ThreadPoolExecutor`: `submit` returns a future, `add_done_callback` hangs work
//! on the end of its task (六 异步IO, "异步调用 + 回调", and 七, item 4 of the summary).
//!
//! The names map one to one: the notes' executor of four workers is `Pool::new(4)`; their
//! `submit(task, 1)` is `pool.submit(|| task(1))`, returning a [`Future`]; and hanging
//! `parse` on it is `future.add_done_callback(parse)`.
//!
//! The rules are Python's (`concurrent.futures`), and each has a unit test below:
//! - a callback added *before* the task finishes runs on the worker that finished it, right
//!   after the task, so that worker is not free for the next task until its callbacks return;
//! - a callback added *after* the task finished runs at once, on the caller's thread;
//! - several callbacks run in the order they were added;
//! - a task that panics does not kill its worker: `result()` returns [`TaskPanicked`], the
//!   callbacks still run, and the pool goes on with its next task;
//! - a callback that panics is logged and the others still run (Python logs and ignores it).
//!
//! What to watch: the *caller* never waits. `submit` and `add_done_callback` return at once;
//! the waiting (for a `sleep`, or for a socket's data) happens on a worker thread, blocked as
//! in section 三. That is why, by Stevens' definition, this is still synchronous I/O: see the
//! crate docs. Production code would use a runtime's `spawn` and `.await` (tokio, async-std);
//! callbacks are how JavaScript and Twisted did it before `async`/`await`.

use crossbeam_channel::{Receiver, Sender};
use std::any::Any;
use std::fmt;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};

/// A queued task, already wrapped so that it cannot panic (see [`Pool::submit`]).
type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of worker threads that run submitted tasks, as `ThreadPoolExecutor(n)`.
///
/// We start the threads ourselves (`std::thread::Builder`) rather than use a pool crate:
/// starting a thread can fail (the process's thread or memory limit), and a load client that
/// asks for a worker per connection must count a thread it cannot start as a failed
/// connection, not panic. (The `threadpool` crate unwraps every spawn internally.)
///
/// Dropping the pool does not cancel anything: queued tasks still run and the workers exit
/// once the queue is empty. Call [`join`](Pool::join) to wait for them, as `shutdown(wait=True)`.
pub struct Pool {
    /// The queue every worker takes its next task from.
    queue: Sender<Job>,
    /// Tasks queued or running, and the signal `join` waits for.
    busy: Arc<Busy>,
    /// Workers that started.
    workers: usize,
    /// Workers that could not be started, and why the first one could not.
    not_started: Option<(usize, Arc<io::Error>)>,
}

#[derive(Default)]
struct Busy {
    count: Mutex<usize>,
    /// Signalled when `count` drops to 0.
    idle: Condvar,
}

impl Busy {
    fn lock(&self) -> MutexGuard<'_, usize> {
        // No user code runs under this lock: recover rather than spread an unrelated panic.
        self.count.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Pool {
    /// A pool of `workers` threads called `worker-0`, `worker-1`, ...
    ///
    /// # Panics
    /// If `workers` is 0 (as `ThreadPoolExecutor(0)` raises `ValueError`), or if not one
    /// thread could be started (as `std::thread::spawn` panics). Servers and clients use
    /// [`Pool::start`], which never panics.
    pub fn new(workers: usize) -> Pool {
        Pool::named("worker", workers)
    }

    /// A pool whose workers are called `{prefix}-0`, `{prefix}-1`, ... (see
    /// [`current_thread_name`]). Panics as [`Pool::new`] does.
    pub fn named(prefix: &str, workers: usize) -> Pool {
        assert!(workers > 0, "a pool needs at least one worker");
        match Pool::start(prefix, workers) {
            Ok(pool) => pool,
            Err(err) => panic!("could not start a single worker thread: {err}"),
        }
    }

    /// Starts up to `workers` threads (at least one) and never panics: a thread that cannot
    /// be started is counted in [`not_started`](Pool::not_started), and the pool runs with
    /// those that did start. Fails only if none started.
    pub fn start(prefix: &str, workers: usize) -> io::Result<Pool> {
        let (queue, jobs) = crossbeam_channel::unbounded::<Job>();
        let mut started = 0;
        let mut not_started = None;
        for n in 0..workers.max(1) {
            let jobs = jobs.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("{prefix}-{n}"))
                .spawn(move || work(&jobs));
            match spawned {
                Ok(_) => started += 1,
                Err(err) => {
                    let (count, _) = not_started.get_or_insert((0, Arc::new(err)));
                    *count += 1;
                }
            }
        }
        if started == 0 {
            let (_, err) = not_started.expect("no worker started, so one failed");
            return Err(io::Error::new(err.kind(), err.to_string()));
        }
        Ok(Pool {
            queue,
            busy: Arc::default(),
            workers: started,
            not_started,
        })
    }

    // ANCHOR: submit
    /// Queues `task` and returns its [`Future`] at once: the notes' 异步调用 (asynchronous call).
    pub fn submit<T, F>(&self, task: F) -> Future<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + Sync + 'static,
    {
        let future = Future::pending();
        let completer = future.clone();
        let busy = Arc::clone(&self.busy);
        *busy.lock() += 1;
        let job: Job = Box::new(move || {
            // A panic is caught here, not left to kill the worker: the future records it
            // (Python stores the exception in the future) and the worker takes the next task.
            let outcome = catch_unwind(AssertUnwindSafe(task)).map_err(TaskPanicked::from_payload);
            completer.finish(outcome);
            let mut count = busy.lock();
            *count -= 1;
            if *count == 0 {
                busy.idle.notify_all();
            }
        });
        // Cannot fail: the workers hold the receiving end for as long as the pool exists.
        let _ = self.queue.send(job);
        future
    }
    // ANCHOR_END: submit

    /// Number of worker threads that started.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// How many of the workers asked for could not be started, and the first one's error.
    pub fn not_started(&self) -> Option<(usize, &io::Error)> {
        self.not_started.as_ref().map(|(n, err)| (*n, &**err))
    }

    /// Tasks running or queued right now (a snapshot: it may change a moment later).
    pub fn busy(&self) -> usize {
        *self.busy.lock()
    }

    /// Waits until every task submitted so far, and the callbacks it ran, has finished.
    pub fn join(&self) {
        let mut count = self.busy.lock();
        while *count > 0 {
            count = self
                .busy
                .idle
                .wait(count)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// A worker's life: take the next task, run it, until the pool is dropped and the queue is
/// empty. Jobs catch their own panics (and their callbacks'), so a worker never dies early.
fn work(jobs: &Receiver<Job>) {
    for job in jobs {
        job();
    }
}

/// The current thread's name, as Python's `current_thread().name`: `worker-2` on a pool
/// worker, `main` on the main thread, or `unnamed`.
pub fn current_thread_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_string()
}

// ANCHOR: future
/// The result of a submitted task, now or later. Cloning it gives another handle to the same
/// result, so a callback and the caller can both hold it.
pub struct Future<T> {
    inner: Arc<Inner<T>>,
}

/// A callback, as `add_done_callback(fn)`: it is handed the finished future.
type Callback<T> = Box<dyn FnOnce(&Future<T>) + Send>;

struct Inner<T> {
    /// Set once, by the worker, before `state.done` becomes true; read without a lock after.
    outcome: OnceLock<Result<T, TaskPanicked>>,
    state: Mutex<State<T>>,
    /// Signalled when `state.done` becomes true, for callers blocked in `result()`.
    finished: Condvar,
}

struct State<T> {
    /// The callbacks have been handed to the worker: anything added now runs on the caller.
    done: bool,
    /// Callbacks added before completion, in the order added.
    waiting: Vec<Callback<T>>,
}

impl<T: Send + Sync + 'static> Future<T> {
    fn pending() -> Future<T> {
        Future {
            inner: Arc::new(Inner {
                outcome: OnceLock::new(),
                state: Mutex::new(State {
                    done: false,
                    waiting: Vec::new(),
                }),
                finished: Condvar::new(),
            }),
        }
    }

    /// Runs `callback` with this future once its task has finished.
    ///
    /// If the task is still running or queued, the callback runs later on the worker that
    /// finishes it; if the task has already finished, it runs now, on this thread.
    pub fn add_done_callback(&self, callback: impl FnOnce(&Future<T>) + Send + 'static) {
        let mut state = self.lock();
        if !state.done {
            state.waiting.push(Box::new(callback));
            return;
        }
        // Never call user code while holding the lock: the callback may add another callback.
        drop(state);
        run_callback(Box::new(callback), self);
    }

    /// Blocks until the task has finished, then returns its value, or the panic it raised.
    pub fn result(&self) -> Result<&T, TaskPanicked> {
        let mut state = self.lock();
        while !state.done {
            state = self
                .inner
                .finished
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        drop(state);
        match self.inner.outcome.get() {
            Some(Ok(value)) => Ok(value),
            Some(Err(panicked)) => Err(panicked.clone()),
            // `finish` sets the outcome before it sets `done`, under the lock we just held.
            None => unreachable!("a future marked done always has its outcome"),
        }
    }

    /// Whether the task has finished (Python's `future.done()`).
    pub fn done(&self) -> bool {
        self.lock().done
    }

    /// Called once, by the worker that ran the task.
    fn finish(&self, outcome: Result<T, TaskPanicked>) {
        // Only this worker finishes this future, so the cell is still empty.
        let _ = self.inner.outcome.set(outcome);
        let callbacks = {
            let mut state = self.lock();
            state.done = true;
            std::mem::take(&mut state.waiting)
        };
        self.inner.finished.notify_all();
        // On this worker, in the order added, after the task: the worker is busy until they
        // return, which is why a callback should be short (log, hand the result on).
        for callback in callbacks {
            run_callback(callback, self);
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No user code runs under this lock, so it cannot be poisoned by a panicking task;
        // recover anyway rather than propagate a panic into an unrelated thread.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
// ANCHOR_END: future

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        Future {
            inner: Arc::clone(&self.inner),
        }
    }
}

fn run_callback<T>(callback: Callback<T>, future: &Future<T>) {
    if catch_unwind(AssertUnwindSafe(|| callback(future))).is_err() {
        protocol::log!(
            "a done-callback panicked on {}; the remaining callbacks still run",
            current_thread_name()
        );
    }
}

/// What `result()` returns for a task that panicked (Python re-raises the task's exception).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPanicked {
    /// The panic's message, when it was a string.
    pub message: String,
}

impl TaskPanicked {
    fn from_payload(payload: Box<dyn Any + Send>) -> TaskPanicked {
        let message = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "a panic without a message".to_string()
        };
        TaskPanicked { message }
    }
}

impl fmt::Display for TaskPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the task panicked: {}", self.message)
    }
}

impl std::error::Error for TaskPanicked {}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::{bounded, unbounded, Receiver};
    use std::time::Duration;

    /// Every wait in these tests is bounded: a broken pool fails, it does not hang.
    const WAIT: Duration = Duration::from_secs(10);

    fn recv<T>(rx: &Receiver<T>) -> T {
        rx.recv_timeout(WAIT).expect("nothing arrived in time")
    }

    #[test]
    fn result_returns_the_value() {
        let pool = Pool::new(2);
        let future = pool.submit(|| 6 * 7);
        assert_eq!(future.result(), Ok(&42));
        assert!(future.done());
        // Asking again gives the same answer.
        assert_eq!(future.result(), Ok(&42));
    }

    #[test]
    fn a_callback_added_before_completion_runs_on_the_worker() {
        let pool = Pool::named("cbtest", 1);
        let (release, gate) = bounded::<()>(0);
        let (report, reports) = unbounded();
        let task_report = report.clone();
        let future = pool.submit(move || {
            // Hold the task until the callback is registered, so "before" is certain.
            let _ = gate.recv_timeout(WAIT);
            let _ = task_report.send(("task", current_thread_name()));
        });
        future.add_done_callback(move |_| {
            let _ = report.send(("callback", current_thread_name()));
        });
        release.send(()).unwrap();
        let task = recv(&reports);
        let callback = recv(&reports);
        assert_eq!(task.0, "task");
        assert_eq!(callback.0, "callback");
        assert!(callback.1.starts_with("cbtest-"), "ran on {}", callback.1);
        assert_eq!(
            callback.1, task.1,
            "the worker that ran the task runs its callback"
        );
    }

    #[test]
    fn a_callback_added_after_completion_runs_at_once_on_the_caller() {
        let pool = Pool::new(1);
        let future = pool.submit(|| 5);
        future.result().unwrap();
        let caller = std::thread::current().id();
        let ran_on = Arc::new(Mutex::new(None));
        let seen = Arc::clone(&ran_on);
        future.add_done_callback(move |f| {
            assert_eq!(f.result(), Ok(&5));
            *seen.lock().unwrap() = Some(std::thread::current().id());
        });
        // Already run, before add_done_callback returned, and on this thread.
        assert_eq!(*ran_on.lock().unwrap(), Some(caller));
    }

    #[test]
    fn callbacks_run_in_the_order_added() {
        let pool = Pool::new(1);
        let (release, gate) = bounded::<()>(0);
        let future = pool.submit(move || {
            let _ = gate.recv_timeout(WAIT);
        });
        let (order, seen) = unbounded();
        for i in 0..5 {
            let order = order.clone();
            future.add_done_callback(move |_| {
                let _ = order.send(i);
            });
        }
        release.send(()).unwrap();
        let got: Vec<i32> = (0..5).map(|_| recv(&seen)).collect();
        assert_eq!(got, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_panicking_task_is_an_error_runs_its_callbacks_and_spares_the_pool() {
        let pool = Pool::named("survivor", 1);
        let (release, gate) = bounded::<()>(0);
        let future = pool.submit(move || -> u32 {
            let _ = gate.recv_timeout(WAIT);
            panic!("boom")
        });
        let (called, calls) = unbounded();
        future.add_done_callback(move |f| {
            let _ = called.send(f.result().copied());
        });
        release.send(()).unwrap();
        let seen = recv(&calls);
        assert_eq!(
            seen,
            Err(TaskPanicked {
                message: "boom".into()
            })
        );
        assert!(future.result().unwrap_err().to_string().contains("boom"));
        // The same (only) worker takes the next task.
        let next = pool.submit(current_thread_name);
        assert_eq!(next.result(), Ok(&"survivor-0".to_string()));
    }

    #[test]
    fn a_panicking_callback_does_not_stop_the_next_one() {
        let pool = Pool::new(1);
        let (release, gate) = bounded::<()>(0);
        let future = pool.submit(move || {
            let _ = gate.recv_timeout(WAIT);
        });
        future.add_done_callback(|_| panic!("callback fails"));
        let (called, calls) = unbounded();
        future.add_done_callback(move |_| {
            let _ = called.send(());
        });
        release.send(()).unwrap();
        recv(&calls);
        assert_eq!(pool.submit(|| 1).result(), Ok(&1));
    }

    #[test]
    fn the_pool_runs_as_many_tasks_at_once_as_it_has_workers_and_no_more() {
        // Each task says it started, then waits to be released. With 2 workers, two start;
        // the third starts only after one of them is released (order, not time).
        let pool = Pool::new(2);
        let (started, starts) = unbounded();
        let mut releases = Vec::new();
        for i in 0..3 {
            let (release, gate) = bounded::<()>(1);
            releases.push(release);
            let started = started.clone();
            pool.submit(move || {
                let _ = started.send(i);
                let _ = gate.recv_timeout(WAIT);
            });
        }
        let mut first_two = [recv(&starts), recv(&starts)];
        first_two.sort_unstable();
        assert_eq!(first_two, [0, 1]);
        assert!(
            starts.recv_timeout(Duration::from_millis(200)).is_err(),
            "a third task started while both workers were busy"
        );
        assert_eq!(pool.busy(), 3);
        releases[0].send(()).unwrap();
        assert_eq!(recv(&starts), 2);
        releases[1].send(()).unwrap();
        releases[2].send(()).unwrap();
        pool.join();
        assert_eq!(pool.busy(), 0);
        assert_eq!(pool.workers(), 2);
    }

    #[test]
    fn current_thread_name_outside_a_pool_is_the_std_name() {
        let name = std::thread::Builder::new()
            .name("not-a-worker".into())
            .spawn(current_thread_name)
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(name, "not-a-worker");
    }
}
