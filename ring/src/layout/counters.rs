//! The counters segment: disruptor-mp 0.1.0-alpha.2's counters layout ("MYC0"), byte for byte
//! (its `observability::CountersFile`), so either implementation's tools read the other's
//! counters. It has **no LayoutV1 header**: it is validated by its own rules ([`validate`]).
//!
//! ```text
//!  0       4       8            12        16        20        24                        64
//! +-------+-------+------------+---------+---------+---------+-------------------------+
//! | magic |version| slot_count |slot_cap |stride   |slots_off| reserved                |
//! |"MYC0" |  0    | AtomicU32  |  62     |  64     |  64     | 40 bytes, 0             |
//! +-------+-------+------------+---------+---------+---------+-------------------------+
//!  CountersHeader (64 bytes, align 64)
//!
//!  64 + 64 * i, for i in 0..62 (the last slot ends at 4032; 4032..4096 is unused, zero):
//! +-------+-------+----------------+---------------------------------------------------+
//! | id    | flags | value          | label                                             |
//! | u32   | AtomU32| AtomicU64     | 48 bytes UTF-8, NUL-padded                        |
//! +-------+-------+----------------+---------------------------------------------------+
//!  0       4       8                16                                                  64
//!  CounterSlot (64 bytes, align 64); flags: IN_USE = 1, PRODUCER = 2, CONSUMER = 4
//! ```
//!
//! Registration (SPEC.md §12): claim slot `slot_count` by incrementing `slot_count` (never past
//! 62), write `id`, `label` and `value = 0`, then publish with a release store of
//! `flags = IN_USE | role`. A reader acquire-loads `flags` and reads only `IN_USE` slots below
//! `min(slot_count, 62)`. Slots are never freed. Each counter has exactly one writing process,
//! which updates `value` with plain (relaxed) load + store; readers load it relaxed.
//!
//! Counter ids: disruptor-mp's (0x10..0x14 producer, 0x20..0x25 consumer; 0x30..0x34 belong to
//! its "myelon" layer; applications from 0x100) plus ringproof's own in 0x40..0x4f, a range
//! disruptor-mp does not use ([`ids`]).

use crate::sync::{AtomicU32, AtomicU64};

/// `u32::from_le_bytes(*b"MYC0")`: bytes `4d 59 43 30` at offset 0.
pub const MAGIC: u32 = u32::from_le_bytes(*b"MYC0");
/// The only counters layout version (disruptor-mp writes 0).
pub const VERSION: u32 = 0;
/// Size of a counters segment (disruptor-mp's `COUNTERS_FILE_RESERVED_BYTES`).
pub const SEGMENT_SIZE: usize = 4096;
/// Size of the header.
pub const HEADER_SIZE: usize = 64;
/// Number of counter slots.
pub const SLOT_CAPACITY: u32 = 62;
/// Bytes per slot.
pub const SLOT_STRIDE: u32 = 64;
/// Offset of slot 0.
pub const SLOTS_OFFSET: u32 = 64;
/// Bytes of a slot's label.
pub const LABEL_BYTES: usize = 48;
/// End of the last slot; bytes from here to [`SEGMENT_SIZE`] are unused.
pub const SLOTS_END: usize = SLOTS_OFFSET as usize + SLOT_CAPACITY as usize * SLOT_STRIDE as usize;

/// `flags`: the slot is published (its id and label are final).
pub const FLAG_IN_USE: u32 = 1;
/// `flags`: a producer's counter.
pub const FLAG_PRODUCER: u32 = 2;
/// `flags`: a consumer's counter.
pub const FLAG_CONSUMER: u32 = 4;

/// Offsets inside the header.
pub mod header {
    pub const MAGIC: usize = 0;
    pub const VERSION: usize = 4;
    pub const SLOT_COUNT: usize = 8;
    pub const SLOT_CAPACITY: usize = 12;
    pub const SLOT_STRIDE: usize = 16;
    pub const SLOTS_OFFSET: usize = 20;
    pub const RESERVED: usize = 24;
}

/// Offsets inside a slot.
pub mod slot {
    pub const ID: usize = 0;
    pub const FLAGS: usize = 4;
    pub const VALUE: usize = 8;
    pub const LABEL: usize = 16;
}

/// Counter ids.
pub mod ids {
    // disruptor-mp's producer counters.
    pub const EVENTS_PUBLISHED: u32 = 0x10;
    pub const EVENTS_PUBLISHED_BYTES: u32 = 0x11;
    pub const PRODUCER_FULL_EVENTS: u32 = 0x12;
    pub const PRODUCER_PARK_COUNT: u32 = 0x13;
    pub const PRODUCER_UNPARK_COUNT: u32 = 0x14;
    // disruptor-mp's consumer counters.
    pub const EVENTS_CONSUMED: u32 = 0x20;
    pub const EVENTS_CONSUMED_BYTES: u32 = 0x21;
    pub const CONSUMER_EMPTY_SPINS: u32 = 0x22;
    pub const CONSUMER_PARK_COUNT: u32 = 0x23;
    pub const CONSUMER_UNPARK_COUNT: u32 = 0x24;
    pub const CONSUMER_LAG_MAX: u32 = 0x25;
    // ringproof's own (0x40..0x4f; disruptor-mp uses 0x10..0x34 and 0x100 up).
    pub const LIVENESS_ALERTS: u32 = 0x40;
    pub const EVICTIONS: u32 = 0x41;
    pub const DEAD_PEERS_DETECTED: u32 = 0x42;
    pub const PRODUCER_RESTARTS: u32 = 0x43;
    /// First id disruptor-mp leaves to applications.
    pub const APP_RESERVED_BASE: u32 = 0x100;
}

/// The producer's counters, in registration order: (id, label).
pub const PRODUCER_COUNTERS: [(u32, &str); 9] = [
    (ids::EVENTS_PUBLISHED, "events_published"),
    (ids::EVENTS_PUBLISHED_BYTES, "events_published_bytes"),
    (ids::PRODUCER_FULL_EVENTS, "producer_full_events"),
    (ids::PRODUCER_PARK_COUNT, "producer_park_count"),
    (ids::PRODUCER_UNPARK_COUNT, "producer_unpark_count"),
    (ids::LIVENESS_ALERTS, "liveness_alerts"),
    (ids::EVICTIONS, "evictions"),
    (ids::DEAD_PEERS_DETECTED, "dead_peers_detected"),
    (ids::PRODUCER_RESTARTS, "producer_restarts"),
];

/// A consumer's counters, in registration order: (id, label suffix); the label is
/// [`consumer_label`]`(consumer_id, suffix)`.
pub const CONSUMER_COUNTERS: [(u32, &str); 6] = [
    (ids::EVENTS_CONSUMED, "events_consumed"),
    (ids::EVENTS_CONSUMED_BYTES, "events_consumed_bytes"),
    (ids::CONSUMER_EMPTY_SPINS, "consumer_empty_spins"),
    (ids::CONSUMER_PARK_COUNT, "consumer_park_count"),
    (ids::CONSUMER_UNPARK_COUNT, "consumer_unpark_count"),
    (ids::CONSUMER_LAG_MAX, "consumer_lag_max"),
];

/// How many consumers fit next to one producer: `(62 - 9) / 6 = 8`.
pub const MAX_CONSUMERS: usize =
    (SLOT_CAPACITY as usize - PRODUCER_COUNTERS.len()) / CONSUMER_COUNTERS.len();

/// The name of a counter id, if it is one of the ids above.
pub fn id_name(id: u32) -> Option<&'static str> {
    PRODUCER_COUNTERS
        .iter()
        .chain(CONSUMER_COUNTERS.iter())
        .find(|(i, _)| *i == id)
        .map(|(_, n)| *n)
        .or(match id {
            0x30..=0x34 => Some("(disruptor-mp myelon layer)"),
            i if i >= ids::APP_RESERVED_BASE => Some("(application)"),
            _ => None,
        })
}

/// The label of consumer `consumer_id`'s counter `suffix`: `"{consumer_id}.{suffix}"`, or, when
/// that exceeds 48 bytes (ids may be 48 bytes long), the id cut short and marked with `~` and
/// the FNV-1a 32 of the whole id in hex: `"{prefix}~{hash:08x}.{suffix}"`, exactly 48 bytes.
/// Deterministic, so a restarted consumer finds its own slots again.
pub fn consumer_label(consumer_id: &str, suffix: &str) -> String {
    let full = format!("{consumer_id}.{suffix}");
    if full.len() <= LABEL_BYTES {
        return full;
    }
    let hash = super::header::fnv1a32(consumer_id.as_bytes());
    // "~" + 8 hex digits + "." + suffix.
    let keep = LABEL_BYTES.saturating_sub(1 + 8 + 1 + suffix.len());
    let mut cut = keep.min(consumer_id.len());
    while !consumer_id.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}~{hash:08x}.{suffix}", &consumer_id[..cut])
}

/// The header, as mapped.
#[repr(C, align(64))]
pub struct CountersHeader {
    /// [`MAGIC`]; ringproof's creator stores it last, with release.
    pub magic: AtomicU32,
    pub version: u32,
    /// Slots claimed so far (only ever grows; never above 62 from ringproof).
    pub slot_count: AtomicU32,
    pub slot_capacity: u32,
    pub slot_stride: u32,
    pub slots_offset: u32,
    pub reserved: [u8; 40],
}

/// One counter, as mapped.
#[repr(C, align(64))]
pub struct CounterSlot {
    /// Counter id (disruptor-mp declares it a plain `u32`; an atomic of the same layout here,
    /// written once before `flags` publishes it).
    pub id: AtomicU32,
    /// `IN_USE | PRODUCER | CONSUMER`; stored with release once `id` and `label` are written.
    pub flags: AtomicU32,
    /// The count; written only by the process that registered the slot.
    pub value: AtomicU64,
    /// UTF-8, NUL-padded; written only by the registering process before `flags`.
    pub label: core::cell::UnsafeCell<[u8; LABEL_BYTES]>,
}

#[cfg(not(loom))]
const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(size_of::<CountersHeader>() == HEADER_SIZE);
    assert!(align_of::<CountersHeader>() == 64);
    assert!(offset_of!(CountersHeader, magic) == header::MAGIC);
    assert!(offset_of!(CountersHeader, version) == header::VERSION);
    assert!(offset_of!(CountersHeader, slot_count) == header::SLOT_COUNT);
    assert!(offset_of!(CountersHeader, slot_capacity) == header::SLOT_CAPACITY);
    assert!(offset_of!(CountersHeader, slot_stride) == header::SLOT_STRIDE);
    assert!(offset_of!(CountersHeader, slots_offset) == header::SLOTS_OFFSET);
    assert!(offset_of!(CountersHeader, reserved) == header::RESERVED);
    assert!(size_of::<CounterSlot>() == SLOT_STRIDE as usize);
    assert!(align_of::<CounterSlot>() == 64);
    assert!(offset_of!(CounterSlot, id) == slot::ID);
    assert!(offset_of!(CounterSlot, flags) == slot::FLAGS);
    assert!(offset_of!(CounterSlot, value) == slot::VALUE);
    assert!(offset_of!(CounterSlot, label) == slot::LABEL);
    assert!(SLOTS_END == 4032);
    assert!(SLOTS_END <= SEGMENT_SIZE);
    assert!(MAX_CONSUMERS == 8);
};

/// Why bytes are not a counters segment. One variant per cause, checked in this order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountersLayoutError {
    #[error("counters segment is {len} bytes, shorter than the 4096 bytes of the counters layout: not a counters segment, or its creator died before sizing it (remove it; the producer creates it again)")]
    TooShort { len: usize },
    #[error("counters magic is zero: its creator has not finished writing it (retry shortly; if it stays so, the creator died: remove the segment)")]
    Initializing,
    #[error("bad counters magic {found:#010x}, expected {MAGIC:#010x} (\"MYC0\"): not a counters segment (wrong name or path?)")]
    BadMagic { found: u32 },
    #[error("counters layout version {found}, this build reads version 0: written by a newer disruptor-mp or ringproof (use a matching build, or remove the segment while the ring is stopped)")]
    Version { found: u32 },
    #[error("counters slot_capacity {found}, expected 62: not the counters layout this build reads (remove the segment while the ring is stopped)")]
    SlotCapacity { found: u32 },
    #[error("counters slot_stride {found}, expected 64: not the counters layout this build reads (remove the segment while the ring is stopped)")]
    SlotStride { found: u32 },
    #[error("counters slots_offset {found}, expected 64: not the counters layout this build reads (remove the segment while the ring is stopped)")]
    SlotsOffset { found: u32 },
    #[error("counters slot_count {found} exceeds the 62 slots: the segment is corrupt (remove it while the ring is stopped)")]
    SlotCount { found: u32 },
}

impl CountersLayoutError {
    /// The variant's name (`"BadMagic"`, ...), for tables and JSON.
    pub fn variant(&self) -> &'static str {
        match self {
            Self::TooShort { .. } => "TooShort",
            Self::Initializing => "Initializing",
            Self::BadMagic { .. } => "BadMagic",
            Self::Version { .. } => "Version",
            Self::SlotCapacity { .. } => "SlotCapacity",
            Self::SlotStride { .. } => "SlotStride",
            Self::SlotsOffset { .. } => "SlotsOffset",
            Self::SlotCount { .. } => "SlotCount",
        }
    }
}

/// A validated counters segment's state at validation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountersGeometry {
    /// Slots claimed when validated (it only grows).
    pub slot_count: u32,
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Checks a counters segment given its first bytes (at least 64 are needed; no more are read)
/// and the mapping's length. Never reads past `header`, never panics.
///
/// Order: length >= 4096 [`TooShort`](CountersLayoutError::TooShort), magic non-zero
/// [`Initializing`](CountersLayoutError::Initializing), magic "MYC0", version 0,
/// slot_capacity 62, slot_stride 64, slots_offset 64, slot_count <= 62. Nothing else in the
/// header is trusted: the slots are always at the fixed offsets these checks confirm.
pub fn validate(header: &[u8], len: usize) -> Result<CountersGeometry, CountersLayoutError> {
    if header.len() < HEADER_SIZE {
        return Err(CountersLayoutError::TooShort {
            len: len.min(header.len()),
        });
    }
    // The mapping's length decides, not how many header bytes the caller copied.
    if len < SEGMENT_SIZE {
        return Err(CountersLayoutError::TooShort { len });
    }
    let magic = u32_at(header, header::MAGIC);
    if magic == 0 {
        return Err(CountersLayoutError::Initializing);
    }
    if magic != MAGIC {
        return Err(CountersLayoutError::BadMagic { found: magic });
    }
    let version = u32_at(header, header::VERSION);
    if version != VERSION {
        return Err(CountersLayoutError::Version { found: version });
    }
    let capacity = u32_at(header, header::SLOT_CAPACITY);
    if capacity != SLOT_CAPACITY {
        return Err(CountersLayoutError::SlotCapacity { found: capacity });
    }
    let stride = u32_at(header, header::SLOT_STRIDE);
    if stride != SLOT_STRIDE {
        return Err(CountersLayoutError::SlotStride { found: stride });
    }
    let offset = u32_at(header, header::SLOTS_OFFSET);
    if offset != SLOTS_OFFSET {
        return Err(CountersLayoutError::SlotsOffset { found: offset });
    }
    let slot_count = u32_at(header, header::SLOT_COUNT);
    if slot_count > SLOT_CAPACITY {
        return Err(CountersLayoutError::SlotCount { found: slot_count });
    }
    Ok(CountersGeometry { slot_count })
}

/// Whether `bytes` start with the counters magic (how tools tell a counters segment from a
/// LayoutV1 one, whose magic starts "DSMP").
pub fn has_magic(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && u32_at(bytes, 0) == MAGIC
}

/// The label stored in a slot's 48 bytes: up to the first NUL, lossily decoded.
pub fn decode_label(raw: &[u8]) -> String {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..end]).into_owned()
}

/// Checks a label a writer is about to store; `Err` says why it cannot be.
pub fn check_label(label: &str) -> Result<(), &'static str> {
    if label.is_empty() {
        return Err("it is empty");
    }
    if label.len() > LABEL_BYTES {
        return Err("it is longer than 48 bytes");
    }
    if label.bytes().any(|b| b == 0) {
        return Err("it contains a NUL byte (labels are NUL-padded)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> Vec<u8> {
        let mut b = vec![0u8; SEGMENT_SIZE];
        b[0..4].copy_from_slice(b"MYC0");
        b[12..16].copy_from_slice(&62u32.to_le_bytes());
        b[16..20].copy_from_slice(&64u32.to_le_bytes());
        b[20..24].copy_from_slice(&64u32.to_le_bytes());
        b
    }

    #[test]
    fn magic_is_myc0() {
        assert_eq!(MAGIC, 0x3043_594D);
        assert!(has_magic(&fresh()));
    }

    #[test]
    fn each_cause_has_its_error() {
        let good = fresh();
        assert_eq!(
            validate(&good, good.len()),
            Ok(CountersGeometry { slot_count: 0 })
        );
        assert_eq!(
            validate(&good, 4095),
            Err(CountersLayoutError::TooShort { len: 4095 })
        );
        assert_eq!(
            validate(&good[..10], 4096),
            Err(CountersLayoutError::TooShort { len: 10 })
        );
        assert_eq!(
            validate(&good[..64], 100),
            Err(CountersLayoutError::TooShort { len: 100 })
        );
        let patch = |off: usize, v: u32| {
            let mut b = good.clone();
            b[off..off + 4].copy_from_slice(&v.to_le_bytes());
            validate(&b, b.len())
        };
        assert_eq!(patch(0, 0), Err(CountersLayoutError::Initializing));
        assert_eq!(patch(0, 7), Err(CountersLayoutError::BadMagic { found: 7 }));
        assert_eq!(patch(4, 1), Err(CountersLayoutError::Version { found: 1 }));
        assert_eq!(
            patch(12, 63),
            Err(CountersLayoutError::SlotCapacity { found: 63 })
        );
        assert_eq!(
            patch(16, 32),
            Err(CountersLayoutError::SlotStride { found: 32 })
        );
        assert_eq!(
            patch(20, 0),
            Err(CountersLayoutError::SlotsOffset { found: 0 })
        );
        assert_eq!(
            patch(8, 63),
            Err(CountersLayoutError::SlotCount { found: 63 })
        );
        assert_eq!(patch(8, 62), Ok(CountersGeometry { slot_count: 62 }));
    }

    #[test]
    fn consumer_labels_fit() {
        assert_eq!(
            consumer_label("c_0", "events_consumed"),
            "c_0.events_consumed"
        );
        let long = "x".repeat(48);
        for (_, suffix) in CONSUMER_COUNTERS {
            let l = consumer_label(&long, suffix);
            assert_eq!(l.len(), 48, "{l}");
            check_label(&l).unwrap();
            assert!(l.ends_with(suffix));
        }
        let other = format!("{}y", "x".repeat(47));
        assert_ne!(
            consumer_label(&long, "consumer_lag_max"),
            consumer_label(&other, "consumer_lag_max")
        );
        for (_, l) in PRODUCER_COUNTERS {
            check_label(l).unwrap();
        }
    }
}
