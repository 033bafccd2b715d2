//! # ringproof
//!
//! A cross-process LMAX-Disruptor ring: one producer process publishes fixed-size events, any
//! number of consumer processes each see every event, in order, over POSIX shared memory
//! (`shm_open`) or memory-mapped files. Segments follow disruptor-mp 0.1.0-alpha.2's LayoutV1
//! contract, so a disruptor-mp process and a ringproof process can share one ring. `SPEC.md` at
//! the repository root is the wire contract.
//!
//! ## Guarantees
//!
//! - **Gated: nothing unread is overwritten.** The producer never rewrites a slot that a live
//!   gating consumer has not read yet: when the ring is full it waits (or
//!   [`try_publish`](Producer::try_publish) reports [`Error::Full`]).
//! - **Every event, in order, to every consumer.** Each consumer reads every published
//!   sequence exactly once, in sequence order, at its own pace; consumers do not take events
//!   from each other.
//! - **Crash-restartable.** The producer and each consumer may be killed at any instruction
//!   and started again under the same name (a consumer under the same id): a restarted
//!   producer continues after the last published sequence, a restarted consumer after the
//!   last one it committed. Dead peers are detected by liveness (pid, process start time and
//!   heartbeat in the registry): what a producer does about a stalled or dead required consumer
//!   is its [`LivenessAction`] ([`RequiredConsumers`]).
//! - **Nothing left behind.** Dropping the producer closes the ring and removes the names it
//!   created; a consumer that leaves removes its cursor.
//!
//! ## What blocks, what is lock-free
//!
//! The hot path is lock-free and makes no syscall: publishing into free space
//! ([`Producer::publish`], [`Producer::claim`] and [`Claim::commit`]), and reading an event that
//! is already published ([`Consumer::try_lease`], [`Consumer::poll_batch`]) are a few atomic
//! loads and stores on shared memory (a producer re-reads consumer positions only when its
//! cached limit runs out). The one exception is a wake-up: with a [`WaitStrategy`] that parks,
//! a side that finds a peer asleep on a futex wakes it (one `futex` syscall), and only then.
//! Everything else may block or make syscalls:
//!
//! - creating and attaching ([`ProducerBuilder::create`], [`ConsumerBuilder::attach`]): they
//!   create, open, map and validate segments and join the registry under a lock file;
//! - blocking waits: a publish into a full ring, [`Consumer::lease`] on an empty one, waiting
//!   as the [`WaitStrategy`] says (spinning, yielding, or sleeping on a futex, which the other
//!   side then wakes with a syscall);
//! - liveness scans: a producer that is blocked, and an idle consumer, look at their peers'
//!   registry slots and `/proc` every few milliseconds;
//! - drop: closing the ring and removing segment names.
//!
//! ## Example
//!
//! A producer and a consumer in one process (each would usually be its own process; the
//! consumer then only needs the ring's name):
//!
//! ```
//! use ringproof::{ConsumerBuilder, ProducerBuilder, RingName};
//! # fn main() -> ringproof::Result<()> {
//! let name = RingName::shm(&format!("doc_quotes_{}", std::process::id()))?;
//! let mut producer = ProducerBuilder::new(name.clone()).capacity(1024).create::<u64>()?;
//! let mut consumer = ConsumerBuilder::new(name, "c_0").attach::<u64>()?;
//!
//! producer.publish(&42)?;
//! producer.publish_batch(2, |i, event| *event = 43 + i as u64)?;
//!
//! let first = consumer.lease()?; // waits for an event; committed when dropped
//! assert_eq!((first.sequence(), *first), (0, 42));
//! drop(first);
//! let mut rest = Vec::new();
//! consumer.poll_batch(16, |seq, event, _end_of_batch| rest.push((seq, *event)))?;
//! assert_eq!(rest, [(1, 43), (2, 44)]);
//! # drop(consumer);
//! # drop(producer);
//! # let left: Vec<_> = std::fs::read_dir("/dev/shm").unwrap().flatten()
//! #     .filter(|e| e.file_name().to_string_lossy().starts_with(&format!("doc_quotes_{}", std::process::id())))
//! #     .map(|e| e.file_name()).collect();
//! # assert!(left.is_empty(), "left in /dev/shm: {left:?}");
//! # Ok(()) }
//! ```
//!
//! Rings can live in files instead ([`RingName::dir`]: a directory, ideally on tmpfs), and
//! events can be raw bytes of a size chosen at run time ([`RawProducer`], [`RawConsumer`]).
//!
//! ## Modules
//!
//! The API is the items above and [`stat`] (a ring as an observer sees it). [`kit`] is the
//! proof kit: the layout tables and golden images, the test payload, failpoints and the
//! low-level segment access that the conformance suite, chaos campaigns, the CLI and the tests
//! use to inspect rings and plant hostile states; it is not needed to use a ring.

/// `mutant!("name")`: whether the planted defect `name` is on (see `mutant.rs`). Without the
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

// Under `--cfg loom` only the protocol core is built (see `ring/tests/loom_protocol/`): the
// shared-memory words it works on, with loom's atomics, and nothing that maps segments or makes
// syscalls. Each module that maps, waits or makes syscalls is `#[cfg(not(loom))]`.
#[cfg(not(loom))]
mod cleanup;
#[cfg(not(loom))]
mod consumer;
#[cfg(not(loom))]
mod counters;
#[cfg(not(loom))]
mod cursor;
#[cfg(not(loom))]
mod error;
#[cfg(not(loom))]
mod failpoint;
#[cfg(not(loom))]
mod futex;
pub mod kit;
#[cfg(not(loom))]
mod layout;
#[cfg(not(loom))]
mod liveness;
#[cfg(not(loom))]
mod mutant;
#[cfg(not(loom))]
mod names;
#[cfg(not(loom))]
mod payload;
#[cfg(not(loom))]
mod process;
#[cfg(not(loom))]
mod producer;
mod protocol;
#[cfg(not(loom))]
mod registry;
#[cfg(not(loom))]
mod segment;
#[cfg(not(loom))]
pub mod stat;
mod sync;
#[cfg(not(loom))]
mod testkit;
#[cfg(not(loom))]
mod wait;

/// Under loom, `layout` is just the two tables of shared-memory words the protocol core uses.
#[cfg(loom)]
mod layout {
    pub mod cursor;
    pub mod registry;
}

pub use bytemuck::{Pod, Zeroable};
#[cfg(not(loom))]
pub use consumer::{Consumer, ConsumerBuilder, Lease, OnLapped, RawConsumer, RawLease};
#[cfg(not(loom))]
pub use error::{Error, Result};
#[cfg(not(loom))]
pub use liveness::{LivenessAction, LivenessAlert, RequiredConsumers};
#[cfg(not(loom))]
pub use names::{Location, RingName};
#[cfg(not(loom))]
pub use producer::{Claim, Coordination, Producer, ProducerBuilder, RawClaim, RawProducer};
#[cfg(not(loom))]
pub use wait::WaitStrategy;
