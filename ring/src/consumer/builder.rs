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
        Self {
            config: ConsumerConfig::new(name, id),
        }
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
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`](crate::Error::InvalidName): an invalid consumer id. Finding the ring:
    /// [`Error::NotFound`](crate::Error::NotFound) (no ring or producer cursor within the attach
    /// timeout), [`Error::Layout`](crate::Error::Layout) (a ring of another event size or
    /// alignment, or not a valid segment),
    /// [`Error::PermissionDenied`](crate::Error::PermissionDenied),
    /// [`Error::Insecure`](crate::Error::Insecure),
    /// [`Error::NotRegularFile`](crate::Error::NotRegularFile), [`Error::Io`](crate::Error::Io).
    /// Joining (SPEC.md §7.3): [`Error::JoinLockTimeout`](crate::Error::JoinLockTimeout) (a stopped
    /// process holds the join lock), [`Error::ConsumerIdInUse`](crate::Error::ConsumerIdInUse) (a
    /// live process has this id), [`Error::RegistryFull`](crate::Error::RegistryFull),
    /// [`Error::NameAlias`](crate::Error::NameAlias) (the cursor's shm name is another ring's),
    /// [`Error::CorruptCursor`](crate::Error::CorruptCursor) (a cursor holds a value no participant
    /// writes), [`Error::NoSpace`](crate::Error::NoSpace). Re-joining under an id whose cursor fell
    /// behind, with `OnLapped::Fail`: [`Error::Lapped`](crate::Error::Lapped), or
    /// [`Error::Evicted`](crate::Error::Evicted) if the producer evicted it.
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
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`](crate::Error::InvalidName): an invalid consumer id. Finding the ring:
    /// [`Error::NotFound`](crate::Error::NotFound) (no ring or producer cursor within the attach
    /// timeout), [`Error::Layout`](crate::Error::Layout) (a ring of another event size or
    /// alignment, or not a valid segment),
    /// [`Error::PermissionDenied`](crate::Error::PermissionDenied),
    /// [`Error::Insecure`](crate::Error::Insecure),
    /// [`Error::NotRegularFile`](crate::Error::NotRegularFile), [`Error::Io`](crate::Error::Io).
    /// Joining (SPEC.md §7.3): [`Error::JoinLockTimeout`](crate::Error::JoinLockTimeout) (a stopped
    /// process holds the join lock), [`Error::ConsumerIdInUse`](crate::Error::ConsumerIdInUse) (a
    /// live process has this id), [`Error::RegistryFull`](crate::Error::RegistryFull),
    /// [`Error::NameAlias`](crate::Error::NameAlias) (the cursor's shm name is another ring's),
    /// [`Error::CorruptCursor`](crate::Error::CorruptCursor) (a cursor holds a value no participant
    /// writes), [`Error::NoSpace`](crate::Error::NoSpace). Re-joining under an id whose cursor fell
    /// behind, with `OnLapped::Fail`: [`Error::Lapped`](crate::Error::Lapped), or
    /// [`Error::Evicted`](crate::Error::Evicted) if the producer evicted it.
    pub fn attach_raw(self, element_size: usize) -> Result<RawConsumer> {
        let expect = Expect {
            element_size: Some(element_size as u64),
            ..Expect::kind(SegmentKind::Ring)
        };
        RawConsumer::attach(self.config, expect)
    }

    /// Attaches to a ring of whatever event size it has.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`](crate::Error::InvalidName): an invalid consumer id. Finding the ring:
    /// [`Error::NotFound`](crate::Error::NotFound) (no ring or producer cursor within the attach
    /// timeout), [`Error::Layout`](crate::Error::Layout) (a ring of another event size or
    /// alignment, or not a valid segment),
    /// [`Error::PermissionDenied`](crate::Error::PermissionDenied),
    /// [`Error::Insecure`](crate::Error::Insecure),
    /// [`Error::NotRegularFile`](crate::Error::NotRegularFile), [`Error::Io`](crate::Error::Io).
    /// Joining (SPEC.md §7.3): [`Error::JoinLockTimeout`](crate::Error::JoinLockTimeout) (a stopped
    /// process holds the join lock), [`Error::ConsumerIdInUse`](crate::Error::ConsumerIdInUse) (a
    /// live process has this id), [`Error::RegistryFull`](crate::Error::RegistryFull),
    /// [`Error::NameAlias`](crate::Error::NameAlias) (the cursor's shm name is another ring's),
    /// [`Error::CorruptCursor`](crate::Error::CorruptCursor) (a cursor holds a value no participant
    /// writes), [`Error::NoSpace`](crate::Error::NoSpace). Re-joining under an id whose cursor fell
    /// behind, with `OnLapped::Fail`: [`Error::Lapped`](crate::Error::Lapped), or
    /// [`Error::Evicted`](crate::Error::Evicted) if the producer evicted it.
    pub fn attach_any(self) -> Result<RawConsumer> {
        RawConsumer::attach(self.config, Expect::kind(SegmentKind::Ring))
    }
}
