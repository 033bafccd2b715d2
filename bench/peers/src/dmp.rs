//! disruptor-mp 0.1.0-alpha.2, through its public API only (the `ringproof-dmp-adapter`
//! crate): `try_publish` per event (spun on while full, as its own `publish` does),
//! `try_consume_next` on the consumers.
//!
//! Events are `Ev<W>`, `8 * W` bytes of TP1 payload. Consumer ids are `cp_{i}`: its discovery
//! only tracks ids of that form (see `../shared/research/rust-ipc-peers.md` §2.3). The producer
//! is built without `wait_for_consumers` (which would deadlock the two producers of a
//! ping-pong) and instead probes `discover_consumer_id` until every consumer gates it.

use ringproof::kit::payload::verify;
use ringproof_bench::clock;
use ringproof_bench::harness::{RoleArgs, Side, DMP_PREFIX};
use ringproof_bench::measure::{stream_result, Backoff, LatencyRecorder, PollStats};
use ringproof_dmp_adapter::shm::{self, CoordinationRetry};
use ringproof_dmp_adapter::{by_size, Ev, StdoutToStderr};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

pub fn stream(a: &RoleArgs) -> Result<Value, String> {
    let _quiet = StdoutToStderr::new();
    by_size!(a.size, [8, 64, 256, 1024, 4096], stream_w(a), |s, sizes| {
        Err(format!(
            "disruptor-mp peer: event size {s} unsupported ({sizes})"
        ))
    })
}

pub fn ping(a: &RoleArgs) -> Result<Value, String> {
    let _quiet = StdoutToStderr::new();
    if a.size != 8 {
        return Err("disruptor-mp ping-pong carries 8-byte events".into());
    }
    ping_w(a)
}

fn producer<const W: usize>(
    ring: &str,
    a: &RoleArgs,
    consumers: usize,
) -> Result<disruptor_mp::SharedProducer<Ev<W>>, String> {
    let mut p = shm::producer::<W>(ring, a.capacity, DMP_PREFIX, consumers)
        .map_err(|e| format!("disruptor-mp build_producer({ring}): {e}"))?;
    shm::discover(
        &mut p,
        DMP_PREFIX,
        consumers,
        Instant::now() + SETUP_TIMEOUT,
    )
    .map_err(|missing| format!("disruptor-mp: {missing} consumer(s) never appeared"))?;
    Ok(p)
}

/// Attaches consumer `cp_{i}` to `ring`, retrying while the ring does not exist yet.
fn consumer<const W: usize>(
    ring: &str,
    a: &RoleArgs,
    i: usize,
) -> Result<disruptor_mp::SharedConsumer<Ev<W>>, String> {
    let id = format!("{DMP_PREFIX}_{i}");
    shm::attach::<W>(ring, a.capacity, &id, Instant::now() + SETUP_TIMEOUT)
        .map_err(|e| format!("disruptor-mp attach {ring}: {e}"))
}

fn unlink_cursor(ring: &str, i: usize) {
    shm::unlink_cursor(ring, &format!("{DMP_PREFIX}_{i}"));
}

fn stream_w<const W: usize>(a: &RoleArgs) -> Result<Value, String> {
    let total = a.warmup + a.events;
    let readers = a.readers.max(1);
    match a.side {
        Side::A => {
            let mut p = producer::<W>(&a.name, a, readers)?;
            for s in 0..total {
                shm::publish(&mut p, s);
            }
            let last = total as i64 - 1;
            if !shm::drained(&mut p, last, SETUP_TIMEOUT) {
                return Err(format!("disruptor-mp: consumers did not drain to {last}"));
            }
            Ok(json!({ "published": total }))
        }
        Side::B => {
            let mut c = consumer::<W>(&a.name, a, a.reader)?;
            let (mut expect, mut errors) = (0u64, 0u64);
            let mut start = None;
            let mut stats = PollStats::default();
            let mut idle = Backoff::new();
            let mut coordination = CoordinationRetry::new();
            while expect < total {
                let Some((seq, ev)) = c.try_consume_next() else {
                    stats.empty += 1;
                    if expect == 0 {
                        coordination.poll(&mut c, &a.name);
                    }
                    idle.snooze();
                    continue;
                };
                idle = Backoff::new();
                stats.polls += 1;
                errors += u64::from(seq as u64 != expect)
                    + u64::from(verify(expect, ev.bytes()).is_err());
                expect += 1;
                if start.is_none() && expect >= a.warmup {
                    start = Some((Instant::now(), expect));
                }
            }
            drop(c);
            unlink_cursor(&a.name, a.reader);
            Ok(stream_result(start, expect, errors, stats))
        }
    }
}

fn ping_w(a: &RoleArgs) -> Result<Value, String> {
    let [ab, ba] = ringproof_bench::subjects::ping_rings(&a.name);
    let (own, other) = match a.side {
        Side::A => (&ab, &ba),
        Side::B => (&ba, &ab),
    };
    let mut p = shm::producer::<1>(own, a.capacity, DMP_PREFIX, 1)
        .map_err(|e| format!("disruptor-mp build_producer({own}): {e}"))?;
    let mut c = consumer::<1>(other, a, 0)?;
    shm::discover(&mut p, DMP_PREFIX, 1, Instant::now() + SETUP_TIMEOUT)
        .map_err(|missing| format!("disruptor-mp: {missing} consumer(s) never appeared"))?;
    let total = a.warmup + a.events;
    let mut errors = 0u64;
    let out = match a.side {
        Side::A => {
            let mut pacer = ringproof_bench::measure::pacer_of(a);
            let mut rec = LatencyRecorder::new();
            for i in 0..total {
                let t0 = pacer.start();
                shm::publish(&mut p, i);
                let (seq, ev) = shm::receive(&mut c);
                let t1 = clock::ticks();
                errors += u64::from(seq != i) + u64::from(verify(i, ev.bytes()).is_err());
                if i >= a.warmup {
                    rec.record(t1 - t0);
                }
            }
            let mut r = rec.finish(a.ticks_per_ns, errors);
            r["late_starts"] = json!(pacer.late);
            r
        }
        Side::B => {
            for i in 0..total {
                let (seq, ev) = shm::receive(&mut c);
                errors += u64::from(seq != i) + u64::from(verify(i, ev.bytes()).is_err());
                shm::publish(&mut p, seq);
            }
            json!({ "rounds": a.events, "errors": errors })
        }
    };
    // The peer may still read our last event: keep our producer until it has.
    if total > 0 {
        shm::drained(&mut p, total as i64 - 1, SETUP_TIMEOUT);
    }
    drop(c);
    unlink_cursor(other, 0);
    Ok(out)
}
