//! A connection's pending output: the notes' write list (`w_list.append((conn, data.upper()))`,
//! `w_data[r] = data.upper()`) as per-connection state, with a bound.
//!
//! Event-loop servers (non-blocking, multiplexing, completion) cannot block in `send`, so a
//! reply the socket did not take at once waits here. Two rules keep that honest:
//! - a `send` may take only part of what it was given: [`Pending::advance`] keeps the unsent
//!   tail instead of dropping it (mio's own example turns a short write into an error);
//! - a client that sends but never reads must not grow the server's memory: once
//!   [`Pending::is_full`] the server stops reading that connection until it drains, and
//!   [`Pending::room`] never lets one read push it past [`MAX_PENDING`] plus one read;
//! - the bound holds at every moment, not only once the queue drains: a peer that reads
//!   steadily but a little slower than it writes never lets the queue empty, so the bytes
//!   already sent are dropped from the front as the sending goes on ([`Pending::advance`]).
//!   The buffer never holds more than twice the bound, however much passes through.

use crate::limits::{MAX_PENDING, READ_SIZE};

/// Bytes owed to one peer, and how far the sending has got.
#[derive(Debug, Default)]
pub struct Pending {
    buf: Vec<u8>,
    /// Bytes of `buf` already sent. Kept as an offset so a short send costs no copy.
    sent: usize,
}

impl Pending {
    pub fn new() -> Pending {
        Pending::default()
    }

    /// Queues `bytes` behind whatever is still unsent.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// What still has to be sent, oldest byte first.
    pub fn unsent(&self) -> &[u8] {
        &self.buf[self.sent..]
    }

    /// Records that a `send` took `n` bytes of [`unsent`](Pending::unsent).
    pub fn advance(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.buf.len());
        if self.sent == self.buf.len() {
            self.clear();
        } else if self.sent >= self.len() {
            // More sent bytes than unsent ones: drop the sent ones from the front. The move
            // copies at most as many bytes as were sent since the last one, so it costs O(1)
            // per byte; and `buf` stays under twice what is unsent, which `room` bounds.
            // (A ring buffer, `VecDeque`, would avoid the move and hand `send` two slices.)
            self.buf.drain(..self.sent);
            self.sent = 0;
        }
    }

    /// Bytes held in memory, sent or not: what the bound is really about.
    pub fn held(&self) -> usize {
        self.buf.capacity()
    }

    /// Unsent bytes.
    pub fn len(&self) -> usize {
        self.buf.len() - self.sent
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// At the bound: stop reading from this peer until it has taken some of its replies.
    pub fn is_full(&self) -> bool {
        self.len() >= MAX_PENDING
    }

    /// How many bytes the next read may take: up to the notes' 1024, never past the bound.
    pub fn room(&self) -> usize {
        MAX_PENDING.saturating_sub(self.len()).min(READ_SIZE)
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.sent = 0;
        // A burst may have grown the buffer; give the memory back once it is drained, so
        // 10,000 idle connections do not each keep their largest burst.
        if self.buf.capacity() > 4 * READ_SIZE {
            self.buf.shrink_to(READ_SIZE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_send_keeps_its_tail() {
        let mut p = Pending::new();
        p.push(b"HELLO");
        p.advance(2);
        assert_eq!(p.unsent(), b"LLO");
        p.push(b" WORLD");
        assert_eq!(p.unsent(), b"LLO WORLD");
        p.advance(9);
        assert!(p.is_empty());
        assert_eq!(p.unsent(), b"");
    }

    #[test]
    fn a_queue_that_never_empties_stays_bounded() {
        // The slow reader: every turn the server reads what `room` allows and the peer takes
        // a little less than that, so the queue is never empty. 16 MiB pass through, 250 times
        // the bound: the old `Pending` held every one of them.
        let mut p = Pending::new();
        let mut passed = 0;
        let mut expect = 0u8;
        let mut most = 0;
        while passed < 16 * 1024 * 1024 {
            let n = p.room();
            if n > 0 {
                let bytes: Vec<u8> = (0..n).map(|i| (passed + i) as u8).collect();
                p.push(&bytes);
                passed += n;
            }
            let take = (p.len() / 2).max(1).min(p.len());
            for &b in &p.unsent()[..take] {
                assert_eq!(b, expect, "bytes come out in order");
                expect = expect.wrapping_add(1);
            }
            p.advance(take);
            assert!(
                !p.is_empty(),
                "the peer stays behind: the queue never empties"
            );
            most = most.max(p.held());
        }
        assert!(
            most <= 4 * (MAX_PENDING + READ_SIZE),
            "held {most} bytes after 16 MiB passed through"
        );
    }

    #[test]
    fn the_bound_stops_reading() {
        let mut p = Pending::new();
        while !p.is_full() {
            let n = p.room();
            assert!(n > 0 && n <= READ_SIZE);
            p.push(&vec![b'X'; n]);
        }
        assert_eq!(p.len(), MAX_PENDING);
        assert_eq!(p.room(), 0);
        p.advance(1);
        assert!(!p.is_full());
        assert_eq!(p.room(), 1);
    }
}
