//! The consumer's standing (SPEC.md §7.10): whether its registry slot still gates the producer
//! (evicted or retired as dead otherwise), whether the ring closed or its producer died, and
//! its heartbeat. The per-refresh check is one fence and one load; the rest runs at most once
//! per liveness interval.

use super::RawConsumer;
use crate::error::{Error, Result};
use crate::layout::registry::{Slot, SlotState};
use crate::liveness::{self, LIVENESS_CHECK};
use crate::protocol;
use crate::registry::Registry;
use crate::segment;

/// Set once this process saw its producer gone (only read by a planted defect; a process-local
/// flag, not a shared-memory word, hence `Relaxed` below).
static GONE_ONCE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl RawConsumer {
    /// Stores this consumer's heartbeat if the last one is [`LIVENESS_CHECK`] old; returns
    /// whether it did (and so whether a liveness look is due). Fails, without beating, if the
    /// slot is no longer this process's (see [`check_standing`](Self::check_standing)).
    pub(super) fn beat_if_due(&mut self) -> Result<bool> {
        if !liveness::due(
            &mut self.last_check,
            std::time::Instant::now(),
            LIVENESS_CHECK,
        ) {
            return Ok(false);
        }
        if let (Some(reg), Some(i)) = (&self.registry, self.slot) {
            self.check_standing(reg, i)?;
            reg.slot_beat(i);
        }
        Ok(true)
    }

    /// The slow-path half of the standing check, at most once per [`LIVENESS_CHECK`]: the slot
    /// is ACTIVE *and* its owner word is still this process's. The owner word changes only if
    /// the producer retired this consumer as dead (while it was alive but looked dead: stopped,
    /// in another pid namespace, ...) and another process then joined under the id; the state
    /// word alone, checked on every refresh, would then read ACTIVE again.
    #[cold]
    fn check_standing(&self, reg: &Registry, i: usize) -> Result<()> {
        let s = reg.slot(i);
        let state = protocol::slot_state(s);
        if state != Some(SlotState::Active) {
            return Err(self.retired(state));
        }
        if protocol::owner(s) != self.owner {
            return Err(self.retired(Some(SlotState::Dead)));
        }
        Ok(())
    }

    /// Fails if this consumer's slot no longer gates the producer: the producer evicted it
    /// ([`Error::Evicted`]: a required consumer that stalled past its grace period) or retired
    /// it as dead, or it was freed ([`Error::Lapped`]: it looked dead, e.g. stopped for longer
    /// than the heartbeat timeout in another pid namespace, or its `/proc` entry said so). From
    /// then on the producer rewrites slots this consumer has not read. One load of the state
    /// word, when the consumer refreshes the producer cursor and again after reading, before
    /// committing: events handed over by a call that fails this way may have been overwritten
    /// and must be discarded (SPEC.md §7.10).
    #[inline(always)]
    pub(super) fn check_evicted(&self) -> Result<()> {
        if let Some(own) = self.own_slot() {
            let state = protocol::state_after_read(own);
            if state != Some(SlotState::Active) && !mutant!("consumer.ignores-eviction") {
                return Err(self.retired(state));
            }
        }
        Ok(())
    }

    /// This consumer's registry slot, if it has one: a pointer kept from the join, so that the
    /// check on every refresh is one load, without the registry's bounds check and mapping
    /// lookups.
    #[inline(always)]
    fn own_slot(&self) -> Option<&Slot> {
        // SAFETY: null, or a slot of `self.registry`'s mapping, which lives as long as `self`.
        unsafe { self.own_slot.as_ref() }
    }

    /// The error of a consumer whose slot stopped gating in `state`.
    #[cold]
    fn retired(&self, state: Option<SlotState>) -> Error {
        let (id, from, to) = (self.id.clone(), self.next, self.producer.load());
        let from = if mutant!("consumer.evicted-wrong-range") {
            from + 1
        } else {
            from
        };
        if state == Some(SlotState::Evicted) {
            Error::Evicted { id, from, to }
        } else {
            Error::Lapped { id, from, to }
        }
    }

    /// Nothing to read (and the ring not closed, which every empty poll looks at): has its
    /// producer died? Also where an idle consumer beats its heartbeat. At most one liveness look
    /// per [`LIVENESS_CHECK`].
    #[cold]
    pub(super) fn check_producer_gone(&mut self) -> Result<()> {
        if self.registry.is_none() {
            return Ok(());
        }
        self.waited = false;
        if !self.beat_if_due()? {
            return Ok(());
        }
        let Some(reg) = self.registry.as_ref() else {
            return Ok(());
        };
        if mutant!("consumer.producer-gone-sticky")
            && GONE_ONCE.load(std::sync::atomic::Ordering::Relaxed)
        {
            return Err(Error::ProducerGone {
                last_published: self.producer.load(),
            });
        }
        // A producer cursor that moved since the last look is proof of life: the producer
        // published within the interval, and one that dies stops moving it, so the next look
        // judges it (a dead producer is seen at most two intervals late). Only a cursor that
        // stood still needs §6.2's verdict, whose `/proc` read (~10 us) would otherwise stall
        // a reader that idles between events once per interval (bench/RESULTS.md, "Fifth
        // round").
        let at_look = self.producer.load();
        let moved = self.published_at_look.is_some_and(|p| p != at_look);
        self.published_at_look = Some(at_look);
        if moved {
            return Ok(());
        }
        if !reg.producer_alive() {
            // Re-read the cursor: a producer that published and then died is "gone" only once
            // everything it published is consumed. (Into a local: `available` is refreshed only
            // in `ready`, next to the eviction check.)
            let published = self.producer.load();
            if self.next > published {
                // Gone for good if the ring was removed (`ringproof rm`) or replaced meanwhile:
                // a restarted producer creates a new registry that this mapping never sees.
                if segment::identity_of(reg.segment().path()) != Some(reg.segment().identity()) {
                    return Err(Error::RingRemoved {
                        ring: self.name.name().to_owned(),
                    });
                }
                if mutant!("consumer.producer-gone-sticky") {
                    GONE_ONCE.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                return Err(Error::ProducerGone {
                    last_published: published,
                });
            }
        }
        Ok(())
    }
}
