//! Scenarios and the bracket schedule: floor, subject, floor, subject, ..., floor.
//!
//! The two vCPUs are sometimes close and sometimes far, and that changes between runs, so an
//! absolute number means little. Subjects (ringproof, then its peers) take turns between
//! floors: run `k` of the schedule's subjects sits between floors `k` and `k + 1`, its ratio
//! is subject / mean(those floors), and each subject reports the median, the worst and the
//! best of its ratios. Each bracket is classified close or far from its floors
//! (stream rate, or spin ping-pong one-way p50), "mixed" when its two floors disagree.

use crate::harness::{self, Kind, Launcher, Peer, RunOutcome, RunSpec};
use indicatif::ProgressBar;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// A number a run yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Events per second (stream; the slowest reader's when several).
    Rate,
    /// Latency percentiles and max, in ns: one-way (round trip / 2) in closed-loop
    /// ping-pong, the whole round trip in paced and open-loop runs.
    P50,
    P90,
    P99,
    P999,
    P9999,
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
            Metric::P9999 => "one-way p99.99",
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
            Metric::P9999 => "p9999",
            Metric::Max => "max",
        }
    }

    pub fn higher_is_better(self) -> bool {
        self == Metric::Rate
    }
}

pub const LATENCY: &[Metric] = &[
    Metric::P50,
    Metric::P90,
    Metric::P99,
    Metric::P999,
    Metric::P9999,
    Metric::Max,
];

/// A ratio the ringproof subject should reach: `>= bound` for rates, `<= bound` for latencies.
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
        format!(
            "{} {:.2}",
            if self.metric.higher_is_better() {
                ">="
            } else {
                "<="
            },
            self.bound
        )
    }
}

/// How many stream readers a scenario has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readers {
    One,
    Two,
    /// As many as the cores allow: one per core besides the producer's, at least 3 (the
    /// scenario is skipped on machines with fewer than 4 cores unless `--readers` is given).
    Many,
}

/// How latency runs are timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// Back to back.
    Closed,
    /// An idle gap before each round trip (the blocking waiter parks): wake-up latency.
    Gap,
    /// Open loop: a round trip due every interval, latency from the due time.
    OpenLoop,
}

/// A floor and the subjects it brackets: the ringproof subject first, then its peers.
#[derive(Debug)]
pub struct Scenario {
    pub name: &'static str,
    pub about: &'static str,
    pub floor: Kind,
    pub subjects: &'static [Kind],
    pub pacing: Pacing,
    /// Whether `--size` applies (otherwise 8-byte events).
    pub sized: bool,
    pub readers: Readers,
    /// ringproof rings as mmap'd files instead of POSIX shm.
    pub mmap: bool,
    /// Targets of the ringproof subject, as ratios to the floor.
    pub targets: &'static [Target],
}

impl Scenario {
    pub fn is_stream(&self) -> bool {
        self.floor.is_stream()
    }

    pub fn metrics(&self) -> &'static [Metric] {
        if self.is_stream() {
            &[Metric::Rate]
        } else {
            LATENCY
        }
    }

    /// Metric `m` of run `o` in this scenario.
    pub fn value(&self, m: Metric, o: &RunOutcome) -> f64 {
        match m {
            Metric::Rate => o.min_rate(),
            _ => {
                let which = if self.pacing == Pacing::Closed {
                    "one_way_ns"
                } else {
                    "rtt_ns"
                };
                o.a["result"][which][m.key()].as_f64().unwrap_or(f64::NAN)
            }
        }
    }

    pub fn label(&self, m: Metric) -> String {
        match (m, self.pacing) {
            (Metric::Rate, _) if self.readers != Readers::One => "slowest reader events/s".into(),
            (_, Pacing::Closed) => m.label().to_owned(),
            (_, Pacing::Gap) => m.label().replace("one-way", "round trip"),
            (_, Pacing::OpenLoop) => m.label().replace("one-way", "CO-corrected rtt"),
        }
    }

    pub fn target(&self, m: Metric) -> Option<Target> {
        self.targets.iter().copied().find(|t| t.metric == m)
    }
}

const STREAM_PEERS: &[Kind] = &[
    Kind::RpStreamSingle,
    Kind::DmpStream,
    Kind::IoxStream,
    Kind::UdsStream,
    Kind::PipeStream,
];
const SPMC_PEERS: &[Kind] = &[Kind::RpStreamSingle, Kind::DmpStream, Kind::IoxStream];
const SPIN_PEERS: &[Kind] = &[
    Kind::RpPingSpin,
    Kind::DmpPing,
    Kind::IoxPing,
    Kind::UdsPingSpin,
    Kind::PipePingSpin,
];
const BLOCKING_PEERS: &[Kind] = &[
    Kind::RpPingBlocking,
    Kind::UdsPingBlocking,
    Kind::PipePingBlocking,
];

const fn scenario(
    name: &'static str,
    about: &'static str,
    floor: Kind,
    subjects: &'static [Kind],
) -> Scenario {
    Scenario {
        name,
        about,
        floor,
        subjects,
        pacing: Pacing::Closed,
        sized: false,
        readers: Readers::One,
        mmap: false,
        targets: &[],
    }
}

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        sized: true,
        targets: &[Target { metric: Metric::Rate, bound: 0.5 }],
        ..scenario("stream-single", "SPSC, Producer::publish per event, consumer poll_batch; peers: one send/write per event", Kind::FloorStream, STREAM_PEERS)
    },
    Scenario {
        targets: &[Target { metric: Metric::Rate, bound: 0.5 }],
        ..scenario(
            "stream-single-backoff",
            "SPSC u64, Producer::publish per event (each visible at once), reader wait_batch with WaitStrategy::backoff(); peer: disruptor-mp",
            Kind::FloorStream,
            &[Kind::RpStreamSingleBackoff, Kind::DmpStream],
        )
    },
    scenario("stream-coalesced", "SPSC u64, Producer::publish per event with coalesce(64), consumer poll_batch", Kind::FloorStream, &[Kind::RpStreamCoalesced]),
    scenario(
        "stream-single-nocounters",
        "SPSC u64, Producer::publish per event with counters off (compare with stream-single 8B: the counters' cost per event)",
        Kind::FloorStream,
        &[Kind::RpStreamSingleNoCounters],
    ),
    scenario(
        "stream-batch-nocounters",
        "SPSC u64, Producer::publish_batch(64) with counters off (compare with stream-batch: the counters' cost)",
        Kind::FloorStream,
        &[Kind::RpStreamBatchNoCounters],
    ),
    Scenario {
        sized: true,
        targets: &[Target { metric: Metric::Rate, bound: 0.9 }],
        ..scenario("stream-batch", "SPSC, Producer::publish_batch(64), consumer poll_batch", Kind::FloorStream, &[Kind::RpStreamBatch])
    },
    Scenario { mmap: true, ..scenario("stream-batch-mmap", "as stream-batch, the ring in mmap'd files (RingName::dir) instead of POSIX shm", Kind::FloorStream, &[Kind::RpStreamBatch]) },
    Scenario {
        readers: Readers::Two,
        targets: &[Target { metric: Metric::Rate, bound: 0.5 }],
        ..scenario(
            "spmc-2",
            "SPMC broadcast 1 -> 2, publish per event; the slowest reader against the raw broadcast stream with 2 readers",
            Kind::FloorStream,
            SPMC_PEERS,
        )
    },
    Scenario {
        readers: Readers::Many,
        targets: &[Target { metric: Metric::Rate, bound: 0.5 }],
        ..scenario(
            "spmc-n",
            "SPMC broadcast 1 -> N (one reader per spare core, N >= 3), publish per event; slowest reader against the raw broadcast",
            Kind::FloorStream,
            SPMC_PEERS,
        )
    },
    Scenario {
        targets: &[Target { metric: Metric::P50, bound: 1.2 }, Target { metric: Metric::P999, bound: 2.0 }],
        ..scenario("pingpong-spin", "ping-pong u64 over two rings, BusySpin consumers; peers busy-poll", Kind::FloorPing, SPIN_PEERS)
    },
    scenario("pingpong-blocking", "ping-pong u64, WaitStrategy::blocking() consumers, back to back; peers: blocking reads", Kind::FloorPing, BLOCKING_PEERS),
    Scenario { mmap: true, ..scenario("pingpong-spin-mmap", "as pingpong-spin, the rings in mmap'd files", Kind::FloorPing, &[Kind::RpPingSpin]) },
    Scenario {
        pacing: Pacing::OpenLoop,
        ..scenario(
            "paced-spin",
            "open loop: a round trip due every --interval-us, latency from the due time (coordinated omission corrected); BusySpin",
            Kind::FloorPing,
            SPIN_PEERS,
        )
    },
    Scenario {
        pacing: Pacing::Gap,
        ..scenario(
            "wakeup-blocking",
            "wake-up latency: B's blocking waiter is parked by an idle gap before each round trip (A spins); round trip against a raw spin-then-futex floor",
            Kind::FloorFutex,
            BLOCKING_PEERS,
        )
    },
    scenario(
        "diag-stream-per-event",
        "diagnostic: the raw stream with one release store per event, i.e. the floor of any single-event publish",
        Kind::FloorStream,
        &[Kind::FloorStreamPerEvent],
    ),
    scenario(
        "diag-pingpong-2line",
        "diagnostic: raw ping-pong carried in a slot plus a cursor (two lines per hop, as in any ring that keeps cursors apart from slots)",
        Kind::FloorPing,
        &[Kind::FloorRingPing],
    ),
    scenario(
        "diag-pingpong-2line-touch",
        "diagnostic: as diag-pingpong-2line, the waiter also loading its next slot while it spins (a possible consumer-side fix)",
        Kind::FloorPing,
        &[Kind::FloorRingPingTouch],
    ),
];

/// Spin ping-pong one-way p50 below which the vCPUs count as close (geometric midpoint of
/// ~60 ns and ~240 ns).
pub const CLOSE_ONE_WAY_NS: f64 = 120.0;

/// "close" or "far", from one floor run: its placement probe (a short spin ping-pong before
/// the stream or the futex ping-pong), or its own closed-loop spin ping-pong; "n/a" for the
/// open-loop floor, whose latency is the schedule's.
pub fn placement(sc: &Scenario, o: &RunOutcome) -> &'static str {
    let close = match (
        sc.floor,
        o.a["result"]["probe"]["one_way_ns"]["p50"].as_f64(),
    ) {
        (Kind::FloorStream | Kind::FloorFutex, Some(p50)) => p50 <= CLOSE_ONE_WAY_NS,
        (Kind::FloorPing, _) if sc.pacing == Pacing::Closed => {
            o.a["result"]["one_way_ns"]["p50"]
                .as_f64()
                .unwrap_or(f64::NAN)
                <= CLOSE_ONE_WAY_NS
        }
        _ => return "n/a",
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
    /// Fixed stream size (the same count for every subject); `None`: each kind sized to
    /// `target_secs` from its previous run.
    pub events: Option<u64>,
    pub min_events: u64,
    /// Scales the first run's event count of each kind (before its rate is known).
    pub first_scale: f64,
    pub target_secs: f64,
    pub rounds: u64,
    pub ping_warmup: u64,
    pub paced_rounds: u64,
    pub paced_warmup: u64,
    pub gap_ns: u64,
    pub open_loop_rounds: u64,
    pub interval_ns: u64,
    pub spins: u32,
    pub ticks_per_ns: f64,
    pub cpus: Vec<usize>,
    pub timeout: Duration,
    /// Tries per run: a try in which the sides were preempted more than `max_preemptions`
    /// times is repeated (the last try is kept, and flagged).
    pub attempts: u32,
    pub max_preemptions: i64,
    /// How long to wait for other tasks to stop running before each try.
    pub quiet_wait: Duration,
    /// SCHED_FIFO priority for the children (a shared machine), and the pause after each
    /// try, as a fraction of its wall time, that gives the CPUs back to everyone else.
    pub rt_priority: Option<i32>,
    pub cooldown: f64,
    /// Readers of the 1 -> N scenario.
    pub many_readers: Option<usize>,
}

/// One scenario at one event size: what runs.
#[derive(Debug, Clone)]
pub struct Case {
    pub scenario: &'static Scenario,
    pub size: usize,
    pub readers: usize,
    /// The subjects that run (peers filtered by `--peers`).
    pub subjects: Vec<Kind>,
}

impl Case {
    /// Runs it takes: floor, subject, floor, subject, ..., floor.
    pub fn runs(&self, brackets: usize) -> usize {
        2 * brackets * self.subjects.len() + 1
    }

    pub fn title(&self) -> String {
        if self.scenario.sized {
            format!("{} {}B", self.scenario.name, self.size)
        } else {
            self.scenario.name.to_owned()
        }
    }
}

/// The cases to run: `scenarios` (all when empty) at `sizes` (sized scenarios) with `peers`.
/// Returns them and a note per scenario left out.
pub fn cases(
    scenarios: &[String],
    sizes: &[usize],
    peers: &[Peer],
    plan: &Plan,
) -> (Vec<Case>, Vec<String>) {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for sc in SCENARIOS
        .iter()
        .filter(|s| scenarios.is_empty() || scenarios.iter().any(|n| n == s.name))
    {
        let readers = match sc.readers {
            Readers::One => 1,
            Readers::Two => 2,
            Readers::Many => {
                match plan.many_readers {
                    Some(n) => n,
                    None if plan.cpus.len() >= 4 => {
                        (plan.cpus.len() - 1).min(crate::floors::MAX_READERS)
                    }
                    None => {
                        notes.push(format!("{}: skipped, needs 4 or more cores (have {}); force it with --readers N", sc.name, plan.cpus.len()));
                        continue;
                    }
                }
            }
        };
        let subjects: Vec<Kind> = sc
            .subjects
            .iter()
            .copied()
            .filter(|k| k.peer().is_none_or(|p| peers.contains(&p)))
            .collect();
        let sizes: &[usize] = if sc.sized { sizes } else { &[8] };
        for &size in sizes {
            out.push(Case {
                scenario: sc,
                size,
                readers,
                subjects: subjects.clone(),
            });
        }
    }
    (out, notes)
}

/// Everything one case produced.
pub struct ScenarioRun {
    pub case: Case,
    pub scenario: &'static Scenario,
    /// The contention threshold the runs were held to.
    pub max_preemptions: i64,
    /// floors[k] and floors[k + 1] bracket subjects[k].
    pub floors: Vec<RunOutcome>,
    pub subjects: Vec<(Kind, RunOutcome)>,
}

/// Remembers each stream kind's last rate per (size, readers), to size its next run.
pub type Rates = HashMap<(Kind, usize, usize), f64>;

/// Runs `case`'s schedule: for each bracket round, floor, subject 1, floor, subject 2, ...
pub fn run_case(
    case: &Case,
    plan: &Plan,
    launcher: &Launcher,
    rates: &mut Rates,
    next_run: &mut u32,
    bar: &ProgressBar,
) -> Result<ScenarioRun, String> {
    let sc = case.scenario;
    let mut run = ScenarioRun {
        case: case.clone(),
        scenario: sc,
        max_preemptions: plan.max_preemptions,
        floors: Vec::new(),
        subjects: Vec::new(),
    };
    let mut order = vec![sc.floor];
    for _ in 0..plan.brackets {
        for &s in &case.subjects {
            order.extend([s, sc.floor]);
        }
    }
    for (step, &kind) in order.iter().enumerate() {
        let spec = spec_for(case, kind, plan, rates);
        let name = crate::shm::run_name(*next_run);
        *next_run += 1;
        bar.set_message(format!("{} / {}", case.title(), kind.name()));
        let o = run_quietly(&spec, &name, plan, launcher, bar)
            .map_err(|e| format!("{} run {} ({}): {e}", case.title(), step, kind.name()))?;
        bar.inc(1);
        if kind.is_stream() {
            let rate = o.min_rate();
            if rate.is_finite() && rate > 0.0 {
                rates.insert((kind, case.size, case.readers), rate);
            }
        }
        say(
            bar,
            format!(
                "  {:<26} {:<36} {}",
                case.title(),
                kind.name(),
                brief(sc, &o)
            ),
        );
        if step % 2 == 0 {
            run.floors.push(o);
        } else {
            run.subjects.push((kind, o));
        }
    }
    Ok(run)
}

/// A progress line: above the bar on a terminal, plain on stderr otherwise (indicatif drops
/// `println` when the bar is hidden, and logs want the lines).
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

/// One run, on a quiet machine if possible, repeated while it was contended.
fn run_quietly(
    spec: &RunSpec,
    name: &str,
    plan: &Plan,
    launcher: &Launcher,
    bar: &ProgressBar,
) -> Result<RunOutcome, String> {
    let mut attempt = 1;
    loop {
        let (quiet, waited) = harness::wait_for_quiet(plan.quiet_wait);
        let mut o = harness::run_pair(spec, &format!("{name}-{attempt}"), launcher)?;
        if plan.cooldown > 0.0 {
            std::thread::sleep(o.wall.mul_f64(plan.cooldown));
        }
        o.attempts = attempt;
        o.quiet = quiet;
        o.quiet_wait_s = waited.as_secs_f64();
        if o.oversubscribed
            || o.preemptions() <= plan.max_preemptions
            || attempt >= plan.attempts
            || harness::interrupted()
        {
            return Ok(o);
        }
        say(
            bar,
            format!(
                "    (try {attempt}: {} preemptions, {} other tasks runnable; again)",
                o.preemptions(),
                harness::others_running()
            ),
        );
        attempt += 1;
    }
}

fn brief(sc: &Scenario, o: &RunOutcome) -> String {
    let errors = o.errors();
    let m = if sc.is_stream() {
        let r = &o.b[0]["result"];
        let (polls, empty) = (
            r["polls"].as_u64().unwrap_or(0),
            r["empty_polls"].as_u64().unwrap_or(0),
        );
        let per_poll = r["events_per_poll"].as_f64().unwrap_or(0.0);
        let empty_share = if polls + empty > 0 {
            empty as f64 / (polls + empty) as f64
        } else {
            0.0
        };
        format!(
            "{:.2} M/s, {per_poll:.1} events/poll, {:.0}% polls empty",
            o.min_rate() / 1e6,
            empty_share * 100.0
        )
    } else {
        format!(
            "{} {:.0} ns, p99.9 {:.0} ns",
            sc.label(Metric::P50),
            sc.value(Metric::P50, o),
            sc.value(Metric::P999, o)
        )
    };
    let waited = if o.quiet_wait_s >= 0.2 {
        format!(", waited {:.1} s for quiet", o.quiet_wait_s)
    } else {
        String::new()
    };
    let errors = if errors > 0 {
        format!(", {errors} ERRORS")
    } else {
        String::new()
    };
    let errors = if o.dropped() > 0 {
        format!("{errors}, {} events NOT DELIVERED to a reader", o.dropped())
    } else {
        errors
    };
    let over = if o.oversubscribed {
        ", OVERSUBSCRIBED"
    } else {
        ""
    };
    format!(
        "{m}  ({:.2} s, {} preemptions, try {}{waited}{over}{errors})",
        o.wall.as_secs_f64(),
        o.preemptions(),
        o.attempts
    )
}

/// Events of a kind's first run at `size`, before its rate is known: about a second's worth
/// at rates typical of it. Oversubscribed runs (readers time-sharing a core with the
/// producer) move ~100 k events/s whatever the kind.
fn first_events(kind: Kind, size: usize, oversubscribed: bool, scale: f64) -> u64 {
    let n = if oversubscribed {
        100_000
    } else {
        // Peers and testees (any implementation, maybe a slow one) start small.
        let base: u64 = if kind.peer().is_some() || kind.testee().is_some() {
            2_000_000
        } else {
            50_000_000
        };
        (base * 8 / size as u64).max(100_000)
    };
    ((n as f64 * scale) as u64).max(10_000)
}

fn spec_for(case: &Case, kind: Kind, plan: &Plan, rates: &Rates) -> RunSpec {
    let sc = case.scenario;
    let oversubscribed = 1 + case.readers > plan.cpus.len().max(2);
    let (events, warmup) = if kind.is_stream() {
        let min = if oversubscribed {
            plan.min_events.min(20_000)
        } else {
            plan.min_events
        };
        let n = plan
            .events
            .unwrap_or_else(|| match rates.get(&(kind, case.size, case.readers)) {
                Some(r) => ((r * plan.target_secs) as u64).clamp(min, 4_000_000_000),
                None => first_events(kind, case.size, oversubscribed, plan.first_scale),
            });
        (n, (n / 10).max(4 * plan.capacity as u64))
    } else {
        match sc.pacing {
            Pacing::Closed => (plan.rounds, plan.ping_warmup),
            Pacing::Gap => (plan.paced_rounds, plan.paced_warmup),
            Pacing::OpenLoop => (
                plan.open_loop_rounds,
                plan.ping_warmup.min(plan.open_loop_rounds),
            ),
        }
    };
    RunSpec {
        kind,
        events,
        warmup,
        capacity: plan.capacity,
        size: case.size,
        readers: case.readers,
        mmap: sc.mmap,
        batch: plan.batch,
        gap_ns: if sc.pacing == Pacing::Gap {
            plan.gap_ns
        } else {
            0
        },
        interval_ns: if sc.pacing == Pacing::OpenLoop {
            plan.interval_ns
        } else {
            0
        },
        spins: plan.spins,
        ticks_per_ns: plan.ticks_per_ns,
        cpus: plan.cpus.clone(),
        timeout: plan.timeout,
        // SCHED_FIFO spinners sharing a core starve each other (a FIFO task never yields to
        // its peer at the same priority), so an oversubscribed case runs without --rt.
        rt_priority: if oversubscribed {
            None
        } else {
            plan.rt_priority
        },
    }
}

/// One metric of one subject across its brackets.
#[derive(Debug, Clone)]
pub struct MetricSummary {
    pub subject: Kind,
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
    /// Whether the worst bracket meets the target (stable, not lucky).
    pub met: Option<bool>,
    /// Bytes per second (streams): subject median rate times the event size.
    pub bytes_per_s: Option<f64>,
}

impl ScenarioRun {
    /// The bracket indices (into `subjects`) of `kind`.
    fn indices(&self, kind: Kind) -> Vec<usize> {
        self.subjects
            .iter()
            .enumerate()
            .filter(|(_, (k, _))| *k == kind)
            .map(|(i, _)| i)
            .collect()
    }

    /// Placement of bracket `i`: its floors' common class, or "mixed".
    pub fn placement(&self, i: usize) -> &'static str {
        let (a, b) = (
            placement(self.scenario, &self.floors[i]),
            placement(self.scenario, &self.floors[i + 1]),
        );
        if a == b {
            a
        } else {
            "mixed"
        }
    }

    /// Placements of `kind`'s brackets.
    pub fn placements(&self, kind: Kind) -> Vec<&'static str> {
        self.indices(kind)
            .into_iter()
            .map(|i| self.placement(i))
            .collect()
    }

    /// Every subject's summaries, subjects in schedule order.
    pub fn summaries(&self) -> Vec<MetricSummary> {
        self.case
            .subjects
            .iter()
            .flat_map(|&k| {
                self.scenario
                    .metrics()
                    .iter()
                    .map(move |&m| self.summary(k, m))
            })
            .collect()
    }

    pub fn summary(&self, kind: Kind, m: Metric) -> MetricSummary {
        let sc = self.scenario;
        let idx = self.indices(kind);
        let floors: Vec<f64> = self.floors.iter().map(|o| sc.value(m, o)).collect();
        let subjects: Vec<f64> = idx
            .iter()
            .map(|&i| sc.value(m, &self.subjects[i].1))
            .collect();
        let ratios: Vec<f64> = idx
            .iter()
            .zip(&subjects)
            .map(|(&i, s)| s / ((floors[i] + floors[i + 1]) / 2.0))
            .collect();
        let (lo, hi) = ratios
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &r| {
                (lo.min(r), hi.max(r))
            });
        let (worst, best) = if m.higher_is_better() {
            (lo, hi)
        } else {
            (hi, lo)
        };
        let ratio_median = median(&ratios);
        let target = if kind == sc.subjects[0] {
            sc.target(m)
        } else {
            None
        };
        let subject_median = median(&subjects);
        MetricSummary {
            subject: kind,
            metric: m,
            floor_median: median(&floors),
            subject_median,
            met: target.map(|t| t.met(worst)),
            ratios,
            ratio_median,
            worst,
            best,
            target,
            bytes_per_s: (m == Metric::Rate).then_some(subject_median * self.case.size as f64),
        }
    }

    fn all(&self) -> impl Iterator<Item = &RunOutcome> {
        self.floors
            .iter()
            .chain(self.subjects.iter().map(|(_, o)| o))
    }

    /// Payload, sequence or ordering errors over all runs.
    pub fn errors(&self) -> u64 {
        self.all().map(RunOutcome::errors).sum()
    }

    /// Runs where a child could not pin itself.
    pub fn unpinned(&self) -> usize {
        self.all().filter(|o| o.pinned == Some(false)).count()
    }

    /// Kept runs that were still contended after all their tries.
    pub fn contended(&self) -> usize {
        self.all()
            .filter(|o| !o.oversubscribed && o.preemptions() > self.max_preemptions)
            .count()
    }

    pub fn oversubscribed(&self) -> bool {
        self.all().any(|o| o.oversubscribed)
    }

    /// Events a subject's peer did not deliver (by subject).
    pub fn dropped(&self) -> Vec<(Kind, u64)> {
        self.case
            .subjects
            .iter()
            .map(|&k| {
                (
                    k,
                    self.subjects
                        .iter()
                        .filter(|(s, _)| *s == k)
                        .map(|(_, o)| o.dropped())
                        .sum(),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    pub fn leaked(&self) -> Vec<String> {
        self.all().flat_map(|o| o.leaked.clone()).collect()
    }

    pub fn run_count(&self) -> usize {
        self.floors.len() + self.subjects.len()
    }

    /// Every run's raw reports, in schedule order, for the JSON file.
    pub fn runs_json(&self) -> Value {
        let one = |kind: Kind, o: &RunOutcome, placement: Option<&str>| {
            serde_json::json!({
                "kind": kind.name(), "who": kind.who(), "wall_s": o.wall.as_secs_f64(), "pinned": o.pinned,
                "leaked": o.leaked, "attempts": o.attempts, "preemptions": o.preemptions(),
                "oversubscribed": o.oversubscribed, "placement": placement,
                "quiet_before": o.quiet, "quiet_wait_s": o.quiet_wait_s, "a": o.a, "b": o.b,
            })
        };
        let mut v = Vec::new();
        for (i, f) in self.floors.iter().enumerate() {
            v.push(one(self.scenario.floor, f, None));
            if let Some((k, s)) = self.subjects.get(i) {
                v.push(one(*k, s, Some(self.placement(i))));
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stream_outcome(rates: &[f64]) -> RunOutcome {
        RunOutcome {
            a: json!({ "result": {} }),
            b: rates
                .iter()
                .map(|r| json!({ "result": { "rate": r, "errors": 0 } }))
                .collect(),
            wall: Duration::from_millis(1),
            pinned: Some(true),
            leaked: Vec::new(),
            attempts: 1,
            quiet_wait_s: 0.0,
            quiet: true,
            oversubscribed: false,
        }
    }

    fn plan(cpus: usize) -> Plan {
        Plan {
            brackets: 2,
            capacity: 1024,
            batch: 64,
            events: None,
            min_events: 1,
            first_scale: 1.0,
            target_secs: 0.1,
            rounds: 1,
            ping_warmup: 0,
            paced_rounds: 1,
            paced_warmup: 0,
            gap_ns: 0,
            open_loop_rounds: 1,
            interval_ns: 1,
            spins: 1,
            ticks_per_ns: 1.0,
            cpus: (0..cpus).collect(),
            timeout: Duration::from_secs(1),
            attempts: 1,
            max_preemptions: 0,
            quiet_wait: Duration::ZERO,
            rt_priority: None,
            cooldown: 0.0,
            many_readers: None,
        }
    }

    #[test]
    fn each_subject_is_rated_against_its_own_adjacent_floors() {
        let sc = SCENARIOS.iter().find(|s| s.name == "spmc-2").unwrap();
        let case = Case {
            scenario: sc,
            size: 8,
            readers: 2,
            subjects: vec![Kind::RpStreamSingle, Kind::DmpStream],
        };
        // floor 100, rp, floor 300, dmp, floor 100, rp, floor 300, dmp, floor 100
        let run = ScenarioRun {
            case,
            scenario: sc,
            max_preemptions: 0,
            floors: [100.0, 300.0, 100.0, 300.0, 100.0]
                .iter()
                .map(|&f| stream_outcome(&[f, f * 2.0]))
                .collect(),
            subjects: vec![
                (Kind::RpStreamSingle, stream_outcome(&[150.0, 100.0])),
                (Kind::DmpStream, stream_outcome(&[20.0, 40.0])),
                (Kind::RpStreamSingle, stream_outcome(&[200.0, 300.0])),
                (Kind::DmpStream, stream_outcome(&[10.0, 10.0])),
            ],
        };
        // Slowest reader: rp 100 / mean(100, 300) = 0.5, then 200 / 200 = 1.0.
        let rp = run.summary(Kind::RpStreamSingle, Metric::Rate);
        assert_eq!(rp.ratios, vec![0.5, 1.0]);
        assert_eq!(rp.worst, 0.5);
        assert_eq!(
            rp.met,
            Some(true),
            "the target (>= 0.5) is judged on the worst bracket"
        );
        let dmp = run.summary(Kind::DmpStream, Metric::Rate);
        assert_eq!(dmp.ratios, vec![0.1, 0.05]);
        assert_eq!(
            dmp.target.map(|t| t.bound),
            None,
            "targets belong to ringproof only"
        );
        let adv = crate::report::advantage(&run, Kind::DmpStream, Metric::Rate).unwrap();
        assert!((adv - 0.75 / 0.075).abs() < 1e-9);
        assert_eq!(run.errors(), 0);
    }

    #[test]
    fn cases_follow_sizes_peers_and_cores() {
        let names = |v: &[Case]| {
            v.iter()
                .map(|c| (c.title(), c.subjects.len()))
                .collect::<Vec<_>>()
        };
        let (c, notes) = cases(
            &["stream-single".into(), "spmc-n".into()],
            &[8, 64],
            &[Peer::Dmp],
            &plan(2),
        );
        assert_eq!(
            names(&c),
            vec![
                ("stream-single 8B".to_owned(), 2),
                ("stream-single 64B".to_owned(), 2)
            ]
        );
        assert_eq!(notes.len(), 1, "1 -> N skipped below 4 cores: {notes:?}");
        let (c, notes) = cases(
            &["spmc-n".into(), "pingpong-spin".into()],
            &[8, 64],
            &[],
            &plan(8),
        );
        assert!(notes.is_empty());
        assert_eq!(c[0].readers, 7);
        assert_eq!(
            names(&c),
            vec![("spmc-n".to_owned(), 1), ("pingpong-spin".to_owned(), 1)],
            "unsized scenarios run once, at 8 bytes"
        );
        assert_eq!(c[1].runs(2), 5);
    }
}
