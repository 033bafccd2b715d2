//! The deterministic test payload (SPEC.md §9, "TP1").
//!
//! Every tool in this repository that moves events for a test, a benchmark or a chaos campaign
//! fills them with this payload, so any reader can tell, from the bytes alone, which sequence an
//! event belongs to and whether it is whole:
//!
//! ```text
//!  word 0            words 1 .. W-2                         word W-1
//! +-----------------+--------------------------------------+---------------------------+
//! | seq (u64 LE)    | mix(seq * GOLDEN + i) for word i      | FNV-1a 64 of bytes 0..S-8 |
//! +-----------------+--------------------------------------+---------------------------+
//! ```
//!
//! `S` is the event size in bytes (a multiple of 8) and `W = S / 8`. An 8-byte event carries only
//! the sequence (no room for a checksum); events of 16 bytes or more end with the checksum. A
//! stale slot shows a different sequence in word 0; a torn slot fails the checksum.
//!
//! This is no cryptographic check: it catches torn and stale slots, which is what a ring can get
//! wrong.

/// `0x9E3779B97F4A7C15`: the 64-bit golden ratio, spreading consecutive sequences apart.
pub const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
/// FNV-1a 64 offset basis.
pub const FNV64_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64 prime.
pub const FNV64_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The splitmix64 finaliser: a cheap bijective mix of 64 bits.
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a 64 over `bytes`.
#[inline]
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    fnv1a64_update(FNV64_OFFSET, bytes)
}

/// Continues an FNV-1a 64 hash `h` over more bytes (start from [`FNV64_OFFSET`]).
#[inline]
pub fn fnv1a64_update(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(FNV64_PRIME))
}

/// Why an event's bytes are not the payload of the sequence the reader expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The size is not a positive multiple of 8.
    #[error("event size {0} is not a positive multiple of 8 bytes")]
    BadSize(usize),
    /// Word 0 names another sequence: the slot is stale (or lapped).
    #[error("stale slot: expected sequence {expected}, the slot holds sequence {found}")]
    WrongSequence { expected: u64, found: u64 },
    /// The checksum does not match the bytes: the slot is torn (or was never written).
    #[error("torn slot at sequence {seq}: checksum {found:#018x}, computed {computed:#018x}")]
    BadChecksum { seq: u64, found: u64, computed: u64 },
    /// The body words do not match the sequence (checksum intact but content of another run).
    #[error("corrupt body at sequence {seq}, word {word}")]
    BadBody { seq: u64, word: usize },
}

/// Writes the payload of `seq` into `event` (its length is the event size).
pub fn fill(seq: u64, event: &mut [u8]) -> Result<(), PayloadError> {
    let words = check_size(event.len())?;
    event[..8].copy_from_slice(&seq.to_le_bytes());
    if words == 1 {
        return Ok(());
    }
    for i in 1..words - 1 {
        let w = mix(seq.wrapping_mul(GOLDEN).wrapping_add(i as u64));
        event[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    let sum = fnv1a64(&event[..event.len() - 8]);
    let len = event.len();
    event[len - 8..].copy_from_slice(&sum.to_le_bytes());
    Ok(())
}

/// Checks that `event` holds exactly the payload of `expected`.
pub fn verify(expected: u64, event: &[u8]) -> Result<(), PayloadError> {
    let found = decode_seq(event)?;
    let words = event.len() / 8;
    if words > 1 {
        let len = event.len();
        let stored = u64::from_le_bytes(event[len - 8..].try_into().expect("8 bytes"));
        let computed = fnv1a64(&event[..len - 8]);
        if stored != computed {
            return Err(PayloadError::BadChecksum {
                seq: found,
                found: stored,
                computed,
            });
        }
    }
    if found != expected {
        return Err(PayloadError::WrongSequence { expected, found });
    }
    for i in 1..words.saturating_sub(1) {
        let w = u64::from_le_bytes(event[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        if w != mix(expected.wrapping_mul(GOLDEN).wrapping_add(i as u64)) {
            return Err(PayloadError::BadBody {
                seq: expected,
                word: i,
            });
        }
    }
    Ok(())
}

/// The sequence stored in word 0.
pub fn decode_seq(event: &[u8]) -> Result<u64, PayloadError> {
    check_size(event.len())?;
    Ok(u64::from_le_bytes(event[..8].try_into().expect("8 bytes")))
}

fn check_size(len: usize) -> Result<usize, PayloadError> {
    if len == 0 || len % 8 != 0 {
        return Err(PayloadError::BadSize(len));
    }
    Ok(len / 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_detection() {
        for size in [8usize, 16, 24, 64, 128, 4096] {
            let mut ev = vec![0u8; size];
            fill(7, &mut ev).unwrap();
            verify(7, &ev).unwrap();
            assert_eq!(decode_seq(&ev).unwrap(), 7);
            let mut other = vec![0u8; size];
            fill(8, &mut other).unwrap();
            assert!(matches!(
                verify(7, &other),
                Err(PayloadError::WrongSequence { .. })
            ));
            if size > 8 {
                ev[size / 2] ^= 1;
                assert!(verify(7, &ev).is_err());
            }
        }
        assert_eq!(fill(0, &mut [0u8; 12]), Err(PayloadError::BadSize(12)));
    }

    #[test]
    fn known_vector() {
        // Pinned so implementations in other languages can check themselves (SPEC.md §7).
        let mut ev = [0u8; 24];
        fill(1, &mut ev).unwrap();
        let w1 = u64::from_le_bytes(ev[8..16].try_into().unwrap());
        assert_eq!(w1, mix(GOLDEN.wrapping_add(1)));
        assert_eq!(fnv1a64(b""), FNV64_OFFSET);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
