//! What the checker concludes: the [`Violation`]s (one per broken rule, in the rows of the
//! verdict table), the counts and detection latencies ([`Stats`]), and how shards' results
//! merge ([`Latency::absorb`], [`Stats::absorb`]).

use hdrhistogram::serialization::Serializer as _;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One broken rule, with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Violation {
    Lost {
        consumer: String,
        from: i64,
        to: i64,
        detail: String,
    },
    Duplicated {
        consumer: String,
        from: i64,
        to: i64,
        detail: String,
    },
    Torn {
        consumer: String,
        first: i64,
        last: i64,
    },
    OutOfOrder {
        consumer: String,
        detail: String,
    },
    Hung {
        who: String,
        detail: String,
    },
    /// The implementation never let a consumer attach again (the harness gave up after its
    /// bounded retries): not a hang, since the harness left it without a life.
    Refused {
        consumer: String,
        detail: String,
    },
    Leaked {
        name: String,
    },
    LateDetection {
        peer: String,
        observer: String,
        latency_ms: f64,
        bound_ms: u64,
    },
    Crashed {
        who: String,
        detail: String,
    },
    Harness {
        detail: String,
    },
}

impl Violation {
    /// The verdict-table row this violation counts in.
    pub fn row(&self) -> &'static str {
        match self {
            Violation::Lost { .. } => "lost",
            Violation::Duplicated { .. } => "duplicated",
            Violation::Torn { .. } => "torn",
            Violation::OutOfOrder { .. } => "out-of-order",
            Violation::Hung { .. } => "hung",
            Violation::Refused { .. } => "refused",
            Violation::Leaked { .. } => "leaked",
            Violation::LateDetection { .. } => "late-detection",
            Violation::Crashed { .. } => "crashed",
            Violation::Harness { .. } => "harness",
        }
    }
}

/// Every row of the verdict table, in order.
pub const ROWS: &[&str] = &[
    "lost",
    "duplicated",
    "torn",
    "out-of-order",
    "hung",
    "refused",
    "leaked",
    "late-detection",
    "crashed",
    "harness",
];

/// Latency percentiles (milliseconds) of one kind of dead-peer detection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub samples: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Deaths nobody observed before the peer was restarted (nobody needed to notice).
    pub unobserved: u64,
    /// The samples themselves (microseconds), as hdrhistogram's V2 encoding in hex, so that
    /// shards' latencies merge exactly ([`Latency::absorb`]). Empty without samples.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hdr: String,
}

/// Why two results' latencies could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("a latency histogram is not a valid hdrhistogram V2 encoding ({0}): was the result file edited or truncated?")]
    Decode(String),
    #[error("latency histograms do not add up ({0})")]
    Add(String),
}

impl Latency {
    /// The histogram behind these percentiles (empty without samples).
    pub fn histogram(&self) -> Result<Histogram<u64>, MergeError> {
        if self.hdr.is_empty() {
            return Ok(Histogram::new(3).expect("histogram"));
        }
        let bytes = (0..self.hdr.len() / 2)
            .map(|i| {
                self.hdr
                    .get(2 * i..2 * i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| MergeError::Decode("not hex".into()))?;
        hdrhistogram::serialization::Deserializer::new()
            .deserialize(&mut &bytes[..])
            .map_err(|e| MergeError::Decode(format!("{e:?}")))
    }

    /// Adds `other`'s samples to these (exactly: the histograms are added, then the
    /// percentiles read again).
    pub fn absorb(&mut self, other: &Latency) -> Result<(), MergeError> {
        // A fresh, auto-resizing histogram: a decoded one keeps its own range.
        let mut h = Histogram::<u64>::new(3).expect("histogram");
        for part in [self.histogram()?, other.histogram()?] {
            h.add(part).map_err(|e| MergeError::Add(format!("{e:?}")))?;
        }
        *self = latency(&h, self.unobserved + other.unobserved);
        Ok(())
    }
}

impl Stats {
    /// Adds `other`'s counts (and latency samples) to these.
    pub fn absorb(&mut self, other: &Stats) -> Result<(), MergeError> {
        for (k, n) in &other.injected {
            *self.injected.entry(k.clone()).or_default() += n;
        }
        self.failpoints_fired += other.failpoints_fired;
        self.faults_skipped += other.faults_skipped;
        self.producer_lives += other.producer_lives;
        self.consumer_lives += other.consumer_lives;
        self.events_delivered += other.events_delivered;
        self.lost_events += other.lost_events;
        self.duplicated_events += other.duplicated_events;
        self.redelivered_allowed += other.redelivered_allowed;
        self.declared_gap_events += other.declared_gap_events;
        self.torn_runs += other.torn_runs;
        self.detect_producer.absorb(&other.detect_producer)?;
        self.detect_consumer.absorb(&other.detect_consumer)
    }
}

/// Counts for the verdict table and the record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Faults carried out, by family.
    pub injected: BTreeMap<String, u64>,
    /// Failpoints that fired (the armed process crashed itself).
    pub failpoints_fired: u64,
    pub faults_skipped: u64,
    pub producer_lives: u64,
    pub consumer_lives: u64,
    pub events_delivered: u64,
    pub lost_events: u64,
    pub duplicated_events: u64,
    /// Re-deliveries inside a dead life's uncommitted window (allowed).
    pub redelivered_allowed: u64,
    /// Gaps the implementation declared (lapped / evicted / left), in events.
    pub declared_gap_events: u64,
    pub torn_runs: u64,
    /// Dead producer, seen by a consumer (`producer_gone`).
    pub detect_producer: Latency,
    /// Dead required consumer, seen by the producer (liveness alert).
    pub detect_consumer: Latency,
}

impl Stats {
    pub fn injected_total(&self) -> u64 {
        self.injected.values().sum::<u64>()
    }
}

/// The checker's verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub violations: Vec<Violation>,
    pub stats: Stats,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// Violations per verdict-table row.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut m: BTreeMap<&'static str, usize> = ROWS.iter().map(|r| (*r, 0)).collect();
        for v in &self.violations {
            *m.entry(v.row()).or_default() += 1;
        }
        m
    }
}

/// The percentiles of `h` (microseconds) in milliseconds, with its samples encoded.
pub(crate) fn latency(h: &Histogram<u64>, unobserved: u64) -> Latency {
    let ms = |us: u64| us as f64 / 1_000.0;
    let mut hdr = String::new();
    if !h.is_empty() {
        let mut bytes = Vec::new();
        if hdrhistogram::serialization::V2Serializer::new()
            .serialize(h, &mut bytes)
            .is_ok()
        {
            hdr = bytes.iter().map(|b| format!("{b:02x}")).collect();
        }
    }
    Latency {
        hdr,
        samples: h.len(),
        p50_ms: ms(h.value_at_quantile(0.5)),
        p90_ms: ms(h.value_at_quantile(0.9)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
        unobserved,
    }
}
