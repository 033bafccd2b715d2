//! The typed facade: [`Producer<E>`] and [`Claim<E>`] over [`RawProducer`] and [`RawClaim`],
//! for events that are plain old data.

use super::publish::RawClaim;
use super::RawProducer;
use crate::error::Result;
use bytemuck::Pod;
use std::marker::PhantomData;

/// The producer of a ring of `E` events (plain old data, safe to share as bytes).
#[derive(Debug)]
pub struct Producer<E: Pod> {
    raw: RawProducer,
    _event: PhantomData<fn(E)>,
}

impl<E: Pod> Producer<E> {
    /// The typed producer over `raw`, whose ring holds `E` events.
    pub(super) fn new(raw: RawProducer) -> Self {
        Producer {
            raw,
            _event: PhantomData,
        }
    }

    /// Publishes `event`, waiting while the ring is full. Inlined into the caller: one typed
    /// store of the event, the cursor store, and a load of the wake word from a line that
    /// stays in this core's cache (SPEC.md §8 R8.c).
    ///
    /// # Errors
    ///
    /// Only [`Error::GracefulShutdown`](crate::Error::GracefulShutdown): while it waited for room,
    /// a required consumer stalled past its grace period under `LivenessAction::GracefulShutdown`.
    /// A full ring is waited out.
    #[inline(always)]
    pub fn publish(&mut self, event: &E) -> Result<i64> {
        self.raw.publish_pod(event)
    }

    /// Publishes the event `write` fills in place.
    ///
    /// # Errors
    ///
    /// Only [`Error::GracefulShutdown`](crate::Error::GracefulShutdown): while it waited for room,
    /// a required consumer stalled past its grace period under `LivenessAction::GracefulShutdown`.
    /// A full ring is waited out.
    #[inline]
    pub fn publish_with(&mut self, write: impl FnOnce(&mut E)) -> Result<i64> {
        self.raw
            .publish_with(|s| write(bytemuck::from_bytes_mut(s)))
    }

    /// Publishes `event`, or [`Error::Full`](crate::Error::Full) at once.
    ///
    /// # Errors
    ///
    /// [`Error::Full`](crate::Error::Full): no room now (the slowest gating consumer has not freed
    /// the slot); nothing was written.
    #[inline]
    pub fn try_publish(&mut self, event: &E) -> Result<i64> {
        self.raw
            .try_publish_with(|s| s.copy_from_slice(bytemuck::bytes_of(event)))
    }

    /// Publishes `n` events filled by `write(i, &mut E)`, one cursor store.
    ///
    /// # Errors
    ///
    /// [`Error::BatchTooLarge`](crate::Error::BatchTooLarge): `n` is 0 or more than the capacity.
    /// Only [`Error::GracefulShutdown`](crate::Error::GracefulShutdown): while it waited for room,
    /// a required consumer stalled past its grace period under `LivenessAction::GracefulShutdown`.
    /// A full ring is waited out.
    #[inline]
    pub fn publish_batch(&mut self, n: usize, write: impl FnMut(usize, &mut E)) -> Result<i64> {
        let (first, passed) = self.raw.room_for_batch(n)?;
        let last = self.raw.write_and_publish_pod(first, n, write);
        if passed {
            self.raw.beat();
        }
        Ok(last)
    }

    /// [`publish_batch`](Self::publish_batch), or [`Error::Full`](crate::Error::Full) at once.
    ///
    /// # Errors
    ///
    /// [`Error::BatchTooLarge`](crate::Error::BatchTooLarge): `n` is 0 or more than the capacity.
    /// [`Error::Full`](crate::Error::Full): no room now (the slowest gating consumer has not freed
    /// the slot); nothing was written.
    pub fn try_publish_batch(&mut self, n: usize, write: impl FnMut(usize, &mut E)) -> Result<i64> {
        let first = self.raw.room_for_batch_now(n)?;
        Ok(self.raw.write_and_publish_pod(first, n, write))
    }

    /// Claims `n` slots for zero-copy writing.
    ///
    /// # Errors
    ///
    /// [`Error::BatchTooLarge`](crate::Error::BatchTooLarge): `n` is 0 or more than the capacity.
    /// Only [`Error::GracefulShutdown`](crate::Error::GracefulShutdown): while it waited for room,
    /// a required consumer stalled past its grace period under `LivenessAction::GracefulShutdown`.
    /// A full ring is waited out.
    pub fn claim(&mut self, n: usize) -> Result<Claim<'_, E>> {
        Ok(Claim {
            raw: self.raw.claim(n)?,
            _event: PhantomData,
        })
    }

    /// The untyped producer underneath.
    pub fn raw(&mut self) -> &mut RawProducer {
        &mut self.raw
    }

    /// Last published sequence.
    pub fn last_published(&self) -> i64 {
        self.raw.last_published()
    }

    /// Makes coalesced events visible (see [`ProducerBuilder::coalesce`](super::ProducerBuilder::coalesce)).
    pub fn flush(&mut self) {
        self.raw.flush()
    }
}

/// Typed view of a [`RawClaim`].
pub struct Claim<'a, E: Pod> {
    raw: RawClaim<'a>,
    _event: PhantomData<fn(E)>,
}

impl<E: Pod> Claim<'_, E> {
    /// Slot `i`.
    pub fn get_mut(&mut self, i: usize) -> &mut E {
        bytemuck::from_bytes_mut(self.raw.slot_mut(i))
    }

    /// Publishes the claim.
    pub fn commit(self) -> i64 {
        self.raw.commit()
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Never true.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
}
