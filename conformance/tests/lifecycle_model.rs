//! A proptest state machine of producer and consumer lifecycles, run against real processes.
//!
//! proptest generates a sequence of operations (publish, with or without waiting for room,
//! consume, a consumer joining late, leaving, crashing with SIGKILL and restarting under its id:
//! a takeover, or, once a waiting producer retired it, a re-join refused as *lapped*; the
//! producer crashing and restarting over the same ring (SPEC.md §7.9), a second producer or a
//! duplicate consumer id being refused, the clean close), each carried out by reference testee
//! processes (this test binary serves `--ringproof-testee`, as in `catalogue.rs`), and checks
//! every reply against a small reference model: which sequences each consumer receives and from
//! where it starts, every event's TP1 payload (no loss, duplicate, reordering or torn slot), how
//! much a non-blocking publish gets in with the consumers that gate it, and which errors are due.
//! Every case ends with a clean shutdown of every participant and asserts that the ring left
//! nothing in `/dev/shm` or in its mmap directory: not even the cursors of crashed, retired or
//! refused consumers, which the closing producer reaps (§7.6).
//!
//! Deterministic by construction: commands run one at a time and only between them does
//! anything change; a non-waiting publish never looks at liveness (so a crashed consumer keeps
//! gating until a restart takes its slot over, §7.3), a waiting one is generated only where the
//! live consumers leave it room, so it waits only on dead consumers, and retires all of them
//! (§7.10); consumes never wait on a producer that may be gone. The runner has a fixed seed and
//! case count; a failure is shrunk to a minimal operation sequence and printed with the
//! testees' transcripts. Each run prints how often every kind of step was carried out.
//!
//! Run: `cargo test -p ringproof-conformance --test lifecycle_model` (`PROPTEST_CASES` is
//! ignored: the count is fixed for CI; `LIFECYCLE_CASES=n` runs more).

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use ringproof_conformance::ctx::{check_delivery, consumer_id, Ctx};
use ringproof_conformance::driver::{Implementation, Reply, Testee};
use ringproof_conformance::protocol::{Backend, Command, ErrorKind, Mode};
use ringproof_conformance::schema::Schema;
use std::sync::atomic::{AtomicU64, Ordering};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Ring slots: small, so publishes run into gating often.
const CAPACITY: u64 = 8;
/// Event size (TP1 payload).
const SIZE: u64 = 64;
/// Consumer ids `c_0..c_{CONSUMERS}`.
const CONSUMERS: usize = 3;
/// Largest publish or consume request.
const MAX_COUNT: u64 = 12;
/// Cases run in CI.
const CASES: u32 = 256;
/// The runner's fixed seed.
const SEED: [u8; 32] = *b"ringproof lifecycle model seed 1";
/// A consume only waits when the ring is closed (it then returns at once); this bounds a broken
/// testee, it is never reached by a correct one.
const CONSUME_IDLE_MS: u64 = 5_000;

/// One step of a lifecycle.
#[derive(Debug, Clone)]
enum Op {
    /// `try_publish` of `n` events.
    Publish(u64),
    /// `publish` of `n` events, `batch` per cursor store, waiting for room. Carried out only
    /// where live consumers leave room for them; a crashed consumer that holds the producer up
    /// is retired instead (§7.10).
    PublishWaiting { n: u64, batch: u64 },
    /// Consumer `c` reads up to `n` of the events published for it.
    Consume { c: usize, n: u64, mode: Mode },
    /// Consumer `c` attaches: a late join, a re-join after a leave, a restart after a crash
    /// (takeover), or, while it runs, a second process with its id (refused).
    Join(usize),
    /// Consumer `c` leaves cleanly.
    Leave(usize),
    /// Consumer `c` is SIGKILLed.
    Crash(usize),
    /// The producer is SIGKILLed.
    ProducerCrash,
    /// A producer process opens the ring: a restart after a crash, or a second producer (refused).
    ProducerStart,
    /// The producer shuts down cleanly.
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    let c = 0..CONSUMERS;
    let mode = prop_oneof![Just(Mode::Copy), Just(Mode::Lease), Just(Mode::Batch)];
    prop_oneof![
        6 => (1..=MAX_COUNT).prop_map(Op::Publish),
        5 => (1..=MAX_COUNT, 1..=CAPACITY).prop_map(|(n, batch)| Op::PublishWaiting { n, batch }),
        10 => (c.clone(), 1..=MAX_COUNT, mode).prop_map(|(c, n, mode)| Op::Consume { c, n, mode }),
        6 => c.clone().prop_map(Op::Join),
        2 => c.clone().prop_map(Op::Leave),
        4 => c.prop_map(Op::Crash),
        2 => Just(Op::ProducerCrash),
        3 => Just(Op::ProducerStart),
        1 => Just(Op::Close),
    ]
}

fn lifecycle() -> impl Strategy<Value = (Backend, Vec<Op>)> {
    (prop_oneof![Just(Backend::Shm), Just(Backend::Mmap)], proptest::collection::vec(op(), 1..48))
}

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
            .min();
        slowest.map_or(u64::MAX, |s| CAPACITY - (self.published - s) as u64)
    }
}

/// Index of a testee process in [`Run::procs`].
type H = usize;

/// A lifecycle being carried out: processes and the model side by side.
struct Run {
    /// The ring's address and where its names live (its `testees` stay unused).
    ctx: Ctx,
    imp: Implementation,
    schema: Arc<Schema>,
    /// Every testee started, `None` once it exited or was killed.
    procs: Vec<Option<Testee>>,
    model: Model,
    producer: Option<H>,
    consumers: [Option<H>; CONSUMERS],
}

fn failed(what: impl Into<String>) -> TestCaseError {
    TestCaseError::fail(what.into())
}

fn harness(e: impl std::fmt::Debug) -> TestCaseError {
    failed(format!("{e:?}"))
}

fn expect_error(reply: &Reply, kind: ErrorKind, what: &str) -> Result<(), TestCaseError> {
    match &reply.result {
        Err((got, _)) if *got == kind => Ok(()),
        other => Err(failed(format!("{what}: expected a {kind:?} error, got {other:?}"))),
    }
}

fn expect_ok<'r>(reply: &'r Reply, what: &str) -> Result<&'r ringproof_conformance::protocol::OkFields, TestCaseError> {
    reply.ok().map_err(|e| failed(format!("{what} failed: {e}")))
}

impl Run {
    /// A fresh ring with its producer running and no consumer.
    fn start(ctx: Ctx, imp: &Implementation, schema: &Arc<Schema>) -> Result<Run, TestCaseError> {
        let mut run = Run {
            ctx,
            imp: imp.clone(),
            schema: Arc::clone(schema),
            procs: Vec::new(),
            model: Model { published: -1, producer: ProducerState::Running, consumers: [ConsumerState::Absent; CONSUMERS] },
            producer: None,
            consumers: [None; CONSUMERS],
        };
        let (h, reply) = run.start_producer()?;
        expect_ok(&reply, "create_producer")?;
        run.producer = Some(h);
        Ok(run)
    }

    fn spawn(&mut self, label: &str) -> Result<H, TestCaseError> {
        let t = Testee::spawn(&self.imp, label, Arc::clone(&self.schema), Duration::from_secs(10)).map_err(harness)?;
        self.procs.push(Some(t));
        Ok(self.procs.len() - 1)
    }

    fn request(&mut self, h: H, make: impl FnOnce(u64) -> Command) -> Result<Reply, TestCaseError> {
        let deadline = self.ctx.deadline;
        let t = self.procs[h].as_mut().expect("a running testee");
        t.request(make, deadline).map_err(harness)
    }

    fn start_producer(&mut self) -> Result<(H, Reply), TestCaseError> {
        let h = self.spawn("producer")?;
        let ring = self.ctx.ring.clone();
        let reply = self.request(h, |id| Command::CreateProducer {
            id,
            ring,
            capacity: CAPACITY,
            event_size: SIZE,
            wait_consumers: None,
            discover: None,
            wait: None,
            required: None,
        })?;
        Ok((h, reply))
    }

    fn attach(&mut self, c: usize) -> Result<(H, Reply), TestCaseError> {
        let h = self.spawn(&format!("consumer {}", consumer_id(c)))?;
        let ring = self.ctx.ring.clone();
        let consumer_id = consumer_id(c);
        let reply = self.request(h, |id| Command::AttachConsumer { id, ring, consumer_id, event_size: SIZE, timeout_ms: 5_000, wait: None, resync: None })?;
        Ok((h, reply))
    }

    /// Gives up testee `h`'s role (`leave`: a consumer leaves, a producer closes the ring).
    fn leave(&mut self, h: H) -> Result<(), TestCaseError> {
        let reply = self.request(h, |id| Command::Leave { id })?;
        expect_ok(&reply, "leave").map(drop)
    }

    /// Ends a testee that holds no role any more: `exit`, and it must end with status 0.
    fn exit(&mut self, h: H) -> Result<(), TestCaseError> {
        let t = self.procs[h].take().expect("a running testee");
        let label = t.label.clone();
        let code = t.exit(Instant::now() + Duration::from_secs(5)).map_err(harness)?;
        if code != 0 {
            return Err(failed(format!("{label} exited with status {code}")));
        }
        Ok(())
    }

    /// SIGKILLs testee `h`.
    fn kill(&mut self, h: H) {
        if let Some(mut t) = self.procs[h].take() {
            t.kill();
        }
    }

    /// Carries out `op` if it applies in the model's state (else nothing), and counts it.
    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let label = self.label(op);
        if let Some(label) = label {
            *COVERAGE.lock().expect("coverage").entry(label).or_default() += 1;
        }
        if label.is_none() {
            return Ok(());
        }
        match *op {
            Op::Publish(n) => {
                let Some(p) = self.producer.filter(|_| self.model.producer == ProducerState::Running) else { return Ok(()) };
                let room = self.model.room();
                let reply = self.request(p, |id| Command::TryPublish { id, count: n })?;
                let f = expect_ok(&reply, "try_publish")?;
                let expected = n.min(room);
                if f.published != Some(expected) || f.full != Some(n > room) {
                    return Err(failed(format!(
                        "try_publish {n} with room for {room}: published {:?} (expected {expected}), full {:?}",
                        f.published, f.full
                    )));
                }
                self.model.published += expected as i64;
            }
            Op::PublishWaiting { n, batch } => {
                let p = self.producer.expect("running producer has a testee");
                let reply = self.request(p, |id| Command::Publish { id, count: n, batch: Some(batch) })?;
                let f = expect_ok(&reply, "publish")?;
                let (first, last) = (self.model.published + 1, self.model.published + n as i64);
                if (f.first_seq, f.last_seq) != (Some(first), Some(last)) {
                    return Err(failed(format!("publish {n}: published {:?}..={:?}, expected {first}..={last}", f.first_seq, f.last_seq)));
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
                let ConsumerState::Live { next } = self.model.consumers[c] else { return Ok(()) };
                let h = self.consumers[c].expect("live consumer has a testee");
                let available = (self.model.published - next + 1) as u64;
                let closed = self.model.producer == ProducerState::Closed;
                // Never wait on a producer that may be gone: ask only for what is published,
                // except on a closed ring, where asking for more must end in `closed`.
                let count = if closed { n } else { n.min(available) };
                if count == 0 {
                    return Ok(());
                }
                let reply = self.request(h, |id| Command::Consume { id, count, mode, timeout_ms: CONSUME_IDLE_MS })?;
                let f = expect_ok(&reply, "consume")?;
                let got = count.min(available);
                let who = format!("{} ({mode:?})", consumer_id(c));
                check_delivery(&reply, SIZE as usize, next, next + got as i64 - 1, &who).map_err(harness)?;
                let closed_at = (closed && count > available).then_some(self.model.published);
                if f.consumed != Some(got) || f.closed_at != closed_at {
                    return Err(failed(format!("{who}: consumed {:?} closed_at {:?}, expected {got} and {closed_at:?}", f.consumed, f.closed_at)));
                }
                self.model.consumers[c] = ConsumerState::Live { next: next + got as i64 };
            }
            Op::Join(c) => {
                if self.model.producer == ProducerState::Closed {
                    return Ok(());
                }
                let (h, reply) = self.attach(c)?;
                match self.model.consumers[c] {
                    ConsumerState::Live { .. } => {
                        expect_error(&reply, ErrorKind::IdInUse, &format!("a second {} while the first runs", consumer_id(c)))?;
                        self.exit(h)?;
                    }
                    ConsumerState::Retired { next } if next <= self.model.published => {
                        // A re-join (§7.3 step 5): events after its cursor may be overwritten,
                        // so it fails with *lapped*, puts its slot back to DEAD and keeps its
                        // cursor.
                        expect_error(&reply, ErrorKind::Lapped, &format!("{} re-joining after it was retired", consumer_id(c)))?;
                        self.exit(h)?;
                    }
                    state => {
                        // A takeover resumes after the committed cursor; a fresh join starts
                        // after the last published sequence.
                        let start = match state {
                            ConsumerState::Crashed { next } | ConsumerState::Retired { next } => next,
                            ConsumerState::Absent | ConsumerState::Live { .. } => self.model.published + 1,
                        };
                        let f = expect_ok(&reply, &format!("attach {}", consumer_id(c)))?;
                        if f.start_seq != Some(start) {
                            return Err(failed(format!("{} ({state:?}) starts at {:?}, expected {start}", consumer_id(c), f.start_seq)));
                        }
                        self.consumers[c] = Some(h);
                        self.model.consumers[c] = ConsumerState::Live { next: start };
                    }
                }
            }
            Op::Leave(c) => {
                let ConsumerState::Live { .. } = self.model.consumers[c] else { return Ok(()) };
                let h = self.consumers[c].take().expect("live consumer has a testee");
                self.leave(h)?;
                self.exit(h)?;
                self.model.consumers[c] = ConsumerState::Absent;
            }
            Op::Crash(c) => {
                // After a close no producer is left to reap a dead consumer's cursor (§7.6).
                let ConsumerState::Live { next } = self.model.consumers[c] else { return Ok(()) };
                if self.model.producer == ProducerState::Closed {
                    return Ok(());
                }
                let h = self.consumers[c].take().expect("live consumer has a testee");
                self.kill(h);
                self.model.consumers[c] = ConsumerState::Crashed { next };
            }
            Op::ProducerCrash => {
                if self.model.producer != ProducerState::Running {
                    return Ok(());
                }
                let h = self.producer.take().expect("running producer has a testee");
                self.kill(h);
                self.model.producer = ProducerState::Crashed;
            }
            Op::ProducerStart => match self.model.producer {
                ProducerState::Closed => {}
                ProducerState::Running => {
                    let (h, reply) = self.start_producer()?;
                    expect_error(&reply, ErrorKind::AlreadyExists, "a second producer while the first runs")?;
                    self.exit(h)?;
                }
                ProducerState::Crashed => self.restart_producer()?,
            },
            Op::Close => {
                if self.model.producer != ProducerState::Running {
                    return Ok(());
                }
                let h = self.producer.take().expect("running producer has a testee");
                self.leave(h)?;
                self.exit(h)?;
                self.model.producer = ProducerState::Closed;
            }
        }
        Ok(())
    }

    /// What `op` amounts to in the model's state, or `None` where it does not apply.
    fn label(&self, op: &Op) -> Option<&'static str> {
        let m = &self.model;
        let open = m.producer != ProducerState::Closed;
        Some(match *op {
            Op::Publish(n) if m.producer == ProducerState::Running => match m.room() {
                0 => "publish into a full ring",
                r if n > r => "publish, partly full",
                _ => "publish",
            },
            // Only where the live consumers leave room: a waiting publish never waits on a
            // consumer that is not there to read.
            Op::PublishWaiting { n, .. } if m.producer == ProducerState::Running && n <= m.live_room() => {
                if n > m.room() {
                    "publish waiting on a dead consumer (retires it)"
                } else {
                    "publish, waiting"
                }
            }
            Op::Consume { c, .. } => match m.consumers[c] {
                ConsumerState::Live { .. } if !open => "consume after the close",
                ConsumerState::Live { next } if next <= m.published => match m.producer {
                    ProducerState::Crashed => "consume while the producer is dead",
                    _ => "consume",
                },
                _ => return None,
            },
            Op::Join(c) if open => match m.consumers[c] {
                ConsumerState::Live { .. } => "join with an id in use (refused)",
                ConsumerState::Crashed { .. } => "restart a crashed consumer (takeover)",
                ConsumerState::Retired { next } if next <= m.published => "restart a retired consumer (lapped)",
                ConsumerState::Retired { .. } => "restart a retired consumer (nothing missed)",
                ConsumerState::Absent if m.published >= 0 => "late join",
                ConsumerState::Absent => "join",
            },
            Op::Leave(c) if matches!(m.consumers[c], ConsumerState::Live { .. }) => "consumer leaves",
            Op::Crash(c) if open && matches!(m.consumers[c], ConsumerState::Live { .. }) => "consumer crashes",
            Op::ProducerCrash if m.producer == ProducerState::Running => "producer crashes",
            Op::ProducerStart => match m.producer {
                ProducerState::Running => "second producer (refused)",
                ProducerState::Crashed => "producer restarts",
                ProducerState::Closed => return None,
            },
            Op::Close if m.producer == ProducerState::Running => "close",
            _ => return None,
        })
    }

    /// Restarts the crashed producer and checks it resumes after the last published sequence.
    fn restart_producer(&mut self) -> Result<(), TestCaseError> {
        let (h, reply) = self.start_producer()?;
        expect_ok(&reply, "create_producer over the ring of a dead producer (restart)")?;
        let reply = self.request(h, |id| Command::Cursors { id })?;
        let producer = expect_ok(&reply, "cursors")?.producer;
        if producer != Some(self.model.published) {
            return Err(failed(format!("restarted producer resumes after {producer:?}, expected {}", self.model.published)));
        }
        self.producer = Some(h);
        self.model.producer = ProducerState::Running;
        Ok(())
    }

    /// The clean end: producer closed (restarted first if it crashed), every live consumer
    /// drains to the final sequence and sees the close, then leaves.
    fn finish(&mut self) -> Result<(), TestCaseError> {
        if self.model.producer == ProducerState::Crashed {
            self.restart_producer()?;
        }
        self.step(&Op::Close)?;
        for c in 0..CONSUMERS {
            if let ConsumerState::Live { next } = self.model.consumers[c] {
                let rest = (self.model.published - next + 1) as u64;
                self.step(&Op::Consume { c, n: rest + 1, mode: Mode::Batch })?;
                self.step(&Op::Leave(c))?;
            }
        }
        Ok(())
    }
}

static CASE: AtomicU64 = AtomicU64::new(0);

/// How often each kind of step was carried out, over all lifecycles (printed at the end, so a
/// generator that stopped reaching a transition shows).
static COVERAGE: std::sync::Mutex<BTreeMap<&'static str, u64>> = std::sync::Mutex::new(BTreeMap::new());

/// Carries out one lifecycle on a fresh ring; always removes its processes and names.
fn check_lifecycle(exe: &Implementation, schema: &Arc<Schema>, backend: Backend, ops: &[Op]) -> Result<(), TestCaseError> {
    let n = CASE.fetch_add(1, Ordering::Relaxed);
    let name = format!("rplm{}x{n}", std::process::id());
    let root = std::env::temp_dir().join(format!("ringproof-lifecycle-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&root).map_err(|e| failed(format!("mkdir {}: {e}", root.display())))?;
    let ctx = Ctx::new(exe.clone(), exe.clone(), backend, name, root.clone(), Duration::from_secs(60), Arc::clone(schema));
    let mut run = match Run::start(ctx, exe, schema) {
        Ok(run) => run,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&root);
            return Err(e);
        }
    };
    let mut result = Ok(());
    for (i, op) in ops.iter().enumerate() {
        if let Err(e) = run.step(op) {
            result = Err(failed(format!("step {i} {op:?} (model before it: {:?}): {e}", run.model)));
            break;
        }
    }
    if result.is_ok() {
        result = run.finish().map_err(|e| failed(format!("clean shutdown after the last step: {e}")));
    }
    if result.is_ok() {
        let mut left = run.ctx.leftovers();
        left.sort();
        if !left.is_empty() {
            result = Err(failed(format!("after every participant shut down cleanly, the ring left {left:?}")));
        }
    }
    if result.is_err() {
        let transcripts: String = run.procs.iter().flatten().map(Testee::transcript).collect();
        result = result.map_err(|e| failed(format!("{e}\n{transcripts}")));
    }
    for h in 0..run.procs.len() {
        run.kill(h);
    }
    run.ctx.remove_leftovers();
    let _ = std::fs::remove_dir_all(&root);
    result
}

fn main() {
    if std::env::args().any(|a| a == "--ringproof-testee") {
        let code = ringproof_conformance::testee_ref::serve(std::io::stdin().lock(), std::io::stdout().lock());
        std::process::exit(code);
    }
    let started = Instant::now();
    let exe = Implementation {
        name: "ringproof".into(),
        program: std::env::current_exe().expect("test executable"),
        args: vec!["--ringproof-testee".into()],
        env: Vec::new(),
    };
    let schema = Arc::new(Schema::load());
    let cases = std::env::var("LIFECYCLE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(CASES);
    let config = Config { cases, max_shrink_iters: 512, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &SEED));
    let outcome = runner.run(&lifecycle(), |(backend, ops)| check_lifecycle(&exe, &schema, backend, &ops));
    match outcome {
        Ok(()) => {
            println!("lifecycle model: {cases} lifecycles passed in {:.1?}; steps carried out:", started.elapsed());
            for (label, n) in COVERAGE.lock().expect("coverage").iter() {
                println!("  {n:5}  {label}");
            }
        }
        Err(TestError::Fail(why, (backend, ops))) => {
            eprintln!("lifecycle model FAILED; minimal lifecycle ({backend:?}):");
            for (i, op) in ops.iter().enumerate() {
                eprintln!("  {i:2}: {op:?}");
            }
            eprintln!("{why}");
            std::process::exit(1);
        }
        Err(TestError::Abort(why)) => {
            eprintln!("lifecycle model aborted: {why}");
            std::process::exit(1);
        }
    }
}
