//! `--backend polling` (the default): section 五's `select` loop on [`polling::Poller`]
//! (epoll on Linux), in **level-triggered** mode, `PollMode::Level`.
//!
//! Level-triggered is `select`'s own promise: every wait reports every socket that is ready
//! *now*, whether or not it was reported before. So this loop may do a little per event (one
//! `recv`, a bounded batch of `accept`s) and trust the next wait to bring it back. That is
//! also what keeps it fair: a client that never lets its socket run dry gets one 1 KiB read
//! per turn, like every other ready client, and a crowd at the listener at most
//! [`ACCEPT_BATCH`] accepts; epoll puts a level-triggered socket that is still ready back at
//! the end of its ready list, so with more than [`EVENTS`] ready the next wait reports the
//! others first.
//!
//! The price is the interest list: a socket watched for writing while it has nothing to
//! send is reported writable on every wait, so write interest is added only while a reply
//! is queued (the notes' `w_list`) and removed once it has gone, and read interest is
//! removed while replies back up (backpressure) and after EOF.
//!
//! `polling` defaults to *oneshot* mode (an event disarms the socket until `modify`); we ask
//! for `Level` explicitly on every `add` and `modify`. Its `add` is `unsafe`: a socket must be
//! deleted from the poller before it is dropped, which [`Server::close`] does.
//!
//! What to watch: `Threads: 1` in `/proc/PID/status` however many clients are connected, and
//! no CPU used while they are idle: the thread sleeps in `wait` (wait data for every socket
//! at once); `recv` then only copies.

use crate::accept::{self, AcceptPause, Next};
use crate::conn::{self, Conn};
use polling::{Event, Events, PollMode, Poller};
use protocol::limits::READ_SIZE;
use slab::Slab;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::num::NonZeroUsize;

/// The listener's key. Connections are keyed by their slab index, which counts up from 0 and
/// never gets near this; `usize::MAX` itself is reserved by `polling` for its notifier.
const LISTENER: usize = usize::MAX - 1;

/// Events taken from the kernel per wait, into one buffer reused on every turn. More ready
/// sockets than this are simply reported by the next wait (level-triggered).
// Evaluated at compile time: a zero here would not build.
const EVENTS: NonZeroUsize = NonZeroUsize::new(1024).unwrap();

/// Connections accepted per listener event before the ready clients get their turn. Level-
/// triggered: the listener stays reported while its queue is not empty, so stopping is safe.
const ACCEPT_BATCH: usize = 128;

/// What the poller is told to watch a connection for. Kept so that `modify` (a system call)
/// is made only when it changes, not after every event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Interest {
    read: bool,
    write: bool,
}

impl Interest {
    fn of(conn: &Conn<TcpStream>) -> Interest {
        Interest {
            read: conn.wants_read(),
            write: conn.wants_write(),
        }
    }

    fn event(self, key: usize) -> Event {
        Event::new(key, self.read, self.write)
    }
}

/// A connection and what it is registered for.
struct Entry {
    conn: Conn<TcpStream>,
    watching: Interest,
}

/// The whole server: one poller, one listener, every connection, one thread.
struct Server {
    /// Declared first, so dropped first: with the poller gone, dropping sockets that are
    /// still registered in it (if `run` returns an error) breaks no contract of `add`.
    poller: Poller,
    listener: TcpListener,
    /// Keyed by the same `usize` the poller reports in `Event::key`.
    conns: Slab<Entry>,
    pause: AcceptPause,
}

// ANCHOR: loop
pub fn run(listener: TcpListener) -> crate::Result<()> {
    listener.set_nonblocking(true)?;
    let poller = Poller::new()?;
    // SAFETY: `add` requires that the listener be deleted from the poller before it is
    // dropped. Both live in `Server` until `run` returns, and the poller is dropped first.
    unsafe { poller.add_with_mode(&listener, Event::readable(LISTENER), PollMode::Level)? };
    let mut server = Server {
        poller,
        listener,
        conns: Slab::new(),
        pause: AcceptPause::default(),
    };
    let mut events = Events::with_capacity(EVENTS);
    let mut buf = [0u8; READ_SIZE];
    loop {
        events.clear();
        // The one place this thread waits: wait data, for every socket at once. No timeout
        // unless accepting is paused (out of descriptors). `polling` retries EINTR itself.
        server.poller.wait(&mut events, server.pause.time_left())?;
        if server.pause.try_resume() {
            // Level-triggered: if connections queued up meanwhile, the next wait says so.
            server.watch_listener(true)?;
        }
        for event in events.iter() {
            match event.key {
                LISTENER if !server.pause.is_active() => server.accept_some()?,
                LISTENER => {}
                key => server.serve(key, event.readable, event.writable, &mut buf),
            }
        }
    }
}
// ANCHOR_END: loop

impl Server {
    /// The notes' branch for the listener in `rl` (accept one client), up to [`ACCEPT_BATCH`]
    /// at a time.
    fn accept_some(&mut self) -> io::Result<()> {
        for _ in 0..ACCEPT_BATCH {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    self.pause.accepted();
                    self.admit(stream, peer);
                }
                Err(err) => match accept::after_error(&err, &mut self.pause, self.conns.len()) {
                    Next::Again => continue,
                    Next::Drained => break,
                    // The connection we could not take keeps the listener readable: watched,
                    // it would end every wait at once, and the loop would spin.
                    Next::BackOff => return self.watch_listener(false),
                },
            }
        }
        Ok(())
    }

    fn watch_listener(&self, on: bool) -> io::Result<()> {
        let interest = Event::new(LISTENER, on, false);
        self.poller
            .modify_with_mode(&self.listener, interest, PollMode::Level)
    }

    /// Registers a new connection for reading (the notes add it to `r_list`).
    fn admit(&mut self, stream: TcpStream, peer: SocketAddr) {
        if let Err(err) = stream.set_nonblocking(true) {
            protocol::log!("[{peer}] cannot make it non-blocking: {err}; closed");
            return;
        }
        accept::admit(&stream, peer, self.conns.len() + 1);
        let slot = self.conns.vacant_entry();
        let watching = Interest {
            read: true,
            write: false,
        };
        // SAFETY: `add` requires that the stream be deleted from the poller before it is
        // dropped. It is dropped either right here, where `add` failed and so never
        // registered it, or in `Server::close`, which deletes it first.
        let added = unsafe {
            self.poller
                .add_with_mode(&stream, watching.event(slot.key()), PollMode::Level)
        };
        match added {
            Ok(()) => {
                slot.insert(Entry {
                    conn: Conn::new(stream, peer),
                    watching,
                });
            }
            Err(err) => protocol::log!("[{peer}] cannot watch it: {err}; closed"),
        }
    }

    // ANCHOR: serve
    /// Handles one event for connection `key`, then closes it or updates what it is
    /// watched for.
    fn serve(&mut self, key: usize, readable: bool, writable: bool, buf: &mut [u8; READ_SIZE]) {
        // A connection closed earlier in this batch may still have an event in it; its key
        // may even belong to a new connection by now. A spurious event is harmless here:
        // readiness is only a hint, and a `recv` that would block says so.
        let Some(entry) = self.conns.get_mut(key) else {
            return;
        };
        let result = entry.conn.on_ready(readable, writable, buf);
        let done = match result {
            Err(err) => Some(Err(err)),
            Ok(()) if entry.conn.is_finished() => Some(Ok(())),
            Ok(()) => {
                // The notes add a socket to `w_list` after a read and take it out after a send;
                // here both are one `modify`, made only when the interest changes.
                let want = Interest::of(&entry.conn);
                if want == entry.watching {
                    None
                } else {
                    entry.watching = want;
                    let changed = self.poller.modify_with_mode(
                        &entry.conn.stream,
                        want.event(key),
                        PollMode::Level,
                    );
                    changed.err().map(Err)
                }
            }
        };
        if let Some(how) = done {
            self.close(key, how);
        }
    }
    // ANCHOR_END: serve

    /// Deletes connection `key` from the poller, then drops (closes) it.
    fn close(&mut self, key: usize, how: io::Result<()>) {
        let entry = self.conns.remove(key);
        // Before the drop below: the contract of `add`.
        if let Err(err) = self.poller.delete(&entry.conn.stream) {
            protocol::log!("[{}] poller delete: {err}", entry.conn.peer);
        }
        conn::log_end(entry.conn.peer, &how, self.conns.len());
        drop(entry);
    }
}
