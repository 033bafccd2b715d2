//! One consumer's thread: start a testee under `c_{k}`, attach (again after every declared gap),
//! consume and report what it delivered, and leave when told to; a consumer that dies
//! (killed, crashed at a failpoint, hung) is recorded and started again.

use crate::attach::{after_attach_error, AttachRetry, ATTACH_PAUSE};
use crate::history::{monotonic_ns, ConsumerLife, End, Run};
use crate::schedule::consumer_id;
use crate::shared::{committed_cursor, restart_pause, Shared, Slot, REPLY_DEADLINE};
use ringproof_conformance::driver::{DriverError, Reply, Testee};
use ringproof_conformance::protocol::{Command, ErrorKind, Message, Mode, Wait};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Events per `consume` command, and how long it may idle before replying.
const CONSUME_CHUNK: u64 = 4096;
const CONSUME_IDLE_MS: u64 = 100;

/// One consumer's thread: attach (again) under `c_{k}`, consume, report, until told to leave.
pub(crate) fn consumer_thread(shared: &Shared, k: usize) {
    let mut c = Consumer {
        shared,
        k,
        id: consumer_id(k),
        slot: &shared.consumers[k],
        incarnation: 0,
        declared: false,
        heal_restarted: false,
        lives: Vec::new(),
    };
    c.slot.reported.store(i64::MIN, Ordering::SeqCst);
    while !shared.consumers_stop.load(Ordering::SeqCst) {
        let Some(mut p) = c.start() else { continue };
        // Attach (again), as often as the implementation declares a gap.
        let next = loop {
            let life = match c.attach(&mut p) {
                Ok(life) => life,
                Err(next) => break next,
            };
            match c.consume(&mut p, life) {
                Next::Reattach => continue,
                next => break next,
            }
        };
        let (stop, exit) = match next {
            Next::Reattach => unreachable!("handled above"),
            Next::Restart { exit } => (false, exit),
            Next::Stop { exit } => (true, exit),
        };
        if exit {
            c.exit(p);
        }
        if stop {
            break;
        }
    }
    c.finish();
}

/// What the thread does after a step.
enum Next {
    /// Attach again in the same process (after a declared gap or a planned leave).
    Reattach,
    /// Start a fresh process (after letting this one exit cleanly, with `exit`).
    Restart { exit: bool },
    /// The campaign is over for this consumer (after letting the process exit, with `exit`).
    Stop { exit: bool },
}

/// The thread's state across its processes.
struct Consumer<'a> {
    shared: &'a Shared,
    k: usize,
    id: String,
    slot: &'a Slot,
    incarnation: usize,
    /// The implementation declared a gap (or the consumer left): the next attach resyncs.
    declared: bool,
    /// The heal phase has already given this consumer a fresh process once.
    heal_restarted: bool,
    lives: Vec<ConsumerLife>,
}

/// One consumer process.
struct Process {
    t: Testee,
    pid: u32,
    armed: Option<String>,
    /// Armed with `consumer.leave`: the next step is a leave (that crashes).
    leave_armed: bool,
}

impl Consumer<'_> {
    /// Starts a process (armed with a failpoint if the schedule says so); `None` if it did
    /// not start (recorded as a harness error, after a pause).
    fn start(&mut self) -> Option<Process> {
        let armed = self.slot.arm.lock().expect("arm").take();
        let t = match self
            .shared
            .spawn(&format!("consumer {}", self.id), armed.as_deref())
        {
            Ok(t) => t,
            Err(e) => {
                self.shared
                    .harness_error(format!("{} did not start: {e}", self.id));
                std::thread::sleep(Duration::from_millis(100));
                return None;
            }
        };
        self.incarnation += 1;
        *self.slot.pid.lock().expect("pid") = Some(t.pid());
        let leave_armed = armed
            .as_deref()
            .is_some_and(|a| a.starts_with("consumer.leave"));
        Some(Process {
            pid: t.pid(),
            t,
            armed,
            leave_armed,
        })
    }

    /// Process `p` went away with `e`: how it ended goes into `life`, or, before it attached,
    /// into the early deaths; its transcript is kept.
    fn died(&self, p: &Process, e: DriverError, life: Option<&mut ConsumerLife>) {
        let mut pid_guard = self.slot.pid.lock().expect("pid");
        *pid_guard = None;
        let end = self.shared.ending(self.slot, &p.armed, format!("{e}"));
        drop(pid_guard);
        self.shared.keep_transcript(&p.t, self.incarnation, &end);
        match life {
            Some(l) => {
                l.end = end;
                l.committed_at_end = committed_cursor(&self.shared.ring_name, &self.id);
            }
            None => self
                .shared
                .history
                .lock()
                .expect("history")
                .early_deaths
                .push((self.id.clone(), p.pid, end)),
        }
    }

    /// The harness kills `p` on purpose (`why`) and records its end.
    fn kill(&self, p: &mut Process, why: &str, life: Option<&mut ConsumerLife>) {
        self.slot.killed.store(true, Ordering::SeqCst);
        p.t.kill();
        self.died(p, DriverError::Gone(why.into()), life);
    }

    /// Lets `p` exit cleanly (the testee is done with the ring).
    fn exit(&self, p: Process) {
        let _ = p.t.exit(Instant::now() + Duration::from_secs(10));
        *self.slot.pid.lock().expect("pid") = None;
    }

    /// Attaches `p` under this consumer's id, retrying as [`after_attach_error`] says; the new
    /// life, or what to do instead.
    fn attach(&mut self, p: &mut Process) -> Result<ConsumerLife, Next> {
        let shared = self.shared;
        let mut failures = 0u32;
        loop {
            if shared.consumers_stop.load(Ordering::SeqCst) {
                return Err(Next::Stop { exit: true });
            }
            let ring = shared.ring.clone();
            let event_size = shared.cfg.event_size;
            let wait = Some(if p.t.has("wait-block") {
                Wait::Block
            } else {
                Wait::Yield
            });
            // After a declared gap, continue at the head (the implementation said what was missed).
            let resync = self.declared.then_some(true);
            let id = self.id.clone();
            let r =
                p.t.send(|cid| Command::AttachConsumer {
                    id: cid,
                    ring,
                    consumer_id: id,
                    event_size,
                    timeout_ms: 2_000,
                    wait,
                    resync,
                })
                .and_then(|cid| p.t.wait(cid, Instant::now() + REPLY_DEADLINE));
            match r {
                Ok(Reply { result: Ok(f), .. }) => {
                    let start_seq = f.start_seq.unwrap_or(0);
                    self.slot
                        .reported
                        .fetch_max(start_seq - 1, Ordering::SeqCst);
                    return Ok(ConsumerLife {
                        pid: p.pid,
                        armed: p.armed.clone(),
                        attached_ns: monotonic_ns(),
                        start_seq,
                        declared_gap_before: std::mem::take(&mut self.declared),
                        runs: Vec::new(),
                        producer_gone_ns: Vec::new(),
                        end: End::Running,
                        committed_at_end: None,
                    });
                }
                Ok(Reply {
                    result: Err((kind, message)),
                    ..
                }) => {
                    failures += 1;
                    match after_attach_error(kind, resync == Some(true), failures) {
                        AttachRetry::Resync => self.declared = true,
                        AttachRetry::Again => {
                            if shared.heal.load(Ordering::SeqCst) && !self.heal_restarted {
                                // Healing with this consumer out of a life: a fresh process
                                // (resyncing if a gap was declared) gets one more chance,
                                // rather than a consumer left dead being judged hung.
                                self.heal_restarted = true;
                                self.kill(p, "restarted to heal", None);
                                return Err(Next::Restart { exit: false });
                            }
                            std::thread::sleep(ATTACH_PAUSE);
                        }
                        AttachRetry::GiveUp => {
                            let why = format!("pid {}: attach_consumer failed {failures} times in a row, last with {kind:?} ({message}); the harness gave up on it", p.pid);
                            shared
                                .history
                                .lock()
                                .expect("history")
                                .refused
                                .push((self.id.clone(), why));
                            self.kill(p, "given up", None);
                            while !shared.consumers_stop.load(Ordering::SeqCst) {
                                std::thread::sleep(Duration::from_millis(5));
                            }
                            return Err(Next::Stop { exit: false });
                        }
                    }
                }
                Err(e) => {
                    self.died(p, e, None);
                    restart_pause(self.slot);
                    return Err(Next::Restart { exit: false });
                }
            }
        }
    }

    /// How this life reads: the schedule's mode for it, if the testee offers it.
    fn mode(&self, t: &Testee) -> Mode {
        let modes = &self.shared.schedule.modes;
        match modes[(self.k + self.lives.len()) % modes.len()].as_str() {
            "lease" if t.has("lease") => Mode::Lease,
            "batch" if t.has("batch") => Mode::Batch,
            _ => Mode::Copy,
        }
    }

    /// Consumes in chunks until the life ends (a leave, a declared gap, a death); the life
    /// goes into the record.
    fn consume(&mut self, p: &mut Process, mut life: ConsumerLife) -> Next {
        let shared = self.shared;
        let mode = self.mode(&p.t);
        loop {
            let stop = shared.consumers_stop.load(Ordering::SeqCst);
            let recycle = self.slot.recycle.swap(false, Ordering::SeqCst);
            if stop || recycle || p.leave_armed {
                return self.leave(p, life, stop, recycle);
            }
            let fin = *shared.final_seq.lock().expect("final");
            if fin.is_some_and(|f| self.slot.reported.load(Ordering::SeqCst) >= f) {
                let mut h = shared.history.lock().expect("history");
                h.heal
                    .reached_ns
                    .entry(self.id.clone())
                    .or_insert(Some(monotonic_ns()));
                drop(h);
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            match self.consume_chunk(p, &mut life, mode) {
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
                    self.lives.push(life);
                    return Next::Reattach;
                }
                Ok(Reply { result: Err(_), .. }) => std::thread::sleep(Duration::from_millis(10)),
                Err(DriverError::Timeout(..)) => {
                    shared.harness_error(format!(
                        "{} pid {} did not answer consume within {REPLY_DEADLINE:?}: hung",
                        self.id, p.pid
                    ));
                    self.kill(p, "killed as hung", Some(&mut life));
                    self.lives.push(life);
                    return Next::Restart { exit: false };
                }
                Err(e) => {
                    self.died(p, e, Some(&mut life));
                    self.lives.push(life);
                    restart_pause(self.slot);
                    return Next::Restart { exit: false };
                }
            }
        }
    }

    /// One `consume` of up to [`CONSUME_CHUNK`] events, recording every delivered run as it
    /// streams in.
    fn consume_chunk(
        &self,
        p: &mut Process,
        life: &mut ConsumerLife,
        mode: Mode,
    ) -> Result<Reply, DriverError> {
        let slot = self.slot;
        let t = &mut p.t;
        t.send(|cid| Command::Consume {
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
        })
    }

    /// Leaves the ring: at the end of the campaign (`stop`), for a fresh cursor (`recycle`),
    /// or as armed (`consumer.leave`, which crashes halfway).
    fn leave(
        &mut self,
        p: &mut Process,
        mut life: ConsumerLife,
        stop: bool,
        recycle: bool,
    ) -> Next {
        let r =
            p.t.send(|cid| Command::Leave { id: cid })
                .and_then(|cid| p.t.wait(cid, Instant::now() + REPLY_DEADLINE));
        if let Err(e) = r {
            // consumer.leave fired (or a kill landed meanwhile).
            self.died(p, e, Some(&mut life));
            self.lives.push(life);
            restart_pause(self.slot);
            return Next::Restart { exit: false };
        }
        life.end = End::Left;
        self.lives.push(life);
        self.declared = true;
        p.leave_armed = false;
        match (stop, recycle) {
            (true, _) => Next::Stop { exit: true },
            (false, true) => Next::Restart { exit: true },
            (false, false) => Next::Reattach,
        }
    }

    /// Records the consumer's lives (and that it never reached the final sequence, if so).
    fn finish(self) {
        let mut h = self.shared.history.lock().expect("history");
        h.heal.reached_ns.entry(self.id.clone()).or_insert(None);
        h.consumers.insert(self.id, self.lives);
    }
}
