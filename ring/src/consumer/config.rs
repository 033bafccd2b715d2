//! What a consumer is made from: the plain configuration value [`ConsumerBuilder`] fills in
//! and attaching reads, so that attaching never needs the builder.
//!
//! [`ConsumerBuilder`]: super::ConsumerBuilder

use crate::names::RingName;
use crate::wait::WaitStrategy;
use std::time::Duration;

/// How long a consumer joining a disruptor-mp ring waits for that producer's name-probing
/// discovery to find its cursor before choosing where to start (2.5 x its 10 ms default).
pub const FOREIGN_JOIN_SETTLE: Duration = Duration::from_millis(25);

/// What a consumer does when its committed cursor fell behind what the ring still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnLapped {
    /// Fail with [`Error::Lapped`](crate::Error::Lapped), naming the missed sequences.
    #[default]
    Fail,
    /// Skip to the next unpublished sequence.
    Resync,
}

/// Everything a consumer attaches with; [`ConsumerBuilder`](super::ConsumerBuilder) fills it
/// in.
#[derive(Debug, Clone)]
pub(crate) struct ConsumerConfig {
    pub(crate) name: RingName,
    pub(crate) id: String,
    pub(crate) wait: WaitStrategy,
    pub(crate) attach_timeout: Duration,
    pub(crate) on_lapped: OnLapped,
}

impl ConsumerConfig {
    /// The defaults: spin-then-yield waiting, 5 s to find the ring, fail when lapped.
    pub(crate) fn new(name: RingName, id: &str) -> Self {
        Self {
            name,
            id: id.to_owned(),
            wait: WaitStrategy::default(),
            attach_timeout: Duration::from_secs(5),
            on_lapped: OnLapped::Fail,
        }
    }
}
