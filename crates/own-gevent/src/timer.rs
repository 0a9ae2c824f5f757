//! Timers: `sleep(Duration)`, gevent's `gevent.sleep`, without a thread per sleeper.
//!
//! Every sleeping task leaves its deadline in a min-heap (`BinaryHeap` of `Reverse`), so the
//! earliest one is at the top. The executor asks for it and lets the reactor's
//! `epoll_wait` wait no longer than that: the timeout of section 五's `select` becomes the
//! alarm clock. A production runtime (tokio) uses a hierarchical timer wheel instead, where
//! adding and cancelling a timer costs O(1) rather than O(log n).

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Timers {
    /// (deadline, timer number), earliest on top; the number breaks ties in arrival order.
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    /// The sleepers still waiting. A dropped `Sleep` leaves its heap entry behind, to be
    /// skipped when it comes up (lazy deletion: removing from the middle of a heap is O(n)).
    wakers: HashMap<u64, Waker>,
    next: u64,
}

thread_local! {
    static TIMERS: RefCell<Timers> = RefCell::new(Timers::default());
}

// ANCHOR: sleep
/// A future that is ready once `deadline` has passed.
pub struct Sleep {
    deadline: Instant,
    /// Set once this sleep is in the heap.
    timer: Option<u64>,
}

/// Sleeps `duration` without blocking the thread: other tasks run meanwhile.
pub fn sleep(duration: Duration) -> Sleep {
    Sleep {
        deadline: Instant::now() + duration,
        timer: None,
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        let deadline = self.deadline;
        let timer = TIMERS.with_borrow_mut(|t| match self.timer {
            // Polled again before its time (a spurious wake): keep the newest waker.
            Some(id) => {
                t.wakers.insert(id, cx.waker().clone());
                id
            }
            None => {
                let id = t.next;
                t.next += 1;
                t.heap.push(Reverse((deadline, id)));
                t.wakers.insert(id, cx.waker().clone());
                id
            }
        });
        self.timer = Some(timer);
        Poll::Pending
    }
}
// ANCHOR_END: sleep

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(id) = self.timer {
            // `try_with`: a `Sleep` may be dropped while the thread's locals are torn down.
            let _ = TIMERS.try_with(|t| t.borrow_mut().wakers.remove(&id));
        }
    }
}

// ANCHOR: fire
/// Wakes every sleeper whose deadline has passed; returns how many.
pub fn fire_expired(now: Instant) -> usize {
    let due: Vec<Waker> = TIMERS.with_borrow_mut(|t| {
        let mut due = Vec::new();
        while let Some(&Reverse((deadline, id))) = t.heap.peek() {
            if deadline > now {
                break;
            }
            t.heap.pop();
            due.extend(t.wakers.remove(&id));
        }
        due
    });
    // Woken outside the borrow: a waker only queues a task, but keep the rule simple.
    let n = due.len();
    due.into_iter().for_each(Waker::wake);
    n
}

/// The earliest deadline still awaited, if any: how long the reactor may wait.
pub fn next_deadline() -> Option<Instant> {
    TIMERS.with_borrow_mut(|t| {
        // Drop entries of cancelled sleeps from the top, so they cannot shorten the wait.
        while let Some(&Reverse((deadline, id))) = t.heap.peek() {
            if t.wakers.contains_key(&id) {
                return Some(deadline);
            }
            t.heap.pop();
        }
        None
    })
}
// ANCHOR_END: fire

/// Runs `future` for at most `limit`: its output, or a `TimedOut` error (and it is dropped).
pub async fn timeout<F: Future>(limit: Duration, future: F) -> std::io::Result<F::Output> {
    let (mut future, mut alarm) = (std::pin::pin!(future), std::pin::pin!(sleep(limit)));
    std::future::poll_fn(|cx| match future.as_mut().poll(cx) {
        Poll::Ready(value) => Poll::Ready(Ok(value)),
        Poll::Pending => alarm.as_mut().poll(cx).map(|()| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "timed out",
            ))
        }),
    })
    .await
}

#[cfg(test)]
#[path = "tests/timer.rs"]
mod tests;
