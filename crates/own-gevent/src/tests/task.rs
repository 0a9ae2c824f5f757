//! Unit tests of [`crate::task`], kept apart so the runtime file stays short.

use super::*;
use std::task::Waker;

fn queue() -> Arc<RunQueue> {
    Arc::new(RunQueue::new(Some(Arc::new(
        polling::Poller::new().unwrap(),
    ))))
}

#[test]
fn a_waker_puts_its_task_on_the_run_queue_once_until_polled() {
    let q = queue();
    let task = Task::new(7, Arc::clone(&q));
    let waker = Waker::from(Arc::clone(&task));
    assert_eq!(q.pop(), None);
    waker.wake_by_ref();
    let second = waker.clone(); // a clone wakes the same task
    second.wake();
    assert_eq!(q.pop(), Some(7));
    assert_eq!(q.pop(), None, "two wakes before a poll queue it once");
    task.unqueue();
    waker.wake();
    assert_eq!(q.pop(), Some(7));
}

#[test]
fn a_wake_from_another_thread_interrupts_the_wait() {
    let q = queue();
    let task = Task::new(1, Arc::clone(&q));
    let waker = Waker::from(task);
    std::thread::spawn(move || waker.wake()).join().unwrap();
    // The notification is pending, so this wait returns at once instead of in 10 s.
    let mut events = polling::Events::new();
    let start = std::time::Instant::now();
    q.poller
        .as_ref()
        .unwrap()
        .wait(&mut events, Some(std::time::Duration::from_secs(10)))
        .unwrap();
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(q.pop(), Some(1));
}
