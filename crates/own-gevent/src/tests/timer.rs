//! Unit tests of [`crate::timer`], kept apart so the runtime file stays short.

use super::*;
use std::sync::{Arc, Mutex};
use std::task::Wake;

/// A waker that records its name when woken.
struct Named(&'static str, Arc<Mutex<Vec<&'static str>>>);
impl Wake for Named {
    fn wake(self: Arc<Self>) {
        self.1.lock().unwrap().push(self.0);
    }
}

#[test]
fn sleepers_wake_in_deadline_order_not_spawn_order() {
    let woke = Arc::new(Mutex::new(Vec::new()));
    let base = Instant::now();
    let mut sleeps = Vec::new();
    for (name, ms) in [("f1", 300), ("f2", 200), ("f3", 500)] {
        let mut s = Box::pin(Sleep {
            deadline: base + Duration::from_millis(ms),
            timer: None,
        });
        let waker = Waker::from(Arc::new(Named(name, Arc::clone(&woke))));
        assert!(s
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        sleeps.push(s);
    }
    assert_eq!(next_deadline(), Some(base + Duration::from_millis(200)));
    // Time is passed in, so no test waits: fire as if 350 ms, then 600 ms had gone by.
    assert_eq!(fire_expired(base + Duration::from_millis(350)), 2);
    assert_eq!(*woke.lock().unwrap(), ["f2", "f1"]);
    assert_eq!(next_deadline(), Some(base + Duration::from_millis(500)));
    fire_expired(base + Duration::from_millis(600));
    assert_eq!(*woke.lock().unwrap(), ["f2", "f1", "f3"]);
    assert_eq!(next_deadline(), None);
}

#[test]
fn a_dropped_sleep_neither_wakes_nor_shortens_the_wait() {
    let base = Instant::now() + Duration::from_secs(60);
    let woke = Arc::new(Mutex::new(Vec::new()));
    let waker = Waker::from(Arc::new(Named("gone", Arc::clone(&woke))));
    let mut early = Box::pin(Sleep {
        deadline: base,
        timer: None,
    });
    let mut late = Box::pin(Sleep {
        deadline: base + Duration::from_secs(1),
        timer: None,
    });
    let mut cx = Context::from_waker(&waker);
    assert!(early.as_mut().poll(&mut cx).is_pending());
    assert!(late.as_mut().poll(&mut cx).is_pending());
    drop(early);
    assert_eq!(next_deadline(), Some(base + Duration::from_secs(1)));
    drop(late);
    assert_eq!(fire_expired(base + Duration::from_secs(2)), 0);
    assert!(woke.lock().unwrap().is_empty());
}
