//! Every byte ringproof puts in shared memory, defined once.
//!
//! - [`header`]: the LayoutV1 header shared with disruptor-mp.
//! - [`cursor`]: the 128-byte cursor segment (one padded sequence and ringproof's wake word).
//! - [`registry`]: ringproof's participant registry segment.
//! - [`counters`]: the counters segment (disruptor-mp's "MYC0" layout; no LayoutV1 header).
//! - [`image`]: pure builders of every segment's initial bytes (the creators use them).
//! - [`describe`]: decodes any segment's bytes into named fields and a verdict.
//! - [`golden`]: the catalogue of the committed `golden-layouts/` files.
//!
//! [`validate`] is the single gate every mapped segment passes before any other code reads it:
//! it never reads past the bytes it is given and names the first thing wrong.

pub mod counters;
pub mod cursor;
pub mod describe;
pub mod golden;
pub mod header;
pub mod image;
pub mod registry;

pub use header::{LayoutHeader, SegmentKind, HEADER_SIZE, MAGIC, VERSION};

use header::{MIGRATION_HINT, MIN_ALIGNMENT};

/// Largest alignment a header may record (the field is a u16; one page is plenty).
pub const MAX_ALIGNMENT: usize = 4096;

/// Why a segment's bytes are not the segment the caller expects. One variant per cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
pub enum LayoutError {
    #[error("segment is {len} bytes, shorter than the 56-byte LayoutV1 header: not a ring segment, or its creator died before sizing it (remove it and create the ring again)")]
    TooShort { len: usize },
    #[error("segment header is all zero: its creator has not finished writing it (retry shortly; if it stays so, the creator died: remove the segment)")]
    Initializing,
    #[error("bad magic {found:02x?}, expected \"DSMPTV01\": this is not a LayoutV1 segment (wrong name or path?)")]
    BadMagic { found: [u8; 8] },
    #[error("layout version {found}, this build reads version {supported}. {MIGRATION_HINT}")]
    Version { found: u16, supported: u16 },
    #[error("header checksum {stored:#010x} does not match the computed {computed:#010x}: the header is corrupt (recreate the segment)")]
    Checksum { stored: u32, computed: u32 },
    #[error("header_size {found}, expected 56: not a LayoutV1 header")]
    HeaderSize { found: u16 },
    #[error("alignment {found} is not a power of two between 8 and 4096")]
    BadAlignment { found: u16 },
    #[error("alignment {found} is smaller than the {needed} the event type needs")]
    AlignmentTooSmall { found: u16, needed: usize },
    #[error("a {kind} segment must record alignment {expected}, this one records {found}: not a segment a LayoutV1 writer creates (recreate it)")]
    KindAlignment {
        kind: &'static str,
        expected: usize,
        found: u16,
    },
    #[error("unknown segment kind {found} (1 = ring, 2 = cursor, 3 = registry)")]
    UnknownKind { found: u16 },
    #[error("segment is a {found} segment, expected a {expected} segment")]
    KindMismatch {
        expected: &'static str,
        found: &'static str,
    },
    #[error("element size mismatch: the segment holds {found}-byte elements, the caller uses {expected} bytes (producer and consumer must use the same event type)")]
    ElementSize { expected: u64, found: u64 },
    #[error("capacity mismatch: the segment has {found} slots, the caller expects {expected}")]
    Capacity { expected: u64, found: u64 },
    #[error("capacity {found} is not a power of two of at least 1")]
    BadCapacity { found: u64 },
    #[error("payload size {found} does not match the {expected} bytes its element size and capacity imply")]
    PayloadSize { expected: u64, found: u64 },
    #[error("segment is truncated: {len} bytes, the header promises {need} (the file was cut short or its creator died while sizing it)")]
    Truncated { len: usize, need: u64 },
    #[error("element size {found} exceeds the {max}-byte bound of a ring slot: not a ring any LayoutV1 writer creates (corrupt or hostile header; recreate the ring)")]
    ElementTooLarge { found: u64, max: u64 },
}

impl LayoutError {
    /// The variant's name (`"Checksum"`, `"BadMagic"`, ...), for tables and JSON.
    pub fn variant(&self) -> &'static str {
        self.into()
    }
}

/// The largest event a ring slot may hold: 16 MiB. A reader copies or allocates one event, so
/// an unbounded header field would let any writer make it allocate anything (issue 11 F10);
/// events this large belong in a file passed by reference, not in a ring slot.
pub const MAX_ELEMENT_SIZE: u64 = 1 << 24;

/// What the caller expects of a segment; `None` accepts whatever the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    pub kind: SegmentKind,
    pub element_size: Option<u64>,
    pub capacity: Option<u64>,
    /// The event type's alignment; the header must record at least this.
    pub min_alignment: usize,
}

impl Expect {
    /// Any segment of `kind`.
    pub fn kind(kind: SegmentKind) -> Self {
        Self {
            kind,
            element_size: None,
            capacity: None,
            min_alignment: MIN_ALIGNMENT,
        }
    }
}

/// A validated segment's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub kind: SegmentKind,
    pub alignment: usize,
    pub payload_offset: usize,
    pub payload_size: u64,
    pub element_size: u64,
    pub capacity: u64,
}

impl Geometry {
    /// Total bytes the segment needs: payload offset plus payload (saturating: a header whose
    /// sizes overflow needs more bytes than any mapping has).
    pub fn total_len(&self) -> u64 {
        (self.payload_offset as u64).saturating_add(self.payload_size)
    }
}

/// The payload size a segment of `kind` must record for these fields, or `None` on overflow.
pub fn payload_size_for(kind: SegmentKind, element_size: u64, capacity: u64) -> Option<u64> {
    match kind {
        SegmentKind::Ring => element_size.checked_mul(capacity),
        SegmentKind::Cursor => Some(cursor::CURSOR_PAYLOAD_SIZE as u64),
        SegmentKind::Registry => capacity
            .checked_add(1)?
            .checked_mul(registry::SLOT_SIZE as u64),
    }
}

/// Checks `bytes` (the whole mapping) against `expect`, in the order SPEC.md §2.2 fixes.
pub fn validate(bytes: &[u8], expect: &Expect) -> Result<Geometry, LayoutError> {
    validate_header(&bytes[..bytes.len().min(HEADER_SIZE)], bytes.len(), expect)
}

/// [`validate`] given only the first bytes (at most 56 are read) and the mapping's length, so a
/// live mapping is checked without forming a slice over words other processes write.
pub fn validate_header(
    header: &[u8],
    len: usize,
    expect: &Expect,
) -> Result<Geometry, LayoutError> {
    // The mapping's length decides, not how many header bytes the caller copied.
    if len < HEADER_SIZE || header.len() < HEADER_SIZE {
        return Err(LayoutError::TooShort {
            len: len.min(header.len()),
        });
    }
    let h = LayoutHeader::from_bytes(header)?;
    if h.magic == [0u8; 8] {
        return Err(LayoutError::Initializing);
    }
    if h.magic != MAGIC && !mutant!("consumer.no-magic-check") {
        return Err(LayoutError::BadMagic { found: h.magic });
    }
    if h.version != VERSION {
        return Err(LayoutError::Version {
            found: h.version,
            supported: VERSION,
        });
    }
    let computed = h.compute_checksum();
    if h.checksum != computed && !mutant!("consumer.no-checksum-check") {
        return Err(LayoutError::Checksum {
            stored: h.checksum,
            computed,
        });
    }
    if usize::from(h.header_size) != HEADER_SIZE {
        return Err(LayoutError::HeaderSize {
            found: h.header_size,
        });
    }
    let alignment = usize::from(h.alignment);
    if !alignment.is_power_of_two() || !(MIN_ALIGNMENT..=MAX_ALIGNMENT).contains(&alignment) {
        return Err(LayoutError::BadAlignment { found: h.alignment });
    }
    let kind = SegmentKind::from_u16(h.kind).ok_or(LayoutError::UnknownKind { found: h.kind })?;
    if kind != expect.kind {
        return Err(LayoutError::KindMismatch {
            expected: expect.kind.name(),
            found: kind.name(),
        });
    }
    check_kind_invariants(&h, kind)?;
    if let Some(expected) = expect.element_size {
        if h.element_size != expected && !mutant!("consumer.no-element-size-check") {
            return Err(LayoutError::ElementSize {
                expected,
                found: h.element_size,
            });
        }
    }
    if let Some(expected) = expect.capacity {
        if h.capacity != expected {
            return Err(LayoutError::Capacity {
                expected,
                found: h.capacity,
            });
        }
    }
    if alignment < expect.min_alignment {
        return Err(LayoutError::AlignmentTooSmall {
            found: h.alignment,
            needed: expect.min_alignment,
        });
    }
    let geometry = Geometry {
        kind,
        alignment,
        payload_offset: h.payload_offset(),
        payload_size: h.payload_size,
        element_size: h.element_size,
        capacity: h.capacity,
    };
    if (len as u64) < geometry.total_len() && !mutant!("consumer.no-length-check") {
        return Err(LayoutError::Truncated {
            len,
            need: geometry.total_len(),
        });
    }
    Ok(geometry)
}

fn check_kind_invariants(h: &LayoutHeader, kind: SegmentKind) -> Result<(), LayoutError> {
    let (element, capacity, alignment) = match kind {
        SegmentKind::Ring => (None, None, None),
        SegmentKind::Cursor => (
            Some(cursor::CURSOR_PAYLOAD_SIZE as u64),
            Some(1),
            Some(cursor::CURSOR_ALIGNMENT),
        ),
        SegmentKind::Registry => (
            Some(registry::SLOT_SIZE as u64),
            None,
            Some(registry::REGISTRY_ALIGNMENT),
        ),
    };
    // The cursor cell and the registry blocks are 64-aligned structures read at the payload
    // offset: any other alignment would put them elsewhere (or misaligned).
    if let Some(expected) = alignment {
        if usize::from(h.alignment) != expected {
            return Err(LayoutError::KindAlignment {
                kind: kind.name(),
                expected,
                found: h.alignment,
            });
        }
    }
    if let Some(expected) = element {
        if h.element_size != expected {
            return Err(LayoutError::ElementSize {
                expected,
                found: h.element_size,
            });
        }
    }
    if let Some(expected) = capacity {
        if h.capacity != expected {
            return Err(LayoutError::Capacity {
                expected,
                found: h.capacity,
            });
        }
    }
    if kind == SegmentKind::Ring && (h.capacity == 0 || !h.capacity.is_power_of_two()) {
        return Err(LayoutError::BadCapacity { found: h.capacity });
    }
    if kind == SegmentKind::Ring && h.element_size == 0 {
        return Err(LayoutError::ElementSize {
            expected: 1,
            found: 0,
        });
    }
    // Readers allocate one event's worth of memory; a header must not make that any amount.
    if kind == SegmentKind::Ring && h.element_size > MAX_ELEMENT_SIZE {
        return Err(LayoutError::ElementTooLarge {
            found: h.element_size,
            max: MAX_ELEMENT_SIZE,
        });
    }
    let expected =
        payload_size_for(kind, h.element_size, h.capacity).ok_or(LayoutError::PayloadSize {
            expected: u64::MAX,
            found: h.payload_size,
        })?;
    if h.payload_size != expected {
        return Err(LayoutError::PayloadSize {
            expected,
            found: h.payload_size,
        });
    }
    Ok(())
}

/// The header and payload offset for a fresh segment. `None` if the sizes overflow.
pub fn fresh_header(
    kind: SegmentKind,
    alignment: usize,
    element_size: u64,
    capacity: u64,
) -> Option<(LayoutHeader, Geometry)> {
    let payload_size = payload_size_for(kind, element_size, capacity)?;
    let header = LayoutHeader::new(kind, alignment, element_size, capacity, payload_size);
    let geometry = Geometry {
        kind,
        alignment,
        payload_offset: header.payload_offset(),
        payload_size,
        element_size,
        capacity,
    };
    geometry
        .payload_offset
        .checked_add(usize::try_from(payload_size).ok()?)?;
    Some((header, geometry))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring_bytes(element: u64, capacity: u64, alignment: usize) -> Vec<u8> {
        let (h, g) = fresh_header(SegmentKind::Ring, alignment, element, capacity).unwrap();
        let mut b = vec![0u8; g.total_len() as usize];
        b[..HEADER_SIZE].copy_from_slice(&h.to_bytes());
        b
    }

    fn ring_expect(element: u64, capacity: u64) -> Expect {
        Expect {
            kind: SegmentKind::Ring,
            element_size: Some(element),
            capacity: Some(capacity),
            min_alignment: 8,
        }
    }

    #[test]
    fn sizes_match_disruptor_mp() {
        // 8 x 24-byte events: 56 + 192 = 248; 8 x u64: 56 + 64 = 120 (inventory §2.1).
        assert_eq!(ring_bytes(24, 8, 8).len(), 248);
        assert_eq!(ring_bytes(8, 8, 8).len(), 120);
        assert_eq!(ring_bytes(128, 4, 128).len(), 128 + 512);
    }

    #[test]
    fn accepts_fresh_ring() {
        let b = ring_bytes(24, 8, 8);
        let g = validate(&b, &ring_expect(24, 8)).unwrap();
        assert_eq!(g.payload_offset, 56);
    }

    #[test]
    fn element_size_mismatch() {
        let b = ring_bytes(24, 8, 8);
        assert_eq!(
            validate(&b, &ring_expect(32, 8)),
            Err(LayoutError::ElementSize {
                expected: 32,
                found: 24
            })
        );
    }

    #[test]
    fn truncated_header_and_payload() {
        let b = ring_bytes(24, 8, 8);
        assert_eq!(
            validate(&b[..55], &ring_expect(24, 8)),
            Err(LayoutError::TooShort { len: 55 })
        );
        assert_eq!(
            validate(&b[..247], &ring_expect(24, 8)),
            Err(LayoutError::Truncated {
                len: 247,
                need: 248
            })
        );
    }

    #[test]
    fn aligned_128_events() {
        let b = ring_bytes(128, 16, 128);
        let g = validate(
            &b,
            &Expect {
                min_alignment: 128,
                ..ring_expect(128, 16)
            },
        )
        .unwrap();
        assert_eq!(g.payload_offset, 128);
        let b8 = ring_bytes(128, 16, 8);
        assert_eq!(
            validate(
                &b8,
                &Expect {
                    min_alignment: 128,
                    ..ring_expect(128, 16)
                }
            ),
            Err(LayoutError::AlignmentTooSmall {
                found: 8,
                needed: 128
            })
        );
    }

    #[test]
    fn each_cause_has_its_error() {
        let good = ring_bytes(8, 8, 8);
        let e = ring_expect(8, 8);
        let mut b = good.clone();
        b[0] = b'X';
        assert!(matches!(
            validate(&b, &e),
            Err(LayoutError::BadMagic { .. })
        ));
        let mut b = good.clone();
        b[..8].fill(0);
        assert_eq!(validate(&b, &e), Err(LayoutError::Initializing));
        let mut b = good.clone();
        b[8] = 2;
        assert_eq!(
            validate(&b, &e),
            Err(LayoutError::Version {
                found: 2,
                supported: 1
            })
        );
        let mut b = good.clone();
        b[20] ^= 1;
        assert!(matches!(
            validate(&b, &e),
            Err(LayoutError::Checksum { .. })
        ));
        // Fields with a fresh checksum: each semantic check on its own.
        let rewrite = |f: &dyn Fn(&mut LayoutHeader)| {
            let mut h = LayoutHeader::from_bytes(&good).unwrap();
            f(&mut h);
            h.checksum = h.compute_checksum();
            let mut b = good.clone();
            b[..HEADER_SIZE].copy_from_slice(&h.to_bytes());
            validate(&b, &e)
        };
        assert_eq!(
            rewrite(&|h| h.header_size = 64),
            Err(LayoutError::HeaderSize { found: 64 })
        );
        assert_eq!(
            rewrite(&|h| h.alignment = 12),
            Err(LayoutError::BadAlignment { found: 12 })
        );
        assert_eq!(
            rewrite(&|h| h.kind = 9),
            Err(LayoutError::UnknownKind { found: 9 })
        );
        assert_eq!(
            rewrite(&|h| h.kind = 2),
            Err(LayoutError::KindMismatch {
                expected: "ring",
                found: "cursor"
            })
        );
        assert_eq!(
            rewrite(&|h| h.capacity = 6),
            Err(LayoutError::BadCapacity { found: 6 })
        );
        assert_eq!(
            rewrite(&|h| h.payload_size = 63),
            Err(LayoutError::PayloadSize {
                expected: 64,
                found: 63
            })
        );
        assert_eq!(
            rewrite(&|h| {
                h.capacity = 16;
                h.payload_size = 128
            }),
            Err(LayoutError::Capacity {
                expected: 8,
                found: 16
            })
        );
        let cursor = Expect::kind(SegmentKind::Cursor);
        assert_eq!(
            validate(&good, &cursor),
            Err(LayoutError::KindMismatch {
                expected: "cursor",
                found: "ring"
            })
        );
    }
}
