//! The scenario catalogue: what each scenario runs (a floor and the subjects it brackets),
//! the numbers it yields ([`Metric`]), the targets of the ringproof subject, and how a floor
//! run places the two vCPUs (close or far).

use crate::role::Kind;
use crate::run::RunOutcome;

/// A number a run yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Events per second (stream; the slowest reader's when several).
    Rate,
    /// Latency percentiles and max, in ns: one-way (round trip / 2) in closed-loop
    /// ping-pong, the whole round trip in paced and open-loop runs.
    P50,
    /// The mean: the finest comparison of two subjects where the clock is coarse. This VM's
    /// TSC moves in steps of 10 ns, so every percentile of a round trip falls on a multiple of
    /// 10 ns (5 ns one-way) and two p50s 1 ns apart can read 5 ns apart; the mean of 100,000
    /// round trips, whose phase against the clock's steps is random, is not quantised.
    Mean,
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
            Metric::Mean => "one-way mean",
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
            Metric::Mean => "mean",
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
    Metric::Mean,
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
        ..scenario("stream-batch", "SPSC, Producer::publish_batch(64), consumer poll_runs (u64) or poll_batch", Kind::FloorStream, &[Kind::RpStreamBatch])
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
    scenario(
        "diag-ladder",
        "diagnostic: the ablation ladder of a hop (bench/src/ladder.rs): the 2-line ring ping-pong, + the wake-word load, + counters, + liveness looks, + the reader's commit; pingpong-spin is the next rung (the public API)",
        Kind::FloorPing,
        &[
            Kind::FloorRingPing,
            Kind::FloorRingPingWaiter,
            Kind::FloorRingPingCounters,
            Kind::FloorRingPingLiveness,
            Kind::FloorRingPingCommit,
            Kind::RpPingSpin,
        ],
    ),
    scenario(
        "diag-counters-pingpong",
        "diagnostic: pingpong-spin with counters on, then off on both rings, alternated in every bracket; rp adv is on against off (the counters' cost per hop)",
        Kind::FloorPing,
        &[Kind::RpPingSpin, Kind::RpPingSpinNoCounters],
    ),
    scenario(
        "diag-counters-stream",
        "diagnostic: stream-single u64 with counters on, then off, alternated in every bracket; rp adv is on against off (the counters' cost per event)",
        Kind::FloorStream,
        &[Kind::RpStreamSingle, Kind::RpStreamSingleNoCounters],
    ),
];

/// Spin ping-pong one-way p50 below which the vCPUs count as close (geometric midpoint of
/// ~60 ns and ~240 ns).
pub const CLOSE_ONE_WAY_NS: f64 = 120.0;

/// Spin ping-pong one-way p50 at or below which the two vCPUs count as one core's two
/// hardware threads ("shared"): ~30 ns on the AMD VM, against ~45-60 ns for two cores that
/// share a cache. There a stream moves about twice the close rate (the line never leaves the
/// core) and a spinning side takes issue slots from the other, so its brackets are told apart.
pub const SHARED_ONE_WAY_NS: f64 = 37.0;

/// "shared", "close" or "far", from one floor run: its placement probe (a short spin
/// ping-pong before the stream or the futex ping-pong), or its own closed-loop spin ping-pong;
/// "n/a" for the open-loop floor, whose latency is the schedule's.
pub fn placement(sc: &Scenario, o: &RunOutcome) -> &'static str {
    let one_way = match sc.floor {
        Kind::FloorStream | Kind::FloorFutex => {
            o.a["result"]["probe"]["one_way_ns"]["p50"].as_f64()
        }
        Kind::FloorPing if sc.pacing == Pacing::Closed => Some(
            o.a["result"]["one_way_ns"]["p50"]
                .as_f64()
                .unwrap_or(f64::NAN),
        ),
        _ => None,
    };
    match one_way {
        None => "n/a",
        Some(p50) if p50 <= SHARED_ONE_WAY_NS => "shared",
        Some(p50) if p50 <= CLOSE_ONE_WAY_NS => "close",
        Some(_) => "far",
    }
}
