//! The executor: a run queue of woken tasks, `spawn`, `JoinHandle`, and `block_on`, the
//! loop that polls tasks and, between batches, turns the reactor and fires the timers.
//!
//! gevent's hub is the same loop: run the greenlets that are ready, then ask libev which
//! sockets and timers are due. What gevent does with a stack switch (`greenlet.switch()`),
//! we do by returning `Poll::Pending` from a future and polling it again later.

use crate::reactor;
use crate::task::{RunQueue, Task, TaskId};
use crate::timer;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Reads, writes and accepts a task may make in one poll before it must yield (tokio: 128).
pub const BUDGET: u32 = 128;

/// Task polls between two looks at the reactor, even while the run queue is not empty, so a
/// queue that never drains cannot keep sockets that became ready waiting (tokio: 61).
pub const TICK: usize = 61;

/// `block_on`'s own future: not in the task table, never confused with a spawned task.
const MAIN: TaskId = TaskId::MAX;

/// A spawned task: its future (wrapped so a panic is caught) and its waker, made once.
struct Spawned {
    task: Arc<Task>,
    waker: Waker,
    future: Pin<Box<dyn Future<Output = ()>>>,
}

struct Executor {
    queue: Arc<RunQueue>,
    tasks: RefCell<HashMap<TaskId, Spawned>>,
    next_id: Cell<TaskId>,
    /// Inside `block_on`: a nested one would poll tasks that are already being polled.
    running: Cell<bool>,
}

thread_local! {
    static EXECUTOR: Executor = Executor {
        queue: Arc::new(RunQueue::new(reactor::with(|r| Ok(r.poller())).ok())),
        tasks: RefCell::new(HashMap::new()),
        next_id: Cell::new(0),
        running: Cell::new(false),
    };
    /// What the task being polled has left of its [`BUDGET`].
    static LEFT: Cell<u32> = const { Cell::new(BUDGET) };
    /// Tasks that spent their budget: woken only after the next look at the reactor.
    static DEFERRED: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
}

/// Why a task gave no value: it panicked, with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinError(pub String);

impl std::fmt::Display for JoinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the task panicked: {}", self.0)
    }
}

impl std::error::Error for JoinError {}

/// Where a task leaves its result for whoever joins it.
struct JoinSlot<T> {
    result: Option<Result<T, JoinError>>,
    joiner: Option<Waker>,
}

/// gevent's `Greenlet`: await it (or `join()` it from outside) for the task's result.
/// Dropping it detaches the task, which runs on.
pub struct JoinHandle<T> {
    slot: Rc<RefCell<JoinSlot<T>>>,
}

// ANCHOR: spawn
/// Starts `future` as a task of its own; it first runs when the current task yields.
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let slot = Rc::new(RefCell::new(JoinSlot {
        result: None,
        joiner: None,
    }));
    let done = Rc::clone(&slot);
    let mut future = Box::pin(future);
    // Every poll of the task goes through `catch_unwind`: a panic ends this task only, and
    // its JoinHandle reports it. `AssertUnwindSafe` is sound in the sense that matters: a
    // future that panicked is never polled again, so no half-updated state of it is seen.
    let guarded = std::future::poll_fn(move |cx| {
        let result = match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(value)) => Ok(value),
            Err(panic) => Err(JoinError(panic_message(panic.as_ref()))),
        };
        let mut slot = done.borrow_mut();
        slot.result = Some(result);
        if let Some(joiner) = slot.joiner.take() {
            joiner.wake();
        }
        Poll::Ready(())
    });
    EXECUTOR.with(|ex| {
        let id = ex.next_id.get();
        ex.next_id.set(id + 1);
        let task = Task::new(id, Arc::clone(&ex.queue));
        let waker = Waker::from(Arc::clone(&task));
        waker.wake_by_ref();
        let future = Box::pin(guarded);
        let spawned = Spawned {
            task,
            waker,
            future,
        };
        ex.tasks.borrow_mut().insert(id, spawned);
    });
    JoinHandle { slot }
}
// ANCHOR_END: spawn

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic.downcast_ref::<&str>().map(|s| s.to_string());
    text.or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.slot.borrow_mut();
        match slot.result.take() {
            Some(result) => Poll::Ready(result),
            None => {
                slot.joiner = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl<T> JoinHandle<T> {
    /// `g.join()` from outside the runtime: runs the loop until this task has finished.
    pub fn join(self) -> Result<T, JoinError> {
        block_on(self)
    }
}

/// gevent's `joinall`: waits for every task; their results in the order given.
pub async fn joinall<T>(
    handles: impl IntoIterator<Item = JoinHandle<T>>,
) -> Vec<Result<T, JoinError>> {
    let mut results = Vec::new();
    // One after another is enough: they all run meanwhile, so the total is the longest.
    for handle in handles {
        results.push(handle.await);
    }
    results
}

// ANCHOR: budget
/// Spends one unit of the current task's budget; once it is spent, yields first and
/// returns `Pending` once. Called by every socket call.
///
/// The yield is *deferred*: the task is put back on the run queue only after the executor
/// has next asked the reactor what became ready (tokio defers a yield the same way). Woken
/// at once, a lone busy task would be the whole run queue, and [`TICK`] of its polls (61
/// budgets of 128 calls) would pass before anyone else's socket was even looked at.
pub async fn spend_budget() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        let left = LEFT.get();
        if left > 0 {
            LEFT.set(left - 1);
            Poll::Ready(())
        } else if yielded {
            // Polled again without a fresh budget (outside the executor): do not spin.
            Poll::Ready(())
        } else {
            yielded = true;
            DEFERRED.with(|d| d.borrow_mut().push(cx.waker().clone()));
            Poll::Pending
        }
    })
    .await
}
// ANCHOR_END: budget

// ANCHOR: block_on
/// Runs the loop until `main` is ready: gevent's `hub.switch()` from the main greenlet.
///
/// # Panics
/// Inside a task (it would poll tasks already being polled), or if this thread has no
/// poller or `epoll_wait` fails: then no task can ever be woken, and going on would hang.
pub fn block_on<F: Future>(main: F) -> F::Output {
    EXECUTOR.with(|ex| {
        assert!(!ex.running.replace(true), "block_on inside a task");
        // Clears `running` however we leave, a panic of `main` included.
        struct Leave<'a>(&'a Cell<bool>);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.set(false);
            }
        }
        let _leave = Leave(&ex.running);
        let me = Task::new(MAIN, Arc::clone(&ex.queue));
        let waker = Waker::from(Arc::clone(&me));
        let mut main = pin!(main);
        waker.wake_by_ref();
        loop {
            for _ in 0..TICK {
                let Some(id) = ex.queue.pop() else { break };
                LEFT.set(BUDGET);
                if id != MAIN {
                    ex.run(id);
                    continue;
                }
                me.unqueue();
                if let Poll::Ready(value) = main.as_mut().poll(&mut Context::from_waker(&waker)) {
                    return value;
                }
            }
            // Then look at the world: expired timers, and the sockets (not waiting at all
            // while tasks are ready or have yielded; otherwise no longer than the earliest
            // timer). Tasks that yielded go back on the queue after whoever became ready.
            let now = Instant::now();
            timer::fire_expired(now);
            let deferred = DEFERRED.with(|d| std::mem::take(&mut *d.borrow_mut()));
            let timeout = if ex.queue.is_empty() && deferred.is_empty() {
                timer::next_deadline().map(|d| d.saturating_duration_since(now))
            } else {
                Some(Duration::ZERO)
            };
            if let Err(err) = reactor::with(|r| r.turn(timeout)) {
                panic!("the reactor failed, no task can be woken: {err}");
            }
            timer::fire_expired(Instant::now());
            deferred.into_iter().for_each(Waker::wake);
        }
    })
}
// ANCHOR_END: block_on

impl Executor {
    /// Polls task `id` once. Its future is taken out of the table meanwhile, so it may spawn.
    fn run(&self, id: TaskId) {
        // Missing: it finished after this wake was queued. Nothing to do.
        let Some(mut spawned) = self.tasks.borrow_mut().remove(&id) else {
            return;
        };
        spawned.task.unqueue();
        let mut cx = Context::from_waker(&spawned.waker);
        if spawned.future.as_mut().poll(&mut cx).is_pending() {
            self.tasks.borrow_mut().insert(id, spawned);
        }
    }
}

/// Spawned tasks that have not finished yet, on this thread.
pub fn live_tasks() -> usize {
    EXECUTOR.with(|ex| ex.tasks.borrow().len())
}

#[cfg(test)]
#[path = "tests/executor.rs"]
mod tests;
