//! The custom header (自定义报头) that ends the sticky-packet problem (粘包): section 七,
//! 网络编程 5.
//!
//! TCP is a byte stream: two quick `send`s may arrive as one `recv`, and one large `send` may
//! need several. The notes' fix is to put a fixed-size header before each message saying how
//! long the body is (`struct.pack`), so the reader knows where each message ends. Here the
//! header is 4 bytes, big-endian (`struct.pack('!I', len)`): network byte order, so two
//! machines of different endianness agree. (The course's `struct.pack('i', ...)` uses the
//! machine's own order, which only works when both ends share it.)
//!
//! ```text
//! +----------------+---------------------+----------------+-----
//! | len: u32 (BE)  | body: len bytes     | len: u32 (BE)  | ...
//! +----------------+---------------------+----------------+-----
//! ```
//!
//! [`Decoder`] is incremental: feed it whatever each read returned, in any split, and ask
//! for frames. What to watch: it answers in three ways, and they mean different things:
//! - [`Decoded::Frame`]: one whole body;
//! - [`Decoded::Incomplete`]: not an error (as in mini-redis): the rest is still on the way,
//!   read again;
//! - [`FrameError::TooLong`]: a header announcing more than the configured maximum. The
//!   reader must not wait for (or allocate) that much: the stream is unusable from here on,
//!   so the caller drops that connection, and only that one.
//!
//! The property test below holds it to "any split of any sequence of frames decodes to the
//! same frames"; `fuzz/fuzz_targets/decoder.rs` feeds it arbitrary bytes.
//!
//! Production alternative: `tokio_util::codec::LengthDelimitedCodec` does the same with
//! configurable header width, offset and byte order.

use std::fmt;

/// Bytes in a header: one big-endian `u32` holding the body's length.
pub const HEADER_LEN: usize = 4;

/// The default largest body a [`Decoder`] accepts: 64 KiB, the same bound as a connection's
/// pending output ([`crate::limits::MAX_PENDING`]). A frame is delivered only once it is
/// whole, so this is also the most a decoder buffers per connection: without it, a peer could
/// announce 4 GiB and make us wait for it.
pub const MAX_FRAME: usize = 64 * 1024;

/// Why a stream cannot be framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// A header announced `len` bytes, more than the `max` this side accepts (decoding), or
    /// more than a 4-byte header can say (encoding).
    TooLong { len: u64, max: u64 },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLong { len, max } => write!(
                f,
                "frame header announces {len} bytes, more than the {max} allowed; \
                 the stream cannot be resynchronised"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

/// The 4-byte header for a body of `len` bytes.
pub fn header(len: usize) -> Result<[u8; HEADER_LEN], FrameError> {
    let len32 = u32::try_from(len).map_err(|_| FrameError::TooLong {
        len: len as u64,
        max: u64::from(u32::MAX),
    })?;
    Ok(len32.to_be_bytes())
}

/// Appends one frame (header, then `body`) to `out`.
pub fn encode_into(out: &mut Vec<u8>, body: &[u8]) -> Result<(), FrameError> {
    out.extend_from_slice(&header(body.len())?);
    out.extend_from_slice(body);
    Ok(())
}

/// One frame (header, then `body`), ready for `write_all`.
pub fn encode(body: &[u8]) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    encode_into(&mut out, body)?;
    Ok(out)
}

/// What [`Decoder::decode`] found in the bytes it has so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// One whole body, header removed.
    Frame(Vec<u8>),
    /// Not enough bytes yet for the next frame (or its header): read more, then ask again.
    Incomplete,
}

/// Turns a byte stream, cut anywhere, back into the frames that were sent.
///
/// Memory: it holds at most one partial frame (at most `max` + [`HEADER_LEN`] bytes) plus
/// whatever the last [`push`](Decoder::push) added, as long as the caller decodes every
/// whole frame after each push.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Bytes of `buf` already handed out as frames. An offset, so taking a frame does not
    /// move the bytes behind it; [`push`](Decoder::push) compacts once per read instead.
    start: usize,
    max: usize,
    /// Set after a header over `max`: from there on the stream is garbage to us (we cannot
    /// know where the next header starts), so every later call gives the same error.
    poisoned: Option<FrameError>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(MAX_FRAME)
    }
}

impl Decoder {
    /// A decoder that refuses bodies longer than `max` bytes.
    pub fn new(max: usize) -> Decoder {
        Decoder {
            buf: Vec::new(),
            start: 0,
            max,
            poisoned: None,
        }
    }

    /// The largest body this decoder accepts.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Adds bytes as they came from one read, whatever their split.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.poisoned.is_some() {
            // Nothing after a bad header can be decoded; do not keep it.
            return;
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet handed out as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    // ANCHOR: decode
    /// The next whole frame, [`Decoded::Incomplete`] if it has not all arrived, or an error
    /// if its header announces more than [`max`](Decoder::max).
    ///
    /// Call it until `Incomplete` after every push: one read may carry several frames.
    pub fn decode(&mut self) -> Result<Decoded, FrameError> {
        if let Some(err) = self.poisoned {
            return Err(err);
        }
        let rest = &self.buf[self.start..];
        let Some((head, after)) = rest.split_first_chunk::<HEADER_LEN>() else {
            return Ok(Decoded::Incomplete);
        };
        let len = u32::from_be_bytes(*head) as usize;
        // Checked on the header alone, before any body byte arrives: a peer announcing 4 GiB
        // is refused at once, not after we buffered what it sent.
        if len > self.max {
            let err = FrameError::TooLong {
                len: len as u64,
                max: self.max as u64,
            };
            self.poisoned = Some(err);
            self.buf = Vec::new();
            self.start = 0;
            return Err(err);
        }
        if after.len() < len {
            return Ok(Decoded::Incomplete);
        }
        let body = after[..len].to_vec();
        self.start += HEADER_LEN + len;
        if self.start == self.buf.len() {
            // Everything handed out: reset cheaply instead of compacting on the next push.
            self.buf.clear();
            self.start = 0;
        }
        Ok(Decoded::Frame(body))
    }
    // ANCHOR_END: decode
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every frame the decoder can produce from what it holds now, stopping at the first
    /// `Incomplete` or error.
    fn drain(d: &mut Decoder) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut frames = Vec::new();
        while let Decoded::Frame(body) = d.decode()? {
            frames.push(body);
        }
        Ok(frames)
    }

    #[test]
    fn the_header_is_four_big_endian_bytes() {
        assert_eq!(encode(b"hello").unwrap(), b"\x00\x00\x00\x05hello");
        assert_eq!(header(0x0102_0304).unwrap(), [1, 2, 3, 4]);
        assert_eq!(encode(b"").unwrap(), [0, 0, 0, 0]);
        // A body a 4-byte header cannot describe is refused, not silently wrapped around.
        assert!(header(u32::MAX as usize).is_ok());
        assert!(header(u32::MAX as usize + 1).is_err());
    }

    #[test]
    fn two_frames_in_one_read_come_out_as_two() {
        let mut wire = encode(b"hello").unwrap();
        encode_into(&mut wire, b"world").unwrap();
        let mut d = Decoder::default();
        d.push(&wire);
        assert_eq!(
            drain(&mut d).unwrap(),
            vec![b"hello".to_vec(), b"world".to_vec()]
        );
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn a_partial_header_or_body_is_incomplete_not_an_error() {
        let wire = encode(b"hello").unwrap();
        let mut d = Decoder::default();
        d.push(&wire[..2]);
        assert_eq!(d.decode(), Ok(Decoded::Incomplete), "half a header");
        d.push(&wire[2..6]);
        assert_eq!(d.decode(), Ok(Decoded::Incomplete), "header and one byte");
        d.push(&wire[6..]);
        assert_eq!(d.decode(), Ok(Decoded::Frame(b"hello".to_vec())));
        assert_eq!(d.decode(), Ok(Decoded::Incomplete), "nothing left");
    }

    #[test]
    fn an_empty_body_is_a_frame() {
        let mut d = Decoder::default();
        d.push(&[0, 0, 0, 0]);
        assert_eq!(d.decode(), Ok(Decoded::Frame(Vec::new())));
    }

    #[test]
    fn the_maximum_is_allowed_and_one_more_is_refused_on_the_header_alone() {
        let mut d = Decoder::new(8);
        d.push(&encode(&[b'x'; 8]).unwrap());
        assert_eq!(d.decode(), Ok(Decoded::Frame(vec![b'x'; 8])));

        // Only the header of a 9-byte frame: refused before any body byte arrives.
        d.push(&header(9).unwrap());
        let err = FrameError::TooLong { len: 9, max: 8 };
        assert_eq!(d.decode(), Err(err));
        assert!(err.to_string().contains("9 bytes"), "{err}");
    }

    #[test]
    fn after_a_bad_header_the_stream_stays_refused_and_holds_no_memory() {
        let mut d = Decoder::new(MAX_FRAME);
        d.push(&u32::MAX.to_be_bytes());
        assert!(d.decode().is_err());
        // A valid frame after garbage cannot be trusted: we do not know where it starts.
        d.push(&encode(b"ok").unwrap());
        assert!(d.decode().is_err());
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn frames_left_behind_are_kept_across_pushes() {
        let mut wire = encode(b"one").unwrap();
        encode_into(&mut wire, b"two").unwrap();
        let mut d = Decoder::default();
        // One read holds frame one and part of frame two.
        d.push(&wire[..10]);
        assert_eq!(drain(&mut d).unwrap(), vec![b"one".to_vec()]);
        assert_eq!(d.buffered(), 3);
        d.push(&wire[10..]);
        assert_eq!(drain(&mut d).unwrap(), vec![b"two".to_vec()]);
    }

    proptest! {
        /// The codec's contract: however TCP cuts the stream, the same frames come out.
        #[test]
        fn any_split_of_any_frames_decodes_to_the_same_frames(
            frames in proptest::collection::vec(
                proptest::collection::vec(any::<u8>(), 0..300), 0..12),
            cuts in proptest::collection::vec(any::<usize>(), 0..16),
        ) {
            let mut wire = Vec::new();
            for body in &frames {
                encode_into(&mut wire, body).unwrap();
            }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (wire.len() + 1)).collect();
            cuts.sort_unstable();
            let mut d = Decoder::new(300);
            let mut got = Vec::new();
            let mut at = 0;
            for cut in cuts.into_iter().chain([wire.len()]) {
                d.push(&wire[at..cut]);
                got.extend(drain(&mut d).unwrap());
                at = cut;
            }
            prop_assert_eq!(got, frames);
            prop_assert_eq!(d.buffered(), 0);
        }

        /// Arbitrary bytes (what a confused or hostile peer sends): never a panic, never a
        /// frame over the maximum, and what was decoded is exactly a prefix of the input.
        #[test]
        fn arbitrary_bytes_decode_to_a_prefix_or_an_error(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            split in any::<usize>(),
        ) {
            let split = split % (bytes.len() + 1);
            let mut d = Decoder::new(64);
            let mut frames = Vec::new();
            let mut failed = false;
            for piece in [&bytes[..split], &bytes[split..]] {
                d.push(piece);
                match drain(&mut d) {
                    Ok(more) => frames.extend(more),
                    Err(FrameError::TooLong { len, max }) => {
                        prop_assert!(len > max);
                        failed = true;
                        break;
                    }
                }
            }
            let mut reencoded = Vec::new();
            for body in &frames {
                prop_assert!(body.len() <= 64);
                encode_into(&mut reencoded, body).unwrap();
            }
            prop_assert_eq!(&bytes[..reencoded.len()], &reencoded[..]);
            if !failed {
                prop_assert_eq!(reencoded.len() + d.buffered(), bytes.len());
            }
        }
    }
}
