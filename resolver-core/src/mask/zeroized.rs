//! Growing a buffer that holds secret bytes without leaving copies behind.
//!
//! `Zeroizing<Vec<u8>>` zeroes the allocation it owns when dropped, but a
//! `Vec` that outgrows its capacity moves its bytes to a new allocation and
//! frees the old one as it is: the bytes held so far would stay in freed
//! memory. Growth here goes through a new zeroizing buffer instead, and the
//! old one is zeroed when it is replaced.

use zeroize::Zeroizing;

/// Appends `bytes` to `buffer`; when the capacity does not suffice, the
/// contents move to a buffer of at least twice the capacity (amortized
/// growth, as `Vec`'s own) and the old allocation is zeroed on drop.
pub(super) fn extend(buffer: &mut Zeroizing<Vec<u8>>, bytes: &[u8]) {
    let len = buffer.len();
    if buffer.capacity() - len < bytes.len() {
        let mut grown = Zeroizing::new(Vec::with_capacity(
            (len + bytes.len()).max(2 * buffer.capacity()),
        ));
        grown.extend_from_slice(buffer);
        // The old buffer is dropped here, and zeroed by `Zeroizing`.
        *buffer = grown;
    }
    buffer.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_across_growth_and_keeps_the_bytes_in_order() {
        let mut buffer = Zeroizing::new(Vec::new());
        let mut expected = Vec::new();
        for round in 0u8..50 {
            let piece: Vec<u8> = (0..round).map(|i| i.wrapping_mul(round)).collect();
            extend(&mut buffer, &piece);
            expected.extend_from_slice(&piece);
            assert_eq!(&buffer[..], &expected[..]);
        }
    }

    #[test]
    fn growth_is_amortized() {
        let mut buffer = Zeroizing::new(Vec::new());
        let mut reallocations = 0;
        let mut capacity = buffer.capacity();
        for _ in 0..10_000 {
            extend(&mut buffer, b"x");
            if buffer.capacity() != capacity {
                reallocations += 1;
                capacity = buffer.capacity();
            }
        }
        assert!(reallocations <= 15, "{reallocations} reallocations");
    }
}
