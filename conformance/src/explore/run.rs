//! The model of the ring, and one lifecycle carried out by real testee processes with every
//! reply checked against it.

use super::{
    listed, mode_name, Caps, Lifecycle, Mismatch, Op, Side, CAPACITY, CONSUMERS, PUBLISH_STALL_MS,
    SIZE, STEP_MS,
};
use crate::ctx::{check_delivery, consumer_id, remove_all, ring_leftovers, CaseError};
use crate::driver::{DriverError, Reply, Testee};
use crate::protocol::{Backend, Command, ErrorKind, Mode, OkFields};
use crate::schema::Schema;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
        write!(
            f,
            "published through {}, producer {:?}",
            self.published, self.producer
        )?;
        if let Some(p) = self.phantom {
            write!(f, ", an unexplained gate at {p}")?;
        }
        for (c, s) in self.consumers.iter().enumerate() {
            match s {
                ConsumerState::Absent => {}
                ConsumerState::Live { next } => {
                    write!(f, ", {} live (next {next})", consumer_id(c))?
                }
                ConsumerState::Crashed { next } => {
                    write!(f, ", {} crashed (committed {})", consumer_id(c), next - 1)?
                }
                ConsumerState::Retired { next } => {
                    write!(f, ", {} retired (committed {})", consumer_id(c), next - 1)?
                }
            }
        }
        Ok(())
    }
}

impl Model {
    /// Events a publish can get in: the slowest gating consumer (live or crashed) holds the
    /// ring at `capacity` past its cursor; with no gate the producer gates only on itself.
    fn room(&self) -> u64 {
        self.room_among(|c| {
            matches!(
                c,
                ConsumerState::Live { .. } | ConsumerState::Crashed { .. }
            )
        })
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
                ConsumerState::Live { next }
                | ConsumerState::Crashed { next }
                | ConsumerState::Retired { next } => Some(next - 1),
                ConsumerState::Absent => None,
            })
            .chain(self.phantom)
            .min();
        // Saturating: after a tolerated deviation a gate may lag by more than the ring.
        slowest.map_or(u64::MAX, |s| {
            CAPACITY.saturating_sub((self.published - s).max(0) as u64)
        })
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
    Miss {
        rule,
        expected: expected.into(),
        observed: observed.into(),
    }
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
        Err((k, m)) => format!(
            "error {} ({m})",
            serde_json::to_string(k).unwrap_or_default()
        ),
    }
}

fn expect_error(reply: &Reply, kind: ErrorKind, rule: &'static str) -> Result<(), Miss> {
    match &reply.result {
        Err((got, _)) if *got == kind => Ok(()),
        other => Err(miss(
            rule,
            format!("error {}", serde_json::to_string(&kind).unwrap_or_default()),
            describe(other),
        )),
    }
}

fn expect_ok<'r>(reply: &'r Reply, rule: &'static str, what: &str) -> Result<&'r OkFields, Miss> {
    reply
        .result
        .as_ref()
        .map_err(|_| miss(rule, format!("ok to {what}"), describe(&reply.result)))
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
        let key = format!(
            "{}[{}>{},{}]",
            m.rule,
            self.producer_side.imp.name,
            self.consumer_side.imp.name,
            self.ring.backend.as_str()
        );
        match listed(self.producer_side, self.consumer_side, &key) {
            Some(e) => {
                self.tolerated.push(e.pattern.clone());
                true
            }
            None => false,
        }
    }

    fn spawn(&mut self, consumer: bool, label: &str) -> Result<H, Miss> {
        let imp = if consumer {
            &self.consumer_side.imp
        } else {
            &self.producer_side.imp
        };
        let t = Testee::spawn(
            imp,
            label,
            Arc::clone(&self.schema),
            Duration::from_secs(10),
        )
        .map_err(|e| testee_err("start (hello)", e))?;
        self.procs.push(Some(t));
        Ok(self.procs.len() - 1)
    }

    fn request(
        &mut self,
        h: H,
        what: &str,
        make: impl FnOnce(u64) -> Command,
    ) -> Result<Reply, Miss> {
        let t = self.procs[h].as_mut().expect("a running testee");
        t.request(make, Instant::now() + Duration::from_millis(STEP_MS))
            .map_err(|e| testee_err(what, e))
    }

    fn start_producer(&mut self) -> Result<(H, Reply), Miss> {
        let h = self.spawn(false, "producer")?;
        let ring = self.ring.clone();
        let reply = self.request(h, "create_producer", |id| {
            Command::create_producer(ring, CAPACITY, SIZE)
                .discover("c", 8)
                .command(id)
        })?;
        Ok((h, reply))
    }

    fn attach(&mut self, c: usize) -> Result<(H, Reply), Miss> {
        let h = self.spawn(true, &format!("consumer {}", consumer_id(c)))?;
        let ring = self.ring.clone();
        let consumer_id = consumer_id(c);
        let reply = self.request(h, "attach_consumer", |id| Command::AttachConsumer {
            id,
            ring,
            consumer_id,
            event_size: SIZE,
            timeout_ms: 2_000,
            wait: None,
            resync: None,
        })?;
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
            Ok(code) => Err(miss(
                "exit.status",
                format!("{label} exits with status 0"),
                format!("status {code}"),
            )),
            Err(e) => Err(miss(
                "exit.status",
                format!("{label} exits with status 0"),
                e.to_string(),
            )),
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
        let Some(label) = self.label(op) else {
            return Ok(false);
        };
        self.before = self.model.to_string();
        *self.coverage.entry(label).or_default() += 1;
        match *op {
            Op::Publish { n } => {
                let p = self.producer.expect("running producer has a testee");
                let room = self.model.room();
                let reply =
                    self.request(p, "try_publish", |id| Command::TryPublish { id, count: n })?;
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
                        format!(
                            "published {expected}, full {} (room for {})",
                            n > room,
                            if room == u64::MAX {
                                "any number".to_owned()
                            } else {
                                room.to_string()
                            }
                        ),
                        format!("published {}, full {}", opt(f.published), opt(f.full)),
                    );
                    // A known deviation: follow what the implementation published.
                    match f.published {
                        Some(p) if p <= n && self.tolerate(&m) => {
                            expected = p;
                            let after = self.model.published + p as i64;
                            self.model.phantom = if f.full == Some(true) {
                                Some(after - CAPACITY as i64)
                            } else {
                                None
                            };
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
                let stall = if n > self.model.room() {
                    STEP_MS
                } else {
                    PUBLISH_STALL_MS
                };
                let reply = match t.request(
                    |id| Command::Publish {
                        id,
                        count: n,
                        batch: (batch > 1).then_some(batch),
                    },
                    Instant::now() + Duration::from_millis(stall),
                ) {
                    Ok(r) => r,
                    Err(DriverError::Timeout(..)) => {
                        let room = self.model.live_room();
                        let room = if room == u64::MAX {
                            "any number".to_owned()
                        } else {
                            room.to_string()
                        };
                        return Err(miss(
                            "publish.progress",
                            format!("all {n} published at once (live gates leave room for {room})"),
                            format!("still waiting after {stall} ms"),
                        ));
                    }
                    Err(e) => return Err(testee_err("publish", e)),
                };
                let f = expect_ok(&reply, "publish.range", "publish")?;
                let (first, last) = (self.model.published + 1, self.model.published + n as i64);
                if (f.first_seq, f.last_seq) != (Some(first), Some(last)) {
                    return Err(miss(
                        "publish.range",
                        format!("{first}..={last}"),
                        format!("{}..={}", opt(f.first_seq), opt(f.last_seq)),
                    ));
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
                let ConsumerState::Live { next } = self.model.consumers[c] else {
                    unreachable!("label checked")
                };
                let h = self.consumers[c].expect("live consumer has a testee");
                let available = (self.model.published - next + 1) as u64;
                let closed = self.model.producer == ProducerState::Closed;
                // Never wait on a producer that may be gone: ask only for what is published,
                // except on a closed ring, where asking for more must end in `closed`.
                let count = if closed { n } else { n.min(available) };
                let reply = self.request(h, "consume", |id| Command::Consume {
                    id,
                    count,
                    mode,
                    timeout_ms: STEP_MS,
                })?;
                let f = expect_ok(&reply, "consume.count", "consume")?;
                let got = count.min(available);
                let closed_at = (closed && count > available).then_some(self.model.published);
                if f.closed_at != closed_at {
                    return Err(miss(
                        "close.final-sequence",
                        format!("closed_at {}", opt(closed_at)),
                        format!(
                            "closed_at {} (consumed {})",
                            opt(f.closed_at),
                            opt(f.consumed)
                        ),
                    ));
                }
                let who = format!("{} ({})", consumer_id(c), mode_name(mode));
                let mut got = got;
                let last = reply.events.last().map(|r| r.1);
                if let Some(last) =
                    last.filter(|&l| l > next + got as i64 - 1 && l <= self.model.published)
                {
                    // More than asked for: the right events (checked here), but not the count.
                    if check_delivery(&reply, SIZE as usize, next, last, &who).is_ok() {
                        let m = miss(
                            "consume.count",
                            format!("{got} events (asked for {count})"),
                            format!("{} events, {next}..={last}", last - next + 1),
                        );
                        if !self.tolerate(&m) {
                            return Err(m);
                        }
                        got = (last - next + 1) as u64;
                    }
                }
                if let Err(
                    CaseError::Fail(e)
                    | CaseError::Error(e)
                    | CaseError::Timeout(e)
                    | CaseError::Skip(e),
                ) = check_delivery(&reply, SIZE as usize, next, next + got as i64 - 1, &who)
                {
                    return Err(miss(
                        "consume.delivery",
                        format!(
                            "sequences {next}..={} with their TP1 payloads",
                            next + got as i64 - 1
                        ),
                        format!("{e}; runs {}", runs(&reply)),
                    ));
                }
                if f.consumed != Some(got) && f.consumed != Some(count.min(available)) {
                    return Err(miss(
                        "consume.count",
                        format!("consumed {got}"),
                        format!("consumed {}", opt(f.consumed)),
                    ));
                }
                self.model.consumers[c] = ConsumerState::Live {
                    next: next + got as i64,
                };
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
                            ConsumerState::Crashed { next } | ConsumerState::Retired { next } => {
                                next
                            }
                            ConsumerState::Absent | ConsumerState::Live { .. } => {
                                self.model.published + 1
                            }
                        };
                        self.consumers[c] = Some(h);
                        let f = expect_ok(&reply, "join.ok", "attach_consumer")?;
                        let mut start = start;
                        if f.start_seq != Some(start) {
                            let why = match state {
                                ConsumerState::Absent => "after the last published sequence",
                                _ => "after its committed cursor",
                            };
                            let m = miss(
                                "join.start-seq",
                                format!("start_seq {start} ({why})"),
                                format!("start_seq {}", opt(f.start_seq)),
                            );
                            // A known deviation: follow where the implementation starts, if it
                            // can still read from there (nothing overwritten).
                            match f.start_seq {
                                Some(s)
                                    if s > self.model.published - CAPACITY as i64
                                        && s <= self.model.published + 1
                                        && self.tolerate(&m) =>
                                {
                                    start = s
                                }
                                _ => return Err(m),
                            }
                        }
                        self.model.consumers[c] = ConsumerState::Live { next: start };
                    }
                }
            }
            Op::Leave { c } => {
                let h = self.consumers[c]
                    .take()
                    .expect("live consumer has a testee");
                self.leave(h, "leave.ok")?;
                self.exit(h)?;
                self.model.consumers[c] = ConsumerState::Absent;
            }
            Op::Crash { c } => {
                let ConsumerState::Live { next } = self.model.consumers[c] else {
                    unreachable!("label checked")
                };
                let h = self.consumers[c]
                    .take()
                    .expect("live consumer has a testee");
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
            Op::PublishWaiting { n, batch }
                if running
                    && (batch == 1 || caps.batch_publish)
                    && n <= if caps.registry {
                        m.live_room()
                    } else {
                        m.room()
                    } =>
            {
                if n > m.room() {
                    "publish waiting on a dead consumer (retires it)"
                } else {
                    "publish, waiting"
                }
            }
            Op::Consume {
                mode: Mode::Lease, ..
            } if !caps.lease => return None,
            Op::Consume {
                mode: Mode::Batch, ..
            } if !caps.batch_read => return None,
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
                ConsumerState::Retired { next } if next <= m.published => {
                    "restart a retired consumer (lapped)"
                }
                ConsumerState::Retired { .. } => "restart a retired consumer (nothing missed)",
                ConsumerState::Absent if m.published >= 0 => "late join",
                ConsumerState::Absent => "join",
            },
            Op::Leave { c } if matches!(m.consumers[c], ConsumerState::Live { .. }) => {
                "consumer leaves"
            }
            // After a close no producer is left to reap a dead consumer's cursor (§7.6).
            Op::Crash { c } if open && matches!(m.consumers[c], ConsumerState::Live { .. }) => {
                "consumer crashes"
            }
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
        expect_ok(
            &reply,
            "producer.restart",
            "create_producer over the ring of a dead producer",
        )?;
        let reply = self.request(h, "cursors", |id| Command::Cursors { id })?;
        let producer = expect_ok(&reply, "producer.restart", "cursors")?.producer;
        if producer != Some(self.model.published) {
            return Err(miss(
                "producer.restart",
                format!(
                    "the restarted producer resumes after {}",
                    self.model.published
                ),
                format!("its cursor is {}", opt(producer)),
            ));
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
                    let r = self.step(&Op::Consume {
                        c,
                        n,
                        mode: Mode::Copy,
                    });
                    at(&format!("{} drains", consumer_id(c)), r)?;
                }
                let r = self.step(&Op::Leave { c });
                at(&format!("{} leaves", consumer_id(c)), r)?;
            }
        }
        if let Some(h) = self.producer.take() {
            let r = self
                .leave(h, "close.ok")
                .and_then(|_| self.exit(h))
                .map(|_| true);
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
    let r: Vec<String> = reply
        .events
        .iter()
        .map(|(a, b, _)| format!("{a}..={b}"))
        .collect();
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
pub fn run_lifecycle(
    producer: &Side,
    consumer: &Side,
    schema: &Arc<Schema>,
    lc: &Lifecycle,
) -> Outcome {
    let n = RING_COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!("rpx{}x{n}", std::process::id());
    let root = std::env::temp_dir().join(format!("ringproof-explore-{}-{n}", std::process::id()));
    let _ = std::fs::create_dir_all(&root);
    // Declared before the run: dropped after it, so after its testees are gone.
    let _names = Names {
        name: name.clone(),
        root: root.clone(),
    };
    let ring = crate::protocol::RingAddr {
        backend: lc.backend,
        name: name.clone(),
        root: (lc.backend == Backend::Mmap).then(|| root.display().to_string()),
    };
    let mut run = Run {
        producer_side: producer,
        consumer_side: consumer,
        caps: Caps::of(producer, consumer),
        schema: Arc::clone(schema),
        ring,
        procs: Vec::new(),
        ended: Vec::new(),
        model: Model {
            published: -1,
            producer: ProducerState::Running,
            consumers: [ConsumerState::Absent; CONSUMERS],
            phantom: None,
        },
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
    .map_err(|m| {
        fail(
            &run,
            None,
            "create the ring (before the first step)".into(),
            run.model.to_string(),
            m,
        )
    });
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
            result = Err(fail(
                &run,
                None,
                format!("clean end: {what}"),
                run.before.clone(),
                m,
            ));
        }
    }
    if result.is_ok() {
        let left = ring_leftovers(&name, Some(&root));
        if !left.is_empty() {
            let m = miss(
                "cleanup.no-leak",
                "nothing left in /dev/shm or the ring's directory",
                format!("{left:?}"),
            );
            result = Err(fail(
                &run,
                None,
                "clean end: every participant shut down".into(),
                run.model.to_string(),
                m,
            ));
        }
    }
    for h in 0..run.procs.len() {
        run.kill(h);
    }
    Outcome {
        result,
        applied,
        coverage: run.coverage,
        tolerated: run.tolerated,
    }
}
