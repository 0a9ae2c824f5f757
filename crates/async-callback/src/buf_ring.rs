//! A provided buffer ring (`IORING_REGISTER_PBUF_RING`, Linux 5.19): buffers we lend the
//! kernel in advance, so a receive names no buffer until data has arrived.
//!
//! In `--backend uring` every connection owns a 1 KiB buffer from the moment it is accepted,
//! because a receive must name its buffer when it is submitted, and a receive is always in
//! flight: ten thousand idle clients hold ten thousand buffers. With a buffer ring the
//! receive names a *group* instead; when bytes arrive the kernel takes the next buffer from
//! the ring, copies into it (拷贝数据, the second phase, still done by the kernel), and says in
//! the completion which buffer it took (`IORING_CQE_F_BUFFER`, the buffer id in the flags'
//! upper 16 bits). An idle connection holds nothing.
//!
//! The ring is a circle of `{addr, len, bid}` entries shared with the kernel: the kernel
//! consumes from its head, we add at the tail and publish the new tail with a release store.
//! The tail lives in the first entry's reserved field, which is why an entry is filled field
//! by field and never overwritten whole. A buffer is ours from the completion that names it
//! until [`BufRing::give_back`]; the kernel never takes a buffer we have not put in the ring.
//!
//! What this file keeps honest: a buffer is in exactly one place, the ring (the kernel's)
//! or held (ours). Giving back a buffer that is not held, or being told the kernel took one
//! we already hold, would hand the same memory to two owners; both are refused as a bug.
//!
//! Production runtimes (tokio-uring's `BufRing`, liburing's `io_uring_buf_ring_*`) add
//! buffer groups of several sizes and rings that grow; one size and one group is enough here.

use io_uring::types::BufRingEntry;
use io_uring::Submitter;
use std::alloc::{self, Layout};
use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

/// The ring's memory must start on a page: the kernel maps it as pages.
const PAGE: usize = 4096;

/// A buffer ring and the buffers it lends, with our record of which ones we hold.
pub struct BufRing {
    /// `entries` ring entries of 16 bytes, page-aligned, shared with the kernel.
    ring: NonNull<BufRingEntry>,
    /// `entries * buf_size` bytes of buffers. Allocated zeroed, so pages the kernel never
    /// writes into stay untouched and are not resident.
    bufs: NonNull<u8>,
    entries: u16,
    buf_size: usize,
    /// Our copy of the tail: the next free entry is `tail & (entries - 1)`. It wraps at
    /// 2^16 on purpose, as the kernel's does.
    tail: u16,
    /// `held[bid]`: the kernel gave us this buffer in a completion and we have not given it
    /// back yet.
    held: Vec<bool>,
    held_count: usize,
}

/// Why a buffer operation was refused: a bookkeeping bug, never a peer's doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misuse {
    /// The id is not one of this ring's buffers.
    Unknown(u16),
    /// `taken` for a buffer we already hold: the kernel would have lent it twice.
    AlreadyHeld(u16),
    /// `give_back` for a buffer we do not hold: it would be in the ring twice.
    NotHeld(u16),
}

impl std::fmt::Display for Misuse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Misuse::Unknown(bid) => write!(f, "buffer ring: no buffer {bid}"),
            Misuse::AlreadyHeld(bid) => write!(f, "buffer ring: {bid} taken while already held"),
            Misuse::NotHeld(bid) => write!(f, "buffer ring: {bid} given back but not held"),
        }
    }
}

impl std::error::Error for Misuse {}

impl BufRing {
    /// `entries` buffers of `buf_size` bytes, every one of them in the ring (lent to the
    /// kernel once registered). `entries` must be a power of two, at most 32768.
    pub fn new(entries: u16, buf_size: usize) -> io::Result<BufRing> {
        if !entries.is_power_of_two() || entries > 1 << 15 || buf_size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a buffer ring needs a power of two up to 32768 entries, not {entries}"),
            ));
        }
        let ring = alloc_zeroed(ring_layout(entries)?)?.cast::<BufRingEntry>();
        let bufs = match buf_layout(entries, buf_size).and_then(alloc_zeroed) {
            Ok(bufs) => bufs,
            Err(err) => {
                // SAFETY: `ring` was allocated just above with this layout, and nothing
                // (the kernel included) has seen it yet.
                unsafe { alloc::dealloc(ring.as_ptr().cast(), ring_layout(entries)?) };
                return Err(err);
            }
        };
        let mut this = BufRing {
            ring,
            bufs,
            entries,
            buf_size,
            tail: 0,
            held: vec![true; usize::from(entries)],
            held_count: usize::from(entries),
        };
        // Lend every buffer: "give back" all of them once, before the kernel sees the ring.
        for bid in 0..entries {
            this.give_back(bid)
                .map_err(|e| io::Error::other(e.to_string()))?;
        }
        Ok(this)
    }

    /// Registers the ring with `submitter`'s io_uring as buffer group `bgid`.
    ///
    /// # Safety
    /// The ring and its buffers must outlive every request of that group: once registered,
    /// the kernel may write into any buffer in the ring at any time. Dropping a registered
    /// `BufRing` while requests may be in flight is the bug this contract forbids; the
    /// server leaks it instead (see `multishot::Server`'s `Drop`).
    pub unsafe fn register(&self, submitter: &Submitter<'_>, bgid: u16) -> io::Result<()> {
        // SAFETY: the caller keeps `self` (its ring memory, page-aligned and `entries` long)
        // alive for as long as the kernel may use it.
        unsafe {
            submitter.register_buf_ring_with_flags(self.ring.as_ptr() as u64, self.entries, bgid, 0)
        }
    }

    /// The kernel took buffer `bid` (named in a completion): it is ours until `give_back`.
    pub fn taken(&mut self, bid: u16) -> Result<(), Misuse> {
        let slot = self
            .held
            .get_mut(usize::from(bid))
            .ok_or(Misuse::Unknown(bid))?;
        if *slot {
            return Err(Misuse::AlreadyHeld(bid));
        }
        *slot = true;
        self.held_count += 1;
        Ok(())
    }

    /// The first `len` bytes of buffer `bid`, which we hold.
    pub fn buffer(&mut self, bid: u16, len: usize) -> Result<&mut [u8], Misuse> {
        if !self.held.get(usize::from(bid)).copied().unwrap_or(false) {
            return Err(Misuse::NotHeld(bid));
        }
        let len = len.min(self.buf_size);
        // SAFETY: `bid < entries`, so the buffer lies inside the `entries * buf_size` bytes
        // allocated in `new`; we hold it, so the kernel does not write into it until it is
        // given back, and `&mut self` keeps any other borrow of it out.
        Ok(unsafe {
            std::slice::from_raw_parts_mut(
                self.bufs.as_ptr().add(usize::from(bid) * self.buf_size),
                len,
            )
        })
    }

    // ANCHOR: give_back
    /// Puts buffer `bid` back in the ring, where the kernel may take it for any receive of
    /// the group. Call it only once nothing (a send in flight) still reads the buffer.
    pub fn give_back(&mut self, bid: u16) -> Result<(), Misuse> {
        let slot = self
            .held
            .get_mut(usize::from(bid))
            .ok_or(Misuse::Unknown(bid))?;
        if !*slot {
            return Err(Misuse::NotHeld(bid));
        }
        *slot = false;
        self.held_count -= 1;
        let index = usize::from(self.tail & (self.entries - 1));
        // SAFETY: `index < entries`, inside the ring allocated in `new`. The kernel reads an
        // entry only between its head and the published tail; this one is at the tail,
        // not yet published, so it is ours to write. It is free: the ring holds
        // `entries - held` buffers, and `bid` was held, so at most `entries - 1` entries are
        // unconsumed. Fields one by one: entry 0's reserved
        // field is the tail itself.
        unsafe {
            let entry = &mut *self.ring.as_ptr().add(index);
            entry.set_addr(self.bufs.as_ptr().add(usize::from(bid) * self.buf_size) as u64);
            entry.set_len(self.buf_size as u32);
            entry.set_bid(bid);
        }
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: `BufRingEntry::tail` needs the ring's base address, which `self.ring` is;
        // the u16 it points to is 2-aligned inside live memory and shared with the kernel,
        // so it is written only atomically.
        let tail =
            unsafe { AtomicU16::from_ptr(BufRingEntry::tail(self.ring.as_ptr()).cast_mut()) };
        // Release: the entry written above is visible before the kernel sees the new tail.
        tail.store(self.tail, Ordering::Release);
        Ok(())
    }
    // ANCHOR_END: give_back

    /// Buffers in the ring now (lent to the kernel), by our count: the kernel may have taken
    /// some whose completions we have not read yet.
    pub fn in_ring(&self) -> usize {
        usize::from(self.entries) - self.held_count
    }

    /// Buffers we hold (received, reply not yet sent).
    pub fn held(&self) -> usize {
        self.held_count
    }

    pub fn buf_size(&self) -> usize {
        self.buf_size
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // Only an unregistered ring is ever dropped (a registered one is leaked, see
        // `register`), so the kernel holds no pointer into this memory.
        if let (Ok(ring), Ok(bufs)) = (
            ring_layout(self.entries),
            buf_layout(self.entries, self.buf_size),
        ) {
            // SAFETY: both were allocated in `new` with exactly these layouts.
            unsafe {
                alloc::dealloc(self.ring.as_ptr().cast(), ring);
                alloc::dealloc(self.bufs.as_ptr(), bufs);
            }
        }
    }
}

fn ring_layout(entries: u16) -> io::Result<Layout> {
    Layout::from_size_align(usize::from(entries) * size_of::<BufRingEntry>(), PAGE)
        .map_err(io::Error::other)
}

fn buf_layout(entries: u16, buf_size: usize) -> io::Result<Layout> {
    let size = usize::from(entries)
        .checked_mul(buf_size)
        .ok_or_else(|| io::Error::other("buffer ring too large"))?;
    Layout::from_size_align(size, PAGE).map_err(io::Error::other)
}

fn alloc_zeroed(layout: Layout) -> io::Result<NonNull<u8>> {
    // SAFETY: both layouts have a non-zero size (entries >= 1, buf_size >= 1).
    NonNull::new(unsafe { alloc::alloc_zeroed(layout) })
        .ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(ring: &BufRing) -> u16 {
        // SAFETY: reads the tail of a live ring, as the kernel would.
        unsafe { *BufRingEntry::tail(ring.ring.as_ptr()) }
    }

    fn entry(ring: &BufRing, index: usize) -> (u64, u32, u16) {
        // SAFETY: `index < entries`, inside the live ring.
        let e = unsafe { &*ring.ring.as_ptr().add(index) };
        (e.addr(), e.len(), e.bid())
    }

    #[test]
    fn a_new_ring_lends_every_buffer() {
        let ring = BufRing::new(8, 64).unwrap();
        assert_eq!((ring.in_ring(), ring.held()), (8, 0));
        assert_eq!(tail(&ring), 8, "all eight entries published");
        let base = ring.bufs.as_ptr() as u64;
        for i in 0..8 {
            assert_eq!(entry(&ring, i), (base + 64 * i as u64, 64, i as u16));
        }
    }

    #[test]
    fn a_buffer_is_either_in_the_ring_or_held_never_both() {
        let mut ring = BufRing::new(4, 16).unwrap();
        ring.taken(2).unwrap();
        assert_eq!((ring.in_ring(), ring.held()), (3, 1));
        assert_eq!(ring.taken(2), Err(Misuse::AlreadyHeld(2)));
        assert_eq!(ring.give_back(1), Err(Misuse::NotHeld(1)));
        assert_eq!(ring.taken(4), Err(Misuse::Unknown(4)));
        assert!(
            ring.buffer(1, 16).is_err(),
            "a buffer in the ring is the kernel's"
        );
        ring.buffer(2, 16)
            .unwrap()
            .copy_from_slice(b"0123456789abcdef");
        ring.give_back(2).unwrap();
        assert_eq!(ring.give_back(2), Err(Misuse::NotHeld(2)));
        assert_eq!((ring.in_ring(), ring.held()), (4, 0));
    }

    #[test]
    fn a_given_back_buffer_goes_to_the_tail_and_the_tail_wraps() {
        let mut ring = BufRing::new(4, 16).unwrap();
        let base = ring.bufs.as_ptr() as u64;
        // 2^16 + 3 round trips of buffer 3: the u16 tail wraps, the entry index cycles.
        for round in 0..(1u32 << 16) + 3 {
            ring.taken(3).unwrap();
            ring.give_back(3).unwrap();
            let published = tail(&ring);
            assert_eq!(u32::from(published), (4 + round + 1) & 0xffff);
            let index = usize::from(published.wrapping_sub(1) & 3);
            assert_eq!(entry(&ring, index), (base + 48, 16, 3));
        }
        // Filling entry 0 never clobbered the tail stored beside it.
        assert_eq!(u32::from(tail(&ring)), (4 + (1 << 16) + 3) & 0xffff);
    }

    #[test]
    fn only_powers_of_two_are_accepted() {
        assert!(BufRing::new(6, 16).is_err());
        assert!(BufRing::new(0, 16).is_err());
        assert!(BufRing::new(8, 0).is_err());
    }
}
