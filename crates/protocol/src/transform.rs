//! The service itself: "echo, upper-cased", as the notes' `conn.send(data.upper())`.
//!
//! Python's `bytes.upper()` changes `a`..=`z` and leaves every other byte alone (it does not
//! decode UTF-8). [`u8::make_ascii_uppercase`] does exactly that. Because it looks at one byte
//! at a time, a stream cut anywhere transforms the same as the whole: a server may upper-case
//! each `recv` on its own, however TCP split the client's message. The property test below
//! holds us to that.

// ANCHOR: upper
/// Upper-cases ASCII letters in place; every other byte, including bytes >= 0x80, is kept.
pub fn upper_in_place(bytes: &mut [u8]) {
    bytes.make_ascii_uppercase();
}

/// The reply the server owes for `bytes`.
pub fn upper(bytes: &[u8]) -> Vec<u8> {
    bytes.to_ascii_uppercase()
}
// ANCHOR_END: upper

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn matches_python_bytes_upper() {
        // b'hello, World! \xc3\xa9 z{'.upper() in Python 3.
        assert_eq!(
            upper(b"hello, World! \xc3\xa9 z{"),
            b"HELLO, WORLD! \xc3\xa9 Z{".to_vec()
        );
    }

    #[test]
    fn changes_only_the_26_lower_case_letters() {
        for b in 0..=255u8 {
            let want = if b.is_ascii_lowercase() { b - 32 } else { b };
            assert_eq!(upper(&[b]), vec![want], "byte {b:#04x}");
        }
    }

    proptest! {
        #[test]
        fn a_stream_split_anywhere_transforms_the_same(
            data in proptest::collection::vec(any::<u8>(), 0..512),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let whole = upper(&data);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (data.len() + 1)).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut start = 0;
            for cut in cuts.into_iter().chain([data.len()]) {
                let mut piece = data[start..cut].to_vec();
                upper_in_place(&mut piece);
                pieces.extend_from_slice(&piece);
                start = cut;
            }
            prop_assert_eq!(pieces, whole);
        }
    }
}
