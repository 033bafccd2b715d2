//! # ringproof
//!
//! A cross-process LMAX-Disruptor ring: one producer process publishes fixed-size events, any
//! number of consumer processes each see every event, in order, over POSIX shared memory
//! (`shm_open`) or memory-mapped files. Segments follow disruptor-mp 0.1.0-alpha.2's LayoutV1
//! contract, so a disruptor-mp process and a ringproof process can share one ring. SPEC.md at
//! the repository root is the wire contract.
//!
//! ```no_run
//! use ringproof::{ConsumerBuilder, ProducerBuilder, RingName};
//! # fn main() -> ringproof::Result<()> {
//! let name = RingName::shm("quotes")?;
//! // Process A
//! let mut producer = ProducerBuilder::new(name.clone()).capacity(1024).create::<u64>()?;
//! producer.publish(&42)?;
//! // Process B
//! let mut consumer = ConsumerBuilder::new(name, "c_0").attach::<u64>()?;
//! let (seq, value) = consumer.read()?;
//! # Ok(()) }
//! ```
//!
//! Module map: [`layout`] (every byte in shared memory), [`segment`] (shm vs files: the only
//! backend-specific code), [`producer`] and [`consumer`] (the protocol), [`registry`] (who takes
//! part), [`protocol`] (the memory-ordering core the three share, model-checked with loom),
//! [`wait`] and [`futex`] (how sides wait), [`payload`] (the test payload),
//! [`counters`] (the counters segment) and [`stat`] (a ring as an observer sees it).

/// `mutant!("name")`: whether the planted defect `name` is on (see [`mutant`]). Without the
/// `mutants` feature it is the literal `false` and the name is not even compiled in.
#[allow(unused_macros)]
macro_rules! mutant {
    ($name:literal) => {{
        #[cfg(feature = "mutants")]
        let on = $crate::mutant::active($name);
        #[cfg(not(feature = "mutants"))]
        let on = false;
        on
    }};
}

/// Items built only without `--cfg loom`: loom builds just the protocol core (below).
macro_rules! not_under_loom {
    ($($item:item)*) => { $(#[cfg(not(loom))] $item)* };
}

not_under_loom! {
    pub mod cleanup;
    pub mod consumer;
    pub mod counters;
    pub mod cursor;
    pub mod error;
    pub mod failpoint;
    pub mod futex;
    pub mod layout;
    pub mod liveness;
    #[doc(hidden)]
    pub mod mutant;
    pub mod names;
    pub mod payload;
    pub mod process;
    pub mod producer;
    pub mod registry;
    pub mod segment;
    pub mod stat;
    pub mod wait;
    pub mod testkit;

    pub use consumer::{Consumer, ConsumerBuilder, Lease, OnLapped, RawConsumer, RawLease};
    pub use error::{Error, Result};
    pub use liveness::{LivenessAction, LivenessAlert, RequiredConsumers};
    pub use names::{Location, RingName, SegmentPath};
    pub use producer::{Claim, Coordination, Producer, ProducerBuilder, RawClaim, RawProducer};
    pub use wait::WaitStrategy;
}
pub mod protocol;
pub mod sync;
pub use bytemuck::{Pod, Zeroable};

/// Under `--cfg loom` only the protocol core is built (see `ring/tests/loom_protocol.rs`): the
/// shared-memory words it works on, with loom's atomics, and nothing that maps segments or
/// makes syscalls.
#[cfg(loom)]
pub mod layout {
    pub mod cursor;
    pub mod registry;
}
