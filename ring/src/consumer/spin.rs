//! The busy-spinning read of one event, for the lowest latency a hop can have: a poll of the
//! producer cursor and a pause per round (every 64th round, a look at the ring state, the
//! standing and the clock instead of the pause: `idle_spinning`) until the cursor shows the
//! event, then the
//! refresh's bookkeeping (heartbeat count, lag) and the read. The rules are
//! [`read`](super::read)'s: the standing check that makes the bytes trustworthy follows the
//! read (R7.10.g).
//!
//! The bookkeeping comes before the slot's load in program order: the core issues that load
//! as soon as its address is known (it does not depend on the bookkeeping), and the
//! bookkeeping's stores can drain while the slot's line is on its way instead of queueing, once
//! it arrives, in front of the stores of whatever the caller does next with the event.

use super::RawConsumer;
use crate::error::Result;
use crate::sync::spin_hint;

impl RawConsumer {
    /// Spins (a poll and a pause per round) until the next event is published, then reads it
    /// with `read` and commits it. The strategies other than
    /// [`WaitStrategy::BusySpin`](crate::WaitStrategy) pause out of line (`wait_ready`) first,
    /// and come here with the event published.
    #[inline(always)]
    pub(super) fn spin_read_with<R>(&mut self, read: impl FnOnce(i64, &[u8]) -> R) -> Result<R> {
        if self.next > self.available {
            loop {
                let published = self.poll_cursor();
                if published >= self.next {
                    // `take_with` checks the standing after the read, as R7.10.g asks: a check
                    // at the refresh too would only repeat it.
                    self.note_refresh(published)?;
                    break;
                }
                if !self.idle_spinning()? {
                    spin_hint();
                }
            }
        }
        // Acquire above (or at an earlier refresh): the slot's bytes are the producer's.
        self.take_with(read)
    }
}
