//! What a campaign is asked to do ([`Config`]), and the liveness settings every producer
//! gives the required consumers.

use crate::schedule::{consumer_id, FaultFamily, ScheduleParams};
use ringproof_conformance::driver::Implementation;
use ringproof_conformance::protocol::{Backend, LivenessAction};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// Stall timeout and grace period given to required consumers (so a SIGSTOP past their sum
/// gets a stalled consumer evicted, with action `evict`).
pub const PROGRESS_TIMEOUT_MS: u64 = 100;
pub const GRACE_MS: u64 = 100;
/// Every testee process of a campaign gets its seed in this environment variable.
pub const SEED_ENV: &str = "RINGPROOF_CHAOS_SEED";

/// What to campaign and how hard.
#[derive(Debug, Clone)]
pub struct Config {
    pub seed: u64,
    /// Length of the fault phase.
    pub duration: Duration,
    pub families: BTreeSet<FaultFamily>,
    pub implementation: Implementation,
    /// Whether the implementation honours `RINGPROOF_FAILPOINT` (the reference does).
    pub failpoints_supported: bool,
    /// Consumers `c_0 .. c_{K-1}`; `c_0` and `c_1` are required (SPEC.md §7.10).
    pub consumers: usize,
    pub backend: Backend,
    pub mean_interval: Duration,
    /// How long, once faults stop, every live consumer has to reach the final sequence.
    pub heal_bound: Duration,
    /// Bound on dead-peer detection latency.
    pub detect_bound: Duration,
    pub capacity: u64,
    pub event_size: u64,
    /// Where a failing campaign writes its report folder (default: a fresh temp directory).
    pub report_dir: Option<PathBuf>,
    /// Every producer's liveness action for the required consumers (`alert`: a required
    /// consumer must never miss an event; `evict`); `None`: drawn per producer from the seed.
    pub action: Option<LivenessAction>,
    /// The command that replays this campaign (written into the report).
    pub replay: String,
    /// Set (by the front end, on SIGINT/SIGTERM) to cut the campaign short: no more faults,
    /// no heal phase, a clean shutdown that removes every segment and temp directory, and a
    /// history marked [`History::interrupted`](crate::history::History::interrupted).
    pub interrupt: Arc<AtomicBool>,
}

impl Config {
    /// Defaults for `implementation`: 3 consumers, shm, a fault every 100 ms.
    pub fn new(seed: u64, duration: Duration, implementation: Implementation) -> Config {
        Config {
            seed,
            duration,
            families: [
                FaultFamily::Kill,
                FaultFamily::Stop,
                FaultFamily::Failpoints,
            ]
            .into_iter()
            .collect(),
            failpoints_supported: implementation.name == "ringproof",
            implementation,
            consumers: 3,
            backend: Backend::Shm,
            mean_interval: Duration::from_millis(100),
            heal_bound: Duration::from_secs(20),
            detect_bound: Duration::from_secs(2),
            capacity: 256,
            event_size: 64,
            report_dir: None,
            action: None,
            replay: String::new(),
            interrupt: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The schedule parameters this config implies.
    pub fn schedule_params(&self) -> ScheduleParams {
        ScheduleParams {
            seed: self.seed,
            duration_ms: self.duration.as_millis() as u64,
            consumers: self.consumers,
            families: self.families.clone(),
            mean_interval_ms: self.mean_interval.as_millis() as u64,
            failpoints_supported: self.failpoints_supported,
            liveness_ms: PROGRESS_TIMEOUT_MS + GRACE_MS,
            action: self.action,
        }
    }
}

/// The required consumers of a campaign with `consumers` consumers: `c_0` and `c_1`.
pub(crate) fn required_ids(consumers: usize) -> Vec<String> {
    (0..consumers.min(2)).map(consumer_id).collect()
}
