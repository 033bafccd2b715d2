//! The `bench` command and its report (PROTOCOL.md, "Benchmarks").

use super::RingAddr;
use serde::{Deserialize, Serialize};

/// Which benchmark a `bench` command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BenchMode {
    /// A producer publishes `warmup + events` events; `consumers` consumers read and verify.
    Stream,
    /// Closed-loop round trips over two rings.
    Pingpong,
    /// Open-loop round trips (one due every `interval_ns`), latency from the due time.
    Paced,
}

impl BenchMode {
    pub const ALL: [BenchMode; 3] = [BenchMode::Stream, BenchMode::Pingpong, BenchMode::Paced];

    pub fn as_str(self) -> &'static str {
        match self {
            BenchMode::Stream => "stream",
            BenchMode::Pingpong => "pingpong",
            BenchMode::Paced => "paced",
        }
    }

    /// The capability a testee announces for this mode.
    pub fn capability(self) -> &'static str {
        match self {
            BenchMode::Stream => "bench",
            BenchMode::Pingpong => "bench-pingpong",
            BenchMode::Paced => "bench-paced",
        }
    }
}

/// Which side of a benchmark run a testee is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BenchRole {
    /// Stream: creates `ring` and publishes.
    Producer,
    /// Stream: attaches to `ring` as `consumer_id`, reads and verifies.
    Consumer,
    /// Ping-pong / paced: produces on `ring`, consumes `peer_ring`, starts and times the rounds.
    Initiator,
    /// Ping-pong / paced: produces on `ring`, consumes `peer_ring`, answers each event.
    Responder,
}

/// The fields of a `bench` command (PROTOCOL.md, "Benchmarks").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenchCmd {
    pub id: u64,
    pub mode: BenchMode,
    pub role: BenchRole,
    /// Stream: the ring. Ping-pong and paced: the ring this testee produces into.
    pub ring: RingAddr,
    /// Ping-pong and paced: the ring this testee consumes from (the other side's `ring`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_ring: Option<RingAddr>,
    pub capacity: u64,
    pub event_size: u64,
    /// Measured events (stream) or round trips (ping-pong, paced), after the warm-up.
    pub events: u64,
    /// Events or round trips before the measured ones.
    pub warmup: u64,
    /// Stream producer: events per publish call (1: one publish per event).
    pub batch: u64,
    /// Stream: how many consumers read the ring (`c_0` .. `c_{consumers-1}`); the producer
    /// publishes nothing before all of them gate it.
    pub consumers: u64,
    /// The consumer id this testee attaches with (stream consumer; ping-pong both sides, on
    /// `peer_ring`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_id: Option<String>,
    /// Paced: one round trip due every this many nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_ns: Option<u64>,
    /// The core the harness pinned this process to (informational; the testee need not pin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u64>,
    /// Setup bound: waiting for the ring, for consumers, for the other side.
    pub timeout_ms: u64,
}

/// What a testee measured in a `bench` command (the `bench` field of its `ok` reply).
/// Timestamps are CLOCK_MONOTONIC nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenchReport {
    /// Stream producer: before its first publish; stream consumer: when it had read `warmup`
    /// events; initiator / responder: before the first measured round trip.
    pub start_ns: u64,
    /// After the last publish / read / round trip.
    pub end_ns: u64,
    /// Producer: events published (`warmup + events`); consumer: events read in total;
    /// initiator: measured round trips; responder: round trips answered in total.
    pub events: u64,
    /// Stream consumer: events read between `start_ns` and `end_ns` (the rate's numerator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timed_events: Option<u64>,
    /// Events whose TP1 payload or sequence was wrong (verification failures).
    pub errors: u64,
    /// Initiator: round-trip times in ns as an hdrhistogram, V2 + deflate, base64 (standard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_hist_ns_v2z: Option<String>,
    /// Initiator, instead of the histogram: every measured round-trip time in ns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_samples_ns: Option<Vec<u64>>,
    /// Paced initiator: round trips that started after their due time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late: Option<u64>,
}
