//! The 56-byte LayoutV1 header that starts every ring, cursor and registry segment.
//!
//! Byte for byte what disruptor-mp 0.1.0-alpha.2 writes, so either implementation accepts the
//! other's segments (SPEC.md §2). All integers little-endian.
//!
//! ```text
//!  0       8    10   12   14   16              24              32              40
//! +-------+----+----+----+----+---------------+---------------+---------------+
//! | magic |ver |kind|hdr |algn| payload_size  | element_size  | capacity      |
//! |DSMPTV01| 1 |1..3| 56 | >=8|               |               |               |
//! +-------+----+----+----+----+---------------+-------+-------+---------------+
//!  40              48      52      56
//! +---------------+-------+-------+
//! | reserved = 0  | fnv1a | rsvd2 |   checksum: FNV-1a 32 over bytes 0..56 with 48..52 zeroed
//! +---------------+-------+-------+
//! ```
//!
//! The payload starts at `align_up(56, alignment)`: 56 for alignment 8, 64 for 16..64, 128 for
//! 128, and so on.

use super::LayoutError;

/// `b"DSMPTV01"`: the magic of every LayoutV1 segment.
pub const MAGIC: [u8; 8] = *b"DSMPTV01";
/// The only layout version there is.
pub const VERSION: u16 = 1;
/// Size of the header in bytes.
pub const HEADER_SIZE: usize = 56;
/// The smallest alignment a writer records (and a reader accepts).
pub const MIN_ALIGNMENT: usize = 8;
/// What a version mismatch tells the operator to do.
pub const MIGRATION_HINT: &str =
    "MIGRATION: create a new ring/segment name for the new layout version and perform a rolling restart";

/// Which structure follows the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum SegmentKind {
    /// Event slots (disruptor-mp kind 1).
    Ring = 1,
    /// One padded i64 cursor (disruptor-mp kind 2).
    Cursor = 2,
    /// ringproof's participant registry (an extension; disruptor-mp never opens it).
    Registry = 3,
}

impl SegmentKind {
    /// The kind with this wire value, if any.
    pub fn from_u16(v: u16) -> Option<Self> {
        match v {
            1 => Some(Self::Ring),
            2 => Some(Self::Cursor),
            3 => Some(Self::Registry),
            _ => None,
        }
    }

    /// Lower-case name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ring => "ring",
            Self::Cursor => "cursor",
            Self::Registry => "registry",
        }
    }
}

/// The header as laid out in memory (`#[repr(C)]`, no padding).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayoutHeader {
    pub magic: [u8; 8],
    pub version: u16,
    pub kind: u16,
    pub header_size: u16,
    pub alignment: u16,
    pub payload_size: u64,
    pub element_size: u64,
    pub capacity: u64,
    pub reserved: u64,
    pub checksum: u32,
    pub reserved2: u32,
}

const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(size_of::<LayoutHeader>() == HEADER_SIZE);
    assert!(align_of::<LayoutHeader>() == 8);
    assert!(offset_of!(LayoutHeader, magic) == 0);
    assert!(offset_of!(LayoutHeader, version) == 8);
    assert!(offset_of!(LayoutHeader, kind) == 10);
    assert!(offset_of!(LayoutHeader, header_size) == 12);
    assert!(offset_of!(LayoutHeader, alignment) == 14);
    assert!(offset_of!(LayoutHeader, payload_size) == 16);
    assert!(offset_of!(LayoutHeader, element_size) == 24);
    assert!(offset_of!(LayoutHeader, capacity) == 32);
    assert!(offset_of!(LayoutHeader, reserved) == 40);
    assert!(offset_of!(LayoutHeader, checksum) == 48);
    assert!(offset_of!(LayoutHeader, reserved2) == 52);
};

#[cfg(target_endian = "big")]
compile_error!(
    "ringproof segments are little-endian (SPEC.md §1); big-endian targets are not supported"
);

/// Byte offset of the checksum field.
pub const CHECKSUM_OFFSET: usize = 48;

/// FNV-1a 32 over `bytes`.
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811C_9DC5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// `value` rounded up to a multiple of `align` (a power of two).
pub const fn align_up(value: usize, align: usize) -> usize {
    (value + align - 1) & !(align - 1)
}

/// Where the payload starts for a header recording `alignment`.
pub const fn payload_offset(alignment: usize) -> usize {
    align_up(
        HEADER_SIZE,
        if alignment > MIN_ALIGNMENT {
            alignment
        } else {
            MIN_ALIGNMENT
        },
    )
}

impl LayoutHeader {
    /// A header for a fresh segment, checksum filled in.
    pub fn new(
        kind: SegmentKind,
        alignment: usize,
        element_size: u64,
        capacity: u64,
        payload_size: u64,
    ) -> Self {
        let mut h = Self {
            magic: MAGIC,
            version: VERSION,
            kind: kind as u16,
            header_size: HEADER_SIZE as u16,
            alignment: alignment as u16,
            payload_size,
            element_size,
            capacity,
            reserved: 0,
            checksum: 0,
            reserved2: 0,
        };
        h.checksum = h.compute_checksum();
        if mutant!("producer.checksum-range") {
            h.checksum = fnv1a32(&h.to_bytes()[..CHECKSUM_OFFSET]);
        }
        h
    }

    /// The 56 bytes as written to a segment.
    pub fn to_bytes(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[0..8].copy_from_slice(&self.magic);
        b[8..10].copy_from_slice(&self.version.to_le_bytes());
        b[10..12].copy_from_slice(&self.kind.to_le_bytes());
        b[12..14].copy_from_slice(&self.header_size.to_le_bytes());
        b[14..16].copy_from_slice(&self.alignment.to_le_bytes());
        b[16..24].copy_from_slice(&self.payload_size.to_le_bytes());
        b[24..32].copy_from_slice(&self.element_size.to_le_bytes());
        b[32..40].copy_from_slice(&self.capacity.to_le_bytes());
        b[40..48].copy_from_slice(&self.reserved.to_le_bytes());
        b[48..52].copy_from_slice(&self.checksum.to_le_bytes());
        b[52..56].copy_from_slice(&self.reserved2.to_le_bytes());
        b
    }

    /// Decodes the first 56 bytes without judging them. Fails only when `bytes` is too short.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LayoutError> {
        if bytes.len() < HEADER_SIZE {
            return Err(LayoutError::TooShort { len: bytes.len() });
        }
        let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
        let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().expect("8 bytes"));
        Ok(Self {
            magic: bytes[0..8].try_into().expect("8 bytes"),
            version: u16_at(8),
            kind: u16_at(10),
            header_size: u16_at(12),
            alignment: u16_at(14),
            payload_size: u64_at(16),
            element_size: u64_at(24),
            capacity: u64_at(32),
            reserved: u64_at(40),
            checksum: u32_at(48),
            reserved2: u32_at(52),
        })
    }

    /// FNV-1a 32 of the header with the checksum field zeroed.
    pub fn compute_checksum(&self) -> u32 {
        let mut b = self.to_bytes();
        b[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 4].fill(0);
        fnv1a32(&b)
    }

    /// Where this segment's payload starts.
    pub fn payload_offset(&self) -> usize {
        payload_offset(usize::from(self.alignment))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_offset_rule() {
        assert_eq!(payload_offset(8), 56);
        assert_eq!(payload_offset(16), 64);
        assert_eq!(payload_offset(64), 64);
        assert_eq!(payload_offset(128), 128);
        assert_eq!(payload_offset(4096), 4096);
    }

    #[test]
    fn roundtrip_bytes() {
        let h = LayoutHeader::new(SegmentKind::Ring, 8, 24, 8, 192);
        let b = h.to_bytes();
        assert_eq!(&b[0..8], b"DSMPTV01");
        assert_eq!(LayoutHeader::from_bytes(&b).unwrap(), h);
        assert_eq!(h.compute_checksum(), h.checksum);
    }
}
