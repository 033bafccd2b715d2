//! The subjects: the same two workloads as the floors, through ringproof's public API.
//!
//! - stream: `Producer::<u64>::publish` per event, or `publish_batch(batch, ..)`; the consumer
//!   calls `poll_batch(capacity, ..)` (behind a batch publisher of u64 events: `poll_runs`, a
//!   slice per run, checked as the floor checks its runs) and checks that every value equals
//!   its sequence (one compare per event) and that each batch starts where the previous one
//!   ended, spinning with a pause hint when nothing is published.
//! - ping-pong: rings `{name}-ab` (A produces) and `{name}-ba` (B produces); A times
//!   `publish` + `read` per round trip. The consumers wait with the given strategy
//!   (`BusySpin`, or `WaitStrategy::blocking()`); with an idle gap before each round, B's
//!   blocking consumer really parks (A spins), and the round trip measures its wake-up.

use crate::measure::{Backoff, LatencyRecorder, PollStats};
use crate::role::{RoleArgs, Side};
use ringproof::kit::payload::{fill, verify};
use ringproof::{ConsumerBuilder, Coordination, ProducerBuilder, RingName, WaitStrategy};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Consumer id of stream reader `i`.
pub fn stream_consumer_id(i: usize) -> String {
    format!("c{i}")
}

/// Consumer ids of the ping-pong sides: A consumes `-ba`, B consumes `-ab`.
pub const PING_CONSUMERS: [&str; 2] = ["a", "b"];

const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

fn err(what: &str) -> impl Fn(ringproof::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// The ring names of a ping-pong run named `name`.
pub fn ping_rings(name: &str) -> [String; 2] {
    [format!("{name}-ab"), format!("{name}-ba")]
}

/// Ring `ring` on the run's backend: POSIX shm, or mmap'd files in the run's directory.
fn ring_name(a: &RoleArgs, ring: &str) -> Result<RingName, String> {
    match (&a.dir, a.mmap) {
        (Some(dir), true) => RingName::dir(dir, ring),
        (None, true) => return Err("--mmap needs --dir".into()),
        _ => RingName::shm(ring),
    }
    .map_err(err("ring name"))
}

/// How the stream producer publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    /// `publish` per event, each visible at once.
    Single,
    /// `publish` per event, each visible at once; the consumer waits with
    /// `WaitStrategy::backoff()` (looks at the cursor once per microsecond when caught up).
    SingleBackoff,
    /// `publish_batch(args.batch)`.
    Batch,
    /// `publish` per event with `coalesce(args.batch)`.
    Coalesced,
    /// `publish_batch(args.batch)` with counters off.
    BatchNoCounters,
    /// `publish` per event, each visible at once, with counters off.
    SingleNoCounters,
}

/// ringproof stream (a broadcast to `readers` consumers), either side. u64 events go through
/// the typed API and carry their sequence; larger events go through the raw API and carry
/// the full TP1 payload, filled by the producer and verified by every consumer.
pub fn stream(a: &RoleArgs, mode: Publish) -> Result<Value, String> {
    let batched = matches!(mode, Publish::Batch | Publish::BatchNoCounters);
    let name = ring_name(a, &a.name)?;
    let total = a.warmup + a.events;
    let size = a.size;
    match a.side {
        Side::A => {
            let builder = ProducerBuilder::new(name)
                .capacity(a.capacity)
                .wait(WaitStrategy::BusySpin)
                .coordination(Coordination::WaitForConsumers {
                    min: a.readers.max(1),
                    timeout: SETUP_TIMEOUT,
                })
                .coalesce(if mode == Publish::Coalesced {
                    a.batch.max(1)
                } else {
                    1
                })
                .counters(!matches!(
                    mode,
                    Publish::BatchNoCounters | Publish::SingleNoCounters
                ));
            let batch = a.batch.max(1) as u64;
            if size == 8 {
                let mut p = builder.create::<u64>().map_err(err("create producer"))?;
                if batched {
                    let mut s = 0u64;
                    while s < total {
                        let n = batch.min(total - s);
                        p.publish_batch(n as usize, |i, e| *e = s + i as u64)
                            .map_err(err("publish_batch"))?;
                        s += n;
                    }
                } else {
                    for s in 0..total {
                        p.publish(&s).map_err(err("publish"))?;
                    }
                    p.flush();
                }
            } else {
                let mut p = builder.create_raw(size).map_err(err("create producer"))?;
                if batched {
                    let mut s = 0u64;
                    while s < total {
                        let n = batch.min(total - s);
                        p.publish_batch(n as usize, |i, e| {
                            let _ = fill(s + i as u64, e);
                        })
                        .map_err(err("publish_batch"))?;
                        s += n;
                    }
                } else {
                    for s in 0..total {
                        p.publish_with(|e| {
                            let _ = fill(s, e);
                        })
                        .map_err(err("publish"))?;
                    }
                    p.flush();
                }
            }
            Ok(json!({ "published": total }))
        }
        Side::B if mode == Publish::SingleBackoff => backoff_reader(a, name, total),
        Side::B => {
            let mut c = ConsumerBuilder::new(name, &stream_consumer_id(a.reader))
                .wait(WaitStrategy::BusySpin)
                .attach_timeout(SETUP_TIMEOUT)
                .attach_raw(size)
                .map_err(err("attach consumer"))?;
            let max = c.capacity();
            let (mut expect, mut errors) = (0u64, 0u64);
            let mut start: Option<(Instant, u64)> = None;
            let mut idle = Backoff::new();
            let mut stats = PollStats::default();
            while expect < total {
                // Per event: the payload of its sequence (for u64 events one compare). Per
                // batch: it starts where the last one ended. Behind a batch publisher the
                // reader takes runs of slots (`poll_runs`) and checks each as the floor does;
                // behind single-event publishers it is the per-event `poll_batch` a user of
                // such a stream would write (the scenario issue 13 measured).
                let mut first = None;
                let n = if size == 8 && batched {
                    c.poll_runs(max, |seq, bytes| {
                        first.get_or_insert(seq);
                        errors += bytes
                            .chunks_exact(8)
                            .zip(seq as u64..)
                            .map(|(v, s)| {
                                u64::from(
                                    u64::from_le_bytes(v.try_into().unwrap_or([0xff; 8])) != s,
                                )
                            })
                            .sum::<u64>();
                    })
                } else if size == 8 {
                    c.poll_batch(max, |seq, v, _| {
                        first.get_or_insert(seq);
                        errors += u64::from(
                            u64::from_le_bytes(v.try_into().unwrap_or([0xff; 8])) != seq as u64,
                        );
                    })
                } else {
                    c.poll_batch(max, |seq, v, _| {
                        first.get_or_insert(seq);
                        errors += u64::from(verify(seq as u64, v).is_err());
                    })
                }
                .map_err(err("poll_batch"))?;
                errors += u64::from(first.is_some_and(|f| f as u64 != expect));
                expect += n as u64;
                if n == 0 {
                    stats.empty += 1;
                    idle.snooze();
                    continue;
                }
                stats.polls += 1;
                idle = Backoff::new();
                if start.is_none() && expect >= a.warmup {
                    start = Some((Instant::now(), expect));
                }
            }
            Ok(crate::measure::stream_result(start, expect, errors, stats))
        }
    }
}

/// The stream reader of [`Publish::SingleBackoff`]: `wait_batch` with `WaitStrategy::backoff()`,
/// the library's own waiting, instead of the bench's tight `poll_batch` loop. A caught-up reader
/// stays off the cursor line for a microsecond, so the single-event publisher keeps that line
/// and makes a run of events visible without a cache miss each.
fn backoff_reader(a: &RoleArgs, name: RingName, total: u64) -> Result<Value, String> {
    let size = a.size;
    let mut c = ConsumerBuilder::new(name, &stream_consumer_id(a.reader))
        .wait(WaitStrategy::backoff())
        .attach_timeout(SETUP_TIMEOUT)
        .attach_raw(size)
        .map_err(err("attach consumer"))?;
    let max = c.capacity();
    let (mut expect, mut errors) = (0u64, 0u64);
    let mut start: Option<(Instant, u64)> = None;
    let mut stats = PollStats::default();
    while expect < total {
        let mut first = None;
        let n = c
            .wait_batch(max, |seq, v, _| {
                first.get_or_insert(seq);
                let intact = if size == 8 {
                    u64::from_le_bytes(v.try_into().unwrap_or([0xff; 8])) == seq as u64
                } else {
                    verify(seq as u64, v).is_ok()
                };
                errors += u64::from(!intact);
            })
            .map_err(err("wait_batch"))?;
        errors += u64::from(first.is_some_and(|f| f as u64 != expect));
        expect += n as u64;
        stats.polls += 1;
        if start.is_none() && expect >= a.warmup {
            start = Some((Instant::now(), expect));
        }
    }
    Ok(crate::measure::stream_result(start, expect, errors, stats))
}

/// ringproof ping-pong, either side, consumers waiting with `wait`. With an idle gap before
/// each round trip only B waits with `wait`; A, which times, busy-spins, so a round trip holds
/// exactly one wake-up.
pub fn ping(a: &RoleArgs, wait: WaitStrategy, counters: bool) -> Result<Value, String> {
    let wait = if a.side == Side::A && a.gap_ns > 0 {
        WaitStrategy::BusySpin
    } else {
        wait
    };
    let [ab, ba] = ping_rings(&a.name);
    let (own, other, id) = match a.side {
        Side::A => (ab, ba, PING_CONSUMERS[0]),
        Side::B => (ba, ab, PING_CONSUMERS[1]),
    };
    let mut p = ProducerBuilder::new(ring_name(a, &own)?)
        .capacity(a.capacity)
        .wait(WaitStrategy::BusySpin)
        .counters(counters)
        .create::<u64>()
        .map_err(err("create producer"))?;
    let mut c = ConsumerBuilder::new(ring_name(a, &other)?, id)
        .wait(wait)
        .attach_timeout(SETUP_TIMEOUT)
        .attach::<u64>()
        .map_err(err("attach consumer"))?;
    // Nothing is published before the peer's consumer gates our ring: it sees sequence 0.
    p.raw()
        .wait_for_consumers(1, SETUP_TIMEOUT)
        .map_err(err("wait for consumer"))?;
    let total = a.warmup + a.events;
    match a.side {
        // The same non-inlined loops the reference testee runs (`ringproof bench --impl
        // ringproof`), so the two rows differ only by how they were set up.
        Side::A => {
            let mut pacer = crate::measure::pacer_of(a);
            let mut rec = LatencyRecorder::new();
            let errors = ringproof_conformance::testee_bench::ringproof_initiator(
                &mut p,
                &mut c,
                total,
                a.warmup,
                &mut pacer,
                rec.hist_mut(),
            )
            .map_err(err("round trip"))?;
            let mut out = rec.finish(a.ticks_per_ns, errors);
            out["late_starts"] = json!(pacer.late);
            Ok(out)
        }
        Side::B => {
            let errors =
                ringproof_conformance::testee_bench::ringproof_responder(&mut p, &mut c, total)
                    .map_err(err("echo"))?;
            Ok(json!({ "rounds": a.events, "errors": errors }))
        }
    }
}
