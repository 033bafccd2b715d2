//! A consumer: sees every event in order, commits its cursor so the producer can reuse slots.
//!
//! One concept per file: `config` and `builder` (what a consumer is made from), `attach`
//! (joining and leaving, SPEC.md §7.3, §7.5), `read` (the hot path and waiting), `standing`
//! (evicted, closed, producer gone, heartbeat: §7.10) and `typed` (the typed facade). The
//! memory orderings they rely on are [`crate::protocol`]'s.

mod attach;
mod builder;
mod config;
mod counting;
mod read;
mod spin;
mod standing;
mod typed;
mod wait;

pub use builder::ConsumerBuilder;
pub use config::OnLapped;
pub use read::RawLease;
pub use typed::{Consumer, Lease};

use crate::counters::ConsumerCounters;
use crate::cursor::Cursor;
use crate::layout::registry::Slot;
use crate::names::RingName;
use crate::registry::Registry;
use crate::segment::Segment;
use crate::wait::WaitStrategy;

/// A consumer of raw events.
#[derive(Debug)]
pub struct RawConsumer {
    name: RingName,
    id: String,
    _ring: Segment,
    slots: *const u8,
    element_size: usize,
    capacity: usize,
    mask: i64,
    producer: Cursor,
    cursor: Cursor,
    registry: Option<Registry>,
    slot: Option<usize>,
    /// That slot in `registry`'s mapping (null without one), for the per-refresh standing check.
    own_slot: *const Slot,
    /// Our owner word in that slot, as the join stored it (a leave frees only a slot still ours).
    owner: u64,
    /// Next sequence to read.
    next: i64,
    /// Highest sequence known published.
    available: i64,
    wait: WaitStrategy,
    /// When the producer's liveness was last looked at (and this consumer last beat).
    last_check: Option<std::time::Instant>,
    /// The producer cursor at the last liveness look (`None` before the first): a cursor that
    /// moved since is proof of life without a look at `/proc`.
    published_at_look: Option<i64>,
    /// Producer-cursor refreshes, to beat every so many while busy.
    refreshes: u32,
    /// Empty polls since the last idle look, and whether a wait slept (yielded, parked) since:
    /// a spinning consumer looks at its standing, the ring's state and the clock once per 64
    /// empty polls, and after every sleep (see `RawConsumer::idle`).
    idle_polls: u32,
    waited: bool,
    /// Live counters, when the ring has a counters segment with room.
    counters: Option<ConsumerCounters>,
    /// The last sequence included in `events_consumed` (SPEC.md R12.6.c).
    counted: i64,
    /// The next commit at or past this sequence adds to the counters: the last sequence before
    /// the next multiple of 64 events, so a busy consumer adds once per 64 events; `i64::MAX`
    /// without counters, so the commit's test is one compare either way.
    count_at: i64,
    /// Highest lag seen since the counters were last brought up to date (`consumer_lag_max`).
    lag_max: u64,
}

// SAFETY: pointers into this consumer's own mappings; moved, not shared.
unsafe impl Send for RawConsumer {}
impl RawConsumer {
    /// This consumer's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Event size in bytes.
    pub fn element_size(&self) -> usize {
        self.element_size
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Next sequence this consumer will read.
    pub fn next_sequence(&self) -> i64 {
        self.next
    }

    /// The producer's cursor as of now.
    pub fn producer_sequence(&self) -> i64 {
        self.producer.load()
    }
}
