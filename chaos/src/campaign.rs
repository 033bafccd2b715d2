//! Running a campaign: one producer and K consumers, each a testee process driven by its own
//! thread; the main thread carries out the fault schedule, then heals, shuts down cleanly and
//! looks for leftovers. Everything the processes reported goes into a [`History`].

use crate::history::{monotonic_ns, ConsumerLife, End, FaultRecord, History, ProducerLife, Run};
use crate::schedule::{
    consumer_id, generate, Fault, FaultFamily, Schedule, ScheduleParams, Target,
};
use ringproof_conformance::driver::{DriverError, Implementation, Reply, Testee};
use ringproof_conformance::protocol::{
    Backend, Command, Discover, ErrorKind, Message, Mode, Required, RingAddr, Wait,
};
use ringproof_conformance::schema::Schema;
use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Stall timeout and grace period given to required consumers (so a SIGSTOP past their sum
/// gets a stalled consumer evicted, with action `evict`).
pub const PROGRESS_TIMEOUT_MS: u64 = 100;
pub const GRACE_MS: u64 = 100;
/// Events per `publish` command (the producer is paced by its command round trips).
const PUBLISH_CHUNK: u64 = 512;
/// Events per `consume` command, and how long it may idle before replying.
const CONSUME_CHUNK: u64 = 4096;
const CONSUME_IDLE_MS: u64 = 100;
/// A testee that does not answer a command within this long is hung.
const REPLY_DEADLINE: Duration = Duration::from_secs(30);
/// Every testee process of a campaign gets its seed in this environment variable.
pub const SEED_ENV: &str = "RINGPROOF_CHAOS_SEED";
/// Failed `attach_consumer` commands in a row after which the harness gives a consumer up
/// (about 2 s of retries at [`ATTACH_PAUSE`]).
pub const ATTACH_TRIES: u32 = 100;
const ATTACH_PAUSE: Duration = Duration::from_millis(20);
/// Transcripts kept for the failure report (the most recent ones).
const TRANSCRIPTS_KEPT: usize = 64;

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
    pub action: Option<String>,
    /// The command that replays this campaign (written into the report).
    pub replay: String,
    /// Set (by the front end, on SIGINT/SIGTERM) to cut the campaign short: no more faults,
    /// no heal phase, a clean shutdown that removes every segment and temp directory, and a
    /// history marked [`History::interrupted`].
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
            action: self.action.clone(),
        }
    }
}

/// What the harness does after `attach_consumer` failed with `kind` (PROTOCOL.md, "How the
/// harness reacts"), the `failures`-th failure in a row, `resynced` if that attach asked to
/// resync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachRetry {
    /// The implementation declared a gap (`lapped`, `evicted`): attach again at once, with
    /// `resync`, to continue at the head.
    Resync,
    /// Maybe transient (the ring is missing while its producer restarts, the id's previous
    /// process is not judged dead yet, the join lock is held, ...): try again after a pause.
    Again,
    /// Give up: the consumer gets no further life and the campaign fails with `refused`.
    GiveUp,
}

/// See [`AttachRetry`]: never an endless loop of the same failing attach.
pub fn after_attach_error(kind: ErrorKind, resynced: bool, failures: u32) -> AttachRetry {
    match kind {
        _ if failures >= ATTACH_TRIES => AttachRetry::GiveUp,
        ErrorKind::Lapped | ErrorKind::Evicted if !resynced => AttachRetry::Resync,
        // A consumer that cannot resync can never continue after a declared gap.
        ErrorKind::Unsupported if resynced => AttachRetry::GiveUp,
        _ => AttachRetry::Again,
    }
}

/// The required consumers of a campaign with `consumers` consumers: `c_0` and `c_1`.
fn required_ids(consumers: usize) -> Vec<String> {
    (0..consumers.min(2)).map(consumer_id).collect()
}

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
    pub verdict: crate::checker::Verdict,
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

/// Per-participant control shared between the fault executor and the participant's thread.
#[derive(Default)]
struct Slot {
    /// The live process, `None` while (re)starting.
    pid: Mutex<Option<u32>>,
    /// Failpoint for the next start.
    arm: Mutex<Option<String>>,
    /// The harness killed the current process (so its death is not a crash).
    killed: AtomicBool,
    restart_after_ms: AtomicU64,
    /// Leave cleanly and start again (armed): a consumer's fresh cursor creation.
    recycle: AtomicBool,
    /// Highest sequence this consumer reported (or its start - 1).
    reported: AtomicI64,
}

struct Shared {
    cfg: Config,
    schedule: Schedule,
    ring: RingAddr,
    ring_name: ringproof::RingName,
    schema: Arc<Schema>,
    producer: Slot,
    consumers: Vec<Slot>,
    heal: AtomicBool,
    /// Consumers: leave and exit. Producer: close and exit (set after the consumers are gone).
    consumers_stop: AtomicBool,
    producer_stop: AtomicBool,
    final_seq: Mutex<Option<i64>>,
    history: Mutex<History>,
    transcripts: Mutex<VecDeque<(String, String)>>,
    crash_transcripts: Mutex<Vec<(String, String)>>,
}

impl Shared {
    fn slot(&self, t: Target) -> &Slot {
        match t {
            Target::Producer => &self.producer,
            Target::Consumer(k) => &self.consumers[k],
        }
    }

    fn spawn(&self, label: &str, arm: Option<&str>) -> Result<Testee, DriverError> {
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
    fn keep_transcript(&self, t: &Testee, n: usize, end: &End) {
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

    fn harness_error(&self, e: String) {
        self.history.lock().expect("history").harness_errors.push(e);
    }

    /// How a process that went away ended.
    fn ending(&self, slot: &Slot, armed: &Option<String>, detail: String) -> End {
        if slot.killed.swap(false, Ordering::SeqCst) {
            End::Killed
        } else if let Some(a) = armed {
            End::FailpointCrash { point: a.clone() }
        } else {
            End::Crashed { detail }
        }
    }
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
    let (ring, ring_name) = match cfg.backend {
        Backend::Shm => (
            RingAddr {
                backend: Backend::Shm,
                name: name.clone(),
                root: None,
            },
            ringproof::RingName::shm(&name)?,
        ),
        Backend::Mmap => (
            RingAddr {
                backend: Backend::Mmap,
                name: name.clone(),
                root: Some(root.display().to_string()),
            },
            ringproof::RingName::dir(&root, &name)?,
        ),
    };
    let history = History {
        required: required_ids(cfg.consumers),
        event_size: cfg.event_size as usize,
        detect_bound_ms: cfg.detect_bound.as_millis() as u64,
        heal: crate::history::Heal {
            bound_ms: cfg.heal_bound.as_millis() as u64,
            ..Default::default()
        },
        ..Default::default()
    };
    let shared = Arc::new(Shared {
        consumers: (0..cfg.consumers).map(|_| Slot::default()).collect(),
        cfg,
        schedule: schedule.clone(),
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
    });
    let total = schedule.faults.len();
    progress(&Progress {
        phase: "starting",
        faults_done: 0,
        faults_total: total,
    });
    let producer = {
        let s = Arc::clone(&shared);
        std::thread::spawn(move || producer_thread(&s))
    };
    let consumers: Vec<_> = (0..shared.cfg.consumers)
        .map(|k| {
            let s = Arc::clone(&shared);
            std::thread::spawn(move || consumer_thread(&s, k))
        })
        .collect();

    // Fault phase.
    let start = Instant::now();
    let mut resumes = Vec::new();
    let interrupt = Arc::clone(&shared.cfg.interrupt);
    // Sleeps until `until`, in short slices; false if the campaign was interrupted meanwhile.
    let sleep_until = |until: Instant| {
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            if interrupt.load(Ordering::SeqCst) {
                return false;
            }
            std::thread::sleep(left.min(Duration::from_millis(20)));
        }
        !interrupt.load(Ordering::SeqCst)
    };
    for (index, sf) in schedule.faults.iter().enumerate() {
        if !sleep_until(start + Duration::from_millis(sf.at_ms)) {
            break;
        }
        let (record, resume) = inject(&shared, index, &sf.fault);
        shared.history.lock().expect("history").faults.push(record);
        // Dropping a finished handle detaches (and frees) its thread.
        resumes.retain(|h: &std::thread::JoinHandle<()>| !h.is_finished());
        resumes.extend(resume);
        progress(&Progress {
            phase: "faults",
            faults_done: index + 1,
            faults_total: total,
        });
    }
    sleep_until(start + shared.cfg.duration);
    for r in resumes {
        let _ = r.join();
    }

    // Heal: no more faults; the producer finishes with one last publish, and every consumer
    // must deliver through it within the bound.
    progress(&Progress {
        phase: "healing",
        faults_done: total,
        faults_total: total,
    });
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
    let snapshot_dir = std::env::temp_dir().join(format!("ringproof-chaos-segments-{name}"));
    copy_segments(&shared, &snapshot_dir);

    // Clean shutdown: consumers leave, then the producer closes the ring.
    progress(&Progress {
        phase: "shutdown",
        faults_done: total,
        faults_total: total,
    });
    shared.consumers_stop.store(true, Ordering::SeqCst);
    for c in consumers {
        if c.join().is_err() {
            shared.harness_error("a consumer thread panicked".into());
        }
    }
    shared.producer_stop.store(true, Ordering::SeqCst);
    if producer.join().is_err() {
        shared.harness_error("the producer thread panicked".into());
    }

    let mut history = std::mem::take(&mut *shared.history.lock().expect("history"));
    history.heal.final_seq = *shared.final_seq.lock().expect("final");
    history.interrupted = interrupt.load(Ordering::SeqCst);
    history.leaks = leftovers(&shared);
    let leaked_dir = std::env::temp_dir().join(format!("ringproof-chaos-leaked-{name}"));
    if !history.leaks.is_empty() {
        copy_segments(&shared, &leaked_dir);
    }
    remove_leftovers(&shared);
    let _ = std::fs::remove_dir_all(&root);
    let verdict = crate::checker::check(&history);
    let report = if verdict.passed() {
        None
    } else {
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
            &schedule,
            &history,
            &verdict,
            &transcripts,
            &[snapshot_dir.as_path(), leaked_dir.as_path()],
        )
        .ok()
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

/// Carries out one fault. A stop returns at once; the SIGCONT comes from the returned thread
/// after the hold (so a campaign's pace does not depend on how long its stops last).
fn inject(
    shared: &Arc<Shared>,
    index: usize,
    fault: &Fault,
) -> (FaultRecord, Option<std::thread::JoinHandle<()>>) {
    let slot = shared.slot(fault.target());
    let mut rec = FaultRecord {
        index,
        fault: fault.clone(),
        at_ns: None,
        pid: None,
        skipped: None,
    };
    if let Fault::Failpoint {
        target: Target::Consumer(_),
        point,
        pass,
    } = fault
    {
        if point == "segment.create" {
            // A fresh cursor: the consumer leaves cleanly, then starts again armed.
            *slot.arm.lock().expect("arm") = Some(format!("{point}@{pass}"));
            slot.recycle.store(true, Ordering::SeqCst);
            rec.at_ns = Some(monotonic_ns());
            return (rec, None);
        }
    }
    // The pid lock is held while arming and signalling, so the participant's thread, which
    // clears the pid under the same lock before judging a death, never misreads whose it was.
    let guard = slot.pid.lock().expect("pid");
    let Some(pid) = *guard else {
        rec.skipped = Some(format!("{} was restarting", fault.target().label()));
        return (rec, None);
    };
    rec.pid = Some(pid);
    let signal = |sig| {
        // SAFETY: signalling a child this harness started and has not reaped.
        unsafe { libc::kill(pid as libc::pid_t, sig) }
    };
    match fault {
        Fault::Kill {
            restart_after_ms, ..
        } => {
            slot.restart_after_ms
                .store(*restart_after_ms, Ordering::SeqCst);
            slot.killed.store(true, Ordering::SeqCst);
            rec.at_ns = Some(monotonic_ns());
            signal(libc::SIGKILL);
        }
        Fault::Failpoint { point, pass, .. } => {
            *slot.arm.lock().expect("arm") = Some(format!("{point}@{pass}"));
            slot.restart_after_ms.store(20, Ordering::SeqCst);
            slot.killed.store(true, Ordering::SeqCst);
            rec.at_ns = Some(monotonic_ns());
            signal(libc::SIGKILL);
        }
        Fault::Stop { hold_ms, target } => {
            rec.at_ns = Some(monotonic_ns());
            signal(libc::SIGSTOP);
            drop(guard);
            let (shared, target, hold) =
                (Arc::clone(shared), *target, Duration::from_millis(*hold_ms));
            let resume = std::thread::spawn(move || {
                std::thread::sleep(hold);
                // Only if it is still the process we stopped (a kill may have replaced it).
                let guard = shared.slot(target).pid.lock().expect("pid");
                if *guard == Some(pid) {
                    // SAFETY: as above; the pid is still our unreaped child.
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGCONT) };
                }
            });
            return (rec, Some(resume));
        }
    }
    (rec, None)
}

/// The producer's thread: start (or take over), publish until healed, then close.
fn producer_thread(shared: &Shared) {
    let slot = &shared.producer;
    let mut incarnation = 0usize;
    let required = required_ids(shared.cfg.consumers);
    let mut first_arm = shared
        .schedule
        .initial_create_crash
        .map(|p| format!("segment.create@{p}"));
    'lives: loop {
        if shared.producer_stop.load(Ordering::SeqCst) {
            return;
        }
        let armed = first_arm
            .take()
            .or_else(|| slot.arm.lock().expect("arm").take());
        let plan = shared.schedule.producer_plans
            [incarnation % shared.schedule.producer_plans.len()]
        .clone();
        incarnation += 1;
        let mut t = match shared.spawn("producer", armed.as_deref()) {
            Ok(t) => t,
            Err(e) => {
                shared.harness_error(format!("producer did not start: {e}"));
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        *slot.pid.lock().expect("pid") = Some(t.pid());
        // Required consumers only for an implementation that has them (PROTOCOL.md capability
        // `required`); without, no consumer is judged as required.
        let has_required = t.has("required");
        if !has_required {
            shared.history.lock().expect("history").required.clear();
        }
        let mut life = ProducerLife {
            pid: t.pid(),
            armed: armed.clone(),
            started_ns: monotonic_ns(),
            created: false,
            published_through: None,
            alerts: Vec::new(),
            action: has_required.then(|| plan.action.clone()),
            errors: Vec::new(),
            end: End::Running,
        };
        let gone = |t: &Testee, life: &mut ProducerLife, e: DriverError| {
            let mut pid = slot.pid.lock().expect("pid");
            *pid = None;
            life.end = shared.ending(slot, &armed, format!("{e}"));
            drop(pid);
            shared.keep_transcript(t, incarnation, &life.end);
        };
        // Create, or take over from the dead producer (SPEC.md §7.9).
        loop {
            let ring = shared.ring.clone();
            let (capacity, event_size) = (shared.cfg.capacity, shared.cfg.event_size);
            let req = Required {
                ids: required.clone(),
                action: plan.action.clone(),
                progress_timeout_ms: Some(PROGRESS_TIMEOUT_MS),
                grace_ms: Some(GRACE_MS),
            };
            let wait = Some(if t.has("wait-block") {
                Wait::Block
            } else {
                Wait::Yield
            });
            let reply = t.send(|id| Command::CreateProducer {
                id,
                ring,
                capacity,
                event_size,
                wait_consumers: None,
                discover: Some(Discover {
                    prefix: "c".into(),
                    max: 8,
                }),
                wait,
                required: has_required.then_some(req),
            });
            match reply.and_then(|id| t.wait(id, Instant::now() + REPLY_DEADLINE)) {
                Ok(Reply { result: Ok(_), .. }) => {
                    life.created = true;
                    break;
                }
                Ok(Reply {
                    result: Err((kind, msg)),
                    ..
                }) => {
                    life.errors
                        .push(format!("create_producer: {kind:?}: {msg}"));
                    if shared.producer_stop.load(Ordering::SeqCst) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => {
                    gone(&t, &mut life, e);
                    finish_producer(shared, life);
                    restart_pause(slot);
                    continue 'lives;
                }
            }
        }
        let mut closing_armed = armed
            .as_deref()
            .is_some_and(|a| a.starts_with("producer.close"));
        loop {
            if shared.producer_stop.load(Ordering::SeqCst) {
                // Close cleanly and exit.
                let r = t
                    .send(|id| Command::Leave { id })
                    .and_then(|id| t.wait(id, Instant::now() + REPLY_DEADLINE));
                if let Err(e) = r {
                    life.errors.push(format!("leave: {e}"));
                }
                let pid = t.pid();
                match t.exit(Instant::now() + Duration::from_secs(10)) {
                    Ok(0) => life.end = End::Left,
                    Ok(code) => {
                        life.end = End::Crashed {
                            detail: format!("pid {pid} exited with status {code} after leave"),
                        }
                    }
                    Err(e) => {
                        life.end = End::Crashed {
                            detail: format!("pid {pid} did not exit: {e}"),
                        }
                    }
                }
                *slot.pid.lock().expect("pid") = None;
                finish_producer(shared, life);
                return;
            }
            let healing = shared.heal.load(Ordering::SeqCst);
            if healing && shared.final_seq.lock().expect("final").is_some() {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            let batch = plan.batch;
            let r = t
                .send(|id| Command::Publish {
                    id,
                    count: PUBLISH_CHUNK,
                    batch: (batch > 1).then_some(batch),
                })
                .and_then(|id| {
                    t.wait_streaming(id, Instant::now() + REPLY_DEADLINE, |m| match m {
                        Message::Progress {
                            published_through, ..
                        } => life.published_through = Some(*published_through),
                        Message::Liveness {
                            consumer_id,
                            dead,
                            mono_ns,
                            ..
                        } => life.alerts.push((consumer_id.clone(), *dead, *mono_ns)),
                        _ => {}
                    })
                });
            match r {
                Ok(Reply { result: Ok(f), .. }) => {
                    life.published_through = f.last_seq.or(life.published_through);
                    if healing {
                        *shared.final_seq.lock().expect("final") = life.published_through;
                    }
                    if closing_armed {
                        // The planned crash: the close stops halfway (producer.close).
                        closing_armed = false;
                        match t.send(|id| Command::Leave { id }).and_then(|id| t.wait(id, Instant::now() + REPLY_DEADLINE)) {
                            Err(e) => {
                                gone(&t, &mut life, e);
                                finish_producer(shared, life);
                                restart_pause(slot);
                                continue 'lives;
                            }
                            Ok(_) => shared.harness_error(format!("producer pid {} closed the ring although armed with producer.close", t.pid())),
                        }
                    }
                }
                Ok(Reply {
                    result: Err((kind, msg)),
                    ..
                }) => {
                    life.errors.push(format!("publish: {kind:?}: {msg}"));
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(DriverError::Timeout(..)) => {
                    let mut h = shared.history.lock().expect("history");
                    h.harness_errors.push(format!(
                        "producer pid {} did not answer publish within {REPLY_DEADLINE:?}: hung",
                        t.pid()
                    ));
                    drop(h);
                    slot.killed.store(true, Ordering::SeqCst);
                    t.kill();
                    gone(&t, &mut life, DriverError::Gone("killed as hung".into()));
                    finish_producer(shared, life);
                    continue 'lives;
                }
                Err(e) => {
                    gone(&t, &mut life, e);
                    finish_producer(shared, life);
                    restart_pause(slot);
                    continue 'lives;
                }
            }
        }
    }
}

fn finish_producer(shared: &Shared, life: ProducerLife) {
    shared.history.lock().expect("history").producer.push(life);
}

fn restart_pause(slot: &Slot) {
    std::thread::sleep(Duration::from_millis(
        slot.restart_after_ms.swap(0, Ordering::SeqCst),
    ));
}

/// One consumer's thread: attach (again) under `c_{k}`, consume, report, until told to leave.
fn consumer_thread(shared: &Shared, k: usize) {
    let id = consumer_id(k);
    let slot = &shared.consumers[k];
    slot.reported.store(i64::MIN, Ordering::SeqCst);
    let mut incarnation = 0usize;
    let mut declared = false;
    let mut heal_restarted = false;
    let mut lives: Vec<ConsumerLife> = Vec::new();
    'process: loop {
        if shared.consumers_stop.load(Ordering::SeqCst) {
            break;
        }
        let armed = slot.arm.lock().expect("arm").take();
        let mut t = match shared.spawn(&format!("consumer {id}"), armed.as_deref()) {
            Ok(t) => t,
            Err(e) => {
                shared.harness_error(format!("{id} did not start: {e}"));
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        incarnation += 1;
        *slot.pid.lock().expect("pid") = Some(t.pid());
        let pid = t.pid();
        let died = |t: &Testee, e: DriverError, life: Option<&mut ConsumerLife>| {
            let mut pid_guard = slot.pid.lock().expect("pid");
            *pid_guard = None;
            let end = shared.ending(slot, &armed, format!("{e}"));
            drop(pid_guard);
            shared.keep_transcript(t, incarnation, &end);
            match life {
                Some(l) => {
                    l.end = end;
                    l.committed_at_end = committed_cursor(&shared.ring_name, &id);
                }
                None => shared.history.lock().expect("history").early_deaths.push((
                    id.clone(),
                    pid,
                    end,
                )),
            }
        };
        let mut leave_armed = armed
            .as_deref()
            .is_some_and(|a| a.starts_with("consumer.leave"));
        // Attach (again), as often as the implementation declares a gap.
        'attach: loop {
            let mut failures = 0u32;
            let mut life = loop {
                if shared.consumers_stop.load(Ordering::SeqCst) {
                    let _ = t.exit(Instant::now() + Duration::from_secs(10));
                    *slot.pid.lock().expect("pid") = None;
                    break 'process;
                }
                let ring = shared.ring.clone();
                let event_size = shared.cfg.event_size;
                let wait = Some(if t.has("wait-block") {
                    Wait::Block
                } else {
                    Wait::Yield
                });
                // After a declared gap, continue at the head (the implementation said what was missed).
                let resync = declared.then_some(true);
                let r = t
                    .send(|cid| Command::AttachConsumer {
                        id: cid,
                        ring,
                        consumer_id: id.clone(),
                        event_size,
                        timeout_ms: 2_000,
                        wait,
                        resync,
                    })
                    .and_then(|cid| t.wait(cid, Instant::now() + REPLY_DEADLINE));
                match r {
                    Ok(Reply { result: Ok(f), .. }) => {
                        let start_seq = f.start_seq.unwrap_or(0);
                        slot.reported.fetch_max(start_seq - 1, Ordering::SeqCst);
                        break ConsumerLife {
                            pid,
                            armed: armed.clone(),
                            attached_ns: monotonic_ns(),
                            start_seq,
                            declared_gap_before: std::mem::take(&mut declared),
                            runs: Vec::new(),
                            producer_gone_ns: Vec::new(),
                            end: End::Running,
                            committed_at_end: None,
                        };
                    }
                    Ok(Reply {
                        result: Err((kind, message)),
                        ..
                    }) => {
                        failures += 1;
                        match after_attach_error(kind, resync == Some(true), failures) {
                            AttachRetry::Resync => declared = true,
                            AttachRetry::Again => {
                                if shared.heal.load(Ordering::SeqCst) && !heal_restarted {
                                    // Healing with this consumer out of a life: a fresh process
                                    // (resyncing if a gap was declared) gets one more chance,
                                    // rather than a consumer left dead being judged hung.
                                    heal_restarted = true;
                                    slot.killed.store(true, Ordering::SeqCst);
                                    t.kill();
                                    died(&t, DriverError::Gone("restarted to heal".into()), None);
                                    continue 'process;
                                }
                                std::thread::sleep(ATTACH_PAUSE);
                            }
                            AttachRetry::GiveUp => {
                                let why = format!("pid {pid}: attach_consumer failed {failures} times in a row, last with {kind:?} ({message}); the harness gave up on it");
                                shared
                                    .history
                                    .lock()
                                    .expect("history")
                                    .refused
                                    .push((id.clone(), why));
                                slot.killed.store(true, Ordering::SeqCst);
                                t.kill();
                                died(&t, DriverError::Gone("given up".into()), None);
                                while !shared.consumers_stop.load(Ordering::SeqCst) {
                                    std::thread::sleep(Duration::from_millis(5));
                                }
                                break 'process;
                            }
                        }
                    }
                    Err(e) => {
                        died(&t, e, None);
                        restart_pause(slot);
                        continue 'process;
                    }
                }
            };
            let mode = match shared.schedule.modes[(k + lives.len()) % shared.schedule.modes.len()]
                .as_str()
            {
                "lease" if t.has("lease") => Mode::Lease,
                "batch" if t.has("batch") => Mode::Batch,
                _ => Mode::Copy,
            };
            loop {
                let stop = shared.consumers_stop.load(Ordering::SeqCst);
                let recycle = slot.recycle.swap(false, Ordering::SeqCst);
                if stop || recycle || leave_armed {
                    let r = t
                        .send(|cid| Command::Leave { id: cid })
                        .and_then(|cid| t.wait(cid, Instant::now() + REPLY_DEADLINE));
                    if let Err(e) = r {
                        // consumer.leave fired (or a kill landed meanwhile).
                        died(&t, e, Some(&mut life));
                        lives.push(life);
                        restart_pause(slot);
                        continue 'process;
                    }
                    life.end = End::Left;
                    lives.push(life);
                    declared = true;
                    leave_armed = false;
                    if stop || recycle {
                        let _ = t.exit(Instant::now() + Duration::from_secs(10));
                        *slot.pid.lock().expect("pid") = None;
                        if stop {
                            break 'process;
                        }
                        continue 'process;
                    }
                    continue 'attach;
                }
                let fin = *shared.final_seq.lock().expect("final");
                if fin.is_some_and(|f| slot.reported.load(Ordering::SeqCst) >= f) {
                    let mut h = shared.history.lock().expect("history");
                    h.heal
                        .reached_ns
                        .entry(id.clone())
                        .or_insert(Some(monotonic_ns()));
                    drop(h);
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                let r = t
                    .send(|cid| Command::Consume {
                        id: cid,
                        count: CONSUME_CHUNK,
                        mode,
                        timeout_ms: CONSUME_IDLE_MS,
                    })
                    .and_then(|cid| {
                        t.wait_streaming(cid, Instant::now() + REPLY_DEADLINE, |m| {
                            if let Message::Events {
                                first,
                                last,
                                digest,
                                ..
                            } = m
                            {
                                life.runs.push(Run {
                                    first: *first,
                                    last: *last,
                                    digest: digest.clone(),
                                    at_ns: monotonic_ns(),
                                });
                                slot.reported.fetch_max(*last, Ordering::SeqCst);
                            }
                        })
                    });
                match r {
                    Ok(Reply { result: Ok(_), .. }) => {}
                    Ok(Reply {
                        result: Err((ErrorKind::ProducerGone, _)),
                        ..
                    }) => {
                        life.producer_gone_ns.push(monotonic_ns());
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Ok(Reply {
                        result: Err((ErrorKind::Lapped | ErrorKind::Evicted, message)),
                        ..
                    }) => {
                        // Retired or evicted: the implementation declares what it missed; attach
                        // again (a re-join refused the same way is answered with a resync).
                        life.end = End::Lapped { message };
                        lives.push(life);
                        continue 'attach;
                    }
                    Ok(Reply { result: Err(_), .. }) => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(DriverError::Timeout(..)) => {
                        shared.harness_error(format!(
                            "{id} pid {pid} did not answer consume within {REPLY_DEADLINE:?}: hung"
                        ));
                        slot.killed.store(true, Ordering::SeqCst);
                        t.kill();
                        died(
                            &t,
                            DriverError::Gone("killed as hung".into()),
                            Some(&mut life),
                        );
                        lives.push(life);
                        continue 'process;
                    }
                    Err(e) => {
                        died(&t, e, Some(&mut life));
                        lives.push(life);
                        restart_pause(slot);
                        continue 'process;
                    }
                }
            }
        }
    }
    let mut h = shared.history.lock().expect("history");
    h.heal.reached_ns.entry(id.clone()).or_insert(None);
    h.consumers.insert(id, lives);
}

/// The committed cursor of consumer `id`, read from its cursor segment (without creating or
/// changing anything), or `None` if it cannot be read.
fn committed_cursor(ring: &ringproof::RingName, id: &str) -> Option<i64> {
    ringproof::kit::cursor::Cursor::open(&ring.consumer_cursor(id), "consumer cursor")
        .ok()
        .map(|c| c.load())
}

/// Every name of the campaign's ring in /dev/shm and under the mmap root.
fn leftovers(shared: &Shared) -> Vec<String> {
    ringproof_conformance::ctx::ring_leftovers(
        &shared.ring.name,
        shared.ring.root.as_deref().map(Path::new),
    )
}

fn remove_leftovers(shared: &Shared) {
    ringproof_conformance::ctx::remove_all(leftovers(shared));
}

/// Copies every segment of the ring into `to` (for the failure report).
fn copy_segments(shared: &Shared, to: &Path) {
    let _ = std::fs::create_dir_all(to);
    for p in leftovers(shared) {
        let path = PathBuf::from(&p);
        if path.is_file() {
            let flat = p.trim_start_matches('/').replace('/', "__");
            let _ = std::fs::copy(&path, to.join(flat));
        }
    }
}
