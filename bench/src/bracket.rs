//! Scenarios and the bracket schedule: floor, subject, floor, subject, ..., floor.
//!
//! The two vCPUs are sometimes close and sometimes far, and that changes between runs, so an
//! absolute number means little. Bracket `i` is (floor `i`, subject `i`, floor `i + 1`); its
//! ratio is subject / mean(floor `i`, floor `i + 1`), and a scenario reports the median, the
//! worst and the best of those ratios. Each bracket is classified close or far from its floors
//! (stream rate, or spin ping-pong one-way p50), "mixed" when its two floors disagree.

use crate::harness::{self, Kind, RunOutcome, RunSpec};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// A number a run yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Events per second (stream).
    Rate,
    /// One-way latency (round trip / 2) percentiles and max, in ns.
    P50,
    P90,
    P99,
    P999,
    Max,
}

impl Metric {
    pub fn label(self) -> &'static str {
        match self {
            Metric::Rate => "events/s",
            Metric::P50 => "one-way p50",
            Metric::P90 => "one-way p90",
            Metric::P99 => "one-way p99",
            Metric::P999 => "one-way p99.9",
            Metric::Max => "one-way max",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Metric::Rate => "rate",
            Metric::P50 => "p50",
            Metric::P90 => "p90",
            Metric::P99 => "p99",
            Metric::P999 => "p999",
            Metric::Max => "max",
        }
    }

    pub fn higher_is_better(self) -> bool {
        self == Metric::Rate
    }

    /// This metric of a run.
    pub fn of(self, o: &RunOutcome) -> f64 {
        match self {
            Metric::Rate => o.b["result"]["rate"].as_f64().unwrap_or(f64::NAN),
            m => o.a["result"]["one_way_ns"][m.key()].as_f64().unwrap_or(f64::NAN),
        }
    }
}

const LATENCY: &[Metric] = &[Metric::P50, Metric::P90, Metric::P99, Metric::P999, Metric::Max];

/// A ratio the subject should reach: `>= bound` for rates, `<= bound` for latencies.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub metric: Metric,
    pub bound: f64,
}

impl Target {
    pub fn met(&self, ratio: f64) -> bool {
        if self.metric.higher_is_better() {
            ratio >= self.bound
        } else {
            ratio <= self.bound
        }
    }

    pub fn describe(&self) -> String {
        format!("{} {:.2}", if self.metric.higher_is_better() { ">=" } else { "<=" }, self.bound)
    }
}

/// A subject and the floor that brackets it.
#[derive(Debug)]
pub struct Scenario {
    pub name: &'static str,
    pub about: &'static str,
    pub floor: Kind,
    pub subject: Kind,
    /// Idle gap before each round trip (so blocking waiters park). Paced scenarios report the
    /// whole round trip: only B parks (A, the timing side, spins), so halving it means nothing.
    pub paced: bool,
    pub targets: &'static [Target],
}

impl Scenario {
    pub fn metrics(&self) -> &'static [Metric] {
        if self.floor.is_stream() {
            &[Metric::Rate]
        } else {
            LATENCY
        }
    }

    /// Metric `m` of run `o` in this scenario (one-way or, when paced, round-trip latency).
    pub fn value(&self, m: Metric, o: &RunOutcome) -> f64 {
        match m {
            Metric::Rate => m.of(o),
            _ if self.paced => o.a["result"]["rtt_ns"][m.key()].as_f64().unwrap_or(f64::NAN),
            _ => m.of(o),
        }
    }

    pub fn label(&self, m: Metric) -> String {
        if self.paced {
            m.label().replace("one-way", "round trip")
        } else {
            m.label().to_owned()
        }
    }

    pub fn target(&self, m: Metric) -> Option<Target> {
        self.targets.iter().copied().find(|t| t.metric == m)
    }
}

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "stream-single",
        about: "SPSC u64, Producer::publish per event, consumer poll_batch",
        floor: Kind::FloorStream,
        subject: Kind::RpStreamSingle,
        paced: false,
        targets: &[Target { metric: Metric::Rate, bound: 0.5 }],
    },
    Scenario {
        name: "stream-coalesced",
        about: "SPSC u64, Producer::publish per event with coalesce(64), consumer poll_batch",
        floor: Kind::FloorStream,
        subject: Kind::RpStreamCoalesced,
        paced: false,
        targets: &[],
    },
    Scenario {
        name: "stream-batch-nocounters",
        about: "SPSC u64, Producer::publish_batch(64) with counters off (compare with stream-batch: the counters' cost)",
        floor: Kind::FloorStream,
        subject: Kind::RpStreamBatchNoCounters,
        paced: false,
        targets: &[],
    },
    Scenario {
        name: "stream-batch",
        about: "SPSC u64, Producer::publish_batch(64), consumer poll_batch",
        floor: Kind::FloorStream,
        subject: Kind::RpStreamBatch,
        paced: false,
        targets: &[Target { metric: Metric::Rate, bound: 0.9 }],
    },
    Scenario {
        name: "pingpong-spin",
        about: "ping-pong over two rings, BusySpin consumers",
        floor: Kind::FloorPing,
        subject: Kind::RpPingSpin,
        paced: false,
        targets: &[Target { metric: Metric::P50, bound: 1.2 }, Target { metric: Metric::P999, bound: 2.0 }],
    },
    Scenario {
        name: "pingpong-blocking",
        about: "ping-pong over two rings, WaitStrategy::blocking() consumers, back to back (no target)",
        floor: Kind::FloorPing,
        subject: Kind::RpPingBlocking,
        paced: false,
        targets: &[],
    },
    Scenario {
        name: "wakeup-blocking",
        about: "wake-up latency: B's WaitStrategy::blocking() consumer is parked by an idle gap \
                before each round trip (A spins); round trip against a raw spin-then-futex floor \
                (no target)",
        floor: Kind::FloorFutex,
        subject: Kind::RpPingBlocking,
        paced: true,
        targets: &[],
    },
    Scenario {
        name: "diag-stream-per-event",
        about: "diagnostic: the raw stream with one release store per event, i.e. the floor of any \
                single-event publish",
        floor: Kind::FloorStream,
        subject: Kind::FloorStreamPerEvent,
        paced: false,
        targets: &[],
    },
    Scenario {
        name: "diag-pingpong-2line",
        about: "diagnostic: raw ping-pong carried in a slot plus a cursor (two lines per hop, as in \
                any ring that keeps cursors apart from slots)",
        floor: Kind::FloorPing,
        subject: Kind::FloorRingPing,
        paced: false,
        targets: &[],
    },
    Scenario {
        name: "diag-pingpong-2line-touch",
        about: "diagnostic: as diag-pingpong-2line, the waiter also loading its next slot while it \
                spins (a possible consumer-side fix)",
        floor: Kind::FloorPing,
        subject: Kind::FloorRingPingTouch,
        paced: false,
        targets: &[],
    },
];

/// Stream floor rate above which the vCPUs count as close (the geometric midpoint of the
/// ~900 M/s close and ~220 M/s far rates).
pub const CLOSE_STREAM_RATE: f64 = 450e6;
/// Spin ping-pong one-way p50 below which the vCPUs count as close (geometric midpoint of
/// ~60 ns and ~240 ns).
pub const CLOSE_ONE_WAY_NS: f64 = 120.0;

/// "close" or "far", from one floor run.
pub fn placement(kind: Kind, o: &RunOutcome) -> &'static str {
    let close = match kind {
        Kind::FloorStream => Metric::Rate.of(o) >= CLOSE_STREAM_RATE,
        Kind::FloorFutex => o.a["result"]["probe"]["one_way_ns"]["p50"].as_f64().unwrap_or(f64::NAN) <= CLOSE_ONE_WAY_NS,
        _ => Metric::P50.of(o) <= CLOSE_ONE_WAY_NS,
    };
    if close {
        "close"
    } else {
        "far"
    }
}

/// Run sizes and machine settings shared by every run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub brackets: usize,
    pub capacity: usize,
    pub batch: usize,
    /// Fixed stream size; `None`: sized to `target_secs` from the previous run of that kind.
    pub events: Option<u64>,
    pub first_events: u64,
    pub min_events: u64,
    pub target_secs: f64,
    pub rounds: u64,
    pub ping_warmup: u64,
    pub paced_rounds: u64,
    pub paced_warmup: u64,
    pub gap_ns: u64,
    pub spins: u32,
    pub ticks_per_ns: f64,
    pub cpus: [Option<usize>; 2],
    pub timeout: Duration,
    /// Tries per run: a try in which either side was preempted more than `max_preemptions`
    /// times is repeated (the last try is kept, and flagged).
    pub attempts: u32,
    pub max_preemptions: i64,
    /// How long to wait for other tasks to stop running before each try.
    pub quiet_wait: Duration,
    /// SCHED_FIFO priority for the children (a shared machine), and the pause after each
    /// try, as a fraction of its wall time, that gives the CPUs back to everyone else.
    pub rt_priority: Option<i32>,
    pub cooldown: f64,
}

/// Everything one scenario produced.
pub struct ScenarioRun {
    pub scenario: &'static Scenario,
    /// The contention threshold the runs were held to.
    pub max_preemptions: i64,
    pub floors: Vec<RunOutcome>,
    pub subjects: Vec<RunOutcome>,
}

/// Runs `sc`'s schedule. `rates` remembers each stream kind's last rate, to size the next run.
pub fn run_scenario(sc: &'static Scenario, plan: &Plan, rates: &mut HashMap<Kind, f64>, next_run: &mut u32, progress: bool) -> Result<ScenarioRun, String> {
    let mut run = ScenarioRun { scenario: sc, max_preemptions: plan.max_preemptions, floors: Vec::new(), subjects: Vec::new() };
    for step in 0..2 * plan.brackets + 1 {
        let kind = if step % 2 == 0 { sc.floor } else { sc.subject };
        let spec = spec_for(sc, kind, plan, rates);
        let name = crate::shm::run_name(*next_run);
        *next_run += 1;
        let o = run_quietly(&spec, &name, plan, progress).map_err(|e| format!("{} run {} ({}): {e}", sc.name, step, kind.name()))?;
        if kind.is_stream() {
            let rate = Metric::Rate.of(&o);
            if rate.is_finite() && rate > 0.0 {
                rates.insert(kind, rate);
            }
        }
        if progress {
            eprintln!("  {:<18} {:<30} {}", sc.name, kind.name(), brief(sc, &o));
        }
        if step % 2 == 0 {
            run.floors.push(o);
        } else {
            run.subjects.push(o);
        }
    }
    Ok(run)
}

/// One run, on a quiet machine if possible, repeated while it was contended.
fn run_quietly(spec: &RunSpec, name: &str, plan: &Plan, progress: bool) -> Result<RunOutcome, String> {
    let mut attempt = 1;
    loop {
        let (quiet, waited) = harness::wait_for_quiet(plan.quiet_wait);
        let mut o = harness::run_pair(spec, &format!("{name}-{attempt}"))?;
        if plan.cooldown > 0.0 {
            std::thread::sleep(o.wall.mul_f64(plan.cooldown));
        }
        o.attempts = attempt;
        o.quiet = quiet;
        o.quiet_wait_s = waited.as_secs_f64();
        if o.preemptions() <= plan.max_preemptions || attempt >= plan.attempts || harness::interrupted() {
            return Ok(o);
        }
        if progress {
            eprintln!("    (try {attempt}: {} preemptions, {} other tasks runnable; again)", o.preemptions(), harness::others_running());
        }
        attempt += 1;
    }
}

fn brief(sc: &Scenario, o: &RunOutcome) -> String {
    let errors = o.errors();
    let m = if sc.floor.is_stream() {
        let r = &o.b["result"];
        let (polls, empty) = (r["polls"].as_u64().unwrap_or(0), r["empty_polls"].as_u64().unwrap_or(0));
        let per_poll = r["events_per_poll"].as_f64().unwrap_or(0.0);
        let empty_share = if polls + empty > 0 { empty as f64 / (polls + empty) as f64 } else { 0.0 };
        format!("{:.1} M/s, {per_poll:.1} events/poll, {:.0}% polls empty", Metric::Rate.of(o) / 1e6, empty_share * 100.0)
    } else {
        let what = if sc.paced { "round trip" } else { "one-way" };
        format!("{what} p50 {:.0} ns, p99.9 {:.0} ns", sc.value(Metric::P50, o), sc.value(Metric::P999, o))
    };
    let waited = if o.quiet_wait_s >= 0.2 { format!(", waited {:.1} s for quiet", o.quiet_wait_s) } else { String::new() };
    let errors = if errors > 0 { format!(", {errors} ERRORS") } else { String::new() };
    format!("{m}  ({:.2} s, {} preemptions, try {}{waited}{errors})", o.wall.as_secs_f64(), o.preemptions(), o.attempts)
}

fn spec_for(sc: &Scenario, kind: Kind, plan: &Plan, rates: &HashMap<Kind, f64>) -> RunSpec {
    let (events, warmup) = if kind.is_stream() {
        let n = plan.events.unwrap_or_else(|| match rates.get(&kind) {
            Some(r) => ((r * plan.target_secs) as u64).clamp(plan.min_events, 4_000_000_000),
            None => plan.first_events,
        });
        (n, (n / 10).max(4 * plan.capacity as u64))
    } else if sc.paced {
        (plan.paced_rounds, plan.paced_warmup)
    } else {
        (plan.rounds, plan.ping_warmup)
    };
    RunSpec {
        kind,
        events,
        warmup,
        capacity: plan.capacity,
        batch: plan.batch,
        gap_ns: if sc.paced { plan.gap_ns } else { 0 },
        spins: plan.spins,
        ticks_per_ns: plan.ticks_per_ns,
        cpus: plan.cpus,
        timeout: plan.timeout,
        rt_priority: plan.rt_priority,
    }
}

/// One metric of one scenario across its brackets.
#[derive(Debug, Clone)]
pub struct MetricSummary {
    pub metric: Metric,
    pub floor_median: f64,
    pub subject_median: f64,
    /// Per bracket: subject / mean(adjacent floors).
    pub ratios: Vec<f64>,
    pub ratio_median: f64,
    /// Lowest ratio for rates, highest for latencies.
    pub worst: f64,
    pub best: f64,
    pub target: Option<Target>,
    /// Whether the median ratio meets the target.
    pub met: Option<bool>,
}

impl ScenarioRun {
    /// Placement of each bracket: its floors' common class, or "mixed".
    pub fn placements(&self) -> Vec<&'static str> {
        let f: Vec<_> = self.floors.iter().map(|o| placement(self.scenario.floor, o)).collect();
        f.windows(2).map(|w| if w[0] == w[1] { w[0] } else { "mixed" }).collect()
    }

    pub fn summaries(&self) -> Vec<MetricSummary> {
        self.scenario.metrics().iter().map(|&m| self.summary(m)).collect()
    }

    fn summary(&self, m: Metric) -> MetricSummary {
        let sc = self.scenario;
        let floors: Vec<f64> = self.floors.iter().map(|o| sc.value(m, o)).collect();
        let subjects: Vec<f64> = self.subjects.iter().map(|o| sc.value(m, o)).collect();
        let ratios: Vec<f64> = subjects.iter().enumerate().map(|(i, s)| s / ((floors[i] + floors[i + 1]) / 2.0)).collect();
        let (lo, hi) = ratios.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        let (worst, best) = if m.higher_is_better() { (lo, hi) } else { (hi, lo) };
        let ratio_median = median(&ratios);
        let target = self.scenario.target(m);
        MetricSummary {
            metric: m,
            floor_median: median(&floors),
            subject_median: median(&subjects),
            met: target.map(|t| t.met(ratio_median)),
            ratios,
            ratio_median,
            worst,
            best,
            target,
        }
    }

    /// Payload, sequence or ordering errors over all runs.
    pub fn errors(&self) -> u64 {
        self.floors.iter().chain(&self.subjects).map(RunOutcome::errors).sum()
    }

    /// Runs where a child could not pin itself.
    pub fn unpinned(&self) -> usize {
        self.floors.iter().chain(&self.subjects).filter(|o| o.pinned == Some(false)).count()
    }

    /// Kept runs that were still contended after all their tries.
    pub fn contended(&self) -> usize {
        self.floors.iter().chain(&self.subjects).filter(|o| o.preemptions() > self.max_preemptions).count()
    }

    pub fn leaked(&self) -> Vec<String> {
        self.floors.iter().chain(&self.subjects).flat_map(|o| o.leaked.clone()).collect()
    }

    /// Every run's raw reports, for the JSON file.
    pub fn runs_json(&self) -> Value {
        let one = |kind: Kind, o: &RunOutcome| {
            serde_json::json!({
                "kind": kind.name(), "wall_s": o.wall.as_secs_f64(), "pinned": o.pinned,
                "leaked": o.leaked, "attempts": o.attempts, "preemptions": o.preemptions(),
                "quiet_before": o.quiet, "quiet_wait_s": o.quiet_wait_s, "a": o.a, "b": o.b,
            })
        };
        let mut v = Vec::new();
        for (i, f) in self.floors.iter().enumerate() {
            v.push(one(self.scenario.floor, f));
            if let Some(s) = self.subjects.get(i) {
                v.push(one(self.scenario.subject, s));
            }
        }
        Value::Array(v)
    }
}

pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}
