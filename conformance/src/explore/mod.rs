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
//!
//! Submodules: `generate` (lifecycles from a seed), `model` (the reference model), `run` (one
//! lifecycle on real processes), `step` (one op of it, checked against the model), `miss` (a
//! broken rule and the reply checks), `shrink`, `report` (replay files and failure reports).

mod generate;
mod miss;
mod model;
mod report;
mod run;
mod shrink;
mod step;

pub use generate::{generate, Rng};
pub use report::{collapse, coverage_lines, render, rule_text, Replay};
pub use run::{run_lifecycle, Outcome};
pub use shrink::shrink;

use crate::ctx::consumer_id;
use crate::driver::Implementation;
use crate::expected::{self, glob_match, Expected};
use crate::protocol::{Backend, Mode};
use crate::schema::Schema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Ring slots: small, so publishes run into gating often.
pub const CAPACITY: u64 = 8;
/// Event size (TP1 payload).
pub const SIZE: u64 = 64;
/// Consumer ids `c_0..c_{CONSUMERS}`.
pub const CONSUMERS: usize = 3;
/// Largest publish or consume request.
pub(crate) const MAX_COUNT: u64 = 12;
/// Longest generated lifecycle.
pub(crate) const MAX_LEN: usize = 48;
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
pub(crate) const STEP_MS: u64 = 5_000;
/// How long a waiting publish that the model gives room for may take.
pub(crate) const PUBLISH_STALL_MS: u64 = 2_000;
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
            Op::Consume { c, n, mode } => {
                write!(f, "{} consumes {n} ({})", consumer_id(c), mode_name(mode))
            }
            Op::Join { c } => write!(f, "{} attaches", consumer_id(c)),
            Op::Leave { c } => write!(f, "{} leaves", consumer_id(c)),
            Op::Crash { c } => write!(f, "{} is killed", consumer_id(c)),
            Op::ProducerCrash => write!(f, "the producer is killed"),
            Op::ProducerStart => write!(f, "a producer starts"),
            Op::Close => write!(f, "the producer closes"),
        }
    }
}

pub(crate) fn mode_name(m: Mode) -> &'static str {
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

impl fmt::Display for Caps {
    /// The capabilities steps are generated for, by their hello names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all = [
            (self.try_publish, "try-publish"),
            (self.batch_publish, "batch (publish)"),
            (self.batch_read, "batch (read)"),
            (self.lease, "lease"),
            (self.close, "close"),
            (self.registry, "registry"),
        ];
        let on: Vec<&str> = all.iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect();
        if on.is_empty() {
            write!(f, "the core only")
        } else {
            write!(f, "the core, {}", on.join(", "))
        }
    }
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
        Config {
            lifecycles: DEFAULT_LIFECYCLES,
            seed: DEFAULT_SEED,
            backends: vec![Backend::Shm, Backend::Mmap],
            shrink_runs: SHRINK_RUNS,
        }
    }
}

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
    producer
        .expected
        .iter()
        .chain(&consumer.expected)
        .find(|e| glob_match(&e.pattern, key))
}

/// Runs `cfg.lifecycles` lifecycles; stops at the first mismatch not in the expected lists and
/// shrinks it. `progress(done, total)` is called after each lifecycle.
pub fn explore(
    producer: &Side,
    consumer: &Side,
    schema: &Arc<Schema>,
    cfg: &Config,
    mut progress: impl FnMut(u32, u32),
) -> Summary {
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
                let (small, m, shrink_runs) =
                    shrink(producer, consumer, schema, &lc, &o, cfg.shrink_runs);
                let key = m.key(&producer.imp.name, &consumer.imp.name, lc.backend);
                s.found = Some(Found {
                    index: i,
                    original_len: lc.ops.len(),
                    lifecycle: small,
                    mismatch: m,
                    shrink_runs,
                    key,
                });
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

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Caps = Caps {
        try_publish: true,
        batch_publish: true,
        close: true,
        lease: true,
        batch_read: true,
        registry: true,
    };

    #[test]
    fn generation_is_deterministic_and_honours_capabilities() {
        let both = [Backend::Shm, Backend::Mmap];
        assert_eq!(generate(7, 3, ALL, &both), generate(7, 3, ALL, &both));
        assert_ne!(generate(7, 3, ALL, &both), generate(7, 4, ALL, &both));
        let bare = Caps {
            try_publish: false,
            batch_publish: false,
            close: false,
            lease: false,
            batch_read: false,
            registry: false,
        };
        for i in 0..200 {
            for op in generate(1, i, bare, &both).ops {
                match op {
                    Op::Publish { .. }
                    | Op::Close
                    | Op::Consume {
                        mode: Mode::Lease | Mode::Batch,
                        ..
                    }
                    | Op::PublishWaiting { batch: 2.., .. } => panic!("{op:?} needs a capability"),
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn replay_files_round_trip() {
        let lc = generate(1, 0, ALL, &[Backend::Mmap]);
        let m = Mismatch {
            step: Some(1),
            rule: "join.start-seq".into(),
            action: "x".into(),
            expected: "a".into(),
            observed: "b".into(),
            model: "m".into(),
            transcripts: "t".into(),
        };
        let f = Found {
            index: 0,
            original_len: lc.ops.len(),
            lifecycle: lc.clone(),
            mismatch: m,
            shrink_runs: 0,
            key: String::new(),
        };
        let r = Replay::of(&f, "ringproof", "ringproof", 1);
        let back: Replay = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.lifecycle(), lc);
        assert!(back.failure.transcripts.is_empty());
    }

    #[test]
    fn collapse_counts_repeats() {
        assert_eq!(
            collapse("a\nb\nb\nb\nc\n"),
            "a\nb\n  ... the line above 2 more time(s)\nc\n"
        );
    }
}
