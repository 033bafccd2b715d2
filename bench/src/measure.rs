//! What a measuring side records, and how it reports it (one JSON object per side).

use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::time::Instant;

/// Spin with a pause hint; after a million fruitless spins in one wait, also yield, so a
/// descheduled peer (an oversubscribed CI runner) costs milliseconds, not a timeslice per
/// spin. In a healthy run no wait gets anywhere near that.
#[derive(Default)]
pub struct Backoff {
    spins: u32,
}

impl Backoff {
    #[inline(always)]
    pub fn new() -> Self {
        Self { spins: 0 }
    }

    #[inline(always)]
    pub fn snooze(&mut self) {
        std::hint::spin_loop();
        self.spins += 1;
        if self.spins >= 1 << 20 {
            self.spins = 0;
            std::thread::yield_now();
        }
    }
}

/// This process's CPU time and context switches so far (`getrusage(RUSAGE_SELF)`).
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    at: Instant,
    cpu_s: f64,
    involuntary: i64,
    voluntary: i64,
}

impl Usage {
    pub fn now() -> Self {
        // SAFETY: valid out-pointer.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        Self {
            at: Instant::now(),
            cpu_s: secs(ru.ru_utime) + secs(ru.ru_stime),
            involuntary: ru.ru_nivcsw,
            voluntary: ru.ru_nvcsw,
        }
    }

    /// What happened since `self`: involuntary context switches are the contention signal (a
    /// spinning side that shares its core with anything else gets preempted); `cpu_share` is
    /// CPU time over wall time (about 1 for a spinning side that had its core to itself).
    pub fn since(&self) -> Value {
        let now = Usage::now();
        let wall = now.at.duration_since(self.at).as_secs_f64();
        json!({
            "involuntary_switches": now.involuntary - self.involuntary,
            "voluntary_switches": now.voluntary - self.voluntary,
            "cpu_s": now.cpu_s - self.cpu_s, "wall_s": wall,
            "cpu_share": if wall > 0.0 { (now.cpu_s - self.cpu_s) / wall } else { 0.0 },
        })
    }
}

pub use ringproof_conformance::testee_bench::Pacer;

/// The pacing `a` asks for, the schedule starting after its warm-up.
pub fn pacer_of(a: &crate::role::RoleArgs) -> Pacer {
    Pacer::new(a.gap_ticks(), a.interval_ticks(), a.warmup)
}

/// The percentiles every latency report carries, as (JSON key, quantile).
pub const PERCENTILES: [(&str, f64); 5] = [
    ("p50", 0.50),
    ("p90", 0.90),
    ("p99", 0.99),
    ("p999", 0.999),
    ("p9999", 0.9999),
];

/// Round-trip times in ticks.
pub struct LatencyRecorder {
    hist: Histogram<u64>,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        // 1 tick to ~20 minutes at 3 GHz, 3 significant digits: nothing saturates.
        Self {
            hist: Histogram::new_with_bounds(1, 1 << 42, 3).expect("valid bounds"),
        }
    }
}

impl LatencyRecorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The histogram itself (ticks), for loops that record into it directly.
    pub fn hist_mut(&mut self) -> &mut Histogram<u64> {
        &mut self.hist
    }

    #[inline(always)]
    pub fn record(&mut self, ticks: u64) {
        // Within bounds by construction; a failure would mean a 20-minute round trip.
        let _ = self.hist.record(ticks.max(1));
    }

    /// The report of the timing side: round-trip and one-way (= round trip / 2) percentiles,
    /// and the round-trip histogram in nanoseconds, serialised (hdrhistogram V2 + deflate,
    /// base64) so runs can be merged and compared later.
    pub fn finish(&self, ticks_per_ns: f64, errors: u64) -> Value {
        let h = &self.hist;
        let ns = |t: u64| t as f64 / ticks_per_ns;
        let pct = |div: f64| {
            let mut m = serde_json::Map::new();
            for (k, q) in PERCENTILES {
                m.insert(k.into(), json!(ns(h.value_at_quantile(q)) / div));
            }
            m.insert("max".into(), json!(ns(h.max()) / div));
            m.insert("min".into(), json!(ns(h.min()) / div));
            m.insert("mean".into(), json!(h.mean() / ticks_per_ns / div));
            Value::Object(m)
        };
        json!({
            "rounds": h.len(), "errors": errors, "rtt_ns": pct(1.0), "one_way_ns": pct(2.0),
            "rtt_hist_ns_v2z": serialize_ns(h, ticks_per_ns),
        })
    }
}

/// `hist` (in ticks) converted to nanoseconds, V2-deflate serialised, base64 (standard).
fn serialize_ns(hist: &Histogram<u64>, ticks_per_ns: f64) -> String {
    use base64::Engine;
    use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
    let mut ns = Histogram::<u64>::new_with_bounds(1, 1 << 42, 3).expect("valid bounds");
    for v in hist.iter_recorded() {
        let _ = ns.record_n(
            ((v.value_iterated_to() as f64 / ticks_per_ns) as u64).max(1),
            v.count_at_value(),
        );
    }
    let mut buf = Vec::new();
    match V2DeflateSerializer::new().serialize(&ns, &mut buf) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(&buf),
        Err(_) => String::new(),
    }
}

/// Reads a histogram written by [`LatencyRecorder::finish`] (`rtt_hist_ns_v2z`).
pub fn deserialize_hist(b64: &str) -> Option<Histogram<u64>> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .ok()
}

/// How a stream consumer's polls went: a consumer that never finds the ring empty (and takes
/// big batches) is the bottleneck; one that mostly finds it empty is waiting on the producer.
#[derive(Debug, Default, Clone, Copy)]
pub struct PollStats {
    pub polls: u64,
    pub empty: u64,
}

/// The consuming side's report of a stream run: events from the end of the warm-up (`start`)
/// to now (`consumed` in total).
pub fn stream_result(
    start: Option<(Instant, u64)>,
    consumed: u64,
    errors: u64,
    stats: PollStats,
) -> Value {
    let end = Instant::now();
    let (secs, timed) = match start {
        Some((t0, n0)) => (end.duration_since(t0).as_secs_f64(), consumed - n0),
        None => (0.0, 0),
    };
    let rate = if secs > 0.0 { timed as f64 / secs } else { 0.0 };
    json!({
        "consumed": consumed, "timed_events": timed, "secs": secs, "rate": rate, "errors": errors,
        "polls": stats.polls, "empty_polls": stats.empty,
        "events_per_poll": if stats.polls > 0 { consumed as f64 / stats.polls as f64 } else { 0.0 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_round_trip_and_merge() {
        let mut r = LatencyRecorder::new();
        for t in [300u64, 310, 320, 5_000, 90_000] {
            r.record(t);
        }
        let doc = r.finish(2.0, 0);
        let h = deserialize_hist(doc["rtt_hist_ns_v2z"].as_str().unwrap()).expect("deserialises");
        assert_eq!(h.len(), 5);
        // Recorded in ticks, serialised in ns (2 ticks per ns).
        assert!(h.equivalent(h.max(), 45_000), "max {}", h.max());
        let mut merged = h.clone();
        merged.add(&h).unwrap();
        assert_eq!(merged.len(), 10);
        assert_eq!(doc["rounds"], 5);
        assert!(
            doc["one_way_ns"]["p9999"].as_f64().unwrap()
                > doc["one_way_ns"]["p50"].as_f64().unwrap()
        );
        assert!(deserialize_hist("not base64!").is_none());
    }

    #[test]
    fn open_loop_schedule_starts_after_the_warmup_and_advances_by_the_interval() {
        let mut p = Pacer::new(0, 1_000, 2);
        let (w0, w1) = (p.start(), p.start());
        assert!(w1 >= w0);
        let due: Vec<u64> = (0..4).map(|_| p.start()).collect();
        assert!(due[0] >= w1, "the schedule starts after the warm-up");
        assert!(due.windows(2).all(|w| w[1] - w[0] == 1_000), "{due:?}");
    }
}
