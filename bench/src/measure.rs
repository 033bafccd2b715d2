//! What a measuring side records, and how it reports it (one JSON object per side).

use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::time::Instant;

/// Spin with a pause hint; after a million fruitless spins in one wait, also yield, so a
/// descheduled peer (an oversubscribed CI runner) costs milliseconds, not a timeslice per
/// spin. In a healthy run no wait gets anywhere near that.
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
        Self { at: Instant::now(), cpu_s: secs(ru.ru_utime) + secs(ru.ru_stime), involuntary: ru.ru_nivcsw, voluntary: ru.ru_nvcsw }
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

/// Round-trip times in ticks.
pub struct LatencyRecorder {
    hist: Histogram<u64>,
}

impl LatencyRecorder {
    pub fn new() -> Self {
        // 1 tick to ~20 minutes at 3 GHz, 3 significant digits: nothing saturates.
        Self { hist: Histogram::new_with_bounds(1, 1 << 42, 3).expect("valid bounds") }
    }

    #[inline(always)]
    pub fn record(&mut self, ticks: u64) {
        // Within bounds by construction; a failure would mean a 20-minute round trip.
        let _ = self.hist.record(ticks.max(1));
    }

    /// The report of the timing side: round-trip and one-way (= round trip / 2) percentiles.
    pub fn finish(&self, ticks_per_ns: f64, errors: u64) -> Value {
        let h = &self.hist;
        let ns = |t: u64| t as f64 / ticks_per_ns;
        let q = |p: f64| ns(h.value_at_quantile(p));
        let rtt = json!({
            "p50": q(0.50), "p90": q(0.90), "p99": q(0.99), "p999": q(0.999),
            "max": ns(h.max()), "min": ns(h.min()), "mean": h.mean() / ticks_per_ns,
        });
        let one_way = json!({
            "p50": q(0.50) / 2.0, "p90": q(0.90) / 2.0, "p99": q(0.99) / 2.0, "p999": q(0.999) / 2.0,
            "max": ns(h.max()) / 2.0, "min": ns(h.min()) / 2.0, "mean": h.mean() / ticks_per_ns / 2.0,
        });
        json!({ "rounds": h.len(), "errors": errors, "rtt_ns": rtt, "one_way_ns": one_way })
    }
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
pub fn stream_result(start: Option<(Instant, u64)>, consumed: u64, errors: u64, stats: PollStats) -> Value {
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
