//! The `bench` capability (PROTOCOL.md, "Benchmarks"): building blocks any Rust testee can use
//! (a CLOCK_MONOTONIC reader, a cheap round-trip clock, the histogram encoding), and the
//! reference testee's hot loops, which mirror the bench's built-in ringproof subjects
//! (`bench/src/subjects.rs`) so the protocol adds nothing to what is measured: no JSON, no
//! allocation and no I/O between the first and the last timed event.

use crate::protocol::{BenchCmd, BenchMode, BenchReport, BenchRole, ErrorKind, RingAddr};
use crate::testee_ref::{kind_of, ring_name};
use hdrhistogram::Histogram;
use ringproof::kit::payload::{fill, verify};
use ringproof::{ConsumerBuilder, Coordination, ProducerBuilder, WaitStrategy};
use std::time::Duration;

/// Capabilities the reference testee adds for benchmarks.
pub const CAPABILITIES: &[&str] = &["bench", "bench-pingpong", "bench-paced"];

type Res<T> = Result<T, (ErrorKind, String)>;

/// CLOCK_MONOTONIC in nanoseconds (the clock every `bench` timestamp is on).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A cheap tick for per-round-trip timing: `lfence; rdtsc` on x86_64, CLOCK_MONOTONIC ns
/// elsewhere. Convert with a [`TickRate`].
#[inline(always)]
pub fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: lfence and rdtsc have no preconditions on x86_64.
    unsafe {
        core::arch::x86_64::_mm_lfence();
        core::arch::x86_64::_rdtsc()
    }
    #[cfg(not(target_arch = "x86_64"))]
    monotonic_ns()
}

/// Ticks per nanosecond, measured against CLOCK_MONOTONIC.
#[derive(Debug, Clone, Copy)]
pub struct TickRate(pub f64);

impl TickRate {
    /// Spins `span` comparing [`ticks`] with CLOCK_MONOTONIC (1.0 where ticks are ns).
    pub fn calibrate(span: Duration) -> TickRate {
        if cfg!(not(target_arch = "x86_64")) {
            return TickRate(1.0);
        }
        let (n0, t0) = (monotonic_ns(), ticks());
        while monotonic_ns() - n0 < span.as_nanos() as u64 {
            std::hint::spin_loop();
        }
        let (n1, t1) = (monotonic_ns(), ticks());
        TickRate(((t1 - t0) as f64 / (n1 - n0).max(1) as f64).max(1e-6))
    }

    pub fn ns(self, ticks: u64) -> u64 {
        (ticks as f64 / self.0) as u64
    }

    pub fn ticks(self, ns: u64) -> u64 {
        (ns as f64 * self.0) as u64
    }
}

/// When the timing side starts each round trip, and what its latency counts from (one copy
/// for the built-in bench subjects and every Rust testee).
///
/// Closed loop (the default): right away, and from the actual start. With an idle gap (the
/// wake-up runs): after spinning `gap` ticks. Open loop (`interval` > 0): round trip `i` is
/// due at `t0 + i * interval`; the side waits for that moment if it is early and counts the
/// latency from it even when it is late, so a stall also charges the round trips it delayed
/// (coordinated omission corrected, as wrk2 does).
#[derive(Debug)]
pub struct Pacer {
    gap: u64,
    interval: u64,
    next: u64,
    /// Round trips left before the measured ones: the schedule restarts after them, so a
    /// slow start-up (page faults, the peer not yet spinning) is not charged to the run.
    warmup: u64,
    /// Round trips that started after their due time.
    pub late: u64,
}

impl Pacer {
    pub fn new(gap_ticks: u64, interval_ticks: u64, warmup: u64) -> Self {
        Self {
            gap: gap_ticks,
            interval: interval_ticks,
            next: 0,
            warmup,
            late: 0,
        }
    }

    /// Waits until the next round trip may start; returns the tick its latency counts from.
    #[inline(always)]
    pub fn start(&mut self) -> u64 {
        if self.gap > 0 {
            let start = ticks();
            while ticks().wrapping_sub(start) < self.gap {
                std::hint::spin_loop();
            }
        }
        if self.interval == 0 {
            return ticks();
        }
        let now = ticks();
        if self.warmup > 0 {
            self.warmup -= 1;
            return now;
        }
        if self.next == 0 {
            self.next = now;
        }
        let due = self.next;
        self.next += self.interval;
        if now > due {
            self.late += 1;
        } else {
            while ticks() < due {
                std::hint::spin_loop();
            }
        }
        due
    }
}

/// The timing side of ringproof ping-pong over two rings of u64 events: `total` round trips
/// (publish `i`, read the echo), each timed in ticks from `pacer.start()` to the echo's arrival
/// and recorded into `hist` once past `warmup`; returns how many echoes were wrong. One
/// non-inlined copy, called by the built-in bench subject and by the reference testee, so a
/// difference between the two is the protocol's, not the loop's placement in the binary.
#[inline(never)]
pub fn ringproof_initiator(
    p: &mut ringproof::Producer<u64>,
    c: &mut ringproof::Consumer<u64>,
    total: u64,
    warmup: u64,
    pacer: &mut Pacer,
    hist: &mut Histogram<u64>,
) -> ringproof::Result<u64> {
    let mut errors = 0u64;
    for i in 0..total {
        let t0 = pacer.start();
        p.publish(&i)?;
        let (seq, v) = c.next()?;
        let t1 = ticks();
        errors += u64::from((v != i) | (seq as u64 != i));
        if i >= warmup {
            // Within bounds by construction (1 tick .. 2^42).
            let _ = hist.record(t1.saturating_sub(t0).max(1));
        }
    }
    Ok(errors)
}

/// The echoing side of [`ringproof_initiator`]: reads `total` events and publishes each back;
/// returns how many were not the expected sequence.
#[inline(never)]
pub fn ringproof_responder(
    p: &mut ringproof::Producer<u64>,
    c: &mut ringproof::Consumer<u64>,
    total: u64,
) -> ringproof::Result<u64> {
    let mut errors = 0u64;
    for i in 0..total {
        let (seq, v) = c.next()?;
        errors += u64::from((v != i) | (seq as u64 != i));
        p.publish(&v)?;
    }
    Ok(errors)
}

/// A round-trip histogram in nanoseconds (1 ns to ~73 min, 3 significant digits).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 1 << 42, 3).expect("valid bounds")
}

/// `hist` serialised as the bench JSON does: hdrhistogram V2 + deflate, base64 (standard).
pub fn encode_histogram(hist: &Histogram<u64>) -> String {
    use base64::Engine;
    use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
    let mut buf = Vec::new();
    match V2DeflateSerializer::new().serialize(hist, &mut buf) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(&buf),
        Err(_) => String::new(),
    }
}

/// Reads what [`encode_histogram`] wrote.
pub fn decode_histogram(b64: &str) -> Result<Histogram<u64>, String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("not base64: {e}"))?;
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("not an hdrhistogram V2 (deflate) serialisation: {e:?}"))
}

fn bad(msg: impl Into<String>) -> (ErrorKind, String) {
    (ErrorKind::Other, msg.into())
}

/// Runs one `bench` command with ringproof (the reference testee).
pub fn run_reference(cmd: &BenchCmd) -> Res<BenchReport> {
    if cmd.event_size == 0 || cmd.event_size & 7 != 0 {
        return Err((
            ErrorKind::ElementSize,
            format!(
                "event_size {} is not a positive multiple of 8",
                cmd.event_size
            ),
        ));
    }
    match (cmd.mode, cmd.role) {
        (BenchMode::Stream, BenchRole::Producer) => stream_producer(cmd),
        (BenchMode::Stream, BenchRole::Consumer) => stream_consumer(cmd),
        (BenchMode::Pingpong | BenchMode::Paced, BenchRole::Initiator | BenchRole::Responder) => {
            ping(cmd)
        }
        (m, r) => Err(bad(format!(
            "role {r:?} does not exist in mode {}",
            m.as_str()
        ))),
    }
}

fn timeout(cmd: &BenchCmd) -> Duration {
    Duration::from_millis(cmd.timeout_ms)
}

fn stream_producer(cmd: &BenchCmd) -> Res<BenchReport> {
    let total = cmd.warmup + cmd.events;
    let size = cmd.event_size as usize;
    let batch = cmd.batch.max(1);
    let builder = ProducerBuilder::new(ring_name(&cmd.ring)?)
        .capacity(cmd.capacity as usize)
        .wait(WaitStrategy::BusySpin)
        .coordination(Coordination::WaitForConsumers {
            min: cmd.consumers.max(1) as usize,
            timeout: timeout(cmd),
        });
    let publish_err = |e| kind_of(e);
    let start_ns;
    if size == 8 {
        let mut p = builder.create::<u64>().map_err(kind_of)?;
        start_ns = monotonic_ns();
        if batch > 1 {
            let mut s = 0u64;
            while s < total {
                let n = batch.min(total - s);
                p.publish_batch(n as usize, |i, e| *e = s + i as u64)
                    .map_err(publish_err)?;
                s += n;
            }
        } else {
            for s in 0..total {
                p.publish(&s).map_err(publish_err)?;
            }
            p.flush();
        }
    } else {
        let mut p = builder.create_raw(size).map_err(kind_of)?;
        start_ns = monotonic_ns();
        if batch > 1 {
            let mut s = 0u64;
            while s < total {
                let n = batch.min(total - s);
                p.publish_batch(n as usize, |i, e| {
                    let _ = fill(s + i as u64, e);
                })
                .map_err(publish_err)?;
                s += n;
            }
        } else {
            for s in 0..total {
                p.publish_with(|e| {
                    let _ = fill(s, e);
                })
                .map_err(publish_err)?;
            }
            p.flush();
        }
    }
    Ok(BenchReport {
        start_ns,
        end_ns: monotonic_ns(),
        events: total,
        errors: 0,
        ..Default::default()
    })
}

fn stream_consumer(cmd: &BenchCmd) -> Res<BenchReport> {
    let id = cmd
        .consumer_id
        .as_deref()
        .ok_or_else(|| bad("a stream consumer needs consumer_id"))?;
    let total = cmd.warmup + cmd.events;
    let size = cmd.event_size as usize;
    let mut c = ConsumerBuilder::new(ring_name(&cmd.ring)?, id)
        .wait(WaitStrategy::BusySpin)
        .attach_timeout(timeout(cmd))
        .attach_raw(size)
        .map_err(kind_of)?;
    let max = c.capacity();
    let (mut expect, mut errors) = (0u64, 0u64);
    let mut start: Option<(u64, u64)> = None;
    let mut spins = 0u32;
    while expect < total {
        let mut first = None;
        let n = if size == 8 {
            c.poll_batch(max, |seq, v, _| {
                first.get_or_insert(seq);
                errors +=
                    u64::from(u64::from_le_bytes(v.try_into().unwrap_or([0xff; 8])) != seq as u64);
            })
        } else {
            c.poll_batch(max, |seq, v, _| {
                first.get_or_insert(seq);
                errors += u64::from(verify(seq as u64, v).is_err());
            })
        }
        .map_err(kind_of)?;
        errors += u64::from(first.is_some_and(|f| f as u64 != expect));
        expect += n as u64;
        if n == 0 {
            // As the bench's own consumers: spin, and yield after a million empty polls so an
            // oversubscribed machine costs milliseconds, not a timeslice per poll.
            std::hint::spin_loop();
            spins += 1;
            if spins >= 1 << 20 {
                spins = 0;
                std::thread::yield_now();
            }
            continue;
        }
        spins = 0;
        if start.is_none() && expect >= cmd.warmup {
            start = Some((monotonic_ns(), expect));
        }
    }
    let end_ns = monotonic_ns();
    let (start_ns, n0) = start.unwrap_or((end_ns, expect));
    Ok(BenchReport {
        start_ns,
        end_ns,
        events: expect,
        timed_events: Some(expect - n0),
        errors,
        ..Default::default()
    })
}

fn peer_ring(cmd: &BenchCmd) -> Res<&RingAddr> {
    cmd.peer_ring
        .as_ref()
        .ok_or_else(|| bad("ping-pong needs peer_ring"))
}

/// Ping-pong (closed loop) and paced (open loop) over `ring` (ours) and `peer_ring`, busy-spin.
fn ping(cmd: &BenchCmd) -> Res<BenchReport> {
    if cmd.event_size != 8 {
        return Err((
            ErrorKind::Unsupported,
            "ping-pong carries 8-byte events".into(),
        ));
    }
    let id = cmd.consumer_id.as_deref().unwrap_or("c_0");
    let mut p = ProducerBuilder::new(ring_name(&cmd.ring)?)
        .capacity(cmd.capacity as usize)
        .wait(WaitStrategy::BusySpin)
        .create::<u64>()
        .map_err(kind_of)?;
    let mut c = ConsumerBuilder::new(ring_name(peer_ring(cmd)?)?, id)
        .wait(WaitStrategy::BusySpin)
        .attach_timeout(timeout(cmd))
        .attach::<u64>()
        .map_err(kind_of)?;
    // Nothing is published before the other side's consumer gates our ring.
    p.raw()
        .wait_for_consumers(1, timeout(cmd))
        .map_err(kind_of)?;
    let total = cmd.warmup + cmd.events;
    if cmd.role == BenchRole::Responder {
        let start_ns = monotonic_ns();
        let errors = ringproof_responder(&mut p, &mut c, total).map_err(kind_of)?;
        return Ok(BenchReport {
            start_ns,
            end_ns: monotonic_ns(),
            events: total,
            errors,
            ..Default::default()
        });
    }
    let rate = TickRate::calibrate(Duration::from_millis(5));
    let interval = match cmd.mode {
        BenchMode::Paced => rate
            .ticks(
                cmd.interval_ns
                    .ok_or_else(|| bad("paced needs interval_ns"))?
                    .max(1),
            )
            .max(1),
        _ => 0,
    };
    // Ticks go in as measured and become nanoseconds once, at the end (as the bench's own
    // recorder does): nothing but a histogram increment per round trip.
    let mut hist = new_histogram();
    let mut pacer = Pacer::new(0, interval, cmd.warmup);
    let start_ns = monotonic_ns();
    let errors = ringproof_initiator(&mut p, &mut c, total, cmd.warmup, &mut pacer, &mut hist)
        .map_err(kind_of)?;
    let end_ns = monotonic_ns();
    let mut ns = new_histogram();
    for v in hist.iter_recorded() {
        let _ = ns.record_n(rate.ns(v.value_iterated_to()).max(1), v.count_at_value());
    }
    Ok(BenchReport {
        start_ns,
        end_ns,
        events: ns.len(),
        errors,
        rtt_hist_ns_v2z: Some(encode_histogram(&ns)),
        late: (cmd.mode == BenchMode::Paced).then_some(pacer.late),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Command, Message, OkFields};
    use crate::schema::Schema;
    use serde_json::json;

    #[test]
    fn bench_messages_follow_the_schema_both_ways() {
        let s = Schema::load();
        let cmd = BenchCmd {
            id: 3,
            mode: BenchMode::Pingpong,
            role: BenchRole::Initiator,
            ring: RingAddr {
                backend: crate::protocol::Backend::Shm,
                name: "r-ab".into(),
                root: None,
            },
            peer_ring: Some(RingAddr {
                backend: crate::protocol::Backend::Shm,
                name: "r-ba".into(),
                root: None,
            }),
            capacity: 1024,
            event_size: 8,
            events: 10,
            warmup: 2,
            batch: 1,
            consumers: 1,
            consumer_id: Some("c_0".into()),
            interval_ns: None,
            cpu: Some(1),
            timeout_ms: 1000,
        };
        let v = serde_json::to_value(Command::Bench(Box::new(cmd.clone()))).unwrap();
        assert_eq!(v["cmd"], "bench");
        s.check_to_testee(&v).unwrap();
        assert_eq!(
            serde_json::from_value::<Command>(v).unwrap(),
            Command::Bench(Box::new(cmd))
        );
        let mut h = new_histogram();
        h.record(250).unwrap();
        let report = BenchReport {
            start_ns: 1,
            end_ns: 2,
            events: 1,
            rtt_hist_ns_v2z: Some(encode_histogram(&h)),
            ..Default::default()
        };
        let ok = serde_json::to_value(Message::Ok {
            id: 3,
            fields: OkFields {
                bench: Some(report),
                ..Default::default()
            },
        })
        .unwrap();
        s.check_from_testee(&ok).unwrap();
        assert_eq!(
            decode_histogram(ok["bench"]["rtt_hist_ns_v2z"].as_str().unwrap())
                .unwrap()
                .len(),
            1
        );
        let bad = |b: serde_json::Value| {
            s.check_from_testee(&json!({ "type": "ok", "id": 3, "bench": b }))
                .is_err()
        };
        assert!(
            bad(json!({ "start_ns": 1, "end_ns": 2, "events": 1 })),
            "errors is required"
        );
        assert!(bad(
            json!({ "start_ns": -1, "end_ns": 2, "events": 1, "errors": 0 })
        ));
        assert!(bad(
            json!({ "start_ns": 1, "end_ns": 2, "events": 1, "errors": 0, "rtt_hist_ns_v2z": "not base64!" })
        ));
        assert!(bad(
            json!({ "start_ns": 1, "end_ns": 2, "events": 1, "errors": 0, "rtt_samples_ns": [1, -5] })
        ));
        let odd = json!({ "cmd": "bench", "id": 1, "mode": "stream", "role": "producer", "ring": { "backend": "shm", "name": "x" },
                          "capacity": 8, "event_size": 12, "events": 1, "warmup": 0, "batch": 1, "consumers": 1, "timeout_ms": 1 });
        assert!(
            s.check_to_testee(&odd).is_err(),
            "event sizes are multiples of 8"
        );
    }

    #[test]
    fn tick_rate_converts_both_ways() {
        let r = TickRate(2.0);
        assert_eq!(r.ns(500), 250);
        assert_eq!(r.ticks(250), 500);
        assert!(TickRate::calibrate(Duration::from_millis(1)).0 > 0.0);
    }
}
