//! 六 异步调用+回调, timed: a pool worker receives, then the caller's callback runs.
//!
//! The notes' `t.submit(task, n).add_done_callback(parse)`: the caller hands the blocking
//! work to a `ThreadPoolExecutor(4)` and goes on; `parse` runs when the task is done. Here
//! the task is one blocking `recvmsg` on a `threadpool` worker, and its result comes back to
//! the caller over a channel, where the callback runs. Watch the order in the figure: the
//! worker copies first, then the caller is told. The notification is a hand-off between two
//! threads, and costs a wake-up.
//!
//! Python runs `parse` in the worker right after the task; we run it in the caller, where a
//! real program (an event loop, a GUI) wants its callbacks, so the hand-off can be seen.

use super::{After, Link, Outcome, Received};
use std::io;
use std::net::TcpStream;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{mpsc, Arc};
use std::time::Duration;
use threadpool::ThreadPool;

/// The notes' `ThreadPoolExecutor(4)`.
const WORKERS: usize = 4;
/// How long the caller waits for a callback before it calls the run stuck.
const STUCK: Duration = Duration::from_secs(10);

/// What a worker hands back: the blocking receive's result, and the bytes.
type Done = (io::Result<Received>, Vec<u8>);

// ANCHOR: callback
/// Receives one message the async-call way: submit the receive to the pool, then run the
/// callback with its result.
pub fn receive(
    pool: &ThreadPool,
    socket: &Arc<TcpStream>,
    done: (&Sender<Done>, &Receiver<Done>),
) -> io::Result<Received> {
    let (socket, tell) = (Arc::clone(socket), done.0.clone());
    // The asynchronous call: `execute` returns at once; a worker waits and copies.
    pool.execute(move || {
        let mut buf = vec![0; protocol::limits::READ_SIZE];
        let received = super::blocking::receive(&*socket, &mut buf);
        // The caller may have given up; then nobody wants the result.
        let _ = tell.send((received, buf));
    });
    // The caller is free here. A real program would serve other work until callbacks come;
    // this one waits for the callback, to time it.
    let (received, bytes) = done
        .1
        .recv_timeout(STUCK)
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no callback within 10 s"))?;
    Ok(parse(received?, &bytes))
}

/// The callback (the notes' `parse`): runs in the caller once the worker is done.
fn parse(received: Received, _bytes: &[u8]) -> Received {
    let notified = super::RealTime::now(); // the callback runs: the caller is told
    let After::OneStep { done: copied } = received.after else {
        unreachable!("the worker's blocking receive is one step")
    };
    Received {
        after: After::CopyThenNotify { copied, notified },
        ..received
    }
}
// ANCHOR_END: callback

pub fn run(link: &mut Link) -> crate::Result<Outcome> {
    let socket = Arc::new(link.accept()?);
    let pool = ThreadPool::new(WORKERS);
    let (tell, told) = mpsc::channel();
    let samples = link
        .pacer()
        .collect(|| receive(&pool, &socket, (&tell, &told)))?;
    Ok(Outcome::Measured(samples))
}
