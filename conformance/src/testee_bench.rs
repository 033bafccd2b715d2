//! The `bench` capability (PROTOCOL.md, "Benchmarks"): building blocks any Rust testee can use
//! (a CLOCK_MONOTONIC reader, a cheap round-trip clock, the histogram encoding), and the
//! ringproof ping-pong loops shared by the bench's built-in subjects (`bench/src/subjects.rs`)
//! and the reference testee (`testee_ref/bench.rs`), so the protocol adds nothing to what is
//! measured: no JSON, no allocation and no I/O between the first and the last timed event.

use hdrhistogram::Histogram;
use std::time::Duration;

/// Capabilities a testee that implements every `bench` mode adds.
pub const CAPABILITIES: &[&str] = &["bench", "bench-pingpong", "bench-paced"];

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
        let (seq, v) = c.read()?;
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
        let (seq, v) = c.read()?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{
        BenchCmd, BenchMode, BenchReport, BenchRole, Command, Message, OkFields, RingAddr,
    };
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
