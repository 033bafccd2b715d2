//! Model-based exploration of producer and consumer lifecycles, for any implementation
//! (`ringproof conform --impl X --explore N`).
//!
//! Each lifecycle is a random sequence of operations ([`Op`]: publish with or without waiting
//! for room, consume, a consumer joining late, leaving, being SIGKILLed and restarting under its
//! id, the producer being SIGKILLed and restarting over the same ring (SPEC.md §7.9), a second
//! producer or a duplicate consumer id that must be refused, the clean close), limited to what
//! the testees' hellos offer. Every operation is carried out by real testee processes through
//! the protocol, one at a time, and every reply is checked against a small model of what the
//! ring must do: which sequences each consumer receives and from where it starts, every event's
//! TP1 payload (no loss, duplicate, reordering or torn slot), how much a non-blocking publish
//! gets in with the consumers that gate it, which errors are due. Every lifecycle ends with a
//! clean shutdown of every participant and checks that the ring left nothing behind (§7.6).
//!
//! Deterministic by construction: commands run one at a time and only between them does
//! anything change; a non-waiting publish never looks at liveness (so a crashed consumer keeps
//! gating until a restart takes its slot over, §7.3), a waiting one is carried out only where
//! the live consumers leave it room, so it waits only on dead consumers and retires all of them
//! (§7.10); consumes never wait on a producer that may be gone. Lifecycle `i` of seed `S` is the
//! same on every run, so a failure is found again with the same seed.
//!
//! On the first mismatch not listed in the expected list (`conformance/expected/explore-<impl>.txt`,
//! entries `rule[producer>consumer,backend]  # reason`), the lifecycle is shrunk to a minimal
//! sequence that still breaks the same rule (a deterministic delta-debugging pass: drop the
//! operations the model skipped, drop runs of operations, then make counts smaller), and
//! reported with the step, the expected and observed values, and the testees' transcripts; the
//! minimal lifecycle is saved as JSON for `--replay`.

use crate::ctx::{check_delivery, consumer_id, ring_leftovers, remove_all, CaseError};
use crate::driver::{DriverError, Implementation, Reply, Testee};
use crate::expected::{self, glob_match, Expected};
use crate::protocol::{Backend, Command, Discover, ErrorKind, Mode, OkFields};
use crate::schema::Schema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Ring slots: small, so publishes run into gating often.
pub const CAPACITY: u64 = 8;
/// Event size (TP1 payload).
pub const SIZE: u64 = 64;
/// Consumer ids `c_0..c_{CONSUMERS}`.
pub const CONSUMERS: usize = 3;
/// Largest publish or consume request.
const MAX_COUNT: u64 = 12;
/// Longest generated lifecycle.
const MAX_LEN: usize = 48;
/// Lifecycles `--explore` runs when given no number (about 30 s for the reference here).
pub const DEFAULT_LIFECYCLES: u32 = 1000;
/// The seed `--explore` uses when given none.
pub const DEFAULT_SEED: u64 = 1;
/// Lifecycles a shrink may run before it settles for what it has.
pub const SHRINK_RUNS: u32 = 300;
/// How long a shrink may take before it settles for what it has (failures that time out cost
/// seconds per run).
pub const SHRINK_TIME: Duration = Duration::from_secs(90);
/// How long one command may take (a consume only waits on a closed ring, where it returns at
/// once; a waiting publish only waits on dead consumers it retires): a correct testee never
/// comes close, a broken one fails the step instead of hanging.
const STEP_MS: u64 = 5_000;
/// How long a waiting publish that the model gives room for may take.
const PUBLISH_STALL_MS: u64 = 2_000;
/// The format tag of a replay file.
pub const FORMAT: &str = "ringproof-explore/1";

/// One step of a lifecycle. Steps that do not apply in the model's state at that point (a
/// consume by a consumer that is not running, ...) are skipped, so any sequence is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// `try_publish` of `n` events (capability `try-publish`).
    Publish { n: u64 },
    /// `publish` of `n` events, `batch` per cursor store, waiting for room. Carried out only
    /// where live consumers leave room for them; a crashed consumer that holds the producer up
    /// is retired instead (§7.10, capability `registry`).
    PublishWaiting { n: u64, batch: u64 },
    /// Consumer `c_{c}` reads up to `n` of the events published for it.
    Consume { c: usize, n: u64, mode: Mode },
    /// Consumer `c_{c}` attaches: a late join, a re-join after a leave, a restart after a crash
    /// (takeover), or, while it runs, a second process with its id (refused; `registry`).
    Join { c: usize },
    /// Consumer `c_{c}` leaves cleanly.
    Leave { c: usize },
    /// Consumer `c_{c}` is SIGKILLed.
    Crash { c: usize },
    /// The producer is SIGKILLed.
    ProducerCrash,
    /// A producer process opens the ring: a restart after a crash, or a second producer (refused).
    ProducerStart,
    /// The producer shuts down cleanly (capability `close`).
    Close,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Op::Publish { n } => write!(f, "try_publish {n}"),
            Op::PublishWaiting { n, batch } => write!(f, "publish {n} (batch {batch})"),
            Op::Consume { c, n, mode } => write!(f, "{} consumes {n} ({})", consumer_id(c), mode_name(mode)),
            Op::Join { c } => write!(f, "{} attaches", consumer_id(c)),
            Op::Leave { c } => write!(f, "{} leaves", consumer_id(c)),
            Op::Crash { c } => write!(f, "{} is killed", consumer_id(c)),
            Op::ProducerCrash => write!(f, "the producer is killed"),
            Op::ProducerStart => write!(f, "a producer starts"),
            Op::Close => write!(f, "the producer closes"),
        }
    }
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Copy => "copy",
        Mode::Lease => "lease",
        Mode::Batch => "batch",
    }
}

/// A lifecycle: a fresh ring on `backend`, its producer running, then `ops`, then the clean end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    pub backend: Backend,
    pub ops: Vec<Op>,
}

/// The model rules a reply is checked against; a mismatch names one (and the expected lists
/// name them too).
pub const RULES: &[(&str, &str)] = &[
    ("producer.create", "§7.1: create_producer on a fresh ring succeeds"),
    ("publish.no-overwrite", "§7.2: try_publish never gets in more events than the slowest gating consumer (live or crashed) leaves room for: it would overwrite unread slots"),
    ("publish.room", "§7.2: try_publish gets in as many events as the slowest gating consumer leaves room for (no fewer; with no gate, any number), and reports full when it could not get all"),
    ("publish.progress", "§7.2, §7.5: a waiting publish for which every live gate leaves room completes: no consumer that left, and no absent one, holds it up"),
    ("publish.range", "§7.1: a waiting publish publishes the next sequences, in order, and returns once they are in"),
    ("consume.count", "§7.4, PROTOCOL: a consume delivers what was asked for (count) of the events published for it, no more, and only on a closed ring ends early"),
    ("consume.delivery", "§7.4, §9: delivered sequences are exactly the expected ones, in order, each with its TP1 bytes"),
    ("close.final-sequence", "§7.6: a consumer that drained a closed ring sees closed_at = the last published sequence"),
    ("join.ok", "§7.3: attaching succeeds: a fresh or late join, a re-join after a leave, a takeover after a crash"),
    ("join.start-seq", "§7.3: a fresh or late join starts after the last published sequence; a takeover after a crash resumes after the committed cursor"),
    ("join.id-in-use", "§7.3: a second consumer with the id of a running one is refused (id_in_use)"),
    ("join.lapped", "§7.3 step 5: re-joining after being retired, with events missed, is refused (lapped)"),
    ("producer.second-refused", "§7.9: a second producer while the first runs is refused (already_exists)"),
    ("producer.restart", "§7.9: a producer restarts over the ring of a crashed one and resumes after its last published sequence"),
    ("leave.ok", "§7.5: a consumer leaves cleanly"),
    ("close.ok", "§7.6: the producer closes cleanly"),
    ("exit.status", "PROTOCOL: a testee that was told to exit ends with status 0"),
    ("cleanup.no-leak", "§7.6: after everyone shut down cleanly, the ring left nothing in /dev/shm or its directory"),
    ("testee", "PROTOCOL: the testee answers every command in time, with valid messages"),
];

/// A reply that broke a model rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// Index into the lifecycle's ops; `None`: the clean end after the last step.
    pub step: Option<usize>,
    /// The rule (one of [`RULES`]).
    pub rule: String,
    /// What was done, in words (the op, or the part of the clean end).
    pub action: String,
    pub expected: String,
    pub observed: String,
    /// The model's state before the step.
    pub model: String,
    /// Tail of every testee's transcript (and stderr).
    #[serde(default)]
    pub transcripts: String,
}

impl Mismatch {
    /// The key an expected-list entry matches: `rule[producer>consumer,backend]`.
    pub fn key(&self, producer: &str, consumer: &str, backend: Backend) -> String {
        format!("{}[{producer}>{consumer},{}]", self.rule, backend.as_str())
    }
}

/// One side of the exploration: an implementation, what its hello offers, and the mismatches
/// it is known to produce.
#[derive(Debug, Clone)]
pub struct Side {
    pub imp: Implementation,
    pub capabilities: Vec<String>,
    pub expected: Vec<Expected>,
}

impl Side {
    fn has(&self, c: &str) -> bool {
        self.capabilities.iter().any(|x| x == c)
    }
}

/// Loads `dir/explore-<implementation>.txt` (missing: empty).
pub fn load_expected(dir: &Path, implementation: &str) -> Result<Vec<Expected>, String> {
    expected::load(dir, &format!("explore-{implementation}"))
}

/// What the pairing can do: generation and the model both honour it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub try_publish: bool,
    pub batch_publish: bool,
    pub close: bool,
    pub lease: bool,
    pub batch_read: bool,
    /// Both keep the registry: duplicate ids are refused, dead consumers are retired.
    pub registry: bool,
}

impl Caps {
    pub fn of(producer: &Side, consumer: &Side) -> Caps {
        Caps {
            try_publish: producer.has("try-publish"),
            batch_publish: producer.has("batch"),
            close: producer.has("close") && consumer.has("close"),
            lease: consumer.has("lease"),
            batch_read: consumer.has("batch"),
            registry: producer.has("registry") && consumer.has("registry"),
        }
    }
}

/// How many lifecycles, from which seed, over which backends.
#[derive(Debug, Clone)]
pub struct Config {
    pub lifecycles: u32,
    pub seed: u64,
    pub backends: Vec<Backend>,
    pub shrink_runs: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config { lifecycles: DEFAULT_LIFECYCLES, seed: DEFAULT_SEED, backends: vec![Backend::Shm, Backend::Mmap], shrink_runs: SHRINK_RUNS }
    }
}

// ---------------------------------------------------------------------------------------------
// Generation

/// splitmix64: small, fast, and the same everywhere (lifecycles must not depend on a crate's
/// RNG across versions).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// Lifecycle `index` of `seed` (independent of every other index).
pub fn generate(seed: u64, index: u32, caps: Caps, backends: &[Backend]) -> Lifecycle {
    let mut rng = Rng::new(seed ^ (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
    rng.next_u64();
    let backend = backends[index as usize % backends.len()];
    let len = rng.range(1, MAX_LEN as u64) as usize;
    let mut modes = vec![Mode::Copy];
    if caps.lease {
        modes.push(Mode::Lease);
    }
    if caps.batch_read {
        modes.push(Mode::Batch);
    }
    // (weight, kind); kinds the pairing cannot do are left out.
    let mut table: Vec<(u64, u8)> = vec![(5, 1), (10, 2), (6, 3), (2, 4), (4, 5), (2, 6), (3, 7)];
    if caps.try_publish {
        table.push((6, 0));
    }
    if caps.close {
        table.push((1, 8));
    }
    let total: u64 = table.iter().map(|(w, _)| w).sum();
    let mut ops = Vec::with_capacity(len);
    for _ in 0..len {
        let mut pick = rng.range(0, total - 1);
        let kind = table.iter().find(|(w, _)| if pick < *w { true } else { pick -= w; false }).map(|(_, k)| *k).expect("weights");
        let c = rng.range(0, CONSUMERS as u64 - 1) as usize;
        let n = rng.range(1, MAX_COUNT);
        ops.push(match kind {
            0 => Op::Publish { n },
            1 => Op::PublishWaiting { n, batch: if caps.batch_publish { rng.range(1, CAPACITY) } else { 1 } },
            2 => Op::Consume { c, n, mode: modes[rng.range(0, modes.len() as u64 - 1) as usize] },
            3 => Op::Join { c },
            4 => Op::Leave { c },
            5 => Op::Crash { c },
            6 => Op::ProducerCrash,
            7 => Op::ProducerStart,
            _ => Op::Close,
        });
    }
    Lifecycle { backend, ops }
}

// ---------------------------------------------------------------------------------------------
// The model

/// The reference model of the producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProducerState {
    Running,
    Crashed,
    Closed,
}

/// The reference model of one consumer id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConsumerState {
    /// Never joined, or left: not gating.
    Absent,
    /// Attached; `next` is the next sequence it receives (all before it are committed).
    Live { next: i64 },
    /// Killed: its slot and cursor still gate the producer at `next - 1`.
    Crashed { next: i64 },
    /// Killed, and then retired by a producer it held up (slot DEAD): no longer gating; its
    /// cursor, at `next - 1`, stays behind until the close. A restart is refused (*lapped*)
    /// and leaves the slot DEAD, so every later attach under this id is refused too.
    Retired { next: i64 },
}

/// What the ring must do, as simply as it can be said.
#[derive(Debug, Clone)]
struct Model {
    /// Last published sequence.
    published: i64,
    producer: ProducerState,
    consumers: [ConsumerState; CONSUMERS],
    /// A gate the model does not know of, at this cursor: set where a listed (expected)
    /// `publish.room` deviation stopped the producer short (full), so the model does not send
    /// a waiting publish that would never end; cleared when the producer gets more in than the
    /// model allowed.
    phantom: Option<i64>,
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "published through {}, producer {:?}", self.published, self.producer)?;
        if let Some(p) = self.phantom {
            write!(f, ", an unexplained gate at {p}")?;
        }
        for (c, s) in self.consumers.iter().enumerate() {
            match s {
                ConsumerState::Absent => {}
                ConsumerState::Live { next } => write!(f, ", {} live (next {next})", consumer_id(c))?,
                ConsumerState::Crashed { next } => write!(f, ", {} crashed (committed {})", consumer_id(c), next - 1)?,
                ConsumerState::Retired { next } => write!(f, ", {} retired (committed {})", consumer_id(c), next - 1)?,
            }
        }
        Ok(())
    }
}

impl Model {
    /// Events a publish can get in: the slowest gating consumer (live or crashed) holds the
    /// ring at `capacity` past its cursor; with no gate the producer gates only on itself.
    fn room(&self) -> u64 {
        self.room_among(|c| matches!(c, ConsumerState::Live { .. } | ConsumerState::Crashed { .. }))
    }

    /// Room left by the live consumers alone: what a waiting publish gets once the producer
    /// retired every dead consumer that held it up.
    fn live_room(&self) -> u64 {
        self.room_among(|c| matches!(c, ConsumerState::Live { .. }))
    }

    fn room_among(&self, gating: impl Fn(&ConsumerState) -> bool) -> u64 {
        let slowest = self
            .consumers
            .iter()
            .filter(|c| gating(c))
            .filter_map(|c| match c {
                ConsumerState::Live { next } | ConsumerState::Crashed { next } | ConsumerState::Retired { next } => Some(next - 1),
                ConsumerState::Absent => None,
            })
            .chain(self.phantom)
            .min();
        // Saturating: after a tolerated deviation a gate may lag by more than the ring.
        slowest.map_or(u64::MAX, |s| CAPACITY.saturating_sub((self.published - s).max(0) as u64))
    }
}

// ---------------------------------------------------------------------------------------------
// Running a lifecycle

/// A broken rule inside a step (the step and model are added by the caller).
struct Miss {
    rule: &'static str,
    expected: String,
    observed: String,
}

fn miss(rule: &'static str, expected: impl Into<String>, observed: impl Into<String>) -> Miss {
    Miss { rule, expected: expected.into(), observed: observed.into() }
}

fn testee_err(what: &str, e: DriverError) -> Miss {
    let observed = match &e {
        DriverError::Timeout(..) => format!("no reply within {STEP_MS} ms ({e})"),
        _ => e.to_string(),
    };
    miss("testee", format!("a reply to {what}"), observed)
}

fn describe(r: &Result<OkFields, (ErrorKind, String)>) -> String {
    match r {
        Ok(f) => format!("ok {}", serde_json::to_string(f).unwrap_or_default()),
        Err((k, m)) => format!("error {} ({m})", serde_json::to_string(k).unwrap_or_default()),
    }
}

fn expect_error(reply: &Reply, kind: ErrorKind, rule: &'static str) -> Result<(), Miss> {
    match &reply.result {
        Err((got, _)) if *got == kind => Ok(()),
        other => Err(miss(rule, format!("error {}", serde_json::to_string(&kind).unwrap_or_default()), describe(other))),
    }
}

fn expect_ok<'r>(reply: &'r Reply, rule: &'static str, what: &str) -> Result<&'r OkFields, Miss> {
    reply.result.as_ref().map_err(|_| miss(rule, format!("ok to {what}"), describe(&reply.result)))
}

/// Index of a testee process in [`Run::procs`].
type H = usize;

/// A lifecycle being carried out: processes and the model side by side.
struct Run<'a> {
    producer_side: &'a Side,
    consumer_side: &'a Side,
    caps: Caps,
    schema: Arc<Schema>,
    ring: crate::protocol::RingAddr,
    /// Every testee started, `None` once it exited or was killed.
    procs: Vec<Option<Testee>>,
    /// Transcripts of testees that exited or were killed.
    ended: Vec<String>,
    model: Model,
    producer: Option<H>,
    consumers: [Option<H>; CONSUMERS],
    coverage: BTreeMap<&'static str, u64>,
    /// Expected-list patterns of mismatches tolerated so far (the model followed the
    /// implementation and the lifecycle went on).
    tolerated: Vec<String>,
    /// The model's state before the step under way (for reports).
    before: String,
}

impl<'a> Run<'a> {
    /// Whether `m` is listed as expected for this pairing; if so it is recorded, and the
    /// caller makes the model follow what the implementation did.
    fn tolerate(&mut self, m: &Miss) -> bool {
        let key = format!("{}[{}>{},{}]", m.rule, self.producer_side.imp.name, self.consumer_side.imp.name, self.ring.backend.as_str());
        match listed(self.producer_side, self.consumer_side, &key) {
            Some(e) => {
                self.tolerated.push(e.pattern.clone());
                true
            }
            None => false,
        }
    }

    fn spawn(&mut self, consumer: bool, label: &str) -> Result<H, Miss> {
        let imp = if consumer { &self.consumer_side.imp } else { &self.producer_side.imp };
        let t = Testee::spawn(imp, label, Arc::clone(&self.schema), Duration::from_secs(10)).map_err(|e| testee_err("start (hello)", e))?;
        self.procs.push(Some(t));
        Ok(self.procs.len() - 1)
    }

    fn request(&mut self, h: H, what: &str, make: impl FnOnce(u64) -> Command) -> Result<Reply, Miss> {
        let t = self.procs[h].as_mut().expect("a running testee");
        t.request(make, Instant::now() + Duration::from_millis(STEP_MS)).map_err(|e| testee_err(what, e))
    }

    fn start_producer(&mut self) -> Result<(H, Reply), Miss> {
        let h = self.spawn(false, "producer")?;
        let ring = self.ring.clone();
        let reply = self.request(h, "create_producer", |id| Command::CreateProducer {
            id,
            ring,
            capacity: CAPACITY,
            event_size: SIZE,
            wait_consumers: None,
            discover: Some(Discover { prefix: "c".into(), max: 8 }),
            wait: None,
            required: None,
        })?;
        Ok((h, reply))
    }

    fn attach(&mut self, c: usize) -> Result<(H, Reply), Miss> {
        let h = self.spawn(true, &format!("consumer {}", consumer_id(c)))?;
        let ring = self.ring.clone();
        let consumer_id = consumer_id(c);
        let reply = self.request(h, "attach_consumer", |id| Command::AttachConsumer { id, ring, consumer_id, event_size: SIZE, timeout_ms: 2_000, wait: None, resync: None })?;
        Ok((h, reply))
    }

    /// Gives up testee `h`'s role (`leave`: a consumer leaves, a producer closes the ring).
    fn leave(&mut self, h: H, rule: &'static str) -> Result<(), Miss> {
        let reply = self.request(h, "leave", |id| Command::Leave { id })?;
        expect_ok(&reply, rule, "leave").map(drop)
    }

    /// Ends a testee that holds no role any more: `exit`, and it must end with status 0.
    fn exit(&mut self, h: H) -> Result<(), Miss> {
        let t = self.procs[h].take().expect("a running testee");
        let label = t.label.clone();
        let transcript = t.transcript();
        let code = t.exit(Instant::now() + Duration::from_millis(STEP_MS));
        self.ended.push(transcript);
        match code {
            Ok(0) => Ok(()),
            Ok(code) => Err(miss("exit.status", format!("{label} exits with status 0"), format!("status {code}"))),
            Err(e) => Err(miss("exit.status", format!("{label} exits with status 0"), e.to_string())),
        }
    }

    /// SIGKILLs testee `h`.
    fn kill(&mut self, h: H) {
        if let Some(mut t) = self.procs[h].take() {
            t.kill();
            self.ended.push(t.transcript());
        }
    }

    /// Carries out `op` if it applies in the model's state (else nothing); whether it applied.
    fn step(&mut self, op: &Op) -> Result<bool, Miss> {
        let Some(label) = self.label(op) else { return Ok(false) };
        self.before = self.model.to_string();
        *self.coverage.entry(label).or_default() += 1;
        match *op {
            Op::Publish { n } => {
                let p = self.producer.expect("running producer has a testee");
                let room = self.model.room();
                let reply = self.request(p, "try_publish", |id| Command::TryPublish { id, count: n })?;
                let f = expect_ok(&reply, "publish.room", "try_publish")?;
                let mut expected = n.min(room);
                if f.published.is_some_and(|p| p > expected) {
                    // Past the slowest gate: unread slots were overwritten.
                    return Err(miss(
                        "publish.no-overwrite",
                        format!("at most {expected} (the slowest gate leaves room for {room})"),
                        format!("published {}, full {}", opt(f.published), opt(f.full)),
                    ));
                }
                if f.published != Some(expected) || f.full != Some(n > room) {
                    let m = miss(
                        "publish.room",
                        format!("published {expected}, full {} (room for {})", n > room, if room == u64::MAX { "any number".to_owned() } else { room.to_string() }),
                        format!("published {}, full {}", opt(f.published), opt(f.full)),
                    );
                    // A known deviation: follow what the implementation published.
                    match f.published {
                        Some(p) if p <= n && self.tolerate(&m) => {
                            expected = p;
                            let after = self.model.published + p as i64;
                            self.model.phantom = if f.full == Some(true) { Some(after - CAPACITY as i64) } else { None };
                        }
                        _ => return Err(m),
                    }
                }
                self.model.published += expected as i64;
            }
            Op::PublishWaiting { n, batch } => {
                let p = self.producer.expect("running producer has a testee");
                // The model only waits where every live gate leaves room: a publish still waiting
                // after PUBLISH_STALL_MS waits on a gate the model does not have.
                let t = self.procs[p].as_mut().expect("a running testee");
                // One that retires dead consumers first gets the time of any other step.
                let stall = if n > self.model.room() { STEP_MS } else { PUBLISH_STALL_MS };
                let reply = match t.request(|id| Command::Publish { id, count: n, batch: (batch > 1).then_some(batch) }, Instant::now() + Duration::from_millis(stall)) {
                    Ok(r) => r,
                    Err(DriverError::Timeout(..)) => {
                        let room = self.model.live_room();
                        let room = if room == u64::MAX { "any number".to_owned() } else { room.to_string() };
                        return Err(miss("publish.progress", format!("all {n} published at once (live gates leave room for {room})"), format!("still waiting after {stall} ms")));
                    }
                    Err(e) => return Err(testee_err("publish", e)),
                };
                let f = expect_ok(&reply, "publish.range", "publish")?;
                let (first, last) = (self.model.published + 1, self.model.published + n as i64);
                if (f.first_seq, f.last_seq) != (Some(first), Some(last)) {
                    return Err(miss("publish.range", format!("{first}..={last}"), format!("{}..={}", opt(f.first_seq), opt(f.last_seq))));
                }
                if n > self.model.room() {
                    // It waited: the dead consumers it gated on were retired (all of them: one
                    // liveness look judges every gate).
                    for c in self.model.consumers.iter_mut() {
                        if let ConsumerState::Crashed { next } = *c {
                            *c = ConsumerState::Retired { next };
                        }
                    }
                }
                self.model.published = last;
            }
            Op::Consume { c, n, mode } => {
                let ConsumerState::Live { next } = self.model.consumers[c] else { unreachable!("label checked") };
                let h = self.consumers[c].expect("live consumer has a testee");
                let available = (self.model.published - next + 1) as u64;
                let closed = self.model.producer == ProducerState::Closed;
                // Never wait on a producer that may be gone: ask only for what is published,
                // except on a closed ring, where asking for more must end in `closed`.
                let count = if closed { n } else { n.min(available) };
                let reply = self.request(h, "consume", |id| Command::Consume { id, count, mode, timeout_ms: STEP_MS })?;
                let f = expect_ok(&reply, "consume.count", "consume")?;
                let got = count.min(available);
                let closed_at = (closed && count > available).then_some(self.model.published);
                if f.closed_at != closed_at {
                    return Err(miss("close.final-sequence", format!("closed_at {}", opt(closed_at)), format!("closed_at {} (consumed {})", opt(f.closed_at), opt(f.consumed))));
                }
                let who = format!("{} ({})", consumer_id(c), mode_name(mode));
                let mut got = got;
                let last = reply.events.last().map(|r| r.1);
                if let Some(last) = last.filter(|&l| l > next + got as i64 - 1 && l <= self.model.published) {
                    // More than asked for: the right events (checked here), but not the count.
                    if check_delivery(&reply, SIZE as usize, next, last, &who).is_ok() {
                        let m = miss("consume.count", format!("{got} events (asked for {count})"), format!("{} events, {next}..={last}", last - next + 1));
                        if !self.tolerate(&m) {
                            return Err(m);
                        }
                        got = (last - next + 1) as u64;
                    }
                }
                if let Err(CaseError::Fail(e) | CaseError::Error(e) | CaseError::Timeout(e) | CaseError::Skip(e)) = check_delivery(&reply, SIZE as usize, next, next + got as i64 - 1, &who) {
                    return Err(miss("consume.delivery", format!("sequences {next}..={} with their TP1 payloads", next + got as i64 - 1), format!("{e}; runs {}", runs(&reply))));
                }
                if f.consumed != Some(got) && f.consumed != Some(count.min(available)) {
                    return Err(miss("consume.count", format!("consumed {got}"), format!("consumed {}", opt(f.consumed))));
                }
                self.model.consumers[c] = ConsumerState::Live { next: next + got as i64 };
            }
            Op::Join { c } => {
                let (h, reply) = self.attach(c)?;
                match self.model.consumers[c] {
                    ConsumerState::Live { .. } => {
                        expect_error(&reply, ErrorKind::IdInUse, "join.id-in-use")?;
                        self.exit(h)?;
                    }
                    ConsumerState::Retired { next } if next <= self.model.published => {
                        // A re-join (§7.3 step 5): events after its cursor may be overwritten,
                        // so it fails with *lapped*, puts its slot back to DEAD and keeps its
                        // cursor.
                        expect_error(&reply, ErrorKind::Lapped, "join.lapped")?;
                        self.exit(h)?;
                    }
                    state => {
                        // A takeover resumes after the committed cursor; a fresh join starts
                        // after the last published sequence.
                        let start = match state {
                            ConsumerState::Crashed { next } | ConsumerState::Retired { next } => next,
                            ConsumerState::Absent | ConsumerState::Live { .. } => self.model.published + 1,
                        };
                        self.consumers[c] = Some(h);
                        let f = expect_ok(&reply, "join.ok", "attach_consumer")?;
                        let mut start = start;
                        if f.start_seq != Some(start) {
                            let why = match state {
                                ConsumerState::Absent => "after the last published sequence",
                                _ => "after its committed cursor",
                            };
                            let m = miss("join.start-seq", format!("start_seq {start} ({why})"), format!("start_seq {}", opt(f.start_seq)));
                            // A known deviation: follow where the implementation starts, if it
                            // can still read from there (nothing overwritten).
                            match f.start_seq {
                                Some(s) if s > self.model.published - CAPACITY as i64 && s <= self.model.published + 1 && self.tolerate(&m) => start = s,
                                _ => return Err(m),
                            }
                        }
                        self.model.consumers[c] = ConsumerState::Live { next: start };
                    }
                }
            }
            Op::Leave { c } => {
                let h = self.consumers[c].take().expect("live consumer has a testee");
                self.leave(h, "leave.ok")?;
                self.exit(h)?;
                self.model.consumers[c] = ConsumerState::Absent;
            }
            Op::Crash { c } => {
                let ConsumerState::Live { next } = self.model.consumers[c] else { unreachable!("label checked") };
                let h = self.consumers[c].take().expect("live consumer has a testee");
                self.kill(h);
                self.model.consumers[c] = ConsumerState::Crashed { next };
            }
            Op::ProducerCrash => {
                let h = self.producer.take().expect("running producer has a testee");
                self.kill(h);
                self.model.producer = ProducerState::Crashed;
            }
            Op::ProducerStart => match self.model.producer {
                ProducerState::Running => {
                    let (h, reply) = self.start_producer()?;
                    expect_error(&reply, ErrorKind::AlreadyExists, "producer.second-refused")?;
                    self.exit(h)?;
                }
                _ => self.restart_producer()?,
            },
            Op::Close => {
                let h = self.producer.take().expect("running producer has a testee");
                self.leave(h, "close.ok")?;
                self.exit(h)?;
                self.model.producer = ProducerState::Closed;
            }
        }
        Ok(true)
    }

    /// What `op` amounts to in the model's state, or `None` where it does not apply (or the
    /// pairing cannot do it).
    fn label(&self, op: &Op) -> Option<&'static str> {
        let m = &self.model;
        let caps = self.caps;
        let open = m.producer != ProducerState::Closed;
        let running = m.producer == ProducerState::Running;
        Some(match *op {
            Op::Publish { n } if running && caps.try_publish => match m.room() {
                0 => "publish into a full ring",
                r if n > r => "publish, partly full",
                _ => "publish",
            },
            // Only where the live consumers leave room: a waiting publish never waits on a
            // consumer that is not there to read. Without a registry nothing retires a dead
            // consumer, so only where every gate leaves room.
            Op::PublishWaiting { n, batch } if running && (batch == 1 || caps.batch_publish) && n <= if caps.registry { m.live_room() } else { m.room() } => {
                if n > m.room() {
                    "publish waiting on a dead consumer (retires it)"
                } else {
                    "publish, waiting"
                }
            }
            Op::Consume { mode: Mode::Lease, .. } if !caps.lease => return None,
            Op::Consume { mode: Mode::Batch, .. } if !caps.batch_read => return None,
            Op::Consume { c, .. } => match m.consumers[c] {
                ConsumerState::Live { .. } if !open => "consume after the close",
                ConsumerState::Live { next } if next <= m.published => match m.producer {
                    ProducerState::Crashed => "consume while the producer is dead",
                    _ => "consume",
                },
                _ => return None,
            },
            Op::Join { c } if open => match m.consumers[c] {
                ConsumerState::Live { .. } if caps.registry => "join with an id in use (refused)",
                ConsumerState::Live { .. } => return None,
                ConsumerState::Crashed { .. } => "restart a crashed consumer (takeover)",
                ConsumerState::Retired { next } if next <= m.published => "restart a retired consumer (lapped)",
                ConsumerState::Retired { .. } => "restart a retired consumer (nothing missed)",
                ConsumerState::Absent if m.published >= 0 => "late join",
                ConsumerState::Absent => "join",
            },
            Op::Leave { c } if matches!(m.consumers[c], ConsumerState::Live { .. }) => "consumer leaves",
            // After a close no producer is left to reap a dead consumer's cursor (§7.6).
            Op::Crash { c } if open && matches!(m.consumers[c], ConsumerState::Live { .. }) => "consumer crashes",
            Op::ProducerCrash if running => "producer crashes",
            Op::ProducerStart => match m.producer {
                ProducerState::Running => "second producer (refused)",
                ProducerState::Crashed => "producer restarts",
                ProducerState::Closed => return None,
            },
            Op::Close if running && caps.close => "close",
            _ => return None,
        })
    }

    /// Restarts the crashed producer and checks it resumes after the last published sequence.
    fn restart_producer(&mut self) -> Result<(), Miss> {
        self.before = self.model.to_string();
        let (h, reply) = self.start_producer()?;
        self.producer = Some(h);
        expect_ok(&reply, "producer.restart", "create_producer over the ring of a dead producer")?;
        let reply = self.request(h, "cursors", |id| Command::Cursors { id })?;
        let producer = expect_ok(&reply, "producer.restart", "cursors")?.producer;
        if producer != Some(self.model.published) {
            return Err(miss("producer.restart", format!("the restarted producer resumes after {}", self.model.published), format!("its cursor is {}", opt(producer))));
        }
        self.model.producer = ProducerState::Running;
        Ok(())
    }

    /// The clean end: the producer closes (restarted first if it crashed), every live consumer
    /// drains to the final sequence and sees the close, then leaves. Without `close`, the
    /// consumers drain and leave first, then the producer leaves.
    fn finish(&mut self) -> Result<(), (String, Miss)> {
        let at = |what: &str, r: Result<bool, Miss>| r.map(drop).map_err(|m| (what.to_owned(), m));
        if self.model.producer == ProducerState::Crashed {
            let r = self.restart_producer().map(|_| true);
            at("restart the crashed producer", r)?;
        }
        if self.caps.close {
            let r = self.step(&Op::Close);
            at("the producer closes", r)?;
        }
        for c in 0..CONSUMERS {
            if let ConsumerState::Live { next } = self.model.consumers[c] {
                let rest = (self.model.published - next + 1) as u64;
                let n = if self.caps.close { rest + 1 } else { rest };
                if n > 0 {
                    let r = self.step(&Op::Consume { c, n, mode: Mode::Copy });
                    at(&format!("{} drains", consumer_id(c)), r)?;
                }
                let r = self.step(&Op::Leave { c });
                at(&format!("{} leaves", consumer_id(c)), r)?;
            }
        }
        if let Some(h) = self.producer.take() {
            let r = self.leave(h, "close.ok").and_then(|_| self.exit(h)).map(|_| true);
            at("the producer leaves", r)?;
            self.model.producer = ProducerState::Closed;
        }
        Ok(())
    }

    fn transcripts(&self) -> String {
        let mut s: String = self.ended.concat();
        for t in self.procs.iter().flatten() {
            s.push_str(&t.transcript());
        }
        s
    }
}

fn opt<T: fmt::Debug>(v: Option<T>) -> String {
    v.map_or("none".to_owned(), |v| format!("{v:?}"))
}

fn runs(reply: &Reply) -> String {
    let r: Vec<String> = reply.events.iter().map(|(a, b, _)| format!("{a}..={b}")).collect();
    if r.is_empty() {
        "none".into()
    } else {
        r.join(", ")
    }
}

static RING_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Removes a lifecycle's names and directory when dropped: also when the harness panics.
struct Names {
    name: String,
    root: std::path::PathBuf,
}

impl Drop for Names {
    fn drop(&mut self) {
        remove_all(ring_leftovers(&self.name, Some(&self.root)));
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// How one lifecycle ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub result: Result<(), Mismatch>,
    /// Which ops the model carried out (the rest did not apply where they stood).
    pub applied: Vec<bool>,
    /// How often each kind of step was carried out.
    pub coverage: BTreeMap<&'static str, u64>,
    /// Expected-list patterns of the mismatches tolerated on the way (see [`Summary`]).
    pub tolerated: Vec<String>,
}

/// Carries out one lifecycle on a fresh ring; always removes its processes and names.
pub fn run_lifecycle(producer: &Side, consumer: &Side, schema: &Arc<Schema>, lc: &Lifecycle) -> Outcome {
    let n = RING_COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!("rpx{}x{n}", std::process::id());
    let root = std::env::temp_dir().join(format!("ringproof-explore-{}-{n}", std::process::id()));
    let _ = std::fs::create_dir_all(&root);
    // Declared before the run: dropped after it, so after its testees are gone.
    let _names = Names { name: name.clone(), root: root.clone() };
    let ring = crate::protocol::RingAddr { backend: lc.backend, name: name.clone(), root: (lc.backend == Backend::Mmap).then(|| root.display().to_string()) };
    let mut run = Run {
        producer_side: producer,
        consumer_side: consumer,
        caps: Caps::of(producer, consumer),
        schema: Arc::clone(schema),
        ring,
        procs: Vec::new(),
        ended: Vec::new(),
        model: Model { published: -1, producer: ProducerState::Running, consumers: [ConsumerState::Absent; CONSUMERS], phantom: None },
        producer: None,
        consumers: [None; CONSUMERS],
        coverage: BTreeMap::new(),
        tolerated: Vec::new(),
        before: String::new(),
    };
    let mut applied = vec![false; lc.ops.len()];
    let fail = |run: &Run, step: Option<usize>, action: String, model: String, m: Miss| Mismatch {
        step,
        rule: m.rule.to_owned(),
        action,
        expected: m.expected,
        observed: m.observed,
        model,
        transcripts: run.transcripts(),
    };
    let mut result = match run.start_producer() {
        Ok((h, reply)) => {
            run.producer = Some(h);
            expect_ok(&reply, "producer.create", "create_producer").map(drop)
        }
        Err(m) => Err(m),
    }
    .map_err(|m| fail(&run, None, "create the ring (before the first step)".into(), run.model.to_string(), m));
    if result.is_ok() {
        for (i, op) in lc.ops.iter().enumerate() {
            let before = run.model.to_string();
            match run.step(op) {
                Ok(a) => applied[i] = a,
                Err(m) => {
                    applied[i] = true;
                    result = Err(fail(&run, Some(i), op.to_string(), before, m));
                    break;
                }
            }
        }
    }
    if result.is_ok() {
        run.before = run.model.to_string();
        if let Err((what, m)) = run.finish() {
            result = Err(fail(&run, None, format!("clean end: {what}"), run.before.clone(), m));
        }
    }
    if result.is_ok() {
        let left = ring_leftovers(&name, Some(&root));
        if !left.is_empty() {
            let m = miss("cleanup.no-leak", "nothing left in /dev/shm or the ring's directory", format!("{left:?}"));
            result = Err(fail(&run, None, "clean end: every participant shut down".into(), run.model.to_string(), m));
        }
    }
    for h in 0..run.procs.len() {
        run.kill(h);
    }
    Outcome { result, applied, coverage: run.coverage, tolerated: run.tolerated }
}

// ---------------------------------------------------------------------------------------------
// Shrinking

/// Shrinks `lc`, whose run broke `rule`, to a shorter lifecycle that still breaks it;
/// deterministic for deterministic testees. Returns the smallest found, its mismatch, and how
/// many lifecycles it ran.
pub fn shrink(producer: &Side, consumer: &Side, schema: &Arc<Schema>, lc: &Lifecycle, first: &Outcome, budget: u32) -> (Lifecycle, Mismatch, u32) {
    let deadline = Instant::now() + SHRINK_TIME;
    // Out of runs or out of time: what is left of the budget.
    let budget = move |runs: u32| runs < budget && Instant::now() < deadline;
    let Err(m) = &first.result else { panic!("shrink needs a failing lifecycle") };
    let rule = m.rule.clone();
    let mut best = lc.clone();
    let mut best_m = m.clone();
    let mut runs = 0u32;
    // Keep only the ops that were carried out, up to the failing one: the others changed
    // nothing, so the applied sequence is the same.
    let cut = |lc: &Lifecycle, o: &Outcome, m: &Mismatch| -> Lifecycle {
        let end = m.step.map_or(lc.ops.len(), |s| s + 1);
        Lifecycle { backend: lc.backend, ops: lc.ops[..end].iter().zip(&o.applied).filter(|(_, a)| **a).map(|(op, _)| *op).collect() }
    };
    best = cut(&best, first, &best_m);
    let try_it = |cand: Lifecycle, runs: &mut u32| -> Option<(Lifecycle, Mismatch)> {
        *runs += 1;
        let o = run_lifecycle(producer, consumer, schema, &cand);
        match &o.result {
            Err(m) if m.rule == rule => Some((cut(&cand, &o, m), m.clone())),
            _ => None,
        }
    };
    // Drop runs of ops, halving the run length down to single ops.
    let mut chunk = best.ops.len().div_ceil(2).max(1);
    loop {
        let mut i = 0;
        while i < best.ops.len() && budget(runs) {
            let mut ops = best.ops.clone();
            ops.drain(i..(i + chunk).min(ops.len()));
            match try_it(Lifecycle { backend: best.backend, ops }, &mut runs) {
                Some((l, m)) => {
                    best = l;
                    best_m = m;
                }
                None => i += chunk,
            }
        }
        if chunk == 1 || !budget(runs) {
            break;
        }
        chunk = chunk.div_ceil(2);
    }
    // Make what is left simpler: smaller counts, single-event batches, copy reads.
    let mut i = 0;
    while i < best.ops.len() && budget(runs) {
        let simpler: Vec<Op> = match best.ops[i] {
            Op::Publish { n } if n > 1 => vec![Op::Publish { n: 1 }, Op::Publish { n: n / 2 }, Op::Publish { n: n - 1 }],
            Op::PublishWaiting { n, batch } => {
                let mut v = Vec::new();
                if batch > 1 {
                    v.push(Op::PublishWaiting { n, batch: 1 });
                }
                if n > 1 {
                    v.extend([Op::PublishWaiting { n: 1, batch: 1 }, Op::PublishWaiting { n: n / 2, batch: batch.min(n / 2) }, Op::PublishWaiting { n: n - 1, batch: batch.min(n - 1) }]);
                }
                v
            }
            Op::Consume { c, n, mode } => {
                let mut v = Vec::new();
                if mode != Mode::Copy {
                    v.push(Op::Consume { c, n, mode: Mode::Copy });
                }
                if n > 1 {
                    v.extend([Op::Consume { c, n: 1, mode }, Op::Consume { c, n: n / 2, mode }, Op::Consume { c, n: n - 1, mode }]);
                }
                v
            }
            _ => Vec::new(),
        };
        let mut changed = false;
        for op in simpler {
            if !budget(runs) {
                break;
            }
            let mut ops = best.ops.clone();
            ops[i] = op;
            if let Some((l, m)) = try_it(Lifecycle { backend: best.backend, ops }, &mut runs) {
                if l.ops.len() <= best.ops.len() {
                    best = l;
                    best_m = m;
                    changed = true;
                    break;
                }
            }
        }
        if !changed {
            i += 1;
        }
    }
    (best, best_m, runs)
}

// ---------------------------------------------------------------------------------------------
// Exploring

/// A failure found and shrunk.
#[derive(Debug, Clone)]
pub struct Found {
    /// Which lifecycle of the seed broke first, and how long it was.
    pub index: u32,
    pub original_len: usize,
    pub lifecycle: Lifecycle,
    pub mismatch: Mismatch,
    pub shrink_runs: u32,
    /// `rule[producer>consumer,backend]`.
    pub key: String,
}

/// What an exploration did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub ran: u32,
    pub passed: u32,
    /// Lifecycles that ended in a listed mismatch (one that the model cannot follow).
    pub ended_expected: u32,
    /// Expected-list entries (pattern) that matched a mismatch, and how often. A listed
    /// `publish.room` or `join.start-seq` mismatch is tolerated: the model follows what the
    /// implementation did (how many it published; where it starts, if nothing it would read is
    /// overwritten) and the lifecycle goes on. Any other listed mismatch ends its lifecycle.
    pub expected_hits: BTreeMap<String, u32>,
    /// Expected-list entries that matched nothing in this run.
    pub expected_unseen: Vec<Expected>,
    pub coverage: BTreeMap<&'static str, u64>,
    pub found: Option<Found>,
    pub elapsed: Duration,
}

/// The expected-list entry (of either side) matching `key`.
pub fn listed<'s>(producer: &'s Side, consumer: &'s Side, key: &str) -> Option<&'s Expected> {
    producer.expected.iter().chain(&consumer.expected).find(|e| glob_match(&e.pattern, key))
}

/// Runs `cfg.lifecycles` lifecycles; stops at the first mismatch not in the expected lists and
/// shrinks it. `progress(done, total)` is called after each lifecycle.
pub fn explore(producer: &Side, consumer: &Side, schema: &Arc<Schema>, cfg: &Config, mut progress: impl FnMut(u32, u32)) -> Summary {
    let started = Instant::now();
    let caps = Caps::of(producer, consumer);
    let mut s = Summary::default();
    for i in 0..cfg.lifecycles {
        let lc = generate(cfg.seed, i, caps, &cfg.backends);
        let o = run_lifecycle(producer, consumer, schema, &lc);
        s.ran += 1;
        for (k, v) in &o.coverage {
            *s.coverage.entry(k).or_default() += v;
        }
        for p in &o.tolerated {
            *s.expected_hits.entry(p.clone()).or_default() += 1;
        }
        progress(i + 1, cfg.lifecycles);
        match &o.result {
            Ok(()) => s.passed += 1,
            Err(m) => {
                let key = m.key(&producer.imp.name, &consumer.imp.name, lc.backend);
                if let Some(e) = listed(producer, consumer, &key) {
                    *s.expected_hits.entry(e.pattern.clone()).or_default() += 1;
                    s.ended_expected += 1;
                    continue;
                }
                let (small, m, shrink_runs) = shrink(producer, consumer, schema, &lc, &o, cfg.shrink_runs);
                let key = m.key(&producer.imp.name, &consumer.imp.name, lc.backend);
                s.found = Some(Found { index: i, original_len: lc.ops.len(), lifecycle: small, mismatch: m, shrink_runs, key });
                break;
            }
        }
    }
    for e in producer.expected.iter().chain(&consumer.expected) {
        if !s.expected_hits.contains_key(&e.pattern) && !s.expected_unseen.contains(e) {
            s.expected_unseen.push(e.clone());
        }
    }
    s.elapsed = started.elapsed();
    s
}

// ---------------------------------------------------------------------------------------------
// Replay files and reports

/// A saved failing lifecycle (`--replay FILE` runs `lifecycle` again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replay {
    pub format: String,
    pub producer: String,
    pub consumer: String,
    pub seed: u64,
    /// Which lifecycle of the seed it was shrunk from.
    pub index: u32,
    pub backend: Backend,
    pub ops: Vec<Op>,
    /// The mismatch the lifecycle produced when it was saved (transcripts left out).
    pub failure: Mismatch,
}

impl Replay {
    pub fn of(found: &Found, producer: &str, consumer: &str, seed: u64) -> Replay {
        Replay {
            format: FORMAT.into(),
            producer: producer.into(),
            consumer: consumer.into(),
            seed,
            index: found.index,
            backend: found.lifecycle.backend,
            ops: found.lifecycle.ops.clone(),
            failure: Mismatch { transcripts: String::new(), ..found.mismatch.clone() },
        }
    }

    pub fn lifecycle(&self) -> Lifecycle {
        Lifecycle { backend: self.backend, ops: self.ops.clone() }
    }

    pub fn load(path: &Path) -> Result<Replay, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let r: Replay = serde_json::from_str(&text).map_err(|e| format!("{}: not a replay file: {e}", path.display()))?;
        if r.format != FORMAT {
            return Err(format!("{}: format {:?}, this harness reads {FORMAT:?}", path.display(), r.format));
        }
        Ok(r)
    }

    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).expect("replay serialises");
        std::fs::write(path, text + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

/// The rule's description.
pub fn rule_text(rule: &str) -> &'static str {
    RULES.iter().find(|(r, _)| *r == rule).map_or("", |(_, t)| t)
}

/// A failing lifecycle as a report: the minimal sequence with the failing step marked, the
/// rule, expected vs observed, the model's state, and the transcripts.
pub fn render(lc: &Lifecycle, m: &Mismatch) -> String {
    let mut s = format!("rule {}: {}\n", m.rule, rule_text(&m.rule));
    s.push_str(&format!("lifecycle ({} backend, capacity {CAPACITY}, event size {SIZE}; a producer creates the ring first):\n", lc.backend.as_str()));
    for (i, op) in lc.ops.iter().enumerate() {
        let mark = if m.step == Some(i) { ">" } else { " " };
        s.push_str(&format!("  {mark}{i:3}: {op}\n"));
    }
    if m.step.is_none() {
        s.push_str(&format!("  >end: {}\n", m.action));
    }
    let at = m.step.map_or("at the clean end".to_owned(), |i| format!("at step {i}"));
    s.push_str(&format!("{at} ({}), model before it: {}\n", m.action, m.model));
    s.push_str(&format!("  expected: {}\n  observed: {}\n", m.expected, m.observed));
    s.push_str(&collapse(&m.transcripts));
    s
}

/// `text` with runs of identical lines (a stalled publish's `progress` messages) shown once,
/// with a count.
pub fn collapse(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let mut n = 0;
        while lines.peek() == Some(&line) {
            lines.next();
            n += 1;
        }
        out.push_str(line);
        out.push('\n');
        if n > 0 {
            out.push_str(&format!("  ... the line above {n} more time(s)\n"));
        }
    }
    out
}

/// Human-readable lines of a summary's step coverage.
pub fn coverage_lines(s: &Summary) -> String {
    s.coverage.iter().map(|(label, n)| format!("  {n:6}  {label}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Caps = Caps { try_publish: true, batch_publish: true, close: true, lease: true, batch_read: true, registry: true };

    #[test]
    fn generation_is_deterministic_and_honours_capabilities() {
        let both = [Backend::Shm, Backend::Mmap];
        assert_eq!(generate(7, 3, ALL, &both), generate(7, 3, ALL, &both));
        assert_ne!(generate(7, 3, ALL, &both), generate(7, 4, ALL, &both));
        let bare = Caps { try_publish: false, batch_publish: false, close: false, lease: false, batch_read: false, registry: false };
        for i in 0..200 {
            for op in generate(1, i, bare, &both).ops {
                match op {
                    Op::Publish { .. } | Op::Close | Op::Consume { mode: Mode::Lease | Mode::Batch, .. } | Op::PublishWaiting { batch: 2.., .. } => panic!("{op:?} needs a capability"),
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn replay_files_round_trip() {
        let lc = generate(1, 0, ALL, &[Backend::Mmap]);
        let m = Mismatch { step: Some(1), rule: "join.start-seq".into(), action: "x".into(), expected: "a".into(), observed: "b".into(), model: "m".into(), transcripts: "t".into() };
        let f = Found { index: 0, original_len: lc.ops.len(), lifecycle: lc.clone(), mismatch: m, shrink_runs: 0, key: String::new() };
        let r = Replay::of(&f, "ringproof", "ringproof", 1);
        let back: Replay = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.lifecycle(), lc);
        assert!(back.failure.transcripts.is_empty());
    }

    #[test]
    fn collapse_counts_repeats() {
        assert_eq!(collapse("a\nb\nb\nb\nc\n"), "a\nb\n  ... the line above 2 more time(s)\nc\n");
    }
}
