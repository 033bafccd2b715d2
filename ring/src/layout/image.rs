//! Pure builders of the exact bytes each segment kind holds the moment it becomes valid.
//!
//! The creators ([`crate::cursor::Cursor::create`], [`crate::registry::Registry::create`])
//! initialise their segments from these images, and the golden tests regenerate the committed
//! `golden-layouts/` files from them, so a layout change cannot slip past the goldens.
//!
//! | kind     | [`SegmentImage::bytes`] holds              | the rest of the segment |
//! |----------|--------------------------------------------|-------------------------|
//! | ring     | the header region `0..payload_offset`      | zero (the slots)        |
//! | cursor   | all 128 bytes                              | (none)                  |
//! | registry | all `64 + 128 * (slots + 1)` bytes         | (none)                  |
//! | counters | all 4096 bytes ([`counters_image`])        | (none)                  |
//!
//! Nothing here touches shared memory: an image is a `Vec<u8>` plus the header and geometry
//! it encodes. Writing it follows SPEC.md §2.1: payload first, header after, magic last
//! ([`crate::segment::Segment::create`] does that with [`SegmentImage::payload_init`]).

use super::cursor::{CURSOR_ALIGNMENT, CURSOR_CELL_OFFSET, CURSOR_PAYLOAD_SIZE};
use super::header::MIN_ALIGNMENT;
use super::registry::{owner_word, REGISTRY_ALIGNMENT, RING_OPEN, SLOT_SIZE};
use super::{fresh_header, Geometry, LayoutHeader, SegmentKind, HEADER_SIZE, MAX_ALIGNMENT};

/// Why an image cannot be built. Every message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("ring capacity {0} is not a power of two of at least 1: use 1, 2, 4, 8, ...")]
    Capacity(u64),
    #[error("ring element size 0: events must be at least 1 byte")]
    ZeroElement,
    #[error(
        "alignment {0} is not a power of two of at most 4096: pass the event type's alignment"
    )]
    Alignment(usize),
    #[error("element size {element_size} is not a multiple of its alignment {alignment}: pad the event type")]
    Misaligned { element_size: u64, alignment: usize },
    #[error("a registry needs at least one consumer slot")]
    ZeroSlots,
    #[error("{what} overflows the address space: use a smaller capacity or element size")]
    Overflow { what: &'static str },
    #[error("{count} counters do not fit the counters segment's 62 slots: register fewer")]
    CountersFull { count: usize },
    #[error("counter label {label:?} cannot be stored: {why}")]
    CounterLabel { label: String, why: &'static str },
    #[error("ring element size {0} exceeds the 16 MiB bound of a ring slot (SPEC.md §2.2): pass larger data by reference")]
    ElementTooLarge(u64),
}

/// The initial bytes of one segment, with the header and geometry they encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentImage {
    header: LayoutHeader,
    geometry: Geometry,
    bytes: Vec<u8>,
}

impl SegmentImage {
    /// The header (bytes `0..56`).
    pub fn header(&self) -> &LayoutHeader {
        &self.header
    }

    /// The segment's shape; `geometry().total_len()` is the exact segment size.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// The segment's first bytes (see the module table); every later byte is zero.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The payload's initial bytes from the payload offset on (empty for a ring); the rest of
    /// the payload is zero, as a freshly sized shm object or file already is.
    pub fn payload_init(&self) -> &[u8] {
        &self.bytes[self.geometry.payload_offset..]
    }

    /// Whether [`bytes`](Self::bytes) is the whole segment.
    pub fn is_whole(&self) -> bool {
        self.bytes.len() as u64 == self.geometry.total_len()
    }

    /// Copies [`payload_init`](Self::payload_init) to `payload`.
    ///
    /// # Safety
    /// `payload` must point to at least `payload_init().len()` writable bytes that no other
    /// thread or process reads or writes yet (a segment before its header is published).
    pub unsafe fn write_payload(&self, payload: *mut u8) {
        let init = self.payload_init();
        // SAFETY: the caller guarantees `init.len()` exclusive writable bytes at `payload`.
        unsafe { core::ptr::copy_nonoverlapping(init.as_ptr(), payload, init.len()) };
    }
}

/// Builds an image of `len` bytes starting with `header`, then lets `fill` write the payload.
fn image(
    header: LayoutHeader,
    geometry: Geometry,
    len: usize,
    fill: impl FnOnce(&mut [u8]),
) -> SegmentImage {
    let mut bytes = vec![0u8; len];
    bytes[..HEADER_SIZE].copy_from_slice(&header.to_bytes());
    fill(&mut bytes[geometry.payload_offset..]);
    SegmentImage {
        header,
        geometry,
        bytes,
    }
}

fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// The header region of a fresh ring of `capacity` events of `element_size` bytes, whose event
/// type has alignment `event_alignment` (the header records `max(event_alignment, 8)`).
pub fn ring_image(
    element_size: u64,
    capacity: u64,
    event_alignment: usize,
) -> Result<SegmentImage, ImageError> {
    if capacity == 0 || !capacity.is_power_of_two() {
        return Err(ImageError::Capacity(capacity));
    }
    if element_size == 0 {
        return Err(ImageError::ZeroElement);
    }
    if element_size > super::MAX_ELEMENT_SIZE {
        return Err(ImageError::ElementTooLarge(element_size));
    }
    if !event_alignment.is_power_of_two() || event_alignment > MAX_ALIGNMENT {
        return Err(ImageError::Alignment(event_alignment));
    }
    let alignment = event_alignment.max(MIN_ALIGNMENT);
    if alignment > MIN_ALIGNMENT && element_size % alignment as u64 != 0 {
        return Err(ImageError::Misaligned {
            element_size,
            alignment,
        });
    }
    let (header, geometry) = fresh_header(SegmentKind::Ring, alignment, element_size, capacity)
        .ok_or(ImageError::Overflow { what: "ring size" })?;
    Ok(image(header, geometry, geometry.payload_offset, |_| {}))
}

/// Offsets inside the cursor cell (payload offset + …), SPEC.md §5.
pub mod cell {
    /// i64 sequence.
    pub const VALUE: usize = 0;
    /// u32 sleepers on the low word of `value`.
    pub const WAITERS: usize = 8;
    /// u32 join-completed flag of a consumer cursor.
    pub const JOINED: usize = 12;
    /// u64 registry epoch.
    pub const EPOCH: usize = 16;
}

/// A fresh cursor segment holding `value`, stamped with registry `epoch` (0 = none).
pub fn cursor_image(value: i64, epoch: u64) -> SegmentImage {
    let (header, geometry) = fresh_header(
        SegmentKind::Cursor,
        CURSOR_ALIGNMENT,
        CURSOR_PAYLOAD_SIZE as u64,
        1,
    )
    .expect("the cursor's fixed sizes cannot overflow");
    image(
        header,
        geometry,
        CURSOR_CELL_OFFSET + CURSOR_PAYLOAD_SIZE,
        |p| {
            put_u64(p, cell::VALUE, value as u64);
            put_u64(p, cell::EPOCH, epoch);
        },
    )
}

/// Offsets inside the registry control block (payload offset + …), SPEC.md §6.1.
pub mod control {
    pub const EPOCH: usize = 0;
    pub const GENERATION: usize = 8;
    pub const RING_STATE: usize = 16;
    pub const FINAL_SEQUENCE: usize = 24;
    pub const PRODUCER_OWNER: usize = 32;
    pub const PRODUCER_START: usize = 40;
    pub const PRODUCER_BEAT: usize = 48;
    pub const PRODUCER_STARTS: usize = 56;
    pub const PRODUCER_PID_NS: usize = 64;
    pub const CONSUMERS_PARKED: usize = 72;
}

/// Offsets inside a registry slot (payload offset + 128 * (1 + i) + …), SPEC.md §6.2.
pub mod slot {
    pub const STATE: usize = 0;
    pub const ROLE: usize = 4;
    pub const OWNER: usize = 8;
    pub const START_TIME: usize = 16;
    pub const HEARTBEAT: usize = 24;
    pub const INCARNATION: usize = 32;
    pub const ID_LEN: usize = 40;
    pub const PARKED: usize = 44;
    pub const ID: usize = 48;
    pub const PID_NS: usize = 96;
}

#[cfg(not(loom))]
const _: () = {
    use super::cursor::CursorCell;
    use super::registry::{Control, Slot};
    use core::mem::offset_of;
    assert!(offset_of!(CursorCell, value) == cell::VALUE);
    assert!(offset_of!(CursorCell, waiters) == cell::WAITERS);
    assert!(offset_of!(CursorCell, joined) == cell::JOINED);
    assert!(offset_of!(CursorCell, epoch) == cell::EPOCH);
    assert!(offset_of!(Control, epoch) == control::EPOCH);
    assert!(offset_of!(Control, generation) == control::GENERATION);
    assert!(offset_of!(Control, ring_state) == control::RING_STATE);
    assert!(offset_of!(Control, final_sequence) == control::FINAL_SEQUENCE);
    assert!(offset_of!(Control, producer_owner) == control::PRODUCER_OWNER);
    assert!(offset_of!(Control, producer_start_time) == control::PRODUCER_START);
    assert!(offset_of!(Control, producer_heartbeat) == control::PRODUCER_BEAT);
    assert!(offset_of!(Control, producer_starts) == control::PRODUCER_STARTS);
    assert!(offset_of!(Control, producer_pid_ns) == control::PRODUCER_PID_NS);
    assert!(offset_of!(Control, consumers_parked) == control::CONSUMERS_PARKED);
    assert!(offset_of!(Slot, pid_ns) == slot::PID_NS);
    assert!(offset_of!(Slot, state) == slot::STATE);
    assert!(offset_of!(Slot, role) == slot::ROLE);
    assert!(offset_of!(Slot, owner) == slot::OWNER);
    assert!(offset_of!(Slot, start_time) == slot::START_TIME);
    assert!(offset_of!(Slot, heartbeat) == slot::HEARTBEAT);
    assert!(offset_of!(Slot, incarnation) == slot::INCARNATION);
    assert!(offset_of!(Slot, id_len) == slot::ID_LEN);
    assert!(offset_of!(Slot, parked) == slot::PARKED);
    assert!(offset_of!(Slot, id) == slot::ID);
};

/// What a producer stamps into a fresh registry (SPEC.md §6 "Initial state").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryInit {
    /// Number of consumer slots (at least 1).
    pub slots: usize,
    /// This incarnation's epoch (random, non-zero).
    pub epoch: u64,
    /// The producer's pid.
    pub producer_pid: u32,
    /// The producer's start time (clock ticks since boot, `/proc/PID/stat` field 22).
    pub producer_start_time: u64,
    /// `CLOCK_BOOTTIME` nanoseconds of the producer's first heartbeat.
    pub producer_heartbeat_ns: u64,
    /// Inode of the producer's pid namespace.
    pub producer_pid_ns: u64,
}

/// A fresh registry: every slot FREE, ring OPEN, `final_sequence = -1`, the producer's owner
/// word, start time and heartbeat, `producer_starts = 1`.
pub fn registry_image(init: &RegistryInit) -> Result<SegmentImage, ImageError> {
    if init.slots == 0 {
        return Err(ImageError::ZeroSlots);
    }
    let overflow = ImageError::Overflow {
        what: "registry size",
    };
    let (header, geometry) = fresh_header(
        SegmentKind::Registry,
        REGISTRY_ALIGNMENT,
        SLOT_SIZE as u64,
        init.slots as u64,
    )
    .ok_or(overflow.clone())?;
    let len = usize::try_from(geometry.total_len()).map_err(|_| overflow)?;
    Ok(image(header, geometry, len, |p| {
        put_u64(p, control::EPOCH, init.epoch);
        put_u32(p, control::RING_STATE, RING_OPEN);
        put_u64(p, control::FINAL_SEQUENCE, -1i64 as u64);
        put_u64(
            p,
            control::PRODUCER_OWNER,
            owner_word(init.producer_pid, init.producer_start_time),
        );
        put_u64(p, control::PRODUCER_START, init.producer_start_time);
        put_u64(p, control::PRODUCER_BEAT, init.producer_heartbeat_ns);
        put_u64(p, control::PRODUCER_STARTS, 1);
        put_u64(p, control::PRODUCER_PID_NS, init.producer_pid_ns);
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{validate, Expect};

    #[test]
    fn ring_image_is_the_header_region() {
        let img = ring_image(24, 1024, 8).unwrap();
        assert_eq!(img.bytes().len(), 56);
        assert_eq!(img.geometry().total_len(), 56 + 24 * 1024);
        assert!(img.payload_init().is_empty());
        let img = ring_image(128, 2, 128).unwrap();
        assert_eq!(img.bytes().len(), 128);
        assert!(img.bytes()[56..].iter().all(|&b| b == 0));
        assert_eq!(ring_image(24, 3, 8), Err(ImageError::Capacity(3)));
        assert_eq!(ring_image(0, 2, 8), Err(ImageError::ZeroElement));
        assert_eq!(ring_image(8, 2, 3), Err(ImageError::Alignment(3)));
        assert_eq!(
            ring_image(24, 2, 16),
            Err(ImageError::Misaligned {
                element_size: 24,
                alignment: 16
            })
        );
        assert_eq!(
            ring_image(u64::MAX, 2, 8),
            Err(ImageError::ElementTooLarge(u64::MAX))
        );
        assert_eq!(
            ring_image(1 << 24, 1 << 62, 8),
            Err(ImageError::Overflow { what: "ring size" })
        );
    }

    #[test]
    fn cursor_and_registry_images_validate() {
        let c = cursor_image(-1, 7);
        assert!(c.is_whole());
        assert_eq!(&c.bytes()[64..72], &(-1i64).to_le_bytes());
        assert_eq!(&c.bytes()[80..88], &7u64.to_le_bytes());
        validate(c.bytes(), &Expect::kind(SegmentKind::Cursor)).unwrap();
        let init = RegistryInit {
            slots: 2,
            epoch: 9,
            producer_pid: 5,
            producer_start_time: 6,
            producer_heartbeat_ns: 7,
            producer_pid_ns: 8,
        };
        let r = registry_image(&init).unwrap();
        assert_eq!(r.bytes().len(), 64 + 128 * 3);
        validate(r.bytes(), &Expect::kind(SegmentKind::Registry)).unwrap();
        assert_eq!(
            registry_image(&RegistryInit { slots: 0, ..init }),
            Err(ImageError::ZeroSlots)
        );
    }

    #[test]
    fn counters_images_validate() {
        use crate::layout::counters::{validate as validate_counters, CountersGeometry};
        let fresh = counters_image(&[]).unwrap();
        assert_eq!(fresh.len(), 4096);
        assert_eq!(&fresh[..4], b"MYC0");
        assert_eq!(
            validate_counters(&fresh, fresh.len()),
            Ok(CountersGeometry { slot_count: 0 })
        );
        let full = counters_image(&bundle_counters(true, &["c_0"])).unwrap();
        assert_eq!(
            validate_counters(&full, full.len()),
            Ok(CountersGeometry { slot_count: 15 })
        );
        assert_eq!(&full[64..68], &0x10u32.to_le_bytes());
        assert_eq!(&full[68..72], &3u32.to_le_bytes());
        assert_eq!(&full[80..96], b"events_published");
        let too_many = bundle_counters(true, &["a", "b", "c", "d", "e", "f", "g", "h", "i"]);
        assert_eq!(
            counters_image(&too_many),
            Err(ImageError::CountersFull { count: 63 })
        );
        let bad = [CounterInit {
            id: 1,
            flags: 0,
            label: String::new(),
            value: 0,
        }];
        assert!(matches!(
            counters_image(&bad),
            Err(ImageError::CounterLabel { .. })
        ));
    }
}

/// One registered counter of a [`counters_image`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterInit {
    pub id: u32,
    /// Role flags (`FLAG_PRODUCER` / `FLAG_CONSUMER`); `FLAG_IN_USE` is added.
    pub flags: u32,
    pub label: String,
    pub value: u64,
}

/// A counters segment (SPEC.md §12, disruptor-mp's "MYC0" layout) with `counters` registered in
/// slots `0..counters.len()`, in order: all 4096 bytes. `counters_image(&[])` is a fresh one.
pub fn counters_image(counters: &[CounterInit]) -> Result<Vec<u8>, ImageError> {
    use super::counters::{self as c, header as h, slot as s};
    if counters.len() > c::SLOT_CAPACITY as usize {
        return Err(ImageError::CountersFull {
            count: counters.len(),
        });
    }
    let mut b = vec![0u8; c::SEGMENT_SIZE];
    put_u32(&mut b, h::MAGIC, c::MAGIC);
    put_u32(&mut b, h::VERSION, c::VERSION);
    put_u32(&mut b, h::SLOT_COUNT, counters.len() as u32);
    put_u32(&mut b, h::SLOT_CAPACITY, c::SLOT_CAPACITY);
    put_u32(&mut b, h::SLOT_STRIDE, c::SLOT_STRIDE);
    put_u32(&mut b, h::SLOTS_OFFSET, c::SLOTS_OFFSET);
    for (i, init) in counters.iter().enumerate() {
        c::check_label(&init.label).map_err(|why| ImageError::CounterLabel {
            label: init.label.clone(),
            why,
        })?;
        let off = c::SLOTS_OFFSET as usize + i * c::SLOT_STRIDE as usize;
        put_u32(&mut b, off + s::ID, init.id);
        put_u32(&mut b, off + s::FLAGS, init.flags | c::FLAG_IN_USE);
        put_u64(&mut b, off + s::VALUE, init.value);
        b[off + s::LABEL..off + s::LABEL + init.label.len()].copy_from_slice(init.label.as_bytes());
    }
    Ok(b)
}

/// The counters a producer registers ([`crate::counters::ProducerCounters`]) followed by those
/// of each consumer in `consumers` ([`crate::counters::ConsumerCounters`]), values 0.
pub fn bundle_counters(producer: bool, consumers: &[&str]) -> Vec<CounterInit> {
    use super::counters::{
        consumer_label, CONSUMER_COUNTERS, FLAG_CONSUMER, FLAG_PRODUCER, PRODUCER_COUNTERS,
    };
    let mut v = Vec::new();
    if producer {
        v.extend(PRODUCER_COUNTERS.iter().map(|&(id, label)| CounterInit {
            id,
            flags: FLAG_PRODUCER,
            label: label.to_owned(),
            value: 0,
        }));
    }
    for c in consumers {
        v.extend(CONSUMER_COUNTERS.iter().map(|&(id, suffix)| CounterInit {
            id,
            flags: FLAG_CONSUMER,
            label: consumer_label(c, suffix),
            value: 0,
        }));
    }
    v
}
