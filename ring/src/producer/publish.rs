//! The hot path: claim, write and publish with one release store of the producer cursor per
//! call (SPEC.md §7.1), against the cached limit. Only what a publish executes every time lives
//! here; waiting for room is `gating`'s, out of line.

use super::RawProducer;
use crate::error::{Error, Result};
use crate::{futex, protocol};
use bytemuck::Pod;

/// `events_published` lags the cursor by fewer than this many events between flushes.
const COUNT_EVERY: i64 = 64;

impl RawProducer {
    #[inline(always)]
    pub(super) fn slot_ptr(&self, seq: i64) -> *mut u8 {
        // SAFETY: masked index < capacity; the ring holds capacity * element_size bytes.
        unsafe {
            self.slots
                .add((seq & self.mask) as usize * self.element_size)
        }
    }

    /// Publishes one event written by `write` into its slot; waits while the ring is full.
    ///
    /// # Errors
    ///
    /// Only [`Error::GracefulShutdown`]: while it waited for room,
    /// a required consumer stalled past its grace period under `LivenessAction::GracefulShutdown`.
    /// A full ring is waited out.
    #[inline]
    pub fn publish_with(&mut self, write: impl FnOnce(&mut [u8])) -> Result<i64> {
        let seq = self.next;
        let passed = self.room_for(seq)?;
        self.write_one(seq, write);
        if passed {
            self.beat();
        }
        Ok(seq)
    }

    /// Room up to sequence `last`, the cached limit's compare on the hot path and
    /// [`room_past_limit`](Self::room_past_limit) out of line when it fails. Returns whether the
    /// limit was passed: then the caller beats after its cursor store.
    #[inline(always)]
    fn room_for(&mut self, last: i64) -> Result<bool> {
        let passed = !protocol::within_limit(last, self.limit);
        if passed {
            self.room_past_limit(last)?;
        }
        Ok(passed)
    }

    /// Room for a publish whose last sequence `seq` passed the cached limit: once per
    /// `capacity - lag` events while the consumers keep up, and on every publish while they
    /// hold the ring full. Rescans and, if that made no room, waits for it. No clock is read on
    /// the way unless the wait lasts (`wait_until_limit`): the caller beats *after* its cursor
    /// store, so that the beat's clock read (about 25 ns) does not hold up the events on their
    /// way to the consumers (one hop in `capacity` otherwise carries it; bench/RESULTS.md,
    /// "Fifth round"). The event stays in the caller: a call that took it (or a closure that
    /// borrows it) would pin it to the stack, one more store per event on the hot path.
    #[cold]
    #[inline(never)]
    fn room_past_limit(&mut self, seq: i64) -> Result<()> {
        self.rescan_without_beat();
        if protocol::within_limit(seq, self.limit) {
            return Ok(());
        }
        self.wait_for_room(seq)
    }

    /// The typed single-event path, inlined into the caller's loop: the slot is a `*mut E` at a
    /// compile-time stride and the event one typed store (no length check, no `memcpy` call for
    /// small events), then the cursor store and the wake-word load. Everything that is not
    /// that (waiting for room, failpoints, waking) is out of line. `E` is the ring's event type:
    /// [`ProducerBuilder::create`](super::ProducerBuilder::create) made the ring with `size_of::<E>()`-byte slots aligned to
    /// `align_of::<E>()`.
    #[inline(always)]
    pub(super) fn publish_pod<E: Pod>(&mut self, event: &E) -> Result<i64> {
        debug_assert_eq!(self.element_size, std::mem::size_of::<E>());
        let seq = self.next;
        let passed = self.room_for(seq)?;
        crate::failpoint::hit("producer.claimed");
        if mutant!("producer.publish-before-write") {
            self.publish_cursor(seq);
        }
        // SAFETY: gating guarantees no consumer reads this slot until the cursor passes it; the
        // masked index is below capacity and the slots hold `capacity` aligned `E`s.
        unsafe {
            self.slots
                .cast::<E>()
                .add((seq & self.mask) as usize)
                .write(*event)
        };
        crate::failpoint::hit("producer.written");
        self.publish_cursor(seq);
        if passed {
            self.beat();
        }
        Ok(seq)
    }

    /// Publishes `event` (its length must be the element size).
    ///
    /// # Errors
    ///
    /// [`Error::EventSize`]: the buffer is not one event long. Only
    /// [`Error::GracefulShutdown`]: while it waited for room, a
    /// required consumer stalled past its grace period under `LivenessAction::GracefulShutdown`. A
    /// full ring is waited out.
    #[inline]
    pub fn publish(&mut self, event: &[u8]) -> Result<i64> {
        self.check_len(event.len())?;
        self.publish_with(|s| s.copy_from_slice(event))
    }

    /// Publishes one event, or fails with [`Error::Full`] at once if there is no room.
    ///
    /// # Errors
    ///
    /// [`Error::Full`]: no room now (the slowest gating consumer has not freed
    /// the slot); nothing was written.
    #[inline]
    pub fn try_publish_with(&mut self, write: impl FnOnce(&mut [u8])) -> Result<i64> {
        let seq = self.next;
        if !protocol::within_limit(seq, self.limit) {
            self.rescan();
            if !protocol::within_limit(seq, self.limit) {
                return Err(self.full(seq));
            }
        }
        self.write_one(seq, write);
        Ok(seq)
    }

    /// Publishes `n` events, `write(i, slot)` for `i` in `0..n`, with one cursor store.
    /// Waits for room; `n > capacity` is an error, never a hang.
    ///
    /// # Errors
    ///
    /// [`Error::BatchTooLarge`]: `n` is 0 or more than the capacity.
    /// Only [`Error::GracefulShutdown`]: while it waited for room,
    /// a required consumer stalled past its grace period under `LivenessAction::GracefulShutdown`.
    /// A full ring is waited out.
    pub fn publish_batch(&mut self, n: usize, write: impl FnMut(usize, &mut [u8])) -> Result<i64> {
        let (first, passed) = self.room_for_batch(n)?;
        let last = self.write_and_publish(first, n, write);
        if passed {
            self.beat();
        }
        Ok(last)
    }

    /// [`publish_batch`](Self::publish_batch) without waiting: [`Error::Full`] if there is no room.
    ///
    /// # Errors
    ///
    /// [`Error::BatchTooLarge`]: `n` is 0 or more than the capacity.
    /// [`Error::Full`]: no room now (the slowest gating consumer has not freed
    /// the slot); nothing was written.
    pub fn try_publish_batch(
        &mut self,
        n: usize,
        write: impl FnMut(usize, &mut [u8]),
    ) -> Result<i64> {
        let first = self.room_for_batch_now(n)?;
        Ok(self.write_and_publish(first, n, write))
    }

    /// Room for a batch of `n` events, waiting for it: the batch's first sequence, and whether
    /// it passed the cached limit (then the caller beats after its cursor store:
    /// [`room_for`](Self::room_for)).
    #[inline(always)]
    pub(super) fn room_for_batch(&mut self, n: usize) -> Result<(i64, bool)> {
        let last = self.check_batch(n)?;
        let passed = self.room_for(last)?;
        Ok((self.next, passed))
    }

    /// Room for a batch of `n` events now, or [`Error::Full`]: the batch's first sequence.
    #[inline(always)]
    pub(super) fn room_for_batch_now(&mut self, n: usize) -> Result<i64> {
        let last = self.check_batch(n)?;
        if !protocol::within_limit(last, self.limit) {
            self.rescan();
            if !protocol::within_limit(last, self.limit) {
                return Err(self.full(last));
            }
        }
        Ok(self.next)
    }

    /// Claims `n` slots for zero-copy writing; nothing is visible until [`RawClaim::commit`].
    /// Dropping the claim uncommitted publishes nothing.
    ///
    /// # Errors
    ///
    /// [`Error::BatchTooLarge`]: `n` is 0 or more than the capacity.
    /// Only [`Error::GracefulShutdown`]: while it waited for room,
    /// a required consumer stalled past its grace period under `LivenessAction::GracefulShutdown`.
    /// A full ring is waited out.
    pub fn claim(&mut self, n: usize) -> Result<RawClaim<'_>> {
        let (first, passed) = self.room_for_batch(n)?;
        Ok(RawClaim {
            first,
            n,
            passed,
            producer: self,
        })
    }

    /// A non-waiting publish found no room for `seq`.
    #[cold]
    fn full(&self, seq: i64) -> Error {
        if let Some(c) = &self.counters {
            c.full.increment();
        }
        Error::Full {
            missing: (seq - self.limit) as u64,
        }
    }

    fn check_len(&self, len: usize) -> Result<()> {
        if len != self.element_size {
            return Err(Error::EventSize {
                expected: self.element_size,
                got: len,
            });
        }
        Ok(())
    }

    fn check_batch(&self, n: usize) -> Result<i64> {
        if n == 0 || n > self.capacity {
            return Err(Error::BatchTooLarge {
                n,
                capacity: self.capacity,
            });
        }
        Ok(self.next + n as i64 - 1)
    }

    #[inline(always)]
    fn write_one(&mut self, seq: i64, write: impl FnOnce(&mut [u8])) {
        crate::failpoint::hit("producer.claimed");
        if mutant!("producer.publish-before-write") {
            self.publish_cursor(seq);
        }
        // SAFETY: gating guarantees no consumer reads this slot until the cursor passes it.
        write(unsafe { std::slice::from_raw_parts_mut(self.slot_ptr(seq), self.element_size) });
        crate::failpoint::hit("producer.written");
        self.publish_cursor(seq);
    }

    #[inline(always)]
    fn write_and_publish(
        &mut self,
        first: i64,
        n: usize,
        mut write: impl FnMut(usize, &mut [u8]),
    ) -> i64 {
        let size = self.element_size;
        self.write_runs(first, n, |producer, i, slot_index, len| {
            // SAFETY: the run's slots are claimed (`write_runs`).
            let run = unsafe {
                std::slice::from_raw_parts_mut(producer.slots.add(slot_index * size), len * size)
            };
            for (k, slot) in run.chunks_exact_mut(size).enumerate() {
                write(i + k, slot);
                if mutant!("producer.batch-store-per-event") {
                    producer.store_cursor_coalescing(first + (i + k) as i64);
                }
            }
        })
    }

    /// [`write_and_publish`](Self::write_and_publish) for the typed batch: each run is a
    /// `&mut [E]`, so a loop that fills it is a plain loop over a slice (no per-event slot
    /// arithmetic, length or alignment check), which the compiler can vectorise.
    #[inline(always)]
    pub(super) fn write_and_publish_pod<E: Pod>(
        &mut self,
        first: i64,
        n: usize,
        mut write: impl FnMut(usize, &mut E),
    ) -> i64 {
        debug_assert_eq!(self.element_size, std::mem::size_of::<E>());
        self.write_runs(first, n, |producer, i, slot_index, len| {
            // SAFETY: the run's slots are claimed (`write_runs`); the slots hold `capacity`
            // aligned `E`s (the ring was created for `E`).
            let run = unsafe {
                std::slice::from_raw_parts_mut(producer.slots.cast::<E>().add(slot_index), len)
            };
            for (k, e) in run.iter_mut().enumerate() {
                write(i + k, e);
                if mutant!("producer.batch-store-per-event") {
                    producer.store_cursor_coalescing(first + (i + k) as i64);
                }
            }
        })
    }

    /// Hands the claimed slots of `first..first + n` to `run(self, i, slot_index, len)` as at
    /// most two runs of contiguous slots (split where the ring wraps; `i` is the index of the
    /// run's first event in the batch), then publishes them with one cursor store.
    #[inline(always)]
    fn write_runs(
        &mut self,
        first: i64,
        n: usize,
        mut run: impl FnMut(&mut Self, usize, usize, usize),
    ) -> i64 {
        crate::failpoint::hit("producer.claimed");
        // Gating guarantees no consumer reads these slots until the cursor passes them, and
        // `n <= capacity` (checked by the caller), so the two runs never overlap.
        let start = (first & self.mask) as usize;
        let head = n.min(self.capacity - start);
        run(self, 0, start, head);
        if n > head {
            run(self, head, 0, n - head);
        }
        let last = first + n as i64 - 1;
        crate::failpoint::hit("producer.written");
        self.publish_cursor(last);
        last
    }

    #[inline(always)]
    pub(super) fn publish_cursor(&mut self, last: i64) {
        self.next = last + 1;
        // Without coalescing every publish stores the cursor, so the last stored value is always
        // `next - 1` and `stored` is neither read nor written: one store per event less.
        if self.coalesce == 1 {
            self.store_cursor(last);
        } else if last - self.stored >= self.coalesce {
            self.store_cursor_coalescing(last);
        }
    }

    /// Stores the cursor at `last` and remembers it as `stored` (coalescing).
    #[inline(always)]
    fn store_cursor_coalescing(&mut self, last: i64) {
        self.store_cursor(last);
        self.stored = last;
    }

    /// Stores the cursor at `last`, wakes parked consumers if any announced themselves, and
    /// counts the events in batches.
    #[inline(always)]
    fn store_cursor(&mut self, last: i64) {
        let cell = self.cursor.cell();
        protocol::publish(cell, last);
        if !mutant!("producer.no-wake") {
            // SAFETY: `parked` points into the registry mapping `self` holds.
            let word = if mutant!("producer.wake-word-on-cursor") {
                &cell.waiters
            } else {
                unsafe { &*self.parked }
            };
            if futex::wake_if_waiting(&cell.value, word) && !mutant!("producer.no-parked-look") {
                self.look_at_parked();
            }
        }
        // Counted once visible, in batches: two counter stores per cursor store would be two
        // more store-buffer entries per event queued behind the cursor line's transfer.
        if self.counters.is_some() && last - self.counted >= COUNT_EVERY {
            self.count_published(last);
        }
    }

    /// Adds the events up to `visible` (the cursor's value) to `events_published` and its
    /// bytes (SPEC.md §12.6).
    #[cold]
    #[inline(never)]
    pub(super) fn count_published(&mut self, visible: i64) {
        if let Some(c) = &self.counters {
            let n = (visible - self.counted) as u64;
            c.published.add(n);
            if !mutant!("producer.counters-bytes-uncounted") {
                c.published_bytes.add(n * self.element_size as u64);
            }
        }
        self.counted = visible;
    }

    /// Brings the counters up to the cursor's value (every event consumers can see).
    pub(super) fn count_visible(&mut self) {
        let visible = if self.coalesce > 1 {
            self.stored
        } else {
            self.next - 1
        };
        if self.counted < visible {
            self.count_published(visible);
        }
    }

    /// Makes every event published so far visible (needed only with
    /// [`ProducerBuilder::coalesce`](super::ProducerBuilder::coalesce); otherwise every publish
    /// call is visible at once) and brings `events_published` up to date: between flushes it
    /// is added to once per 64 events (SPEC.md §12.6), and at every wait for room and at close.
    #[inline]
    pub fn flush(&mut self) {
        if self.coalesce > 1 && self.stored < self.next - 1 {
            self.store_cursor_coalescing(self.next - 1);
        }
        self.count_visible();
    }
}

/// Slots claimed by [`RawProducer::claim`], written in place and published by `commit`.
pub struct RawClaim<'a> {
    producer: &'a mut RawProducer,
    first: i64,
    n: usize,
    /// The claim passed the cached limit: the commit beats after its cursor store.
    passed: bool,
}

impl RawClaim<'_> {
    /// First claimed sequence.
    pub fn first_sequence(&self) -> i64 {
        self.first
    }

    /// Number of claimed slots.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Never true (claims are at least one slot).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Slot `i` of the claim.
    pub fn slot_mut(&mut self, i: usize) -> &mut [u8] {
        assert!(i < self.n, "slot {i} outside a claim of {}", self.n);
        // SAFETY: claimed slots are the producer's alone until committed.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.producer.slot_ptr(self.first + i as i64),
                self.producer.element_size,
            )
        }
    }

    /// Publishes every claimed slot with one cursor store. Returns the last sequence.
    pub fn commit(self) -> i64 {
        let last = self.first + self.n as i64 - 1;
        self.producer.publish_cursor(last);
        if self.passed {
            self.producer.beat();
        }
        last
    }
}
