//! The io_uring ring as both the server and the load client use it: two queues shared with
//! the kernel, and the few rules that keep them honest.
//!
//! - The **submission queue** (SQ) holds requests: "receive into this buffer", "send these
//!   bytes", "accept a connection". Each carries a `user_data` number that comes back with
//!   its answer; ours is a key into a slab of in-flight operations.
//! - The **completion queue** (CQ) holds answers: `(user_data, result)`, where a result >= 0
//!   is what the system call would have returned and a negative one is `-errno`.
//! - One `io_uring_enter` call submits everything queued and waits for at least one answer.
//!
//! The rule that makes this `unsafe`: once a request naming a buffer is queued, the kernel may
//! write into (or read from) that buffer at any moment until its completion arrives. The
//! buffer must stay alive and in place until then, which is why every buffer here is owned by
//! its in-flight operation. Dropping the ring does not change that: closing its descriptor
//! does not wait for the requests in flight, which the kernel cancels in the background and
//! may still complete (writing into their buffers) after `close` has returned. So on an
//! error path, a buffer the kernel may still hold is leaked on purpose, and counted in
//! [`Stats::leaked`]; freeing it could hand the kernel memory that is already reused. A full SQ is not an error: we hand what is queued to the kernel
//! to make room, and if even that is refused (the kernel is busy until we reap completions),
//! the request waits in a backlog. Order is kept: while anything waits in the backlog, newer
//! requests queue behind it, so a cancel never overtakes the request it cancels.

use io_uring::{squeue, IoUring};
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// CQ entries per SQ entry. Every connection can have an operation in flight, far more than
/// the SQ holds at once; the kernel keeps any overflow (IORING_FEAT_NODROP, checked by the
/// probe), but a roomy CQ avoids that slow path.
const CQ_PER_SQ: u32 = 8;

/// Counters a test (or a curious student) can read while the ring runs on another thread.
#[derive(Debug, Default)]
pub struct Stats {
    /// Times a request found the submission queue full.
    pub sq_full: AtomicU64,
    /// Buffers deliberately leaked on an error path because the kernel might still write
    /// into them (see the module docs).
    pub leaked: AtomicU64,
    /// Requests the kernel would not take at once, kept in the backlog for a later turn.
    pub backlogged: AtomicU64,
    /// Sends that the kernel completed with fewer bytes than asked, then resubmitted.
    pub short_sends: AtomicU64,
}

impl Stats {
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn read(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// One completion with its flags.
#[derive(Debug, Clone, Copy)]
pub struct Cqe {
    pub user_data: u64,
    pub result: i32,
    pub flags: u32,
}

/// A ring, its backlog of requests that did not fit, and its counters.
pub struct Ring {
    ring: IoUring,
    /// Requests that met a full SQ and a kernel that would not take more; pushed first on
    /// the next turn. Their buffers are owned by operations in the caller's slab meanwhile.
    backlog: VecDeque<squeue::Entry>,
    pub stats: Arc<Stats>,
    /// Fault injection for tests: see [`Ring::refuse_early_submits`].
    refuse_early: bool,
    /// Set up with SINGLE_ISSUER and DEFER_TASKRUN.
    fast: bool,
}

impl Ring {
    /// A ring with `sq_entries` submission slots (a power of two).
    pub fn new(sq_entries: u32, stats: Arc<Stats>) -> io::Result<Ring> {
        let mut builder = IoUring::builder();
        builder.setup_cqsize(sq_entries.saturating_mul(CQ_PER_SQ));
        // Linux 6.1+: one thread submits (SINGLE_ISSUER), and the kernel finishes completed
        // work only when that thread asks for completions (DEFER_TASKRUN) instead of
        // interrupting it at any system call. Older kernels refuse the flags: go without.
        let mut fast = builder.clone();
        fast.setup_single_issuer().setup_defer_taskrun();
        let (ring, fast) = match fast.build(sq_entries) {
            Ok(ring) => (ring, true),
            Err(err) if err.raw_os_error() == Some(libc::EINVAL) => {
                (builder.build(sq_entries)?, false)
            }
            Err(err) => return Err(err),
        };
        Ok(Ring {
            ring,
            backlog: VecDeque::new(),
            stats,
            refuse_early: false,
            fast,
        })
    }

    /// For tests: from now on, every submit made to make room in a full SQ is refused, as a
    /// kernel that holds overflowed completions refuses one with EBUSY (this machine's never
    /// did in our tests, so without this a test would not see the backlog used). Requests
    /// then reach the kernel only a queue's worth per `submit_and_wait`.
    #[cfg(test)]
    pub(crate) fn refuse_early_submits(&mut self) {
        self.refuse_early = true;
    }

    // ANCHOR: push
    /// Queues a request; it reaches the kernel at the next [`submit_and_wait`](Ring::submit_and_wait).
    ///
    /// Requests reach the kernel in the order they were pushed. That matters: a cancel that
    /// overtook the receive it cancels would find nothing to cancel, and the receive, queued
    /// after it, would wait for ever on a silent peer.
    ///
    /// # Safety
    /// Every buffer, address or timespec `entry` points to must stay alive, unmoved and
    /// otherwise untouched until the completion carrying `entry`'s `user_data` has been
    /// returned by `submit_and_wait` (or, for a static, forever).
    pub unsafe fn push(&mut self, entry: squeue::Entry) {
        // Older requests held back go first; only once they are all in the SQ may this one
        // follow them.
        if self.queue_backlog() && try_push(&mut self.ring, &entry) {
            return;
        }
        // The SQ is full. Submitting hands its requests to the kernel and empties it.
        Stats::count(&self.stats.sq_full);
        if self.submit_early() && self.queue_backlog() && try_push(&mut self.ring, &entry) {
            return;
        }
        // The kernel would not take more for now: wait in line, behind every older request.
        Stats::count(&self.stats.backlogged);
        self.backlog.push_back(entry);
    }
    // ANCHOR_END: push

    /// Moves held-back requests into the SQ, oldest first, while it has room. True when the
    /// backlog is empty, so that a new request may go next without overtaking anyone.
    fn queue_backlog(&mut self) -> bool {
        while let Some(entry) = self.backlog.front() {
            if !try_push(&mut self.ring, entry) {
                return false;
            }
            self.backlog.pop_front();
        }
        true
    }

    /// Hands the queued requests to the kernel without waiting, to make room in the SQ.
    /// True if it took some.
    fn submit_early(&mut self) -> bool {
        if self.refuse_early {
            return false; // as a kernel answering EBUSY would (see `refuse_early_submits`)
        }
        match self.ring.submit() {
            Ok(taken) => taken > 0,
            // EBUSY: the kernel holds overflowed completions and takes nothing new until we
            // reap them. EAGAIN: it is short of memory for requests. Either way: retry later.
            Err(err) if matches!(err.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN)) => false,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => false,
            Err(err) => {
                protocol::log!("io_uring_enter with a full submission queue: {err}");
                false
            }
        }
    }

    // ANCHOR: wait
    /// Submits every queued request, waits for at least one completion (unless requests are
    /// still held back), and puts every completion that has arrived into `completed` as
    /// `(user_data, result)`.
    pub fn submit_and_wait(&mut self, completed: &mut Vec<(u64, i32)>) -> io::Result<()> {
        self.enter()?;
        completed.clear();
        // Copied out so the handlers may push new requests while we walk the answers.
        completed.extend(
            self.ring
                .completion()
                .map(|cqe| (cqe.user_data(), cqe.result())),
        );
        Ok(())
    }

    /// The one system call of a loop turn: everything queued goes in, and we wait for at
    /// least one completion (unless requests are still held back).
    fn enter(&mut self) -> io::Result<()> {
        // Empty the backlog into the SQ, submitting as it fills, until the kernel refuses.
        // Each early submit takes a whole SQ of requests, so this ends; what is still held
        // back goes first on the next turn.
        while !self.queue_backlog() && self.submit_early() {}
        // Wait for a completion only when nothing is held back. Otherwise do not wait: the
        // requests just submitted may never complete (a receive from a silent peer), and
        // those still in the backlog (the client's time-out tick among them) would wait
        // with us. Submitting and reaping at once brings their turn.
        let want = usize::from(self.backlog.is_empty());
        match self.ring.submit_and_wait(want) {
            Ok(_) => Ok(()),
            // A signal woke us: whatever completed is still in the CQ.
            Err(err) if err.kind() == io::ErrorKind::Interrupted => Ok(()),
            // Completions overflowed the CQ: nothing new is taken until we reap them.
            Err(err) if err.raw_os_error() == Some(libc::EBUSY) => Ok(()),
            Err(err) => Err(err),
        }
    }
    // ANCHOR_END: wait

    /// [`submit_and_wait`](Ring::submit_and_wait) for multishot requests, whose completions
    /// carry flags that matter: `IORING_CQE_F_MORE` (this request goes on) and
    /// `IORING_CQE_F_BUFFER` (which provided buffer the kernel filled).
    pub fn submit_and_wait_flags(&mut self, completed: &mut Vec<Cqe>) -> io::Result<()> {
        self.enter()?;
        completed.clear();
        completed.extend(self.ring.completion().map(|cqe| Cqe {
            user_data: cqe.user_data(),
            result: cqe.result(),
            flags: cqe.flags(),
        }));
        Ok(())
    }

    /// For registering resources with this ring (a provided buffer ring).
    pub fn submitter(&self) -> io_uring::Submitter<'_> {
        self.ring.submitter()
    }

    /// Whether the kernel took `IORING_SETUP_DEFER_TASKRUN` (Linux 6.1), for the log.
    pub fn defers_task_run(&self) -> bool {
        self.fast
    }
}

/// Puts `entry` in the SQ if it has room.
fn try_push(ring: &mut IoUring, entry: &squeue::Entry) -> bool {
    // SAFETY: every entry comes through `Ring::push`, whose caller vouched for what it points
    // to until its completion, whether it goes into the SQ now or from the backlog later.
    unsafe { ring.submission().push(entry).is_ok() }
}

/// `IORING_RECVSEND_POLL_FIRST` (Linux 5.19): "wait for data before trying". The io-uring
/// crate keeps the constant in a private module, hence the copy.
const RECVSEND_POLL_FIRST: u16 = 1;

/// The flags for a receive submitted when its data cannot be there yet: right after the
/// server sent a reply, or the client sent a message. The kernel's usual first attempt would
/// fail and only then wait; skipping it saved about a fifth of the server's CPU per round
/// trip here. Older kernels get no flag (some of them refuse unknown ones).
pub fn poll_first() -> u16 {
    if crate::probe::kernel_at_least(5, 19) {
        RECVSEND_POLL_FIRST
    } else {
        0
    }
}

/// A completion's negative result as the error it stands for.
pub fn errno(result: i32) -> io::Error {
    io::Error::from_raw_os_error(-result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use io_uring::opcode;

    #[test]
    fn a_full_submission_queue_loses_nothing() {
        if let Err(why) = crate::probe::check() {
            println!("skipped: io_uring is unavailable here: {why}");
            return;
        }
        let stats = Arc::new(Stats::default());
        let mut ring = Ring::new(2, Arc::clone(&stats)).unwrap();
        // 100 requests through a 2-slot queue, all queued before anything is waited for.
        for i in 0..100u64 {
            // SAFETY: a NOP points to no memory.
            unsafe { ring.push(opcode::Nop::new().build().user_data(i)) };
        }
        assert!(Stats::read(&stats.sq_full) > 0, "the queue never filled");
        let mut seen = Vec::new();
        let mut completed = Vec::new();
        for _ in 0..1000 {
            if seen.len() == 100 {
                break;
            }
            ring.submit_and_wait(&mut completed).unwrap();
            for &(user_data, result) in &completed {
                assert_eq!(result, 0);
                seen.push(user_data);
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn negative_results_are_errno() {
        assert_eq!(
            errno(-libc::ECONNRESET).kind(),
            io::ErrorKind::ConnectionReset
        );
    }
}
