//! The reactor: section 五's `select` loop turned inside out. One `polling::Poller` (epoll)
//! watches every socket a task is waiting on, and instead of running a callback per ready
//! socket it wakes the task that waits there (gevent's hub does the same with libev).
//!
//! Triggering mode: **oneshot**, polling's default. After epoll reports a socket once, the
//! kernel disarms it until we `modify` it again, so no wake-up is reported twice. That fits
//! tasks: a task is woken once, tries its system call, and if that says `WouldBlock` again
//! it registers again (net.rs). After every event the reactor re-arms the socket for any
//! direction still awaited: a reader's event must not lose a writer that still waits.

use polling::{Event, Events, Poller};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

/// Which way a task waits on a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Read,
    Write,
}

/// One registered socket and the tasks waiting on it (at most one per direction: a
/// `TcpStream` is owned by one task here, as in gevent).
struct Slot {
    fd: RawFd,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

impl Slot {
    fn interest(&self, key: usize) -> Event {
        Event::new(key, self.reader.is_some(), self.writer.is_some())
    }
}

pub struct Reactor {
    poller: Arc<Poller>,
    /// Keyed by the number given back in `Event::key`.
    slots: RefCell<HashMap<usize, Slot>>,
    next_key: std::cell::Cell<usize>,
    events: RefCell<Events>,
}

thread_local! {
    /// One reactor per thread, like gevent's hub: see the crate docs for why thread-local.
    static REACTOR: Result<Reactor, (io::ErrorKind, String)> = Reactor::new()
        .map_err(|e| (e.kind(), e.to_string()));
}

/// Runs `f` on this thread's reactor, or says why there is none (epoll_create failed).
pub fn with<R>(f: impl FnOnce(&Reactor) -> io::Result<R>) -> io::Result<R> {
    // `try_with`: a socket dropped while the thread's locals are torn down finds none.
    REACTOR
        .try_with(|r| match r {
            Ok(reactor) => f(reactor),
            Err((kind, why)) => Err(io::Error::new(*kind, format!("no poller: {why}"))),
        })
        .unwrap_or_else(|_| Err(io::Error::other("the reactor is gone (thread exiting)")))
}

impl Reactor {
    fn new() -> io::Result<Reactor> {
        Ok(Reactor {
            poller: Arc::new(Poller::new()?),
            slots: RefCell::new(HashMap::new()),
            next_key: std::cell::Cell::new(0),
            events: RefCell::new(Events::new()),
        })
    }

    /// The poller, for the run queue's cross-thread wake-ups.
    pub fn poller(&self) -> Arc<Poller> {
        Arc::clone(&self.poller)
    }

    /// Adds a socket with no interest yet; returns its key. Pair with [`Reactor::deregister`].
    ///
    /// # Safety
    /// `fd` must stay open until `deregister(key)` has been called (polling's contract for
    /// `add`: a descriptor must leave the poller before it is closed).
    pub unsafe fn register(&self, fd: RawFd) -> io::Result<usize> {
        let key = self.next_key.get();
        self.next_key.set(key + 1);
        // SAFETY: our caller promised `fd` stays open until `deregister`, which deletes it.
        unsafe { self.poller.add(fd, Event::none(key))? };
        let slot = Slot {
            fd,
            reader: None,
            writer: None,
        };
        self.slots.borrow_mut().insert(key, slot);
        Ok(key)
    }

    pub fn deregister(&self, key: usize, source: &impl AsRawFd) {
        self.slots.borrow_mut().remove(&key);
        // SAFETY: the socket is open: our caller still holds it.
        let fd = unsafe { BorrowedFd::borrow_raw(source.as_raw_fd()) };
        // Fails only if the fd was never added; there is nothing to undo then.
        let _ = self.poller.delete(fd);
    }

    // ANCHOR: wait_on
    /// Records that the task behind `waker` waits until socket `key` is ready in `dir`, and
    /// arms the socket for it.
    pub fn wait_on(&self, key: usize, dir: Direction, waker: &Waker) -> io::Result<()> {
        let mut slots = self.slots.borrow_mut();
        let Some(slot) = slots.get_mut(&key) else {
            return Err(io::Error::other("socket not registered"));
        };
        let waiting = match dir {
            Direction::Read => &mut slot.reader,
            Direction::Write => &mut slot.writer,
        };
        *waiting = Some(waker.clone());
        arm(&self.poller, slot, key)
    }
    // ANCHOR_END: wait_on

    // ANCHOR: turn
    /// One turn of section 五's loop: wait up to `timeout` (`None`: until something is ready,
    /// `Some(ZERO)`: just look), then wake every task whose socket is ready.
    pub fn turn(&self, timeout: Option<Duration>) -> io::Result<usize> {
        let mut events = self.events.borrow_mut();
        events.clear();
        self.poller.wait(&mut events, timeout)?;
        let mut slots = self.slots.borrow_mut();
        let mut woken = 0;
        for ev in events.iter() {
            // A key missing here is a socket dropped after the kernel queued its event.
            let Some(slot) = slots.get_mut(&ev.key) else {
                continue;
            };
            // Error and hang-up are reported as both readable and writable by polling, so
            // the waiting task tries its call and meets the error itself.
            let ready = [
                (ev.readable, &mut slot.reader),
                (ev.writable, &mut slot.writer),
            ];
            for (_, waiting) in ready.into_iter().filter(|(ready, _)| *ready) {
                if let Some(waker) = waiting.take() {
                    waker.wake();
                    woken += 1;
                }
            }
            // Oneshot disarmed the socket: arm it again for whoever still waits. If that
            // fails, wake them anyway: their next `wait_on` meets the error and returns it.
            if arm(&self.poller, slot, ev.key).is_err() {
                [slot.reader.take(), slot.writer.take()]
                    .into_iter()
                    .flatten()
                    .for_each(Waker::wake);
            }
        }
        Ok(woken)
    }
    // ANCHOR_END: turn
}

/// (Re-)arms `slot` for the directions with a waiting task; oneshot, polling's default.
fn arm(poller: &Poller, slot: &Slot, key: usize) -> io::Result<()> {
    // SAFETY: a slot exists only between `register` and `deregister`, and its owner keeps
    // the descriptor open for that long (the contract of `register`).
    let fd = unsafe { BorrowedFd::borrow_raw(slot.fd) };
    poller.modify(fd, slot.interest(key))
}

#[cfg(test)]
#[path = "tests/reactor.rs"]
mod tests;
