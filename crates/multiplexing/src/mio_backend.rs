//! `--backend mio`: the same loop on [`mio`], which is **edge-triggered** (always: on Linux
//! it registers with `EPOLLET`). tokio's reactor is built on it.
//!
//! Edge-triggered reports a *change*: a socket is reported when it becomes readable (new
//! bytes arrived) or writable (room appeared), once, and not again until another change. So
//! the rule mio's docs state is the whole discipline of this file: after an event, repeat
//! the operation until it returns `WouldBlock`; only then is the next event guaranteed. Every
//! loop below (accept, read, write) runs until `WouldBlock`, or until *we* choose to stop
//! and remember that we must come back ourselves (backpressure, an accept pause).
//!
//! The interest list, the chore of the level-triggered backends, is set once: a connection
//! is registered for reading and writing when accepted and never re-registered. Writable
//! edges come only after a write hit `WouldBlock`, so watching for them costs nothing while
//! there is nothing to send.
//!
//! What to watch: the same numbers as `--backend polling` (one thread, no CPU while idle),
//! with fewer system calls spent on interest changes and one more `recv` per message (the
//! one that returns `WouldBlock`).

use crate::accept::{self, AcceptPause, Next};
use crate::conn::{self, Conn, Step};
use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use protocol::limits::READ_SIZE;
use slab::Slab;
use std::io::{self, ErrorKind};

/// The listener's token; connections use their slab index, which never gets near it.
const LISTENER: Token = Token(usize::MAX - 1);

/// Events taken per poll, into one buffer reused on every turn.
const EVENTS: usize = 1024;

/// The whole server: one `Poll`, one listener, every connection, one thread.
struct Server {
    poll: Poll,
    listener: TcpListener,
    /// Keyed by the `Token` each connection was registered with. mio's sockets are safe
    /// types: dropping one closes its descriptor, which removes it from epoll, so unlike
    /// `polling` no `unsafe` and no explicit deregistration is needed.
    conns: Slab<Conn<TcpStream>>,
    pause: AcceptPause,
}

// ANCHOR: loop
pub fn run(listener: std::net::TcpListener) -> crate::Result<()> {
    // mio's `from_std` takes the socket as it is; it must already be non-blocking.
    listener.set_nonblocking(true)?;
    let mut listener = TcpListener::from_std(listener);
    let poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut server = Server {
        poll,
        listener,
        conns: Slab::new(),
        pause: AcceptPause::default(),
    };
    let mut events = Events::with_capacity(EVENTS);
    let mut buf = [0u8; READ_SIZE];
    loop {
        // Wait data, for every socket at once. No timeout unless accepting is paused.
        match server.poll.poll(&mut events, server.pause.time_left()) {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err.into()),
        }
        if server.pause.try_resume() {
            // Edge-triggered: the connections that queued up during the pause raised their
            // edges while we were not listening. No new event will announce them; go and
            // take them now.
            server.accept_all();
        }
        for event in events.iter() {
            match event.token() {
                // While paused, a listener edge (a new client) is ignored: the pause's end
                // drains the whole queue anyway.
                LISTENER if !server.pause.is_active() => server.accept_all(),
                LISTENER => {}
                Token(key) => server.serve(key, event, &mut buf),
            }
        }
    }
}
// ANCHOR_END: loop

impl Server {
    /// Accepts until `WouldBlock`. Stopping earlier would strand the rest of the queue: the
    /// listener has already reported its edge, and the next one comes only with the next new
    /// client, which may never come.
    fn accept_all(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    accept::admit(&stream, peer, self.conns.len() + 1);
                    let slot = self.conns.vacant_entry();
                    let mut conn = Conn::new(stream, peer);
                    // Both interests, once, for the connection's whole life (see the module
                    // docs). If bytes arrived before this call, epoll reports them at once.
                    let registered = self.poll.registry().register(
                        &mut conn.stream,
                        Token(slot.key()),
                        Interest::READABLE | Interest::WRITABLE,
                    );
                    match registered {
                        Ok(()) => {
                            slot.insert(conn);
                        }
                        Err(err) => protocol::log!("[{peer}] cannot watch it: {err}; closed"),
                    }
                }
                Err(err) => match accept::after_error(&err, &mut self.pause, self.conns.len()) {
                    Next::Again => continue,
                    Next::Drained | Next::Paused => return,
                },
            }
        }
    }

    fn serve(&mut self, key: usize, event: &Event, buf: &mut [u8; READ_SIZE]) {
        // A stale event for a connection closed earlier in this batch (or for a new one that
        // took its key) is harmless: the drain below just meets `WouldBlock` sooner.
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let how = match drain(conn, event.is_writable(), buf) {
            Err(err) => Err(err),
            Ok(()) if conn.is_finished() => Ok(()),
            Ok(()) => return,
        };
        let conn = self.conns.remove(key);
        conn::log_end(conn.peer, &how, self.conns.len());
    }
}

// ANCHOR: drain
/// Everything an edge asks for: write and read until the socket says `WouldBlock`.
///
/// Skip the drain and a client hangs. Read one message of two that arrived together and
/// return: the second sits in the kernel, no new edge comes (nothing *changed*), and the
/// client waits for a reply forever. The same for a write stopped after a short `send`.
fn drain(conn: &mut Conn<TcpStream>, writable: bool, buf: &mut [u8; READ_SIZE]) -> io::Result<()> {
    // Whether a write may still succeed in this turn. Once one has hit `WouldBlock`, a
    // writable edge is on its way; trying again before it comes would only cost a call.
    let mut can_write = writable;
    loop {
        if can_write && conn.flush()? == Step::Blocked {
            can_write = false;
        }
        // Backpressure: stop reading with bytes perhaps still unread. Edge-triggered, they
        // will not be announced again; the writable edge that comes once the peer reads our
        // replies brings us back here, and this loop then reads on. (Level-triggered, we
        // would just watch for reading again.) After EOF there is nothing left to read.
        if !conn.wants_read() {
            return Ok(());
        }
        if conn.read_once(buf)? == Step::Blocked {
            return Ok(());
        }
    }
}
// ANCHOR_END: drain
