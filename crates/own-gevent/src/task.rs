//! A task and its `Waker`: the handle by which anything (a socket, a timer, another task)
//! says "poll this task again".
//!
//! A task is a spawned future; the executor owns the future itself ([`crate::executor`]).
//! What the waker carries is only the task's number and the run queue to put it on, so it is
//! cheap to clone and `Send + Sync`, as `std::task::Wake` requires (a waker may be handed to
//! another thread, even though our runtime runs every task on one).
//!
//! gevent's counterpart is a greenlet's `switch()`: the hub calls it when the greenlet's
//! socket is ready. Here the reactor calls `wake()`, and the executor polls the task later.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Wake;
use std::thread::ThreadId;

/// A task's number: the key of its future in the executor's table.
pub type TaskId = usize;

/// The tasks that are ready to be polled, oldest first: the run queue.
///
/// A `Mutex` although only one thread polls: `Wake` demands `Send + Sync`, and an
/// uncontended lock costs a few nanoseconds. tokio keeps a lock-free local queue instead.
pub struct RunQueue {
    ready: Mutex<VecDeque<TaskId>>,
    /// The executor's thread, so a wake from any other thread can interrupt its wait.
    owner: ThreadId,
    /// Wakes the reactor's `epoll_wait` (polling's notifier, an eventfd); `None` if this
    /// thread has no poller (then `block_on` says so).
    poller: Option<Arc<polling::Poller>>,
}

impl RunQueue {
    pub fn new(poller: Option<Arc<polling::Poller>>) -> RunQueue {
        RunQueue {
            ready: Mutex::new(VecDeque::new()),
            owner: std::thread::current().id(),
            poller,
        }
    }

    pub fn push(&self, id: TaskId) {
        // A task that panicked is caught before it can poison this lock (it is never held
        // across a poll), so poisoning cannot happen; take the data either way.
        self.ready
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(id);
        match &self.poller {
            // The executor may be asleep in `epoll_wait`: wake it. Failure means the eventfd
            // is gone, which happens only while the runtime is being dropped.
            Some(poller) if std::thread::current().id() != self.owner => {
                let _ = poller.notify();
            }
            _ => {}
        }
    }

    pub fn pop(&self) -> Option<TaskId> {
        let mut ready = self.ready.lock().unwrap_or_else(PoisonError::into_inner);
        ready.pop_front()
    }

    pub fn is_empty(&self) -> bool {
        let ready = self.ready.lock().unwrap_or_else(PoisonError::into_inner);
        ready.is_empty()
    }
}

// ANCHOR: task
/// What a task's `Waker` points at.
pub struct Task {
    pub id: TaskId,
    /// Set while the task is in the run queue, so ten wakes before one poll queue it once.
    queued: AtomicBool,
    queue: Arc<RunQueue>,
}

impl Task {
    pub fn new(id: TaskId, queue: Arc<RunQueue>) -> Arc<Task> {
        Arc::new(Task {
            id,
            queued: AtomicBool::new(false),
            queue,
        })
    }

    /// Called by the executor just before it polls the task: from now on a wake (even one
    /// from inside this very poll) must queue it again.
    pub fn unqueue(&self) {
        self.queued.store(false, Ordering::Release);
    }
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.queue.push(self.id);
        }
    }
}
// ANCHOR_END: task

#[cfg(test)]
#[path = "tests/task.rs"]
mod tests;
