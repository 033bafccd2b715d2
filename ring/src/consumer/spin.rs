//! The busy-spinning read of one event, for the lowest latency a hop can have: the slot's load
//! is issued right after the load of the producer cursor that shows it published, and the
//! refresh's bookkeeping (standing, heartbeat count, lag) runs while the slot's line is on its
//! way, instead of before its load. The rules are [`read`](super::read)'s, in another order:
//! the standing check that makes the bytes trustworthy still follows the read (R7.10.g).

use super::RawConsumer;
use crate::error::Result;
use crate::sync::spin_hint;

impl RawConsumer {
    /// Spins (a poll and a pause per round) until the next event is published, then reads it
    /// with `read` and commits it. For [`WaitStrategy::BusySpin`](crate::WaitStrategy) only:
    /// the other strategies pause out of line.
    #[inline(always)]
    pub(super) fn spin_read_with<R>(&mut self, read: impl FnOnce(i64, &[u8]) -> R) -> Result<R> {
        if self.next > self.available {
            loop {
                let published = self.poll_cursor();
                if published >= self.next {
                    // Acquire above: the slot's bytes are the producer's.
                    let r = self.read_slot(read);
                    self.refreshed(published)?;
                    return self.finish_read(r);
                }
                self.idle()?;
                spin_hint();
            }
        }
        self.take_with(read)
    }
}
