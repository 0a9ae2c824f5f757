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
//! Edge-triggered does not say "serve this socket until it is dry", only "you will not be
//! told again until you have". A client that writes as fast as we read never lets its socket
//! run dry, so a drain with no limit would serve it alone while every other client and the
//! listener wait (the lab's `flood fairness` scenario measured 3 s and more). So every drain
//! has a budget ([`BUDGET`] reads, like tokio's cooperative budget of 128 operations per
//! task), and a connection that spent it with work left goes on the [`Server::ready`] list:
//! no edge will come for it, so *we* must come back, before the next wait, and that wait
//! must not sleep (a zero timeout) while anyone is on the list. The listener is treated the
//! same way: at most [`ACCEPT_BATCH`] accepts per turn, and if the batch ran out before
//! `WouldBlock`, [`Server::accept_owed`] remembers to accept again next turn.
//!
//! The interest list, the chore of the level-triggered backends, is set once: a connection
//! is registered for reading and writing when accepted and never re-registered. Watching
//! for writability costs little while there is nothing to send, but not nothing: epoll
//! reports an `EPOLLOUT` edge on registration, whenever an ACK frees send-buffer space after
//! any write (not only after one that hit `WouldBlock`), and when the connection's state
//! changes (a reset, the peer's FIN). Those extra events wake an idle loop at most once per
//! change, and the loop does not depend on whether they come: a spurious one only costs a
//! drain that meets `WouldBlock` at once, and the one it *needs* (room appeared after a
//! `send` hit `WouldBlock`) is guaranteed.
//!
//! What to watch: the same numbers as `--backend polling` (one thread, no CPU while idle),
//! with fewer system calls spent on interest changes and one more `recv` per message (the
//! one that returns `WouldBlock`).

use crate::accept::{self, AcceptPause, Next};
use crate::conn::{self, Conn, Step};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use protocol::limits::READ_SIZE;
use slab::Slab;
use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};
use std::time::Duration;

/// The listener's token; connections use their slab index, which never gets near it.
const LISTENER: Token = Token(usize::MAX - 1);

/// Events taken per poll, into one buffer reused on every turn. More are left in the
/// kernel's ready list for the next poll.
const EVENTS: usize = 1024;

/// Reads one connection may make per turn before the others get theirs: 64 KiB at 1 KiB a
/// read, about the bound on its queued replies. tokio gives every task 128 operations.
pub const BUDGET: usize = 64;

/// Connections accepted per turn. A flood of new clients (a SYN flood, or just a crowd)
/// would otherwise keep the loop in `accept` while the open connections wait.
const ACCEPT_BATCH: usize = 128;

/// One connection and whether it is on the ready list, so it is queued there only once.
struct Entry {
    conn: Conn<TcpStream>,
    /// Spent its budget with work left: the loop must serve it again without an event.
    on_ready_list: bool,
}

/// The whole server: one `Poll`, one listener, every connection, one thread.
struct Server {
    poll: Poll,
    listener: TcpListener,
    /// Keyed by the `Token` each connection was registered with. mio's sockets are safe
    /// types: dropping one closes its descriptor, which removes it from epoll, so unlike
    /// `polling` no `unsafe` and no explicit deregistration is needed.
    conns: Slab<Entry>,
    /// Keys of connections that stopped at their budget, not at `WouldBlock`. Edge-triggered:
    /// the kernel will not report them again, so this list is the only thing that remembers
    /// they have work. Served every turn, before the next wait.
    ready: VecDeque<usize>,
    /// The last accept batch ended at its limit, not at `WouldBlock`: the listener will not
    /// report those queued clients again, so accept again next turn.
    accept_owed: bool,
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
        ready: VecDeque::new(),
        accept_owed: false,
        pause: AcceptPause::default(),
    };
    let mut events = Events::with_capacity(EVENTS);
    let mut buf = [0u8; READ_SIZE];
    loop {
        // Wait data, for every socket at once, unless we owe someone a turn: then only
        // collect what is ready now (a zero timeout) and come straight back to them.
        let timeout = if server.owes_work() {
            Some(Duration::ZERO)
        } else {
            // No timeout unless accepting is paused.
            server.pause.time_left()
        };
        match server.poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err.into()),
        }
        if server.pause.try_resume() {
            // Edge-triggered: the connections that queued up during the pause raised their
            // edges while we were not listening. No new event will announce them.
            server.accept_owed = true;
        }
        // Served before this turn's events: these have waited a whole turn already.
        server.serve_ready_list(&mut buf);
        for event in events.iter() {
            match event.token() {
                // While paused, a listener edge (a new client) is ignored: the pause's end
                // sets `accept_owed`, and the next accept takes the whole queue anyway.
                LISTENER => server.accept_owed = true,
                Token(key) => server.serve(key, event.is_writable(), &mut buf),
            }
        }
        if server.accept_owed && !server.pause.is_active() {
            server.accept_some();
        }
    }
}
// ANCHOR_END: loop

impl Server {
    /// Whether work is waiting that no event will announce.
    fn owes_work(&self) -> bool {
        !self.ready.is_empty() || (self.accept_owed && !self.pause.is_active())
    }

    /// Accepts until `WouldBlock` or [`ACCEPT_BATCH`]. Stopping at the batch is only safe
    /// because `accept_owed` stays set: the listener has already reported its edge, and the
    /// next one comes only with the next new client, which may never come.
    fn accept_some(&mut self) {
        for _ in 0..ACCEPT_BATCH {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    self.pause.accepted();
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
                            slot.insert(Entry {
                                conn,
                                on_ready_list: false,
                            });
                        }
                        Err(err) => protocol::log!("[{peer}] cannot watch it: {err}; closed"),
                    }
                }
                Err(err) => match accept::after_error(&err, &mut self.pause, self.conns.len()) {
                    Next::Again => continue,
                    // The queue is empty (the edge is used up), or we are backing off
                    // (the pause's end sets `accept_owed` again).
                    Next::Drained | Next::BackOff => {
                        self.accept_owed = false;
                        return;
                    }
                },
            }
        }
        // The batch ran out before `WouldBlock`: more clients may be queued.
        self.accept_owed = true;
    }

    // ANCHOR: ready_list
    /// Serves, once each, the connections that were on the ready list when this turn began.
    /// One that spends its budget again goes to the back, behind this turn's events.
    fn serve_ready_list(&mut self, buf: &mut [u8; READ_SIZE]) {
        for _ in 0..self.ready.len() {
            let Some(key) = self.ready.pop_front() else {
                break;
            };
            // A key whose connection closed (its slot maybe reused) or that was already
            // served from an event this turn is no longer marked: skip it.
            match self.conns.get_mut(key) {
                Some(entry) if entry.on_ready_list => entry.on_ready_list = false,
                _ => continue,
            }
            // No event says whether it is writable: try, a `send` that would block is cheap.
            self.serve(key, true, buf);
        }
    }

    fn serve(&mut self, key: usize, writable: bool, buf: &mut [u8; READ_SIZE]) {
        // A stale event for a connection closed earlier in this batch (or for a new one that
        // took its key) is harmless: the drain below just meets `WouldBlock` sooner.
        let Some(entry) = self.conns.get_mut(key) else {
            return;
        };
        let how = match drain(&mut entry.conn, writable, buf) {
            Err(err) => Err(err),
            Ok(_) if entry.conn.is_finished() => Ok(()),
            Ok(Drained::Owed) => {
                // We stopped, not the kernel: remember to come back (edge-triggered, no one
                // else will).
                if !entry.on_ready_list {
                    entry.on_ready_list = true;
                    self.ready.push_back(key);
                }
                return;
            }
            Ok(Drained::Done) => return,
        };
        let entry = self.conns.remove(key);
        conn::log_end(entry.conn.peer, &how, self.conns.len());
    }
    // ANCHOR_END: ready_list
}

/// How a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// At `WouldBlock`, or stopped for backpressure or EOF: an event will bring it back.
    Done,
    /// At the [`BUDGET`], with bytes perhaps still unread: no event will come for them, so
    /// the caller must put it on the ready list.
    Owed,
}

// ANCHOR: drain
/// Everything an edge asks for: write and read until the socket says `WouldBlock`, or until
/// [`BUDGET`] reads, whichever comes first.
///
/// Skip the drain and a client hangs. Read one message of two that arrived together and
/// return: the second sits in the kernel, no new edge comes (nothing *changed*), and the
/// client waits for a reply forever. The same for a write stopped after a short `send`. So a
/// drain that stops at its budget returns [`Drained::Owed`], and the caller must come back.
pub fn drain<S: Read + Write>(
    conn: &mut Conn<S>,
    writable: bool,
    buf: &mut [u8; READ_SIZE],
) -> io::Result<Drained> {
    // Whether a write may still succeed in this turn. Once one has hit `WouldBlock`, a
    // writable edge is on its way; trying again before it comes would only cost a call.
    let mut can_write = writable;
    for _ in 0..BUDGET {
        if can_write && conn.flush()? == Step::Blocked {
            can_write = false;
        }
        // Backpressure: stop reading with bytes perhaps still unread. Edge-triggered, they
        // will not be announced again; the writable edge that comes once the peer reads our
        // replies brings us back here, and this loop then reads on. (Level-triggered, we
        // would just watch for reading again.) After EOF there is nothing left to read.
        if !conn.wants_read() {
            return Ok(Drained::Done);
        }
        if conn.read_once(buf)? == Step::Blocked {
            return Ok(Drained::Done);
        }
    }
    // The budget is spent and the socket did not say `WouldBlock`: it may hold more. Send
    // what the reads produced, then let the others have their turn.
    if can_write {
        conn.flush()?;
    }
    Ok(Drained::Owed)
}
// ANCHOR_END: drain

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket whose peer is never done: every read finds a full 1 KiB, until `reads_left`
    /// runs out (so that a drain with no budget ends instead of hanging the test); every
    /// write is taken whole.
    struct Firehose {
        reads: usize,
        reads_left: usize,
    }

    impl Read for Firehose {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.reads_left == 0 {
                return Err(ErrorKind::WouldBlock.into());
            }
            self.reads_left -= 1;
            self.reads += 1;
            buf.fill(b'x');
            Ok(buf.len())
        }
    }

    impl Write for Firehose {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_socket_that_never_runs_dry_is_left_after_its_budget() {
        let mut conn = Conn::new(
            Firehose {
                reads: 0,
                reads_left: 100 * BUDGET,
            },
            "127.0.0.1:9".parse().expect("a literal address"),
        );
        let mut buf = [0; READ_SIZE];
        let ended = drain(&mut conn, true, &mut buf).expect("the fake socket never fails");
        assert_eq!(ended, Drained::Owed, "it must say that it stopped early");
        assert_eq!(conn.stream.reads, BUDGET, "it read past its budget");
        assert!(
            !conn.wants_write(),
            "the replies of the budget's reads went out"
        );
        // Once the socket is dry, the drain says so, and nothing is owed.
        conn.stream.reads_left = 3;
        let ended = drain(&mut conn, true, &mut buf).expect("the fake socket never fails");
        assert_eq!(ended, Drained::Done);
    }
}
