//! The counters segment (SPEC.md §12): one 4096-byte segment per ring, `N_counters` (shm) or
//! `N.counters` (files), in disruptor-mp's counters layout ([`crate::layout::counters`]), in
//! which the producer and each consumer publish monotonic counters that any process (for
//! example `ringproof stat`) reads without disturbing them.
//!
//! ```no_run
//! use ringproof::kit::counters::{register_consumer, register_producer, Counters};
//! use ringproof::RingName;
//! # fn main() -> Result<(), ringproof::kit::counters::CountersError> {
//! let name = RingName::shm("quotes").unwrap();
//! let counters = Counters::open_or_create(&name.counters())?;
//! let p = register_producer(&counters)?;
//! p.published.add(1);
//! let c = register_consumer(&counters, "c_0")?;
//! c.lag_max.record_max(17);
//! for v in counters.snapshot() {
//!     println!("{} = {}", v.label, v.value);
//! }
//! # Ok(()) }
//! ```
//!
//! **Capacity.** 62 slots. A producer takes 9 ([`ProducerCounters`]), each consumer 6
//! ([`ConsumerCounters`]): one producer and 8 consumers fit. Slots are never freed, but a
//! bundle registered again under the same labels (a restarted producer, a consumer restarting
//! under its id) reuses its slots, so restarts do not use the segment up. When it is full,
//! registration fails with [`CountersError::Full`] and the caller runs without counters.
//!
//! **Writes.** Every counter has exactly one writing process (the one that registered it; a
//! restart under the same id happens only once the previous holder is dead, which the registry
//! guarantees), so [`CounterHandle::add`] is a relaxed load and a relaxed store of the value:
//! no lock-prefixed read-modify-write on the hot path, only a plain `mov` on x86. Readers see
//! each value whole (an aligned 8-byte word) and at most slightly stale.

use crate::error::Error;
use crate::layout::counters::{
    check_label, consumer_label, decode_label, validate, CounterSlot, CountersHeader,
    CONSUMER_COUNTERS, FLAG_CONSUMER, FLAG_IN_USE, FLAG_PRODUCER, HEADER_SIZE, PRODUCER_COUNTERS,
    SEGMENT_SIZE, SLOTS_OFFSET, SLOT_CAPACITY, SLOT_STRIDE,
};
pub use crate::layout::counters::{ids, CountersLayoutError, MAX_CONSUMERS};
use crate::layout::image::counters_image;
use crate::names::SegmentPath;
use crate::segment::RawSegment;
use crate::sync::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// What can go wrong creating, opening or registering in a counters segment.
#[derive(Debug, thiserror::Error)]
pub enum CountersError {
    /// Creating, opening or mapping the segment failed (missing, already exists, permissions).
    #[error(transparent)]
    Segment(#[from] Error),
    /// The segment's bytes are not a counters segment.
    #[error("{name}: {source}")]
    Layout {
        name: String,
        source: CountersLayoutError,
    },
    /// Every slot is taken.
    #[error("counters segment {name} is full: all {capacity} slots are taken (a producer takes 9 and each consumer 6, so 8 consumers fit); run without counters, or remove the segment while the ring is stopped")]
    Full { name: String, capacity: u32 },
    /// A label that cannot be stored.
    #[error("counter label {label:?} cannot be stored: {why}; labels are 1 to 48 bytes of UTF-8 without NUL")]
    Label { label: String, why: &'static str },
}

impl CountersError {
    /// Whether retrying later may succeed: the segment does not exist yet, or its creator is
    /// still writing it.
    pub fn is_transient(&self) -> bool {
        match self {
            CountersError::Segment(e) => e.is_transient(),
            CountersError::Layout { source, .. } => {
                matches!(
                    source,
                    CountersLayoutError::Initializing | CountersLayoutError::TooShort { .. }
                )
            }
            _ => false,
        }
    }

    /// Whether the segment does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, CountersError::Segment(Error::NotFound { .. }))
    }
}

/// Result alias of this module.
pub type Result<T, E = CountersError> = std::result::Result<T, E>;

/// A mapped counters segment. Cheap to clone (the mapping is shared); unmapped when the last
/// clone and the last [`CounterHandle`] are gone; never unlinked by drop (see [`Counters::unlink`]).
#[derive(Debug, Clone)]
pub struct Counters {
    seg: Arc<RawSegment>,
}

/// One published counter, as read by [`Counters::snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterValue {
    /// Slot index (0..62).
    pub slot: usize,
    /// Counter id ([`crate::layout::counters::ids`]).
    pub id: u32,
    /// `IN_USE | PRODUCER | CONSUMER` bits.
    pub flags: u32,
    pub label: String,
    pub value: u64,
}

impl CounterValue {
    /// "producer", "consumer", or "other" from the role flags.
    pub fn role(&self) -> &'static str {
        if self.flags & FLAG_PRODUCER != 0 {
            "producer"
        } else if self.flags & FLAG_CONSUMER != 0 {
            "consumer"
        } else {
            "other"
        }
    }
}

impl Counters {
    /// Creates a fresh counters segment (every slot free) at `path`, which must not exist
    /// (`AlreadyExists` otherwise; see [`open_or_create`](Self::open_or_create)). Crash-safe:
    /// shm is created exclusively, initialised, and its magic stored last with release; a file
    /// is built under a temporary name and linked into place.
    pub fn create(path: &SegmentPath) -> Result<Counters> {
        // The bytes come from the same builder the golden layouts are checked against.
        let image = counters_image(&[]).expect("a fresh counters image always builds");
        let seg = RawSegment::create(path, "counters segment", SEGMENT_SIZE, |base| {
            // SAFETY: the mapping is SEGMENT_SIZE bytes, zero-filled, and invalid to readers
            // until the magic below is stored.
            unsafe {
                std::ptr::copy_nonoverlapping(image.as_ptr().add(4), base.add(4), SEGMENT_SIZE - 4);
                let magic = u32::from_le_bytes(image[..4].try_into().expect("4 bytes"));
                (*(base as *const AtomicU32)).store(magic, Ordering::Release);
            }
        })?;
        Ok(Counters { seg: Arc::new(seg) })
    }

    /// Opens and validates an existing counters segment (written by ringproof or
    /// disruptor-mp). Maps its first 4096 bytes; reads only them.
    pub fn open(path: &SegmentPath) -> Result<Counters> {
        let seg = RawSegment::open(path, "counters segment", SEGMENT_SIZE)?;
        let name = path.to_string();
        let len = usize::try_from(seg.file_len()).unwrap_or(usize::MAX);
        if seg.len() < SEGMENT_SIZE {
            return Err(CountersError::Layout {
                name,
                source: CountersLayoutError::TooShort { len },
            });
        }
        // Magic first, with acquire: ringproof's creator stores it last.
        // SAFETY: 4096 bytes are mapped, page-aligned.
        let magic = unsafe { &*(seg.base() as *const AtomicU32) }.load(Ordering::Acquire);
        let mut header = [0u8; HEADER_SIZE];
        // SAFETY: 64 bytes are mapped; racing writers touch only slot_count, an aligned word.
        unsafe { std::ptr::copy_nonoverlapping(seg.base(), header.as_mut_ptr(), HEADER_SIZE) };
        header[..4].copy_from_slice(&magic.to_le_bytes());
        validate(&header, len).map_err(|source| CountersError::Layout { name, source })?;
        Ok(Counters { seg: Arc::new(seg) })
    }

    /// Opens the segment at `path`, creating it if it does not exist (a producer restarting
    /// after a crash finds its predecessor's segment and keeps counting in it).
    pub fn open_or_create(path: &SegmentPath) -> Result<Counters> {
        match Counters::create(path) {
            Err(CountersError::Segment(Error::AlreadyExists { .. })) => Counters::open(path),
            other => other,
        }
    }

    /// Removes the segment's name (mappings stay valid). Missing is not an error.
    pub fn unlink(path: &SegmentPath) -> Result<()> {
        Ok(crate::segment::unlink(path)?)
    }

    fn header(&self) -> &CountersHeader {
        // SAFETY: validated or created: 4096 bytes mapped, page-aligned.
        unsafe { &*(self.seg.base() as *const CountersHeader) }
    }

    fn slot(&self, i: usize) -> &CounterSlot {
        assert!(i < SLOT_CAPACITY as usize);
        // SAFETY: i < 62, so the slot lies within the first 4032 bytes; slots_offset and
        // slot_stride were checked to be 64 (the constants used here).
        unsafe {
            &*(self
                .seg
                .base()
                .add(SLOTS_OFFSET as usize + i * SLOT_STRIDE as usize)
                as *const CounterSlot)
        }
    }

    /// Slots claimed so far (at most 62).
    pub fn slot_count(&self) -> u32 {
        self.header()
            .slot_count
            .load(Ordering::Acquire)
            .min(SLOT_CAPACITY)
    }

    /// Where it lives.
    pub fn path(&self) -> &SegmentPath {
        self.seg.path()
    }

    /// The label of a published slot.
    fn label(&self, i: usize) -> String {
        // SAFETY: called only for IN_USE slots (acquire-loaded), whose label is final.
        let raw = unsafe { *self.slot(i).label.get() };
        decode_label(&raw)
    }

    /// Indices of the published slots.
    fn published(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        (0..self.slot_count() as usize).filter_map(|i| {
            let flags = self.slot(i).flags.load(Ordering::Acquire);
            (flags & FLAG_IN_USE != 0).then_some((i, flags))
        })
    }

    /// Every published counter (IN_USE slots only), in slot order.
    pub fn snapshot(&self) -> Vec<CounterValue> {
        self.published()
            .map(|(i, flags)| {
                let s = self.slot(i);
                CounterValue {
                    slot: i,
                    id: s.id.load(Ordering::Relaxed),
                    flags,
                    label: self.label(i),
                    value: s.value.load(Ordering::Relaxed),
                }
            })
            .collect()
    }

    /// The published slot holding counter `id` labelled `label`, if any.
    pub fn find(&self, id: u32, label: &str) -> Option<usize> {
        self.published()
            .map(|(i, _)| i)
            .find(|&i| self.slot(i).id.load(Ordering::Relaxed) == id && self.label(i) == label)
    }

    fn handle(&self, i: usize) -> CounterHandle {
        let s = self.slot(i);
        CounterHandle {
            value: &s.value as *const AtomicU64,
            slot: i,
            id: s.id.load(Ordering::Relaxed),
            _seg: Arc::clone(&self.seg),
        }
    }

    /// Claims a new slot for counter `id` with `label` and role `flags` (`FLAG_PRODUCER`,
    /// `FLAG_CONSUMER`; `FLAG_IN_USE` is added), value 0. Fails with [`CountersError::Full`]
    /// when all 62 slots are taken, [`CountersError::Label`] for a label that cannot be stored.
    ///
    /// The claim increments `slot_count` with a compare-and-swap that never passes 62 (so a
    /// reader validating the segment concurrently never sees it above capacity; disruptor-mp's
    /// `fetch_add` and roll-back would, for a moment). Then `id`, `label` and `value` are
    /// written, and `flags` stored with release: the slot is published. A process that dies
    /// between the claim and the publication leaves the slot unpublished for good.
    pub fn register(&self, id: u32, label: &str, flags: u32) -> Result<CounterHandle> {
        check_label(label).map_err(|why| CountersError::Label {
            label: label.to_owned(),
            why,
        })?;
        let claimed =
            self.header()
                .slot_count
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < SLOT_CAPACITY).then_some(n + 1)
                });
        let i = match claimed {
            Ok(n) => n as usize,
            Err(_) => {
                return Err(CountersError::Full {
                    name: self.path().to_string(),
                    capacity: SLOT_CAPACITY,
                })
            }
        };
        let s = self.slot(i);
        s.id.store(id, Ordering::Relaxed);
        // SAFETY: the claim above gave this process the slot; nobody reads its label before
        // the release store of `flags` below.
        unsafe {
            let bytes = &mut *s.label.get();
            bytes.fill(0);
            bytes[..label.len()].copy_from_slice(label.as_bytes());
        }
        s.value.store(0, Ordering::Relaxed);
        s.flags.store(flags | FLAG_IN_USE, Ordering::Release);
        Ok(self.handle(i))
    }

    /// The published slot of (`id`, `label`) if there is one (its value is kept: counters are
    /// cumulative across restarts), else a new one as [`register`](Self::register).
    pub fn register_or_reuse(&self, id: u32, label: &str, flags: u32) -> Result<CounterHandle> {
        match self.find(id, label) {
            Some(i) => Ok(self.handle(i)),
            None => self.register(id, label, flags),
        }
    }

    /// Registers (or reuses) every counter of a bundle, after checking that the missing ones
    /// fit, so that a full segment is normally reported before any slot is claimed.
    fn bundle(&self, counters: &[(u32, String)], flags: u32) -> Result<Vec<CounterHandle>> {
        for (_, label) in counters {
            check_label(label).map_err(|why| CountersError::Label {
                label: label.clone(),
                why,
            })?;
        }
        let missing = counters
            .iter()
            .filter(|(id, label)| self.find(*id, label).is_none())
            .count();
        if missing > (SLOT_CAPACITY - self.slot_count()) as usize {
            return Err(CountersError::Full {
                name: self.path().to_string(),
                capacity: SLOT_CAPACITY,
            });
        }
        counters
            .iter()
            .map(|(id, label)| self.register_or_reuse(*id, label, flags))
            .collect()
    }
}

/// The writer's handle on one counter. Only the process that registered the counter writes
/// it, and only through this handle, which is `Send` but neither `Sync` nor `Clone`: one
/// thread writes it at a time, which is what makes the plain store in [`add`](Self::add)
/// correct. Keeps the mapping alive.
pub struct CounterHandle {
    value: *const AtomicU64,
    slot: usize,
    id: u32,
    _seg: Arc<RawSegment>,
}

// SAFETY: the pointer is into the mapping `_seg` keeps alive; moving the single writer to
// another thread keeps it single. Not `Sync` (raw pointer): two threads cannot share it.
unsafe impl Send for CounterHandle {}

impl std::fmt::Debug for CounterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CounterHandle")
            .field("slot", &self.slot)
            .field("id", &self.id)
            .field("value", &self.get())
            .finish()
    }
}

impl CounterHandle {
    #[inline(always)]
    fn cell(&self) -> &AtomicU64 {
        // SAFETY: points into the mapping `_seg` keeps alive; 8-aligned (slot offset + 8).
        unsafe { &*self.value }
    }

    /// Adds `n` (wrapping). A relaxed load and a relaxed store, not a `fetch_add`: this
    /// process is the counter's only writer (see the module docs), so no update is lost and
    /// the hot path pays no lock-prefixed instruction.
    #[inline(always)]
    pub fn add(&self, n: u64) {
        let v = self.cell();
        v.store(v.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    /// Adds 1.
    #[inline(always)]
    pub fn increment(&self) {
        self.add(1);
    }

    /// Raises the value to `x` if `x` is larger (a high-water mark), with the same single-writer
    /// plain store as [`add`](Self::add).
    #[inline(always)]
    pub fn record_max(&self, x: u64) {
        let v = self.cell();
        if x > v.load(Ordering::Relaxed) {
            v.store(x, Ordering::Relaxed);
        }
    }

    /// The current value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.cell().load(Ordering::Relaxed)
    }

    /// The slot it occupies.
    pub fn slot(&self) -> usize {
        self.slot
    }

    /// Its counter id.
    pub fn id(&self) -> u32 {
        self.id
    }
}

/// The producer's counters (9 slots, labels as in [`PRODUCER_COUNTERS`], role PRODUCER).
#[derive(Debug)]
pub struct ProducerCounters {
    /// 0x10 `events_published`.
    pub published: CounterHandle,
    /// 0x11 `events_published_bytes`.
    pub published_bytes: CounterHandle,
    /// 0x12 `producer_full_events`: publishes that found the ring full.
    pub full: CounterHandle,
    /// 0x13 `producer_park_count`: times the producer went to sleep waiting for room.
    pub park: CounterHandle,
    /// 0x14 `producer_unpark_count`: times it woke.
    pub unpark: CounterHandle,
    /// 0x40 `liveness_alerts` (ringproof).
    pub liveness_alerts: CounterHandle,
    /// 0x41 `evictions` (ringproof).
    pub evictions: CounterHandle,
    /// 0x42 `dead_peers_detected` (ringproof).
    pub dead_peers: CounterHandle,
    /// 0x43 `producer_restarts` (ringproof).
    pub restarts: CounterHandle,
}

/// One consumer's counters (6 slots, labels `"{id}.{name}"` as in [`CONSUMER_COUNTERS`] and
/// [`consumer_label`], role CONSUMER).
#[derive(Debug)]
pub struct ConsumerCounters {
    /// 0x20 `events_consumed`.
    pub consumed: CounterHandle,
    /// 0x21 `events_consumed_bytes`.
    pub consumed_bytes: CounterHandle,
    /// 0x22 `consumer_empty_spins`: polls that found nothing.
    pub empty_polls: CounterHandle,
    /// 0x23 `consumer_park_count`.
    pub park: CounterHandle,
    /// 0x24 `consumer_unpark_count`.
    pub unpark: CounterHandle,
    /// 0x25 `consumer_lag_max`: high-water mark of the producer cursor minus this cursor.
    pub lag_max: CounterHandle,
}

/// Registers the producer's 9 counters, reusing the slots of an earlier producer of the same
/// segment (a restart). [`CountersError::Full`] when they do not fit: run without counters.
pub fn register_producer(counters: &Counters) -> Result<ProducerCounters> {
    let wanted: Vec<(u32, String)> = PRODUCER_COUNTERS
        .iter()
        .map(|&(id, l)| (id, l.to_owned()))
        .collect();
    let mut h = counters.bundle(&wanted, FLAG_PRODUCER)?.into_iter();
    let mut next = move || h.next().expect("one handle per producer counter");
    Ok(ProducerCounters {
        published: next(),
        published_bytes: next(),
        full: next(),
        park: next(),
        unpark: next(),
        liveness_alerts: next(),
        evictions: next(),
        dead_peers: next(),
        restarts: next(),
    })
}

/// Registers consumer `consumer_id`'s 6 counters, reusing its slots if it registered before
/// (a restart under the same id). [`CountersError::Full`] when they do not fit (more than 8
/// consumers next to a producer): run without counters.
pub fn register_consumer(counters: &Counters, consumer_id: &str) -> Result<ConsumerCounters> {
    let wanted: Vec<(u32, String)> = CONSUMER_COUNTERS
        .iter()
        .map(|&(id, s)| (id, consumer_label(consumer_id, s)))
        .collect();
    let mut h = counters.bundle(&wanted, FLAG_CONSUMER)?.into_iter();
    let mut next = move || h.next().expect("one handle per consumer counter");
    Ok(ConsumerCounters {
        consumed: next(),
        consumed_bytes: next(),
        empty_polls: next(),
        park: next(),
        unpark: next(),
        lag_max: next(),
    })
}
