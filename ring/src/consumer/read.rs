//! The hot path: reading published events in place or copied out, one acquire load of the
//! producer cursor per refresh and one release store of this consumer's cursor per commit
//! (SPEC.md §7.4). Waiting for the next event is `wait`'s (§8).

use super::RawConsumer;
use crate::error::{Error, Result};
use crate::wait::WaitStrategy;
use crate::{futex, protocol};

/// Empty polls of a spinning consumer per look at its standing, the ring's state and the clock:
/// at tens of nanoseconds a poll, the look is a few microseconds late at most.
const IDLE_POLLS_PER_LOOK: u32 = 64;

impl RawConsumer {
    #[inline(always)]
    pub(super) fn slot(&self, seq: i64) -> &[u8] {
        // SAFETY: masked index < capacity; the producer does not rewrite this slot before our
        // cursor passes it (gating).
        unsafe {
            std::slice::from_raw_parts(
                self.slots
                    .add((seq & self.mask) as usize * self.element_size),
                self.element_size,
            )
        }
    }

    /// Whether `self.next` is published; refreshes the cached producer cursor when needed.
    /// Fails with [`Error::Closed`] once the producer closed the ring and all is consumed.
    #[inline(always)]
    pub(super) fn ready(&mut self) -> Result<bool> {
        if self.next <= self.available {
            return Ok(true);
        }
        let published = self.poll_cursor();
        if published < self.next {
            return self.idle();
        }
        self.refreshed(published)?;
        Ok(true)
    }

    /// The producer cursor's value: one acquire load (SPEC.md §7.4).
    #[inline(always)]
    pub(super) fn poll_cursor(&self) -> i64 {
        let published = protocol::published(self.producer.cell());
        if mutant!("consumer.reads-past-cursor") {
            return published + 1;
        }
        published
    }

    /// The producer cursor showed `published`, at or past `next`: remember it, check this
    /// consumer's standing (R7.10.g), beat if due and note the lag.
    #[inline(always)]
    pub(super) fn refreshed(&mut self, published: i64) -> Result<()> {
        self.check_evicted()?;
        self.note_refresh(published)
    }

    /// [`refreshed`](Self::refreshed) without the standing check, for a caller that checks
    /// after reading anyway (the busy-spinning read of one event): remember `published`, beat
    /// if due and note the lag.
    #[inline(always)]
    pub(super) fn note_refresh(&mut self, published: i64) -> Result<()> {
        self.available = published;
        // A busy consumer never idles into `check_producer_gone`: it beats from here, once per
        // 1024 refreshes without an idle look, so peers in other pid namespaces see it alive
        // (SPEC.md §7.10).
        self.refreshes = self.refreshes.wrapping_add(1);
        if self.refreshes % 1024 == 0 {
            self.beat_if_due()?;
        }
        // `0 <= next <= published` (`next` is a checked position plus one): the difference
        // cannot overflow and plus one fits a u64, so no saturating arithmetic is needed.
        self.note_lag((published.wrapping_sub(self.next) as u64).wrapping_add(1));
        Ok(())
    }

    /// Nothing new is published. An empty poll of a polling reader loads the producer cursor
    /// and the ring state (a line written only at close, so that a drained consumer learns of
    /// the close at its next poll) and writes no shared memory but, at the first one after
    /// events were read, the counters' catch-up: its standing, the liveness look, the clock and
    /// the empty-poll counter wait for every [`IDLE_POLLS_PER_LOOK`]-th empty poll,
    /// or for the first one after a wait that slept. (Events are still checked against
    /// eviction before they are handed out, in [`ready`](Self::ready) and after reading: an idle
    /// consumer only learns of an eviction a few microseconds later.)
    #[inline(always)]
    pub(super) fn idle(&mut self) -> Result<bool> {
        // The counters catch up at the first empty poll (SPEC.md R12.6.c).
        self.flush();
        self.check_closed()?;
        self.count_idle_poll().map(|_| false)
    }

    /// [`idle`](Self::idle) for a loop of ours that polls again at once (the busy-spinning
    /// `read`): the ring state waits for the look every [`IDLE_POLLS_PER_LOOK`]-th poll. Its
    /// caller cannot tell a close seen a few polls later, and a second line loaded on every
    /// round of the spin costs the hop about 2.4 ns (bench/RESULTS.md, "Fourth round").
    /// Returns whether this poll looked: the look (a clock read among the rest) takes as long
    /// as a pause, so the caller polls again at once instead of pausing too.
    #[inline(always)]
    pub(super) fn idle_spinning(&mut self) -> Result<bool> {
        self.flush();
        self.count_idle_poll()
    }

    /// [`Error::Closed`] once the producer closed the ring and this consumer read everything.
    #[inline(always)]
    fn check_closed(&self) -> Result<()> {
        if let Some(final_sequence) = self.registry.as_ref().and_then(|r| r.closed()) {
            if self.next > final_sequence {
                return Err(Error::Closed { final_sequence });
            }
        }
        Ok(())
    }

    /// Counts an empty poll; every [`IDLE_POLLS_PER_LOOK`]-th, or the first after a wait that
    /// slept, looks at the rest. Returns whether it looked.
    #[inline(always)]
    fn count_idle_poll(&mut self) -> Result<bool> {
        self.idle_polls += 1;
        if self.idle_polls < IDLE_POLLS_PER_LOOK && !self.waited {
            return Ok(false);
        }
        self.idle_look()
    }

    /// The look of an idle consumer: counters, close, standing, producer liveness and its own
    /// heartbeat (the clock). A consumer that idles now and then beats from here, while it has
    /// nothing to read, rather than on a refresh, where the clock read would delay the event
    /// just published: the refresh count restarts.
    #[cold]
    #[inline(never)]
    fn idle_look(&mut self) -> Result<bool> {
        if let Some(c) = &self.counters {
            c.empty_polls.add(u64::from(self.idle_polls));
        }
        self.idle_polls = 0;
        self.refreshes = 0;
        // Closed before gone: a producer that closed cleanly and exited ended the ring.
        self.check_closed()?;
        self.check_evicted()?;
        self.check_producer_gone()?;
        Ok(true)
    }

    /// Commits the cursor at `seq` after reading up to it; the counters follow in batches
    /// (`counting`).
    #[inline(always)]
    pub(super) fn commit_read(&mut self, seq: i64) {
        self.commit(seq);
        self.count_committed(seq);
    }

    #[inline(always)]
    pub(super) fn commit(&mut self, seq: i64) {
        let cell = self.cursor.cell();
        protocol::commit(cell, seq);
        if !mutant!("consumer.no-wake") {
            let _ = futex::wake_if_waiting(&cell.value, &cell.waiters);
        }
    }

    /// Reads the next event with `read(seq, bytes)` if one is published, then commits it.
    ///
    /// # Errors
    ///
    /// The ring ended: [`Error::Closed`] (closed, and everything consumed),
    /// [`Error::ProducerGone`] (its producer died and everything it
    /// published is consumed; keep polling to continue after a restart),
    /// [`Error::RingRemoved`] (removed or replaced meanwhile). This
    /// consumer stopped gating: [`Error::Evicted`] or
    /// [`Error::Lapped`]; events handed over by a call that fails this way
    /// may have been overwritten and must be discarded (SPEC.md §7.10).
    #[inline]
    pub fn try_read_with<R>(&mut self, read: impl FnOnce(i64, &[u8]) -> R) -> Result<Option<R>> {
        if !self.ready()? {
            return Ok(None);
        }
        self.take_with(read).map(Some)
    }

    /// Reads the next event, which [`ready`](Self::ready) found published, and commits it.
    #[inline(always)]
    pub(super) fn take_with<R>(&mut self, read: impl FnOnce(i64, &[u8]) -> R) -> Result<R> {
        let r = self.read_slot(read);
        self.finish_read(r)
    }

    /// `read` of the next event's slot (published: the caller checked).
    #[inline(always)]
    pub(super) fn read_slot<R>(&mut self, read: impl FnOnce(i64, &[u8]) -> R) -> R {
        let seq = self.next;
        if mutant!("consumer.commit-before-read") {
            self.commit(seq);
        }
        read(seq, self.slot(seq))
    }

    /// After [`read_slot`](Self::read_slot): the standing check that makes what was read
    /// trustworthy (R7.10.g), then the commit.
    #[inline(always)]
    pub(super) fn finish_read<R>(&mut self, r: R) -> Result<R> {
        self.check_evicted()?;
        let seq = self.next;
        self.next += 1;
        self.commit_read(seq);
        Ok(r)
    }

    /// Copies the next event into `out` if one is published. Returns its sequence.
    ///
    /// # Errors
    ///
    /// [`Error::EventSize`]: the buffer is not one event long. The ring
    /// ended: [`Error::Closed`] (closed, and everything consumed),
    /// [`Error::ProducerGone`] (its producer died and everything it
    /// published is consumed; keep polling to continue after a restart),
    /// [`Error::RingRemoved`] (removed or replaced meanwhile). This
    /// consumer stopped gating: [`Error::Evicted`] or
    /// [`Error::Lapped`]; events handed over by a call that fails this way
    /// may have been overwritten and must be discarded (SPEC.md §7.10).
    #[inline]
    pub fn try_read_into(&mut self, out: &mut [u8]) -> Result<Option<i64>> {
        if out.len() != self.element_size {
            return Err(Error::EventSize {
                expected: self.element_size,
                got: out.len(),
            });
        }
        self.try_read_with(|seq, bytes| {
            out.copy_from_slice(bytes);
            seq
        })
    }

    /// Copies the next event into `out`, waiting for it.
    ///
    /// # Errors
    ///
    /// [`Error::EventSize`]: the buffer is not one event long. The ring
    /// ended: [`Error::Closed`] (closed, and everything consumed),
    /// [`Error::ProducerGone`] (its producer died and everything it
    /// published is consumed; keep polling to continue after a restart),
    /// [`Error::RingRemoved`] (removed or replaced meanwhile). This
    /// consumer stopped gating: [`Error::Evicted`] or
    /// [`Error::Lapped`]; events handed over by a call that fails this way
    /// may have been overwritten and must be discarded (SPEC.md §7.10).
    pub fn read_into(&mut self, out: &mut [u8]) -> Result<i64> {
        if out.len() != self.element_size {
            return Err(Error::EventSize {
                expected: self.element_size,
                got: out.len(),
            });
        }
        if self.wait != WaitStrategy::BusySpin {
            self.wait_ready()?;
        }
        self.spin_read_with(|seq, bytes| {
            out.copy_from_slice(bytes);
            seq
        })
    }

    /// Leases the next event in place; the cursor is committed when the lease drops.
    ///
    /// # Errors
    ///
    /// The ring ended: [`Error::Closed`] (closed, and everything consumed),
    /// [`Error::ProducerGone`] (its producer died and everything it
    /// published is consumed; keep polling to continue after a restart),
    /// [`Error::RingRemoved`] (removed or replaced meanwhile). This
    /// consumer stopped gating: [`Error::Evicted`] or
    /// [`Error::Lapped`]; events handed over by a call that fails this way
    /// may have been overwritten and must be discarded (SPEC.md §7.10).
    #[inline]
    pub fn try_lease(&mut self) -> Result<Option<RawLease<'_>>> {
        if !self.ready()? {
            return Ok(None);
        }
        Ok(Some(RawLease {
            seq: self.next,
            consumer: self,
        }))
    }

    /// Leases the next event, waiting for it.
    ///
    /// # Errors
    ///
    /// The ring ended: [`Error::Closed`] (closed, and everything consumed),
    /// [`Error::ProducerGone`] (its producer died and everything it
    /// published is consumed; keep polling to continue after a restart),
    /// [`Error::RingRemoved`] (removed or replaced meanwhile). This
    /// consumer stopped gating: [`Error::Evicted`] or
    /// [`Error::Lapped`]; events handed over by a call that fails this way
    /// may have been overwritten and must be discarded (SPEC.md §7.10).
    pub fn lease(&mut self) -> Result<RawLease<'_>> {
        self.wait_ready()?;
        Ok(RawLease {
            seq: self.next,
            consumer: self,
        })
    }

    /// Hands every published event (at most `max`) to `run(first_seq, bytes)` as at most two
    /// contiguous runs of whole events (split where the ring wraps), then commits the cursor
    /// once. Returns how many events were handed over (0 if none is published).
    ///
    /// This is the batch primitive: one bounds computation per run instead of per event, so
    /// the caller's loop over a run is as tight as over a plain slice.
    ///
    /// # Errors
    ///
    /// The ring ended: [`Error::Closed`] (closed, and everything consumed),
    /// [`Error::ProducerGone`] (its producer died and everything it
    /// published is consumed; keep polling to continue after a restart),
    /// [`Error::RingRemoved`] (removed or replaced meanwhile). This
    /// consumer stopped gating: [`Error::Evicted`] or
    /// [`Error::Lapped`]; events handed over by a call that fails this way
    /// may have been overwritten and must be discarded (SPEC.md §7.10).
    #[inline]
    pub fn poll_runs(&mut self, max: usize, mut run: impl FnMut(i64, &[u8])) -> Result<usize> {
        self.runs(max, |first, bytes, _| run(first, bytes))
    }

    /// [`poll_runs`](Self::poll_runs), also telling each run the batch's last sequence.
    #[inline(always)]
    pub(super) fn runs(
        &mut self,
        max: usize,
        mut run: impl FnMut(i64, &[u8], i64),
    ) -> Result<usize> {
        if max == 0 || !self.ready()? {
            return Ok(0);
        }
        let first = self.next;
        // Never more than one ring: with gating that is all there can be, and a producer that
        // does not gate us (a foreign one, or after an eviction) must not make us read past
        // the ring's end.
        let span = i64::try_from(max.min(self.capacity)).unwrap_or(i64::MAX);
        let last = self.available.min(first.saturating_add(span - 1));
        let n = (last - first + 1) as usize;
        let start = (first & self.mask) as usize;
        let head = n.min(self.capacity - start);
        // SAFETY: slots start..start+head and 0..n-head are published and not yet committed,
        // so the producer does not rewrite them while these slices live (gating).
        unsafe {
            run(
                first,
                std::slice::from_raw_parts(
                    self.slots.add(start * self.element_size),
                    head * self.element_size,
                ),
                last,
            );
            if n > head {
                run(
                    first + head as i64,
                    std::slice::from_raw_parts(self.slots, (n - head) * self.element_size),
                    last,
                );
            }
        }
        self.check_evicted()?;
        self.next = last + 1;
        self.commit_read(last);
        Ok(n)
    }

    /// Hands every published event (at most `max`) to `f(seq, bytes, end_of_batch)` and commits
    /// the cursor once. Returns how many were handled (0 if none is published).
    ///
    /// # Errors
    ///
    /// The ring ended: [`Error::Closed`] (closed, and everything consumed),
    /// [`Error::ProducerGone`] (its producer died and everything it
    /// published is consumed; keep polling to continue after a restart),
    /// [`Error::RingRemoved`] (removed or replaced meanwhile). This
    /// consumer stopped gating: [`Error::Evicted`] or
    /// [`Error::Lapped`]; events handed over by a call that fails this way
    /// may have been overwritten and must be discarded (SPEC.md §7.10).
    #[inline]
    pub fn poll_batch(&mut self, max: usize, mut f: impl FnMut(i64, &[u8], bool)) -> Result<usize> {
        let size = self.element_size;
        self.runs(max, |first, bytes, last| {
            for (i, event) in bytes.chunks_exact(size).enumerate() {
                let seq = first + i as i64;
                f(seq, event, seq == last);
            }
        })
    }

    /// [`poll_batch`](Self::poll_batch) after waiting for at least one event.
    ///
    /// # Errors
    ///
    /// The ring ended: [`Error::Closed`] (closed, and everything consumed),
    /// [`Error::ProducerGone`] (its producer died and everything it
    /// published is consumed; keep polling to continue after a restart),
    /// [`Error::RingRemoved`] (removed or replaced meanwhile). This
    /// consumer stopped gating: [`Error::Evicted`] or
    /// [`Error::Lapped`]; events handed over by a call that fails this way
    /// may have been overwritten and must be discarded (SPEC.md §7.10).
    pub fn wait_batch(&mut self, max: usize, f: impl FnMut(i64, &[u8], bool)) -> Result<usize> {
        self.wait_ready()?;
        self.poll_batch(max, f)
    }
}

/// An event leased in place; dereferences to its bytes and commits the cursor on drop.
pub struct RawLease<'a> {
    consumer: &'a mut RawConsumer,
    seq: i64,
}

impl RawLease<'_> {
    /// The event's sequence.
    pub fn sequence(&self) -> i64 {
        self.seq
    }

    /// Whether what was read through this lease can be trusted: fails with [`Error::Evicted`]
    /// or [`Error::Lapped`] if the producer evicted or retired this consumer meanwhile, since it
    /// may then have rewritten the slot (SPEC.md §7.10). Call after reading, before acting on
    /// the bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Evicted`] or [`Error::Lapped`]: the
    /// producer stopped gating on this consumer and may have rewritten the slot.
    pub fn verify(&self) -> Result<()> {
        self.consumer.check_evicted()
    }
}

impl std::ops::Deref for RawLease<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.consumer.slot(self.seq)
    }
}

impl Drop for RawLease<'_> {
    fn drop(&mut self) {
        self.consumer.next = self.seq + 1;
        self.consumer.commit_read(self.seq);
    }
}
