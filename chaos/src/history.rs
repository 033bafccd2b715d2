//! What a campaign recorded: every process's incarnations and what each reported, the faults
//! as they were carried out, and the end state. The checker judges only this record, so a
//! failing history can be saved, read and re-checked without the processes.

use crate::schedule::{Fault, Target};
use ringproof_conformance::protocol::LivenessAction;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Nanoseconds on CLOCK_MONOTONIC, the clock every process of the machine shares (testees
/// stamp their liveness alerts with it).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// How an incarnation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum End {
    /// Still running when the campaign stopped recording (the final incarnation).
    Running,
    /// The harness SIGKILLed it (a `kill` fault, or the kill that re-arms a failpoint).
    Killed,
    /// It died by itself while armed with a failpoint: the planned crash.
    FailpointCrash { point: String },
    /// It died by itself, unarmed: a crash the campaign did not cause.
    Crashed { detail: String },
    /// The implementation told it that it missed events (`lapped`, evicted): a declared gap.
    Lapped { message: String },
    /// It left cleanly (told to).
    Left,
}

/// A delivered run `first..=last` as the testee reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub first: i64,
    pub last: i64,
    pub digest: String,
    pub at_ns: u64,
}

/// One consumer attachment: from a successful `attach_consumer` to its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerLife {
    pub pid: u32,
    /// The failpoint its process was armed with, if any.
    pub armed: Option<String>,
    pub attached_ns: u64,
    /// The first sequence it will read (from the attach reply).
    pub start_seq: i64,
    /// The implementation declared, since the previous life ended, that events were missed
    /// (a `lapped` attach error or reply), or the previous life left cleanly.
    pub declared_gap_before: bool,
    pub runs: Vec<Run>,
    /// When it reported `producer_gone`, each time.
    pub producer_gone_ns: Vec<u64>,
    pub end: End,
    /// Its committed cursor read from the cursor segment after it died (what a restart must
    /// resume after); `None` if not read or not readable.
    pub committed_at_end: Option<i64>,
}

impl ConsumerLife {
    /// The highest sequence it reported delivered.
    pub fn last_reported(&self) -> Option<i64> {
        self.runs.iter().map(|r| r.last).max()
    }
}

/// One producer process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerLife {
    pub pid: u32,
    pub armed: Option<String>,
    pub started_ns: u64,
    /// `create_producer` succeeded (a takeover, after the first).
    pub created: bool,
    /// The producer cursor it reported last (publish replies and progress).
    pub published_through: Option<i64>,
    /// Liveness alerts: (consumer id, dead, CLOCK_MONOTONIC ns).
    pub alerts: Vec<(String, bool, u64)>,
    /// Its liveness action for the required consumers (`alert` or `evict`; `None` in histories
    /// recorded before it was kept).
    #[serde(default)]
    pub action: Option<LivenessAction>,
    pub errors: Vec<String>,
    pub end: End,
}

/// A fault as carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRecord {
    pub index: usize,
    pub fault: Fault,
    /// When the signal was sent (CLOCK_MONOTONIC ns); `None` if skipped.
    pub at_ns: Option<u64>,
    /// The process it hit.
    pub pid: Option<u32>,
    /// Why it was skipped (the target was restarting, ...).
    pub skipped: Option<String>,
}

/// The heal phase: no faults; every live consumer must reach the final sequence in time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heal {
    pub started_ns: u64,
    pub bound_ms: u64,
    /// The producer's last published sequence once it finished its final publish.
    pub final_seq: Option<i64>,
    /// Per consumer id: when it had delivered the final sequence (`None`: never, within the
    /// bound).
    pub reached_ns: BTreeMap<String, Option<u64>>,
}

/// Everything the checker needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub event_size: usize,
    /// The bound on dead-peer detection latency.
    pub detect_bound_ms: u64,
    pub faults: Vec<FaultRecord>,
    pub producer: Vec<ProducerLife>,
    pub consumers: BTreeMap<String, Vec<ConsumerLife>>,
    /// The required consumers' ids (SPEC.md §7.10).
    #[serde(default)]
    pub required: Vec<String>,
    /// Consumer processes that died before they attached: (id, pid, how).
    pub early_deaths: Vec<(String, u32, End)>,
    pub heal: Heal,
    /// Names of the ring that remained after the final clean shutdown.
    pub leaks: Vec<String>,
    /// Problems the harness itself ran into (a testee that would not start, ...).
    pub harness_errors: Vec<String>,
    /// The campaign was interrupted ([`crate::Config::interrupt`]): the fault phase was cut
    /// short and there was no heal phase, so the checker does not judge the final sequence,
    /// nor deaths (a signal sent to the whole process group ends testees too).
    #[serde(default)]
    pub interrupted: bool,
    /// Consumers the harness stopped trying to attach again, with why: every
    /// `attach_consumer` of the bounded retries failed (see `campaign::after_attach_error`).
    #[serde(default)]
    pub refused: Vec<(String, String)>,
}

impl History {
    /// Which target a consumer id is.
    pub fn target_of(id: &str) -> Option<Target> {
        id.strip_prefix("c_")
            .and_then(|k| k.parse().ok())
            .map(Target::Consumer)
    }
}
