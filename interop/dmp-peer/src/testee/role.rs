//! The testee's role over disruptor-mp: a producer or a consumer of any event size and either
//! backend, behind object-safe traits, and the small rules every command shares.

use std::sync::atomic::Ordering;
use std::time::Duration;

use disruptor_mp::{MmapConsumer, MmapCursor, MmapProducer, SharedConsumer, SharedProducer};
use ringproof::kit::payload::fill;
use ringproof_conformance::protocol::{ErrorKind, Mode, Wait};
use ringproof_conformance::serve::Failure;
use ringproof_dmp_adapter::Ev;

pub(super) type Res<T> = Result<T, Failure>;

pub(super) fn fail<T>(kind: ErrorKind, msg: impl Into<String>) -> Res<T> {
    Err(Failure::new(kind, msg))
}

pub(super) trait ProducerOps {
    /// One `try_publish` of the TP1 payload of `seq`: the sequence disruptor-mp assigned, or
    /// `None` for `RingBufferFull`.
    fn try_publish(&mut self, seq: i64) -> Option<i64>;
    /// One `try_batch_publish(n)` of sequences `first..first + n`: the last sequence assigned,
    /// or the missing slot count.
    fn try_batch(&mut self, first: i64, n: usize) -> Result<i64, u64>;
    /// The producer cursor (`last_published_sequence`).
    fn cursor(&self) -> i64;
    /// `min_gating_sequence` (for diagnostics in error messages).
    fn min_gating(&mut self) -> i64;
}

macro_rules! impl_producer_ops {
    ($ty:ident) => {
        impl<const W: usize> ProducerOps for $ty<Ev<W>> {
            fn try_publish(&mut self, seq: i64) -> Option<i64> {
                $ty::try_publish(self, |e: &mut Ev<W>| {
                    // Cannot fail: the size is a positive multiple of 8.
                    let _ = fill(seq as u64, e.bytes_mut());
                })
                .ok()
            }

            fn try_batch(&mut self, first: i64, n: usize) -> Result<i64, u64> {
                $ty::try_batch_publish(self, n, |e: &mut Ev<W>, i: usize| {
                    let _ = fill((first + i as i64) as u64, e.bytes_mut());
                })
                .map_err(|m| m.0)
            }

            fn cursor(&self) -> i64 {
                self.last_published_sequence()
            }

            fn min_gating(&mut self) -> i64 {
                self.min_gating_sequence()
            }
        }
    };
}

impl_producer_ops!(SharedProducer);
impl_producer_ops!(MmapProducer);

pub(super) trait ConsumerOps {
    /// One read in `mode`; calls `sink(seq, bytes)` per delivered event and returns how many.
    /// `copy` and `lease` read at most one event; `batch` is `process_available`, which takes
    /// everything available (disruptor-mp offers no bound).
    fn poll(&mut self, mode: Mode, sink: &mut dyn FnMut(i64, &[u8])) -> usize;
    /// The last sequence this consumer processed (`current_sequence`).
    fn current(&self) -> i64;
    /// The producer cursor as this consumer sees it.
    fn producer_cursor(&self) -> Option<i64>;
    /// This consumer's committed cursor (the shared cursor's value).
    fn committed(&self) -> i64;
}

impl<const W: usize> ConsumerOps for SharedConsumer<Ev<W>> {
    fn poll(&mut self, mode: Mode, sink: &mut dyn FnMut(i64, &[u8])) -> usize {
        match mode {
            Mode::Copy => match self.try_consume_next() {
                Some((seq, ev)) => {
                    sink(seq, ev.bytes());
                    1
                }
                None => 0,
            },
            Mode::Lease => match self.try_consume_next_leased() {
                Some(lease) => {
                    let seq = lease.sequence();
                    sink(seq, (*lease).bytes());
                    drop(lease); // commits the cursor
                    1
                }
                None => 0,
            },
            Mode::Batch => self.process_available(|ev: &Ev<W>, seq| sink(seq, ev.bytes())),
        }
    }

    fn current(&self) -> i64 {
        self.current_sequence()
    }

    fn producer_cursor(&self) -> Option<i64> {
        Some(self.producer_sequence())
    }

    fn committed(&self) -> i64 {
        self.consumer_sequence()
    }
}

/// The mmap consumer has no accessors for the shared cursors, so the testee maps them once more
/// (plain `MmapCursor::attach`, read-only use) to answer `cursors`.
pub(super) struct MmapCons<const W: usize> {
    pub(super) c: MmapConsumer<Ev<W>>,
    pub(super) producer: Option<MmapCursor>,
    pub(super) mine: Option<MmapCursor>,
}

impl<const W: usize> ConsumerOps for MmapCons<W> {
    fn poll(&mut self, mode: Mode, sink: &mut dyn FnMut(i64, &[u8])) -> usize {
        match mode {
            Mode::Copy => match self.c.try_consume_next() {
                Some((seq, ev)) => {
                    sink(seq, ev.bytes());
                    1
                }
                None => 0,
            },
            Mode::Lease => match self.c.try_consume_next_leased() {
                Some(lease) => {
                    let seq = lease.sequence();
                    sink(seq, (*lease).bytes());
                    drop(lease);
                    1
                }
                None => 0,
            },
            Mode::Batch => self
                .c
                .process_available(|ev: &Ev<W>, seq| sink(seq, ev.bytes())),
        }
    }

    fn current(&self) -> i64 {
        self.c.current_sequence()
    }

    fn producer_cursor(&self) -> Option<i64> {
        self.producer.as_ref().map(|c| c.load(Ordering::Acquire))
    }

    fn committed(&self) -> i64 {
        self.mine
            .as_ref()
            .map_or_else(|| self.c.current_sequence(), |c| c.load(Ordering::Acquire))
    }
}

/// What the testee holds between commands.
pub(super) enum Role {
    Producer {
        p: Box<dyn ProducerOps>,
        /// The next sequence disruptor-mp will assign (it numbers from 0 and never skips).
        next: i64,
        capacity: u64,
        wait: Wait,
    },
    Consumer {
        c: Box<dyn ConsumerOps>,
        wait: Wait,
    },
}

/// One back-off step of a polling loop under `wait`.
#[inline]
pub(super) fn back_off(wait: Wait) {
    match wait {
        Wait::Spin | Wait::Block => std::hint::spin_loop(),
        Wait::Yield => std::thread::yield_now(),
        Wait::Sleep => std::thread::sleep(Duration::from_micros(50)),
    }
}

/// disruptor-mp assigns sequences itself: the payload written for `want` must land at `want`.
pub(super) fn check_assigned(got: i64, want: i64) -> Res<()> {
    if got != want {
        return fail(
            ErrorKind::Other,
            format!("disruptor-mp assigned sequence {got} where {want} was expected (the payload was written for {want})"),
        );
    }
    Ok(())
}
