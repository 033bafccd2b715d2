//! The typed facade: [`Consumer<E>`] and [`Lease<E>`] over [`RawConsumer`] and [`RawLease`],
//! for events that are plain old data.

use super::read::RawLease;
use super::RawConsumer;
use crate::error::Result;
use crate::wait::WaitStrategy;
use bytemuck::Pod;
use std::marker::PhantomData;

/// A consumer of `E` events.
#[derive(Debug)]
pub struct Consumer<E: Pod> {
    raw: RawConsumer,
    _event: PhantomData<fn() -> E>,
}

impl<E: Pod> Consumer<E> {
    /// The typed consumer over `raw`, whose ring holds `E` events.
    pub(super) fn new(raw: RawConsumer) -> Self {
        Consumer {
            raw,
            _event: PhantomData,
        }
    }

    /// The next event, copied out, if one is published.
    ///
    /// # Errors
    ///
    /// The ring ended: [`Error::Closed`](crate::Error::Closed) (closed, and everything consumed),
    /// [`Error::ProducerGone`](crate::Error::ProducerGone) (its producer died and everything it
    /// published is consumed; keep polling to continue after a restart),
    /// [`Error::RingRemoved`](crate::Error::RingRemoved) (removed or replaced meanwhile). This
    /// consumer stopped gating: [`Error::Evicted`](crate::Error::Evicted) or
    /// [`Error::Lapped`](crate::Error::Lapped); events handed over by a call that fails this way
    /// may have been overwritten and must be discarded (SPEC.md §7.10).
    #[inline]
    pub fn try_read(&mut self) -> Result<Option<(i64, E)>> {
        self.raw.try_read_with(Self::copy_out)
    }

    /// The next event, waiting for it.
    ///
    /// # Errors
    ///
    /// The ring ended: [`Error::Closed`](crate::Error::Closed) (closed, and everything consumed),
    /// [`Error::ProducerGone`](crate::Error::ProducerGone) (its producer died and everything it
    /// published is consumed; keep polling to continue after a restart),
    /// [`Error::RingRemoved`](crate::Error::RingRemoved) (removed or replaced meanwhile). This
    /// consumer stopped gating: [`Error::Evicted`](crate::Error::Evicted) or
    /// [`Error::Lapped`](crate::Error::Lapped); events handed over by a call that fails this way
    /// may have been overwritten and must be discarded (SPEC.md §7.10).
    #[inline(always)]
    pub fn read(&mut self) -> Result<(i64, E)> {
        // The read is inlined into the caller's loop, so that the event comes back in
        // registers and the caller's next store (a reply's publish) follows the slot's load by
        // as few instructions as possible. A strategy that pauses waits out of line first.
        if self.raw.wait != WaitStrategy::BusySpin {
            self.raw.wait_ready()?;
        }
        self.raw.spin_read_with(Self::copy_out)
    }

    /// The event `bytes` hold, with its sequence.
    #[inline(always)]
    fn copy_out(seq: i64, bytes: &[u8]) -> (i64, E) {
        debug_assert_eq!(bytes.len(), std::mem::size_of::<E>());
        // SAFETY: `attach::<E>` accepted only a ring of `size_of::<E>()`-byte events, and the
        // untyped consumer underneath cannot change that, so `bytes` is exactly one `E`; `E` is
        // `Pod` (every bit pattern is valid) and an unaligned read asks nothing of the address.
        // (`bytemuck::pod_read_unaligned` would check the length again on every event.)
        (seq, unsafe { bytes.as_ptr().cast::<E>().read_unaligned() })
    }

    /// Leases the next event in place if one is published.
    ///
    /// # Errors
    ///
    /// The ring ended: [`Error::Closed`](crate::Error::Closed) (closed, and everything consumed),
    /// [`Error::ProducerGone`](crate::Error::ProducerGone) (its producer died and everything it
    /// published is consumed; keep polling to continue after a restart),
    /// [`Error::RingRemoved`](crate::Error::RingRemoved) (removed or replaced meanwhile). This
    /// consumer stopped gating: [`Error::Evicted`](crate::Error::Evicted) or
    /// [`Error::Lapped`](crate::Error::Lapped); events handed over by a call that fails this way
    /// may have been overwritten and must be discarded (SPEC.md §7.10).
    #[inline]
    pub fn try_lease(&mut self) -> Result<Option<Lease<'_, E>>> {
        Ok(self.raw.try_lease()?.map(|raw| Lease {
            raw,
            _event: PhantomData,
        }))
    }

    /// Leases the next event, waiting for it.
    ///
    /// # Errors
    ///
    /// The ring ended: [`Error::Closed`](crate::Error::Closed) (closed, and everything consumed),
    /// [`Error::ProducerGone`](crate::Error::ProducerGone) (its producer died and everything it
    /// published is consumed; keep polling to continue after a restart),
    /// [`Error::RingRemoved`](crate::Error::RingRemoved) (removed or replaced meanwhile). This
    /// consumer stopped gating: [`Error::Evicted`](crate::Error::Evicted) or
    /// [`Error::Lapped`](crate::Error::Lapped); events handed over by a call that fails this way
    /// may have been overwritten and must be discarded (SPEC.md §7.10).
    pub fn lease(&mut self) -> Result<Lease<'_, E>> {
        Ok(Lease {
            raw: self.raw.lease()?,
            _event: PhantomData,
        })
    }

    /// Hands every published event (at most `max`) to `f(seq, &event, end_of_batch)`; one
    /// cursor commit.
    ///
    /// # Errors
    ///
    /// The ring ended: [`Error::Closed`](crate::Error::Closed) (closed, and everything consumed),
    /// [`Error::ProducerGone`](crate::Error::ProducerGone) (its producer died and everything it
    /// published is consumed; keep polling to continue after a restart),
    /// [`Error::RingRemoved`](crate::Error::RingRemoved) (removed or replaced meanwhile). This
    /// consumer stopped gating: [`Error::Evicted`](crate::Error::Evicted) or
    /// [`Error::Lapped`](crate::Error::Lapped); events handed over by a call that fails this way
    /// may have been overwritten and must be discarded (SPEC.md §7.10).
    #[inline]
    pub fn poll_batch(&mut self, max: usize, mut f: impl FnMut(i64, &E, bool)) -> Result<usize> {
        self.raw.runs(max, |first, bytes, last| {
            let events: &[E] = bytemuck::cast_slice(bytes);
            for (i, e) in events.iter().enumerate() {
                let seq = first + i as i64;
                f(seq, e, seq == last);
            }
        })
    }

    /// Hands every published event (at most `max`) to `run(first_seq, events)` as at most two
    /// contiguous slices (split where the ring wraps); one cursor commit.
    ///
    /// # Errors
    ///
    /// The ring ended: [`Error::Closed`](crate::Error::Closed) (closed, and everything consumed),
    /// [`Error::ProducerGone`](crate::Error::ProducerGone) (its producer died and everything it
    /// published is consumed; keep polling to continue after a restart),
    /// [`Error::RingRemoved`](crate::Error::RingRemoved) (removed or replaced meanwhile). This
    /// consumer stopped gating: [`Error::Evicted`](crate::Error::Evicted) or
    /// [`Error::Lapped`](crate::Error::Lapped); events handed over by a call that fails this way
    /// may have been overwritten and must be discarded (SPEC.md §7.10).
    #[inline]
    pub fn poll_runs(&mut self, max: usize, mut run: impl FnMut(i64, &[E])) -> Result<usize> {
        self.raw
            .poll_runs(max, |first, bytes| run(first, bytemuck::cast_slice(bytes)))
    }

    /// [`poll_batch`](Self::poll_batch) after waiting for at least one event.
    ///
    /// # Errors
    ///
    /// The ring ended: [`Error::Closed`](crate::Error::Closed) (closed, and everything consumed),
    /// [`Error::ProducerGone`](crate::Error::ProducerGone) (its producer died and everything it
    /// published is consumed; keep polling to continue after a restart),
    /// [`Error::RingRemoved`](crate::Error::RingRemoved) (removed or replaced meanwhile). This
    /// consumer stopped gating: [`Error::Evicted`](crate::Error::Evicted) or
    /// [`Error::Lapped`](crate::Error::Lapped); events handed over by a call that fails this way
    /// may have been overwritten and must be discarded (SPEC.md §7.10).
    pub fn wait_batch(&mut self, max: usize, f: impl FnMut(i64, &E, bool)) -> Result<usize> {
        self.raw.wait_ready()?;
        self.poll_batch(max, f)
    }

    /// See [`RawConsumer::flush`]: brings this consumer's counters up to everything it read.
    pub fn flush(&mut self) {
        self.raw.flush()
    }

    /// The untyped consumer underneath.
    pub fn raw(&mut self) -> &mut RawConsumer {
        &mut self.raw
    }
}

/// A typed [`RawLease`].
pub struct Lease<'a, E: Pod> {
    raw: RawLease<'a>,
    _event: PhantomData<fn() -> E>,
}

impl<E: Pod> Lease<'_, E> {
    /// The event's sequence.
    pub fn sequence(&self) -> i64 {
        self.raw.sequence()
    }

    /// See [`RawLease::verify`].
    ///
    /// # Errors
    ///
    /// [`Error::Evicted`](crate::Error::Evicted) or [`Error::Lapped`](crate::Error::Lapped): the
    /// producer stopped gating on this consumer and may have rewritten the slot.
    pub fn verify(&self) -> Result<()> {
        self.raw.verify()
    }
}

impl<E: Pod> std::ops::Deref for Lease<'_, E> {
    type Target = E;
    fn deref(&self) -> &E {
        bytemuck::from_bytes(&self.raw)
    }
}
