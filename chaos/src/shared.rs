//! What the campaign's threads share: the config and schedule, the ring, one [`Slot`] per
//! participant (its live pid, the failpoint for its next start, what the fault executor did to
//! it), the phase flags, and the history being recorded; plus the ring's leftovers on disk.

use crate::config::{Config, SEED_ENV};
use crate::history::{End, History};
use crate::schedule::{Schedule, Target};
use ringproof_conformance::driver::{DriverError, Testee};
use ringproof_conformance::protocol::RingAddr;
use ringproof_conformance::schema::Schema;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A testee that does not answer a command within this long is hung.
pub(crate) const REPLY_DEADLINE: Duration = Duration::from_secs(30);
/// Transcripts kept for the failure report (the most recent ones).
const TRANSCRIPTS_KEPT: usize = 64;

/// Per-participant control shared between the fault executor and the participant's thread.
#[derive(Default)]
pub(crate) struct Slot {
    /// The live process, `None` while (re)starting.
    pub(crate) pid: Mutex<Option<u32>>,
    /// Failpoint for the next start.
    pub(crate) arm: Mutex<Option<String>>,
    /// The harness killed the current process (so its death is not a crash).
    pub(crate) killed: AtomicBool,
    pub(crate) restart_after_ms: AtomicU64,
    /// Leave cleanly and start again (armed): a consumer's fresh cursor creation.
    pub(crate) recycle: AtomicBool,
    /// Highest sequence this consumer reported (or its start - 1).
    pub(crate) reported: AtomicI64,
}

/// Everything the campaign's threads share.
pub(crate) struct Shared {
    pub(crate) cfg: Config,
    pub(crate) schedule: Schedule,
    pub(crate) ring: RingAddr,
    pub(crate) ring_name: ringproof::RingName,
    pub(crate) schema: Arc<Schema>,
    pub(crate) producer: Slot,
    pub(crate) consumers: Vec<Slot>,
    pub(crate) heal: AtomicBool,
    /// Consumers: leave and exit. Producer: close and exit (set after the consumers are gone).
    pub(crate) consumers_stop: AtomicBool,
    pub(crate) producer_stop: AtomicBool,
    pub(crate) final_seq: Mutex<Option<i64>>,
    pub(crate) history: Mutex<History>,
    pub(crate) transcripts: Mutex<VecDeque<(String, String)>>,
    pub(crate) crash_transcripts: Mutex<Vec<(String, String)>>,
}

impl Shared {
    /// A campaign's shared state before anything started: every slot empty, no phase flag set.
    pub(crate) fn new(
        cfg: Config,
        schedule: Schedule,
        ring: RingAddr,
        ring_name: ringproof::RingName,
        history: History,
    ) -> Shared {
        Shared {
            consumers: (0..cfg.consumers).map(|_| Slot::default()).collect(),
            cfg,
            schedule,
            ring,
            ring_name,
            schema: Arc::new(Schema::load()),
            producer: Slot::default(),
            heal: AtomicBool::new(false),
            consumers_stop: AtomicBool::new(false),
            producer_stop: AtomicBool::new(false),
            final_seq: Mutex::new(None),
            history: Mutex::new(history),
            transcripts: Mutex::new(VecDeque::new()),
            crash_transcripts: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn slot(&self, t: Target) -> &Slot {
        match t {
            Target::Producer => &self.producer,
            Target::Consumer(k) => &self.consumers[k],
        }
    }

    pub(crate) fn spawn(&self, label: &str, arm: Option<&str>) -> Result<Testee, DriverError> {
        // The campaign's seed, for the testee's own logs (and for planted defects in tests).
        let mut env = vec![(SEED_ENV.to_owned(), self.cfg.seed.to_string())];
        env.extend(arm.map(|a| (ringproof::kit::failpoint::ENV.to_owned(), a.to_owned())));
        Testee::spawn_with_env(
            &self.cfg.implementation,
            label,
            Arc::clone(&self.schema),
            Duration::from_secs(10),
            &env,
        )
    }

    /// Keeps the transcript of a life that ended: the last [`TRANSCRIPTS_KEPT`], plus every
    /// one that ended in a crash (a violation: its stderr is what says why).
    pub(crate) fn keep_transcript(&self, t: &Testee, n: usize, end: &End) {
        let entry = (format!("{}-{n}", t.label.replace(' ', "_")), t.transcript());
        if matches!(end, End::Crashed { .. }) {
            self.crash_transcripts
                .lock()
                .expect("transcripts")
                .push(entry.clone());
        }
        let mut q = self.transcripts.lock().expect("transcripts");
        if q.len() >= TRANSCRIPTS_KEPT {
            q.pop_front();
        }
        q.push_back(entry);
    }

    pub(crate) fn harness_error(&self, e: String) {
        self.history.lock().expect("history").harness_errors.push(e);
    }

    /// How a process that went away ended.
    pub(crate) fn ending(&self, slot: &Slot, armed: &Option<String>, detail: String) -> End {
        if slot.killed.swap(false, Ordering::SeqCst) {
            End::Killed
        } else if let Some(a) = armed {
            End::FailpointCrash { point: a.clone() }
        } else {
            End::Crashed { detail }
        }
    }
}

pub(crate) fn restart_pause(slot: &Slot) {
    std::thread::sleep(Duration::from_millis(
        slot.restart_after_ms.swap(0, Ordering::SeqCst),
    ));
}

/// The committed cursor of consumer `id`, read from its cursor segment (without creating or
/// changing anything), or `None` if it cannot be read.
pub(crate) fn committed_cursor(ring: &ringproof::RingName, id: &str) -> Option<i64> {
    ringproof::kit::cursor::Cursor::open(&ring.consumer_cursor(id), "consumer cursor")
        .ok()
        .map(|c| c.load())
}

/// Every name of the campaign's ring in /dev/shm and under the mmap root.
pub(crate) fn leftovers(shared: &Shared) -> Vec<String> {
    ringproof_conformance::ctx::ring_leftovers(
        &shared.ring.name,
        shared.ring.root.as_deref().map(Path::new),
    )
}

pub(crate) fn remove_leftovers(shared: &Shared) {
    ringproof_conformance::ctx::remove_all(leftovers(shared));
}

/// Copies every segment of the ring into `to` (for the failure report).
pub(crate) fn copy_segments(shared: &Shared, to: &Path) {
    let _ = std::fs::create_dir_all(to);
    for p in leftovers(shared) {
        let path = PathBuf::from(&p);
        if path.is_file() {
            let flat = p.trim_start_matches('/').replace('/', "__");
            let _ = std::fs::copy(&path, to.join(flat));
        }
    }
}
