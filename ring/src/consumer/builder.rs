//! [`ConsumerBuilder`]: the options of a new consumer, and the calls that attach it.

use super::config::{ConsumerConfig, OnLapped};
use super::typed::Consumer;
use super::RawConsumer;
use crate::error::Result;
use crate::layout::{header::MIN_ALIGNMENT, Expect, SegmentKind};
use crate::names::RingName;
use crate::wait::WaitStrategy;
use bytemuck::Pod;
use std::time::Duration;

/// Configures and attaches a consumer.
#[derive(Debug, Clone)]
pub struct ConsumerBuilder {
    config: ConsumerConfig,
}

impl ConsumerBuilder {
    /// Consumer `id` of ring `name`: spin-then-yield waiting, 5 s to find the ring.
    pub fn new(name: RingName, id: &str) -> Self {
        Self { config: ConsumerConfig::new(name, id) }
    }

    /// How blocking reads wait for events.
    pub fn wait(mut self, wait: WaitStrategy) -> Self {
        self.config.wait = wait;
        self
    }

    /// How long to wait for the ring to appear (0: fail at once if it is missing).
    pub fn attach_timeout(mut self, timeout: Duration) -> Self {
        self.config.attach_timeout = timeout;
        self
    }

    /// What to do if the committed cursor was lapped while this consumer was away.
    pub fn on_lapped(mut self, on_lapped: OnLapped) -> Self {
        self.config.on_lapped = on_lapped;
        self
    }

    /// Attaches to a ring of `E` events.
    pub fn attach<E: Pod>(self) -> Result<Consumer<E>> {
        let expect = Expect {
            kind: SegmentKind::Ring,
            element_size: Some(std::mem::size_of::<E>() as u64),
            capacity: None,
            min_alignment: std::mem::align_of::<E>().max(MIN_ALIGNMENT),
        };
        Ok(Consumer::new(RawConsumer::attach(self.config, expect)?))
    }

    /// Attaches to a ring of `element_size`-byte events.
    pub fn attach_raw(self, element_size: usize) -> Result<RawConsumer> {
        let expect = Expect { element_size: Some(element_size as u64), ..Expect::kind(SegmentKind::Ring) };
        RawConsumer::attach(self.config, expect)
    }

    /// Attaches to a ring of whatever event size it has.
    pub fn attach_any(self) -> Result<RawConsumer> {
        RawConsumer::attach(self.config, Expect::kind(SegmentKind::Ring))
    }
}
