//! How a consumer waits for events and a producer waits for free slots.

use crate::sync::{spin_hint, AtomicI64, AtomicU32};
use crate::{futex, protocol};
use std::time::Duration;

/// What a waiting side does while the sequence it needs has not arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Spin with a pause hint. Lowest latency; burns a core.
    BusySpin,
    /// Spin, but look at the other side's cursor only once per `interval` (timed on the vDSO
    /// clock: no syscall). For throughput-oriented consumers of single-event publishers: while
    /// the consumer stays off the cursor's cache line, the producer keeps that line in its own
    /// cache and makes a whole run of events visible at one store each, instead of paying a
    /// cache miss per event because a tight spinner pulls the line back after every store
    /// (the LMAX Disruptor's phased back-off, Aeron's back-off idle strategy). Costs up to
    /// `interval` of extra latency for an event that arrives while the consumer is idle; a
    /// consumer that is behind never pauses. Burns a core, like [`WaitStrategy::BusySpin`].
    Backoff { interval: Duration },
    /// Spin `spins` times, then `sched_yield` between checks.
    SpinThenYield { spins: u32 },
    /// Sleep this long between checks.
    Sleep(Duration),
    /// Spin `spins` times, then sleep in the kernel (futex on the other side's cursor) until
    /// woken. `backstop` caps one sleep, bounding the cost of a peer that never wakes anyone
    /// (disruptor-mp) or a kernel without membarrier.
    Blocking { spins: u32, backstop: Duration },
}

impl Default for WaitStrategy {
    fn default() -> Self {
        WaitStrategy::SpinThenYield { spins: 10_000 }
    }
}

impl WaitStrategy {
    /// Blocking with the default spin count (1000) and backstop (10 ms).
    pub const fn blocking() -> Self {
        WaitStrategy::Blocking {
            spins: 1000,
            backstop: Duration::from_millis(10),
        }
    }

    /// [`WaitStrategy::Backoff`] with a 1 us interval: on the 2-vCPU machines the benchmarks run
    /// on, long enough for the producer to publish hundreds of events between two looks.
    pub const fn backoff() -> Self {
        WaitStrategy::Backoff {
            interval: Duration::from_micros(1),
        }
    }

    /// Whether this strategy parks in the kernel.
    pub fn parks(&self) -> bool {
        matches!(self, WaitStrategy::Blocking { .. })
    }
}

/// The state of one wait: how many times it has checked so far.
#[derive(Debug)]
pub(crate) struct Waiter {
    strategy: WaitStrategy,
    round: u32,
}

/// What one [`Waiter::pause`] did, for the park/unpark counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Paused {
    Spun,
    Yielded,
    Slept,
    Parked,
}

impl Waiter {
    pub(crate) fn new(strategy: WaitStrategy) -> Self {
        Self { strategy, round: 0 }
    }

    /// Pauses once. `cursor` is the word the other side stores to when it makes progress and
    /// `observed` its value that was not enough; `waiters` is the wake word its writer reads
    /// after each store (SPEC.md §8 {R8.c}); `mark`, for a consumer with a registry slot, the
    /// slot's `parked` word and the consumer's token in it ({R8.d}, see
    /// [`futex::wait_while_equal`]).
    /// `still_blocked` is re-checked after announcing a sleep, for conditions other than the
    /// cursor that end the wait (the ring being closed).
    pub(crate) fn pause(
        &mut self,
        cursor: &AtomicI64,
        waiters: &AtomicU32,
        mark: Option<(&AtomicU32, u32)>,
        observed: i64,
        still_blocked: impl Fn() -> bool,
    ) -> Paused {
        self.round = self.round.saturating_add(1);
        match self.strategy {
            WaitStrategy::BusySpin => {
                spin_hint();
                Paused::Spun
            }
            WaitStrategy::Backoff { interval } => {
                let until = std::time::Instant::now() + interval;
                while std::time::Instant::now() < until {
                    spin_hint();
                }
                Paused::Spun
            }
            WaitStrategy::SpinThenYield { spins } => {
                if self.round <= spins {
                    spin_hint();
                    Paused::Spun
                } else {
                    std::thread::yield_now();
                    Paused::Yielded
                }
            }
            WaitStrategy::Sleep(d) => {
                std::thread::sleep(d);
                Paused::Slept
            }
            WaitStrategy::Blocking { spins, backstop } => {
                if self.round <= spins {
                    spin_hint();
                    Paused::Spun
                } else if protocol::still_at(cursor, observed) {
                    futex::wait_while_equal(
                        cursor,
                        waiters,
                        mark,
                        observed,
                        backstop,
                        still_blocked,
                    );
                    Paused::Parked
                } else {
                    Paused::Spun
                }
            }
        }
    }
}
