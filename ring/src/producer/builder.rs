//! [`ProducerBuilder`]: the options of a new producer, and the calls that create its ring.

use super::config::{Coordination, ForeignDiscovery, ProducerConfig};
use super::typed::Producer;
use super::RawProducer;
use crate::error::Result;
use crate::layout::header::MIN_ALIGNMENT;
use crate::liveness::RequiredConsumers;
use crate::names::RingName;
use crate::wait::WaitStrategy;
use bytemuck::Pod;
use std::time::Duration;

/// Configures and creates a producer.
#[derive(Debug, Clone)]
pub struct ProducerBuilder {
    config: ProducerConfig,
}

impl ProducerBuilder {
    /// A producer for ring `name` with 1024 slots, spin-then-yield waiting, no coordination.
    pub fn new(name: RingName) -> Self {
        Self {
            config: ProducerConfig::new(name),
        }
    }

    /// Number of slots (a power of two).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.config.capacity = capacity;
        self
    }

    /// How `publish` waits for a free slot.
    pub fn wait(mut self, wait: WaitStrategy) -> Self {
        self.config.wait = wait;
        self
    }

    /// Store the producer cursor only once `k` events are pending (default 1: every publish
    /// call is visible at once). Pending events become visible when `k` accumulate, on
    /// [`RawProducer::flush`], before the producer waits for room or reports a full ring, and
    /// when it is dropped. Trades latency for throughput: a consumer spinning on the cursor
    /// line steals it from the producer far less often.
    pub fn coalesce(mut self, k: usize) -> Self {
        self.config.coalesce = k.max(1);
        self
    }

    /// Keep live counters in the ring's counters segment (default on; see SPEC.md §12).
    pub fn counters(mut self, on: bool) -> Self {
        self.config.counters = on;
        self
    }

    /// Consumers the producer must not lose: it waits for them at startup, watches their
    /// progress while they gate it, and acts when one stalls or dies (see [`RequiredConsumers`]).
    pub fn required_consumers(mut self, config: RequiredConsumers) -> Self {
        self.config.required = Some(config);
        self
    }

    /// What happens before the first publish.
    pub fn coordination(mut self, coordination: Coordination) -> Self {
        self.config.coordination = coordination;
        self
    }

    /// Also gate on disruptor-mp-style consumers named `{prefix}_{k}`, `k < max`.
    pub fn discover_prefix(mut self, prefix: &str, max: usize) -> Self {
        self.config.discovery = Some(ForeignDiscovery {
            prefix: prefix.to_owned(),
            max,
            interval: Duration::from_millis(10),
        });
        self
    }

    /// Maximum number of registered consumers (default 64).
    pub fn registry_slots(mut self, slots: usize) -> Self {
        self.config.registry_slots = slots;
        self
    }

    /// Creates a ring of `E` events.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig): a capacity that is not a power of
    /// two, events of 0 bytes or over the slot limit, a bad alignment, no registry slots;
    /// [`Error::InvalidName`](crate::Error::InvalidName): a discovery prefix that makes no valid
    /// consumer id. Over an existing ring (a restart, SPEC.md §7.9):
    /// [`Error::ProducerAlive`](crate::Error::ProducerAlive) while its producer runs,
    /// [`Error::Damaged`](crate::Error::Damaged) for a segment the restart cannot make sense of,
    /// [`Error::Layout`](crate::Error::Layout) for a ring of another geometry,
    /// [`Error::CorruptCursor`](crate::Error::CorruptCursor) for a producer cursor no producer
    /// writes, [`Error::Insecure`](crate::Error::Insecure) for a segment not private to this user.
    /// Making segments: [`Error::AlreadyExists`](crate::Error::AlreadyExists) (producers kept
    /// racing for the name), [`Error::PermissionDenied`](crate::Error::PermissionDenied),
    /// [`Error::NoSpace`](crate::Error::NoSpace),
    /// [`Error::NotRegularFile`](crate::Error::NotRegularFile), [`Error::Io`](crate::Error::Io).
    /// Before the first publish: [`Error::ConsumersMissing`](crate::Error::ConsumersMissing)
    /// (`Coordination::WaitForConsumers` timed out),
    /// [`Error::StartupTimeout`](crate::Error::StartupTimeout) (required consumers never joined).
    pub fn create<E: Pod>(self) -> Result<Producer<E>> {
        let raw = self.create_raw_aligned(std::mem::size_of::<E>(), std::mem::align_of::<E>())?;
        Ok(Producer::new(raw))
    }

    /// Creates a ring of `element_size`-byte events (8-byte aligned), for byte-level peers.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig): a capacity that is not a power of
    /// two, events of 0 bytes or over the slot limit, a bad alignment, no registry slots;
    /// [`Error::InvalidName`](crate::Error::InvalidName): a discovery prefix that makes no valid
    /// consumer id. Over an existing ring (a restart, SPEC.md §7.9):
    /// [`Error::ProducerAlive`](crate::Error::ProducerAlive) while its producer runs,
    /// [`Error::Damaged`](crate::Error::Damaged) for a segment the restart cannot make sense of,
    /// [`Error::Layout`](crate::Error::Layout) for a ring of another geometry,
    /// [`Error::CorruptCursor`](crate::Error::CorruptCursor) for a producer cursor no producer
    /// writes, [`Error::Insecure`](crate::Error::Insecure) for a segment not private to this user.
    /// Making segments: [`Error::AlreadyExists`](crate::Error::AlreadyExists) (producers kept
    /// racing for the name), [`Error::PermissionDenied`](crate::Error::PermissionDenied),
    /// [`Error::NoSpace`](crate::Error::NoSpace),
    /// [`Error::NotRegularFile`](crate::Error::NotRegularFile), [`Error::Io`](crate::Error::Io).
    /// Before the first publish: [`Error::ConsumersMissing`](crate::Error::ConsumersMissing)
    /// (`Coordination::WaitForConsumers` timed out),
    /// [`Error::StartupTimeout`](crate::Error::StartupTimeout) (required consumers never joined).
    pub fn create_raw(self, element_size: usize) -> Result<RawProducer> {
        self.create_raw_aligned(element_size, MIN_ALIGNMENT)
    }

    /// Creates a ring of `element_size`-byte events aligned to `alignment`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig): a capacity that is not a power of
    /// two, events of 0 bytes or over the slot limit, a bad alignment, no registry slots;
    /// [`Error::InvalidName`](crate::Error::InvalidName): a discovery prefix that makes no valid
    /// consumer id. Over an existing ring (a restart, SPEC.md §7.9):
    /// [`Error::ProducerAlive`](crate::Error::ProducerAlive) while its producer runs,
    /// [`Error::Damaged`](crate::Error::Damaged) for a segment the restart cannot make sense of,
    /// [`Error::Layout`](crate::Error::Layout) for a ring of another geometry,
    /// [`Error::CorruptCursor`](crate::Error::CorruptCursor) for a producer cursor no producer
    /// writes, [`Error::Insecure`](crate::Error::Insecure) for a segment not private to this user.
    /// Making segments: [`Error::AlreadyExists`](crate::Error::AlreadyExists) (producers kept
    /// racing for the name), [`Error::PermissionDenied`](crate::Error::PermissionDenied),
    /// [`Error::NoSpace`](crate::Error::NoSpace),
    /// [`Error::NotRegularFile`](crate::Error::NotRegularFile), [`Error::Io`](crate::Error::Io).
    /// Before the first publish: [`Error::ConsumersMissing`](crate::Error::ConsumersMissing)
    /// (`Coordination::WaitForConsumers` timed out),
    /// [`Error::StartupTimeout`](crate::Error::StartupTimeout) (required consumers never joined).
    pub fn create_raw_aligned(self, element_size: usize, alignment: usize) -> Result<RawProducer> {
        RawProducer::create(self.config, element_size, alignment.max(MIN_ALIGNMENT))
    }
}
