//! Running a campaign: one producer and K consumers, each a testee process driven by its own
//! thread (`producer.rs`, `consumer.rs`); the main thread carries out the fault schedule
//! (`faults.rs`), then heals, shuts down cleanly and looks for leftovers. Everything the
//! processes reported goes into a [`History`].

use crate::config::required_ids;
use crate::consumer::consumer_thread;
use crate::faults::inject;
use crate::history::{monotonic_ns, Heal, History};
use crate::producer::producer_thread;
use crate::schedule::{consumer_id, generate, Schedule};
use crate::shared::{copy_segments, leftovers, remove_leftovers, Shared};
use crate::verdict::Verdict;
use ringproof_conformance::protocol::{Backend, RingAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The attach retry policy and the config, where the campaign's users have always found them.
pub use crate::attach::{after_attach_error, AttachRetry, ATTACH_TRIES};
pub use crate::config::{Config, GRACE_MS, PROGRESS_TIMEOUT_MS, SEED_ENV};

/// Why a campaign could not run at all (a failing campaign is an [`Outcome`], not an error).
#[derive(Debug, thiserror::Error)]
pub enum ChaosError {
    #[error("a campaign needs at least one consumer (pass --consumers 1 or more)")]
    NoConsumers,
    #[error("at most 8 consumers (the producer discovers c_0..c_7)")]
    TooManyConsumers,
    #[error("cannot prepare the campaign's directory {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid ring name: {0}")]
    Name(#[from] ringproof::Error),
}

/// What a campaign produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub schedule: Schedule,
    pub history: History,
    pub verdict: Verdict,
    /// The report folder, written when the verdict failed.
    pub report: Option<PathBuf>,
    pub ring: String,
}

/// Where the campaign is, for progress bars.
#[derive(Debug, Clone)]
pub struct Progress {
    pub phase: &'static str,
    pub faults_done: usize,
    pub faults_total: usize,
}

/// Runs the campaign `cfg` describes.
pub fn run(cfg: Config, progress: &(dyn Fn(&Progress) + Sync)) -> Result<Outcome, ChaosError> {
    if cfg.consumers == 0 {
        return Err(ChaosError::NoConsumers);
    }
    if cfg.consumers > 8 {
        return Err(ChaosError::TooManyConsumers);
    }
    let schedule = generate(&cfg.schedule_params());
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "chaos{}x{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    );
    let root = std::env::temp_dir().join(format!("ringproof-chaos-root-{name}"));
    std::fs::create_dir_all(&root).map_err(|source| ChaosError::Io {
        path: root.display().to_string(),
        source,
    })?;
    let (ring, ring_name) = ring_of(cfg.backend, &name, &root)?;
    let history = History {
        required: required_ids(cfg.consumers),
        event_size: cfg.event_size as usize,
        detect_bound_ms: cfg.detect_bound.as_millis() as u64,
        heal: Heal {
            bound_ms: cfg.heal_bound.as_millis() as u64,
            ..Default::default()
        },
        ..Default::default()
    };
    let shared = Arc::new(Shared::new(cfg, schedule.clone(), ring, ring_name, history));
    let total = schedule.faults.len();
    let phase = |phase, faults_done| {
        progress(&Progress {
            phase,
            faults_done,
            faults_total: total,
        })
    };
    phase("starting", 0);
    let threads = start_threads(&shared);
    fault_phase(&shared, &schedule, &|done| phase("faults", done));
    phase("healing", total);
    heal_phase(&shared);
    let snapshot_dir = std::env::temp_dir().join(format!("ringproof-chaos-segments-{name}"));
    copy_segments(&shared, &snapshot_dir);
    phase("shutdown", total);
    shut_down(&shared, threads);
    let leaked_dir = std::env::temp_dir().join(format!("ringproof-chaos-leaked-{name}"));
    let history = final_history(&shared, &leaked_dir);
    remove_leftovers(&shared);
    let _ = std::fs::remove_dir_all(&root);
    let verdict = crate::checker::check(&history);
    let report = if verdict.passed() {
        None
    } else {
        write_report(
            &shared,
            &schedule,
            &history,
            &verdict,
            &snapshot_dir,
            &leaked_dir,
        )
    };
    let _ = std::fs::remove_dir_all(&snapshot_dir);
    let _ = std::fs::remove_dir_all(&leaked_dir);
    Ok(Outcome {
        schedule,
        history,
        verdict,
        report,
        ring: name,
    })
}

/// The ring's address for the testees, and its name for reading its segments.
fn ring_of(
    backend: Backend,
    name: &str,
    root: &Path,
) -> Result<(RingAddr, ringproof::RingName), ChaosError> {
    Ok(match backend {
        Backend::Shm => (
            RingAddr {
                backend: Backend::Shm,
                name: name.to_owned(),
                root: None,
            },
            ringproof::RingName::shm(name)?,
        ),
        Backend::Mmap => (
            RingAddr {
                backend: Backend::Mmap,
                name: name.to_owned(),
                root: Some(root.display().to_string()),
            },
            ringproof::RingName::dir(root, name)?,
        ),
    })
}

/// The participants' threads: the producer's, then one per consumer.
struct Threads {
    producer: JoinHandle<()>,
    consumers: Vec<JoinHandle<()>>,
}

fn start_threads(shared: &Arc<Shared>) -> Threads {
    let producer = {
        let s = Arc::clone(shared);
        std::thread::spawn(move || producer_thread(&s))
    };
    let consumers = (0..shared.cfg.consumers)
        .map(|k| {
            let s = Arc::clone(shared);
            std::thread::spawn(move || consumer_thread(&s, k))
        })
        .collect();
    Threads {
        producer,
        consumers,
    }
}

/// Sleeps until `until`, in short slices; false if the campaign was interrupted meanwhile.
fn sleep_until(interrupt: &AtomicBool, until: Instant) -> bool {
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        if interrupt.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
    !interrupt.load(Ordering::SeqCst)
}

/// Carries out every fault at its time (until interrupted), then waits out the fault phase
/// and every stop's hold. `done(n)` after the n-th fault.
fn fault_phase(shared: &Arc<Shared>, schedule: &Schedule, done: &dyn Fn(usize)) {
    let start = Instant::now();
    let mut resumes = Vec::new();
    let interrupt = &shared.cfg.interrupt;
    for (index, sf) in schedule.faults.iter().enumerate() {
        if !sleep_until(interrupt, start + Duration::from_millis(sf.at_ms)) {
            break;
        }
        let (record, resume) = inject(shared, index, &sf.fault);
        shared.history.lock().expect("history").faults.push(record);
        // Dropping a finished handle detaches (and frees) its thread.
        resumes.retain(|h: &JoinHandle<()>| !h.is_finished());
        resumes.extend(resume);
        done(index + 1);
    }
    sleep_until(interrupt, start + shared.cfg.duration);
    for r in resumes {
        let _ = r.join();
    }
}

/// Heal: no more faults; the producer finishes with one last publish, and every consumer
/// must deliver through it within the bound.
fn heal_phase(shared: &Shared) {
    let interrupt = &shared.cfg.interrupt;
    let heal_start = monotonic_ns();
    shared.history.lock().expect("history").heal.started_ns = heal_start;
    shared.heal.store(true, Ordering::SeqCst);
    let heal_deadline = Instant::now() + shared.cfg.heal_bound;
    while Instant::now() < heal_deadline && !interrupt.load(Ordering::SeqCst) {
        let fin = *shared.final_seq.lock().expect("final");
        if let Some(f) = fin {
            let now = monotonic_ns();
            let mut h = shared.history.lock().expect("history");
            for (k, c) in shared.consumers.iter().enumerate() {
                if c.reported.load(Ordering::SeqCst) >= f {
                    h.heal.reached_ns.entry(consumer_id(k)).or_insert(Some(now));
                }
            }
            drop(h);
            if shared
                .consumers
                .iter()
                .all(|c| c.reported.load(Ordering::SeqCst) >= f)
            {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Clean shutdown: consumers leave, then the producer closes the ring.
fn shut_down(shared: &Shared, threads: Threads) {
    shared.consumers_stop.store(true, Ordering::SeqCst);
    for c in threads.consumers {
        if c.join().is_err() {
            shared.harness_error("a consumer thread panicked".into());
        }
    }
    shared.producer_stop.store(true, Ordering::SeqCst);
    if threads.producer.join().is_err() {
        shared.harness_error("the producer thread panicked".into());
    }
}

/// The recorded history, completed: the final sequence, whether it was interrupted, and what
/// the ring left behind (copied into `leaked_dir` for the report).
fn final_history(shared: &Shared, leaked_dir: &Path) -> History {
    let mut history = std::mem::take(&mut *shared.history.lock().expect("history"));
    history.heal.final_seq = *shared.final_seq.lock().expect("final");
    history.interrupted = shared.cfg.interrupt.load(Ordering::SeqCst);
    history.leaks = leftovers(shared);
    if !history.leaks.is_empty() {
        copy_segments(shared, leaked_dir);
    }
    history
}

/// Writes the failure report folder (crash transcripts first, then the most recent ones).
fn write_report(
    shared: &Shared,
    schedule: &Schedule,
    history: &History,
    verdict: &Verdict,
    snapshot_dir: &Path,
    leaked_dir: &Path,
) -> Option<PathBuf> {
    let mut transcripts: Vec<(String, String)> = shared
        .crash_transcripts
        .lock()
        .expect("transcripts")
        .clone();
    transcripts.extend(
        shared
            .transcripts
            .lock()
            .expect("transcripts")
            .iter()
            .cloned(),
    );
    crate::report::write_folder(
        &shared.cfg,
        schedule,
        history,
        verdict,
        &transcripts,
        &[snapshot_dir, leaked_dir],
    )
    .ok()
}
