//! How a consumer waits for the next event (SPEC.md §8): with its wait strategy, its sleeps
//! capped so that it still beats while idle (§7.10), and, when it parks, announced in the wake
//! word the producer reads and marked in its registry slot (R8.d). The busy-spinning read that
//! needs none of this is `spin`'s.

use super::RawConsumer;
use crate::error::Result;
use crate::layout::registry::{park_token, SlotState};
use crate::wait::{Paused, WaitStrategy, Waiter};
use crate::{process, protocol};
use std::time::Duration;

/// The longest a waiting consumer on a ringproof ring sleeps between two looks (and so between
/// two heartbeats): a quarter of the heartbeat timeout (SPEC.md §7.10).
const MAX_QUIET: Duration =
    Duration::from_millis(process::HEARTBEAT_TIMEOUT.as_millis() as u64 / 4);

/// `wait` with its sleeps (a sleep strategy's period, a blocking strategy's backstop) capped at
/// [`MAX_QUIET`].
fn cap_sleeps(wait: WaitStrategy) -> WaitStrategy {
    match wait {
        WaitStrategy::Sleep(d) => WaitStrategy::Sleep(d.min(MAX_QUIET)),
        WaitStrategy::Blocking { spins, backstop } => WaitStrategy::Blocking {
            spins,
            backstop: backstop.min(MAX_QUIET),
        },
        w => w,
    }
}

impl RawConsumer {
    /// A waiter for this consumer's strategy, its sleeps capped at [`MAX_QUIET`] on a ringproof
    /// ring: the consumer beats only between sleeps, and one in another pid namespace that slept
    /// past the heartbeat timeout would look dead to the producer while merely idle.
    fn waiter(&self) -> Waiter {
        Waiter::new(if self.registry.is_some() {
            cap_sleeps(self.wait)
        } else {
            self.wait
        })
    }

    /// Waits (per the wait strategy) until the next event is published.
    pub(super) fn wait_ready(&mut self) -> Result<()> {
        if self.wait == WaitStrategy::BusySpin {
            // The spin itself, in line: a poll and a pause per round and nothing else, so the
            // round (and with it the delay from the producer's store to this side seeing it)
            // is as short as the pause allows.
            while !self.ready()? {
                crate::sync::spin_hint();
            }
            return Ok(());
        }
        let mut waiter = self.waiter();
        while !self.ready()? {
            self.pause(&mut waiter);
        }
        Ok(())
    }

    /// One pause of a wait for the producer cursor to pass `available`.
    #[inline]
    fn pause(&mut self, waiter: &mut Waiter) {
        let cell = self.producer.cell();
        let registry = self.registry.as_ref();
        // The producer reads its wake word after every cursor store: on a ringproof ring that
        // is the registry's `consumers_parked`, in a line this spinning consumer never touches;
        // the cell's `waiters` only where there is no registry (disruptor-mp never wakes).
        let parked = registry.map_or(&cell.waiters, |r| &r.control().consumers_parked);
        // Its slot records that it counted itself (SPEC.md §8 {R8.d}), so that a producer that
        // retires it as dead while it sleeps (killed) takes the count back; and it sleeps only
        // while the slot is still its own and ACTIVE (the look that pairs with that take-back).
        // Only a parking strategy uses either: a spinning one pays nothing for them.
        let slot = registry
            .zip(self.slot)
            .filter(|_| self.wait.parks())
            .map(|(r, i)| r.slot(i));
        let (owner, mark) = (
            self.owner,
            slot.map(|s| (&s.parked, park_token(self.owner))),
        );
        let paused = waiter.pause(&cell.value, parked, mark, self.available, || {
            registry.is_none_or(|r| r.closed().is_none())
                && slot.is_none_or(|s| {
                    protocol::slot_state(s) == Some(SlotState::Active)
                        && protocol::owner(s) == owner
                })
        });
        self.waited |= paused != Paused::Spun;
        if paused == Paused::Parked {
            if let Some(c) = &self.counters {
                c.park.increment();
                c.unpark.increment();
            }
        }
    }

    /// Waits (per the wait strategy) until the next event is published or `timeout` passes.
    /// Returns whether an event is ready.
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
    pub fn wait_for_event(&mut self, timeout: Duration) -> Result<bool> {
        let deadline = std::time::Instant::now() + timeout;
        let mut waiter = self.waiter();
        while !self.ready()? {
            if std::time::Instant::now() >= deadline {
                return Ok(false);
            }
            self.pause(&mut waiter);
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_consumers_wake_often_enough_to_beat() {
        let long = Duration::from_secs(5);
        assert_eq!(
            cap_sleeps(WaitStrategy::Sleep(long)),
            WaitStrategy::Sleep(MAX_QUIET)
        );
        assert_eq!(
            cap_sleeps(WaitStrategy::Blocking {
                spins: 7,
                backstop: long
            }),
            WaitStrategy::Blocking {
                spins: 7,
                backstop: MAX_QUIET
            }
        );
        assert_eq!(
            cap_sleeps(WaitStrategy::blocking()),
            WaitStrategy::blocking()
        );
        assert_eq!(
            cap_sleeps(WaitStrategy::Sleep(Duration::from_micros(50))),
            WaitStrategy::Sleep(Duration::from_micros(50))
        );
        assert!(MAX_QUIET * 2 < process::HEARTBEAT_TIMEOUT);
    }
}
