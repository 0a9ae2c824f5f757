//! `--mode pool --workers N`: a fixed pool of threads (the notes' 线程池; section 七's summary,
//! 并发编程 item 4, 池).
//!
//! The notes' reason for pools: the OS cannot start threads without end, so keep their number
//! within what it can bear. The price is visible here: each worker is blocked in one client's
//! `recv` for as long as that client stays connected, so connection N+1 is accepted but its
//! job waits in the pool's queue until a worker is free. The log says when that happens.

use std::net::TcpListener;
use threadpool::ThreadPool;

// ANCHOR: pool
pub fn run(listener: TcpListener, workers: usize) -> crate::Result<()> {
    let pool = ThreadPool::with_name("worker".into(), workers);
    let mut episode = protocol::accept::Episode::new();
    loop {
        let Some((stream, peer)) = crate::conn::accept(&listener, &mut episode) else {
            continue;
        };
        // Counted before this job is queued: a busy pool means this client will wait. (The
        // counts are a snapshot; a worker may free up a moment later, which is fine for a log.)
        let busy = pool.active_count() + pool.queued_count();
        if busy >= workers {
            protocol::log!(
                "[{peer}] connected; all {workers} workers busy, it waits for a free worker \
                 ({} already waiting)",
                busy - workers
            );
        } else {
            protocol::log!("[{peer}] connected");
        }
        pool.execute(move || crate::conn::serve(stream, peer));
    }
}
// ANCHOR_END: pool
