//! What a producer is made from: the plain configuration value [`ProducerBuilder`] fills in
//! and creation and restart read, so that creating a ring never needs the builder.
//!
//! [`ProducerBuilder`]: super::ProducerBuilder

use crate::layout::registry::DEFAULT_SLOTS;
use crate::liveness::RequiredConsumers;
use crate::names::RingName;
use crate::wait::WaitStrategy;
use std::time::Duration;

/// What the producer does before its first publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Coordination {
    /// Publish at once; consumers that join later start at the next unpublished sequence.
    #[default]
    Immediate,
    /// Wait until `min` consumers gate the ring; fail with [`Error::ConsumersMissing`](crate::Error::ConsumersMissing) after
    /// `timeout`.
    WaitForConsumers { min: usize, timeout: Duration },
}

/// Discovery of consumers that do not use the registry (disruptor-mp's): cursors named
/// `{prefix}_{k}` for `k < max`, probed at most once per `interval`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignDiscovery {
    pub prefix: String,
    pub max: usize,
    pub interval: Duration,
}

/// Everything a producer is created with; [`ProducerBuilder`](super::ProducerBuilder) fills
/// it in, [`RawProducer::create`](super::RawProducer) validates and reads it.
#[derive(Debug, Clone)]
pub(crate) struct ProducerConfig {
    pub(crate) name: RingName,
    pub(crate) capacity: usize,
    pub(crate) wait: WaitStrategy,
    pub(crate) coalesce: usize,
    pub(crate) counters: bool,
    pub(crate) required: Option<RequiredConsumers>,
    pub(crate) coordination: Coordination,
    pub(crate) discovery: Option<ForeignDiscovery>,
    pub(crate) registry_slots: usize,
}

impl ProducerConfig {
    /// The defaults: 1024 slots, spin-then-yield waiting, no coalescing, counters on, no
    /// coordination, 64 registry slots.
    pub(crate) fn new(name: RingName) -> Self {
        Self {
            name,
            capacity: 1024,
            wait: WaitStrategy::default(),
            coalesce: 1,
            counters: true,
            required: None,
            coordination: Coordination::Immediate,
            discovery: None,
            registry_slots: DEFAULT_SLOTS,
        }
    }
}
