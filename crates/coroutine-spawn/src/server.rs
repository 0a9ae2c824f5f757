//! The connection loop (连接循环) of section 一's gevent server. In the notes, `server`
//! binds and listens, then loops for ever: accept a connection, print its address, and hand
//! it to `spawn(talk, conn)`; the program's main line spawns `server` itself and joins it,
//! so the whole loop is one greenlet. Here the loop is one coroutine, and every accepted
//! connection gets a coroutine of its own.
//!
//! What to watch: `lab serve coroutine-spawn` under 1000 clients still has a handful of
//! threads (`grep Threads /proc/PID/status`): the workers, `may`'s timer thread and `main`.
//! `blocking-io --mode thread` has a thousand and one.

use may::coroutine::Builder;
use may::net::TcpListener;
use protocol::accept::{Episode, Next, BACK_OFF};

/// Runs the accept loop as a coroutine and waits for it, as the notes'
/// `spawn(server, ...).join()`: `main` is an ordinary thread, and `accept` on it would
/// block that thread rather than park a coroutine (`may` would still work, slower).
pub fn run(listener: TcpListener, budget: u32) -> crate::Result<()> {
    // SAFETY: `go!` is unsafe because a coroutine may use thread-local storage (wrong once
    // it resumes on another worker, which `may` does freely) and may overflow its fixed
    // stack. The accept loop holds no thread-local across a yield: its only use of one is
    // `protocol::log!`'s lock of stderr, taken and released without yielding in between.
    // Its deepest call is a log line, well within the stack (see `runtime::DEFAULT_STACK`).
    let server = may::go!(Builder::new(), move || accept_loop(&listener, budget))?;
    server
        .join()
        .map_err(|_| "the accept loop panicked".to_string())?;
    Ok(())
}

// ANCHOR: accept_loop
fn accept_loop(listener: &TcpListener, budget: u32) {
    let mut episode = Episode::new();
    // The accept loop is a coroutine too, with the same budget as a connection's: a flood of
    // new clients never makes `accept` block, and without a yield it would keep its worker.
    let mut left = budget;
    loop {
        // Wait data + copy data for a connection: parks this coroutine, not the thread.
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of descriptors or memory: the connection stays queued and `accept`
                // would fail again at once, spinning a worker. Pause with the coroutine-aware
                // sleep: `std::thread::sleep` here would stall every coroutine on this worker.
                if episode.failed(&err, None) == Next::BackOff {
                    may::coroutine::sleep(BACK_OFF);
                }
                continue;
            }
        };
        episode.accepted();
        left = left.wrapping_sub(1);
        if left == 0 {
            left = budget;
            crate::conn::yield_to_event_loop();
        }
        protocol::log!("[{peer}] connected; served by a coroutine of its own");
        // SAFETY: `talk` keeps no reference to thread-local storage across a yield (its
        // reads and writes): it owns its socket and buffer, and its only thread-local use is
        // stderr's lock inside `protocol::log!`, released before the next yield. Its peak
        // stack use is measured (`--measure-stack`, about 3.2 KiB) and tested to leave most
        // of the default 16 KiB free, so it does not come near the guard page.
        let spawned = may::go!(Builder::new(), move || crate::conn::talk(
            stream, peer, budget
        ));
        if let Err(err) = spawned {
            // No memory for a stack (mmap failed). The closure, and the socket in it, was
            // dropped, so the client sees its connection close; everyone else is served on.
            protocol::log!("[{peer}] refused: cannot start a coroutine: {err}");
        }
    }
}
// ANCHOR_END: accept_loop

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{Shutdown, SocketAddr, TcpStream};
    use std::time::Duration;

    /// The accept loop on a coroutine in this test process, on a port the kernel chose.
    fn start() -> SocketAddr {
        crate::runtime::for_tests();
        let listener = protocol::listen::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let listener = crate::into_may(listener).unwrap();
        // SAFETY: as in `run`: the accept loop holds no thread-local across a yield.
        may::go!(may::coroutine::Builder::new(), move || super::accept_loop(
            &listener,
            crate::conn::DEFAULT_BUDGET
        ))
        .unwrap();
        addr
    }

    fn client(addr: SocketAddr) -> TcpStream {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }

    #[test]
    fn a_half_close_gets_every_reply_and_a_reset_ends_only_its_coroutine() {
        let addr = start();
        let mut stays = client(addr);
        stays.write_all(b"first").unwrap();
        let mut reply = [0u8; 5];
        stays.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"FIRST");

        // Several KiB, so the reply takes several 1 KiB reads and writes; then EOF.
        let message: Vec<u8> = (0..8192).map(|i| b'a' + (i % 26) as u8).collect();
        let mut half = client(addr);
        half.write_all(&message).unwrap();
        half.shutdown(Shutdown::Write).unwrap();
        let mut all = Vec::new();
        half.read_to_end(&mut all).unwrap();
        assert_eq!(all, message.to_ascii_uppercase());

        // A reset (linger 0) while its reply may still be in flight.
        let reset = client(addr);
        (&reset).write_all(b"going away").unwrap();
        socket2::SockRef::from(&reset)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(reset);

        stays.write_all(b"still served").unwrap();
        let mut reply = [0u8; 12];
        stays.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"STILL SERVED");
    }
}
