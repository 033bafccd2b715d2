//! One step of a lifecycle: whether an op applies in the model's state, and carrying it out
//! against the testees with every reply checked against the model.

use super::miss::{expect_error, expect_ok, miss, opt, runs, testee_err, Miss};
use super::model::{ConsumerState, ProducerState};
use super::run::Run;
use super::{mode_name, Op, CAPACITY, PUBLISH_STALL_MS, SIZE, STEP_MS};
use crate::ctx::{check_delivery, consumer_id, CaseError};
use crate::driver::DriverError;
use crate::protocol::{Command, ErrorKind, Mode};
use std::time::{Duration, Instant};

impl Run<'_> {
    /// Carries out `op` if it applies in the model's state (else nothing); whether it applied.
    pub(super) fn step(&mut self, op: &Op) -> Result<bool, Miss> {
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
    pub(super) fn restart_producer(&mut self) -> Result<(), Miss> {
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
}
