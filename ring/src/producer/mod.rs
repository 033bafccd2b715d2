//! The single producer: claims slots, writes them, publishes with one release store per call.
//!
//! One concept per file: `config` and `builder` (what a producer is made from: the builder fills
//! in a plain config value, and creation reads only that), `lifecycle` (create, restart, wait
//! for consumers, shutdown), `publish` (the hot path), `gating` (the cached limit, the rescan,
//! waiting for room, liveness verdicts on gating consumers) and `typed` (the typed facade). The
//! memory orderings they rely on are [`crate::protocol`]'s.

mod builder;
mod config;
mod gating;
mod lifecycle;
mod publish;
mod typed;

pub use builder::ProducerBuilder;
pub use config::{Coordination, ForeignDiscovery};
pub use publish::RawClaim;
pub use typed::{Claim, Producer};

use crate::counters::ProducerCounters;
use crate::cursor::Cursor;
use crate::liveness::Required;
use crate::names::RingName;
use crate::registry::Registry;
use crate::segment::Segment;
use crate::sync::AtomicU32;
use crate::wait::WaitStrategy;
use std::time::Instant;

/// A gating consumer cursor the producer has mapped.
#[derive(Debug)]
struct Gate {
    /// Registry slot and incarnation, or `None` for a foreign (discovered) cursor.
    slot: Option<(usize, u64)>,
    id: String,
    cursor: Cursor,
}

/// The producer of a ring of raw `element_size`-byte events.
#[derive(Debug)]
pub struct RawProducer {
    name: RingName,
    _ring: Segment,
    cursor: Cursor,
    registry: Registry,
    slots: *mut u8,
    element_size: usize,
    capacity: usize,
    mask: i64,
    /// Next sequence to claim.
    next: i64,
    /// Highest sequence publishable without rescanning the consumers.
    limit: i64,
    gates: Vec<Gate>,
    /// Whether every gating consumer's cursor was mapped at the last membership refresh: while
    /// one is not, `limit` stays at `next - 1` (nothing new is published past it).
    gates_mapped: bool,
    seen_generation: u64,
    discovery: Option<ForeignDiscovery>,
    last_discovery: Option<Instant>,
    wait: WaitStrategy,
    /// Store the cursor when this many events are pending (1 = every publish call).
    coalesce: i64,
    /// The last value stored to the producer cursor, kept only while coalescing (`coalesce > 1`):
    /// otherwise it is always `next - 1`.
    stored: i64,
    /// The last sequence included in `events_published`: added to once per 64 events and at
    /// every flush, wait and close, not per event (SPEC.md §12.6).
    counted: i64,
    required: Option<Required>,
    last_check: Option<Instant>,
    last_beat: Option<Instant>,
    /// When the wake path last looked for dead parked consumers (`gating::look_at_parked`).
    last_parked_look: Option<Instant>,
    /// Live counters; `None` when disabled or the segment is full (the ring works without).
    counters: Option<ProducerCounters>,
    /// The registry control block's `consumers_parked`: the wake word read after every cursor
    /// store (SPEC.md §8), in a line nobody writes while no consumer parks. Points into
    /// `registry`'s mapping, which lives as long as `self`.
    parked: *const AtomicU32,
}

// SAFETY: the raw pointer is into the producer's own mapping; one producer, moved not shared.
unsafe impl Send for RawProducer {}

impl RawProducer {
    /// Size of one event in bytes.
    pub fn element_size(&self) -> usize {
        self.element_size
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Last published sequence (-1 before the first).
    pub fn last_published(&self) -> i64 {
        self.next - 1
    }

    /// The ring's name and backend.
    pub fn name(&self) -> &RingName {
        &self.name
    }

    /// Ids of the consumers currently gating the producer (as of the last rescan).
    pub fn gating_ids(&self) -> Vec<String> {
        self.gates.iter().map(|g| g.id.clone()).collect()
    }
}
