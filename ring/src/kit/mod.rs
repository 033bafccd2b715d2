//! The proof kit: what the tools that check ringproof use to look inside rings, build the
//! bytes a ring must hold, and plant the states a hostile or crashed peer would leave.
//!
//! A user of the ring needs none of this: the crate root ([`crate::ProducerBuilder`],
//! [`crate::ConsumerBuilder`] and friends) and [`crate::stat`] are the API. The kit is for the
//! rest of this workspace:
//!
//! - the conformance suite (`conformance`), which drives testees and inspects the segments
//!   they leave, word by word;
//! - chaos campaigns (`chaos`), which arm [`failpoint`]s and check survivors;
//! - the CLI (`cli`: `ringproof layout`, `ringproof stat`, `ringproof rm`, the test roles) and
//!   its hostile tests, which create, open and damage segments directly;
//! - the golden tests (`ring/tests`), the benchmarks and the interop peers, which share the
//!   test [`payload`] and the [`layout`] images.
//!
//! What is here: [`layout`] (every byte in shared memory: headers, cursors, the registry, the
//! counters segment, golden images and their descriptions), the segment, cursor, registry and
//! counters access below the producer and consumer ([`segment`], [`cursor`], [`registry`],
//! [`counters`]), process identity and liveness ([`process`]), ring removal ([`cleanup`]),
//! the test [`payload`] and producer/consumer loops over it ([`testkit`]), [`failpoint`]s,
//! and the memory-ordering core with its atomics ([`protocol`], [`sync`]), which the loom
//! tests check.
//!
//! **Stability:** none. The kit changes whenever the workspace's tools need it to; it exports
//! exactly what they use, and nothing outside this repository should depend on it. The wire
//! layout it describes is stable: `SPEC.md` fixes it, and the golden tests hold it in place.
//!
//! Under `--cfg loom` the kit holds only [`protocol`], [`sync`] and the two layout tables they
//! work on (`layout::cursor`, `layout::registry`).

/// The protocol's memory-ordering core: every load, store and fence that makes a slot safe to
/// read or to rewrite (SPEC.md §7), the same functions the producer and consumer call.
pub mod protocol {
    pub use crate::protocol::*;
}

/// The atomics the protocol uses: `core`'s, or loom's under `--cfg loom`.
pub mod sync {
    pub use crate::sync::*;
}

/// Every byte in shared memory: segment headers, cursors, the registry, the counters segment,
/// and the golden images, descriptions and diffs built from them (SPEC.md §2-§6, §12).
#[cfg(not(loom))]
pub mod layout {
    pub use crate::layout::*;
}

/// The shared-memory words the loom tests model.
#[cfg(loom)]
pub mod layout {
    pub use crate::layout::{cursor, registry};
}

/// Segment names: where each segment of a ring lives (SPEC.md §3).
#[cfg(not(loom))]
pub mod names {
    pub use crate::names::{validate_consumer_id, validate_name, SegmentPath};
}

/// Opening, creating, identifying and removing segments by name, below the producer and the
/// consumer (SPEC.md §3).
#[cfg(not(loom))]
pub mod segment {
    pub use crate::segment::{exists, identity_of, unlink, Identity, Segment};
}

/// A mapped cursor segment.
#[cfg(not(loom))]
pub mod cursor {
    pub use crate::cursor::Cursor;
}

/// A mapped registry: who takes part in a ring (SPEC.md §6, joining §7.3).
#[cfg(not(loom))]
pub mod registry {
    pub use crate::registry::Registry;
}

/// The counters segment (SPEC.md §12).
#[cfg(not(loom))]
pub mod counters {
    pub use crate::counters::{
        ids, register_consumer, register_producer, ConsumerCounters, CounterHandle, CounterValue,
        Counters, CountersError, CountersLayoutError, ProducerCounters, MAX_CONSUMERS,
    };
}

/// Process identity and time: the start time and pid namespace that liveness compares.
#[cfg(not(loom))]
pub mod process {
    pub use crate::process::{boottime_ns, own_pid_ns, own_start_time, start_time};
}

/// Removing a ring's segments (`ringproof rm`).
#[cfg(not(loom))]
pub mod cleanup {
    pub use crate::cleanup::remove_ring;
}

/// Cross-process fences (the bench registers membarrier before its measured loop).
#[cfg(not(loom))]
pub mod futex {
    pub use crate::futex::register_membarrier;
}

/// The test payload: events that carry their own sequence and checksum.
#[cfg(not(loom))]
pub mod payload {
    pub use crate::payload::{decode_seq, fill, fnv1a64_update, mix, verify, FNV64_OFFSET};
}

/// Producer and consumer loops over the test payload.
#[cfg(not(loom))]
pub mod testkit {
    pub use crate::testkit::{
        consume, consume_until, produce, ConsumeReport, Idle, ProduceReport, ReadMode,
    };
}

/// Failpoints: named places where a test process can be made to stop or die
/// (`RINGPROOF_FAILPOINT`).
#[cfg(not(loom))]
pub mod failpoint {
    pub use crate::failpoint::{ENV, POINTS};
}
