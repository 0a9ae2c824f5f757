//! The listening socket in non-blocking mode: the notes' `s.setblocking(False)` and
//! `try: conn, addr = s.accept() ... except BlockingIOError:` (四 a and 四 b alike).
//!
//! What to watch: `accept` never waits. With nobody in the listen queue it returns
//! `WouldBlock` at once, and [`Acceptor::accept`] answers `None`: "nobody new, go and poll
//! the connections" (the notes print 可以去干其他的活了, "off to do other work").

use crate::would_block;
use protocol::accept::{Episode, Next, BACK_OFF};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Instant;

/// Connections taken from the listen queue in one pass at most. A flood of new clients
/// must not hold up the ones already connected: the rest wait for the next pass, a few
/// microseconds later.
const ACCEPTS_PER_PASS: usize = 64;

/// The listener, and whether accepting is paused after an error.
pub struct Acceptor {
    listener: TcpListener,
    /// Set after an error such as EMFILE: the connection stays in the listen queue, so the
    /// next `accept` would fail the same way, and a busy loop would try it a million times a
    /// second. Until this instant we do not try (a blocking server can sleep instead; this
    /// loop must keep serving the clients it has).
    paused_until: Option<Instant>,
    /// The run of failures in progress: one log line when it starts, one when it clears.
    episode: Episode,
    /// Connections accepted in this pass so far.
    taken: usize,
}

impl Acceptor {
    // ANCHOR: new
    /// Puts the listener in non-blocking mode: the notes' `s.setblocking(False)`.
    pub fn new(listener: TcpListener) -> io::Result<Acceptor> {
        listener.set_nonblocking(true)?;
        Ok(Acceptor {
            listener,
            paused_until: None,
            episode: Episode::new(),
            taken: 0,
        })
    }
    // ANCHOR_END: new

    /// The next connection waiting in the listen queue, ready for the polling loop, or
    /// `None` when there is none (`WouldBlock`) or accepting is paused.
    ///
    /// Call it until it returns `None`: that drains the queue, as the notes' loop does by
    /// going back to `accept` after every success, but at most [`ACCEPTS_PER_PASS`] at a
    /// time. A connection that fails its set-up is logged and skipped, and the next one is
    /// tried.
    pub fn accept(&mut self) -> Option<(TcpStream, SocketAddr)> {
        if let Some(until) = self.paused_until {
            if Instant::now() < until {
                return None;
            }
            self.paused_until = None;
        }
        if self.taken == ACCEPTS_PER_PASS {
            // This pass's share is taken; the `None` ends the caller's loop, and the next
            // pass starts a new share.
            self.taken = 0;
            return None;
        }
        loop {
            let (stream, peer) = match self.listener.accept() {
                Ok(accepted) => {
                    self.episode.accepted();
                    self.taken += 1;
                    accepted
                }
                // Nobody new (`WouldBlock`, the notes' BlockingIOError): a fresh share next
                // pass.
                Err(err) if would_block(&err) => {
                    self.taken = 0;
                    return None;
                }
                // A signal, or a client that gave up between its handshake and our accept:
                // neither is about the next connection in the queue. Out of descriptors or
                // memory: stop trying for a while, logged once per episode.
                Err(err) => match self.episode.failed(&err, None) {
                    Next::Again => continue,
                    Next::Drained => return None,
                    Next::BackOff => {
                        self.paused_until = Some(Instant::now() + BACK_OFF);
                        self.taken = 0;
                        return None;
                    }
                },
            };
            match prepare(&stream) {
                Ok(()) => return Some((stream, peer)),
                // Dropping it closes it: the client sees the connection end, nobody else
                // is affected.
                Err(err) => protocol::log!("[{peer}] dropped: cannot set it up: {err}"),
            }
        }
    }
}

// ANCHOR: prepare
/// Makes an accepted socket fit for the polling loop.
fn prepare(stream: &TcpStream) -> io::Result<()> {
    // On Linux, accept(2) returns a *blocking* socket whatever the listener's mode: the flag
    // is not inherited (BSD, macOS and Windows copy it, which is why the notes never set it).
    // Forget this line and the first `recv` on an idle client stops the whole server, every
    // other client included. (`accept4(SOCK_NONBLOCK)` does it in the same call; std's
    // `accept` does not expose that flag.)
    stream.set_nonblocking(true)?;
    // Replies are written as soon as they are read: do not let Nagle's algorithm hold a
    // small one back waiting for the client's (delayed) ACK.
    stream.set_nodelay(true)
}
// ANCHOR_END: prepare
