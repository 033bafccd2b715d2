//! disruptor-mp over POSIX shm, as our programs drive it: a producer gated by discovered
//! consumers, consumers attached by id, and the spin loops around `try_publish` and
//! `try_consume_next` (disruptor-mp's own `publish` spins forever with no way out).

use crate::Ev;
use disruptor_mp::{
    attach_shared_consumer, build_shared_single_producer, AutoWaitStrategy, CoordinationMode,
    MultiProcessError, SharedConsumer, SharedProducer,
};
use ringproof::kit::payload::fill;
use std::time::{Duration, Instant};

/// A producer of ring `ring` that gates on the consumers `{prefix}_{i}`, `i < consumers`.
///
/// Built without `wait_for_consumers`: discovery switches it on by default, and it blocks the
/// build (up to 15 s) and deadlocks the two producers of a ping-pong, so the build asks for
/// `Immediate` and [`discover`] gates instead. Discovery itself is needed for gating at all:
/// without it the producer gates on nothing and laps its consumers.
pub fn producer<const W: usize>(
    ring: &str,
    capacity: usize,
    prefix: &str,
    consumers: usize,
) -> Result<SharedProducer<Ev<W>>, MultiProcessError> {
    build_shared_single_producer::<Ev<W>>(ring, capacity)
        .discover_consumer_with_prefix(consumers, prefix)
        .with_coordination(CoordinationMode::Immediate)
        .build_producer(Ev::default)
}

/// Until every consumer `{prefix}_0..{prefix}_{consumers-1}` gates `p`, or `deadline`: then
/// `Err` with how many are missing. Startup only, hence the sleep.
pub fn discover<const W: usize>(
    p: &mut SharedProducer<Ev<W>>,
    prefix: &str,
    consumers: usize,
    deadline: Instant,
) -> Result<(), usize> {
    let ids: Vec<String> = (0..consumers).map(|i| format!("{prefix}_{i}")).collect();
    loop {
        let missing = ids.iter().filter(|id| !p.discover_consumer_id(id)).count();
        if missing == 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(missing);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Attaches consumer `id` to `ring`, retrying every failure until `deadline`: the ring may not
/// exist yet (the consumer may start first) or may be half-created (the header is written
/// after the segment is sized). A failed attempt creates nothing: the consumer cursor is the
/// last thing built. The error is the last attempt's.
pub fn attach<const W: usize>(
    ring: &str,
    capacity: usize,
    id: &str,
    deadline: Instant,
) -> Result<SharedConsumer<Ev<W>>, MultiProcessError> {
    loop {
        match attach_shared_consumer::<Ev<W>>(ring, capacity)
            .with_consumer_id(id)
            .build_consumer()
        {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

/// Removes consumer `id`'s cursor segment `{ring}_{id}_seq`, which disruptor-mp never unlinks
/// (a restart anchor by design; a rerun under the same name would resume from it). A producer
/// that has it mapped keeps reading the final value.
pub fn unlink_cursor(ring: &str, id: &str) {
    if let Ok(name) = std::ffi::CString::new(format!("/{ring}_{id}_seq")) {
        // SAFETY: a valid C string; a missing name is not an error here.
        unsafe { libc::shm_unlink(name.as_ptr()) };
    }
}

/// Quirk: a consumer signals readiness (bumps `{ring}_cr`) only if `{ring}_cr` exists at
/// attach time, but a disruptor-mp producer creates it after the ring and its cursor; a
/// consumer attaching in that window is never counted and the producer's `WaitForConsumers`
/// runs to its timeout. Until its first event a consumer retries, at most every millisecond:
/// `try_attach_coordination` signals exactly once when it attaches (calling
/// `signal_readiness` ourselves would count the consumer twice).
pub struct CoordinationRetry {
    last: Instant,
}

impl CoordinationRetry {
    pub fn new() -> Self {
        Self {
            last: Instant::now(),
        }
    }

    /// One retry if none happened in the last millisecond and `c` is not yet counted.
    pub fn poll<const W: usize>(&mut self, c: &mut SharedConsumer<Ev<W>>, ring: &str) {
        if !c.has_coordination_support() && self.last.elapsed() >= Duration::from_millis(1) {
            self.last = Instant::now();
            c.try_attach_coordination(ring);
        }
    }
}

impl Default for CoordinationRetry {
    fn default() -> Self {
        Self::new()
    }
}

/// Spins with a pause hint; after a million fruitless spins also yields, so an
/// oversubscribed machine costs milliseconds, not a timeslice per poll.
#[derive(Default)]
pub struct Backoff(u32);

impl Backoff {
    #[inline(always)]
    pub fn new() -> Self {
        Backoff(0)
    }

    #[inline(always)]
    pub fn snooze(&mut self) {
        std::hint::spin_loop();
        self.0 += 1;
        if self.0 >= 1 << 20 {
            self.0 = 0;
            std::thread::yield_now();
        }
    }
}

/// Publishes the TP1 payload of `seq`, spinning on `try_publish` while the ring is full (what
/// disruptor-mp's `publish` does). `fill` cannot fail: the size is a positive multiple of 8.
#[inline(always)]
pub fn publish<const W: usize>(p: &mut SharedProducer<Ev<W>>, seq: u64) {
    let mut b = Backoff::new();
    while p
        .try_publish(|e: &mut Ev<W>| {
            let _ = fill(seq, e.bytes_mut());
        })
        .is_err()
    {
        b.snooze();
    }
}

/// Publishes sequences `first..first + n` as one `try_batch_publish`, spinning while full.
#[inline(always)]
pub fn publish_batch<const W: usize>(p: &mut SharedProducer<Ev<W>>, first: u64, n: usize) {
    let mut b = Backoff::new();
    while p
        .try_batch_publish(n, |e: &mut Ev<W>, i: usize| {
            let _ = fill(first + i as u64, e.bytes_mut());
        })
        .is_err()
    {
        b.snooze();
    }
}

/// The next event, spinning on `try_consume_next` until there is one.
#[inline(always)]
pub fn receive<const W: usize>(c: &mut SharedConsumer<Ev<W>>) -> (u64, Ev<W>) {
    let mut b = Backoff::new();
    loop {
        if let Some((seq, ev)) = c.try_consume_next() {
            return (seq as u64, ev);
        }
        b.snooze();
    }
}

/// Whether every consumer read through `last` within `timeout` (a producer's drop unlinks the
/// ring, so it waits for this before it goes).
pub fn drained<const W: usize>(
    p: &mut SharedProducer<Ev<W>>,
    last: i64,
    timeout: Duration,
) -> bool {
    p.wait_until_consumed_with_strategy(last, timeout, AutoWaitStrategy::BusySpinWithSpinLoopHint)
}
