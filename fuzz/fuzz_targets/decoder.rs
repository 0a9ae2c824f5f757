//! Fuzz target: arbitrary bytes, cut at arbitrary places, never panic `protocol::framing`'s
//! decoder (section 七, 粘包 and the custom header), and what it decodes is always the truth.
//!
//! Run it (nightly and `cargo install cargo-fuzz` needed; not part of CI):
//!
//! ```text
//! cd fuzz && cargo +nightly fuzz run decoder -- -max_total_time=60
//! ```
//!
//! What it checks beyond "no panic": every frame is at most the maximum, the frames
//! re-encode to exactly the bytes they came from, and after an error nothing more decodes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::framing::{encode_into, Decoded, Decoder, FrameError};

/// Small, so the fuzzer reaches both "too long" and "a whole frame" with short inputs.
const MAX: usize = 256;

fuzz_target!(|data: &[u8]| {
    // The first byte chooses the read size: from 1 (TCP's worst split) to 32.
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(split % 32) + 1;
    let mut decoder = Decoder::new(MAX);
    let mut frames = Vec::new();
    let mut failed = None;
    'reads: for piece in stream.chunks(chunk) {
        decoder.push(piece);
        loop {
            match decoder.decode() {
                Ok(Decoded::Frame(body)) => {
                    assert!(body.len() <= MAX);
                    frames.push(body);
                }
                Ok(Decoded::Incomplete) => break,
                Err(err) => {
                    failed = Some(err);
                    break 'reads;
                }
            }
        }
    }
    let mut reencoded = Vec::new();
    for body in &frames {
        encode_into(&mut reencoded, body).expect("bodies up to MAX fit a 4-byte header");
    }
    assert_eq!(&stream[..reencoded.len()], &reencoded[..]);
    match failed {
        Some(FrameError::TooLong { len, max }) => {
            assert!(len > max);
            // Poisoned: the rest of the stream is never decoded.
            decoder.push(&[0, 0, 0, 0]);
            assert!(decoder.decode().is_err());
        }
        None => assert_eq!(reencoded.len() + decoder.buffered(), stream.len()),
    }
});
