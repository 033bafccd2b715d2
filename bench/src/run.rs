//! One run: what to do ([`RunSpec`], everything but the side) and what it gave back
//! ([`RunOutcome`], every side's JSON report and how the run went).

use crate::role::Kind;
use serde_json::Value;
use std::time::Duration;

/// One run to do: everything but the side.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub kind: Kind,
    pub events: u64,
    pub warmup: u64,
    pub capacity: usize,
    pub size: usize,
    pub readers: usize,
    pub mmap: bool,
    pub batch: usize,
    pub gap_ns: u64,
    pub interval_ns: u64,
    pub spins: u32,
    pub ticks_per_ns: f64,
    /// Cores to pin to: A on the first, reader i on `cpus[(1 + i) % len]`; empty: unpinned.
    pub cpus: Vec<usize>,
    pub timeout: Duration,
    pub rt_priority: Option<i32>,
}

impl RunSpec {
    /// The core of side A (`reader` None) or of reader `i`.
    pub fn cpu_of(&self, reader: Option<usize>) -> Option<usize> {
        if self.cpus.is_empty() {
            return None;
        }
        let i = reader.map_or(0, |r| (1 + r) % self.cpus.len());
        Some(self.cpus[i])
    }

    /// Whether more processes spin than there are cores for them (unpinned runs are taken
    /// to have two).
    pub fn oversubscribed(&self) -> bool {
        1 + self.readers > self.cpus.len().max(2)
    }
}

/// What one run gave back.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub a: Value,
    /// Side B, one report per reader.
    pub b: Vec<Value>,
    pub wall: Duration,
    /// Whether every child pinned itself (None: pinning not requested).
    pub pinned: Option<bool>,
    /// Names a child left behind (removed by the orchestrator).
    pub leaked: Vec<String>,
    /// Tries it took (contended tries are repeated).
    pub attempts: u32,
    /// Seconds spent waiting for the machine to go quiet before the kept try.
    pub quiet_wait_s: f64,
    /// Whether other tasks were runnable when the kept try started.
    pub quiet: bool,
    /// More spinning processes than cores.
    pub oversubscribed: bool,
}

impl RunOutcome {
    fn sides(&self) -> impl Iterator<Item = &Value> {
        std::iter::once(&self.a).chain(&self.b)
    }

    /// Payload / ordering errors any side saw.
    pub fn errors(&self) -> u64 {
        self.sides()
            .map(|s| s["result"]["errors"].as_u64().unwrap_or(0))
            .sum()
    }

    /// Events (stream) or round trips (ping) the consuming sides verified.
    pub fn verified(&self) -> u64 {
        self.b
            .iter()
            .map(|s| {
                s["result"]["consumed"]
                    .as_u64()
                    .or(s["result"]["rounds"].as_u64())
                    .unwrap_or(0)
            })
            .sum()
    }

    /// Events a peer did not deliver to a reader (iceoryx2 broadcasts under back-pressure);
    /// reported next to the numbers, not counted as payload errors.
    pub fn dropped(&self) -> u64 {
        self.b
            .iter()
            .map(|s| s["result"]["dropped"].as_u64().unwrap_or(0))
            .sum()
    }

    /// Involuntary context switches of all sides: each one is a moment a side did not have
    /// its core (another task ran there), which a spinning peer pays for in full.
    pub fn preemptions(&self) -> i64 {
        self.sides()
            .map(|s| s["usage"]["involuntary_switches"].as_i64().unwrap_or(0))
            .sum()
    }

    /// The slowest reader's stream rate (events/s).
    pub fn min_rate(&self) -> f64 {
        self.b
            .iter()
            .map(|s| s["result"]["rate"].as_f64().unwrap_or(f64::NAN))
            .fold(f64::INFINITY, f64::min)
    }
}
