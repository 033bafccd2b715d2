//! The producer's thread: start a testee (or take over from the dead producer), create the
//! ring, publish until the heal phase has its final sequence, then close; a producer that dies
//! (killed, crashed at a failpoint, hung) is recorded and started again.

use crate::config::{required_ids, GRACE_MS, PROGRESS_TIMEOUT_MS};
use crate::history::{monotonic_ns, End, ProducerLife};
use crate::schedule::ProducerPlan;
use crate::shared::{restart_pause, Shared, REPLY_DEADLINE};
use ringproof_conformance::driver::{DriverError, Reply, Testee};
use ringproof_conformance::protocol::{Command, Discover, Message, Required, Wait};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Events per `publish` command (the producer is paced by its command round trips).
const PUBLISH_CHUNK: u64 = 512;

/// The producer's thread: start (or take over), publish until healed, then close.
pub(crate) fn producer_thread(shared: &Shared) {
    let slot = &shared.producer;
    let mut incarnation = 0usize;
    let required = required_ids(shared.cfg.consumers);
    let mut first_arm = shared
        .schedule
        .initial_create_crash
        .map(|p| format!("segment.create@{p}"));
    while !shared.producer_stop.load(Ordering::SeqCst) {
        let armed = first_arm
            .take()
            .or_else(|| slot.arm.lock().expect("arm").take());
        let plan = shared.schedule.producer_plans
            [incarnation % shared.schedule.producer_plans.len()]
        .clone();
        incarnation += 1;
        let Some(mut p) = Producer::start(shared, armed, incarnation, &plan) else {
            continue;
        };
        if let Err(e) = p.create(&plan, &required) {
            p.died(e, true);
            continue;
        }
        if let Life::Closed = p.publish_until_stopped(&plan) {
            return;
        }
    }
}

/// How a producer's life ended.
enum Life {
    /// Closed cleanly at the end of the campaign: the thread is done.
    Closed,
    /// Died (and was recorded): start the next life.
    Died,
}

/// One producer process and the life it is living.
struct Producer<'a> {
    shared: &'a Shared,
    t: Testee,
    armed: Option<String>,
    incarnation: usize,
    /// Whether the testee honours `required` (PROTOCOL.md capability `required`).
    has_required: bool,
    life: ProducerLife,
}

impl<'a> Producer<'a> {
    /// Starts the process (armed with a failpoint if the schedule says so); `None` if it did
    /// not start (recorded as a harness error, after a pause).
    fn start(
        shared: &'a Shared,
        armed: Option<String>,
        incarnation: usize,
        plan: &ProducerPlan,
    ) -> Option<Producer<'a>> {
        let t = match shared.spawn("producer", armed.as_deref()) {
            Ok(t) => t,
            Err(e) => {
                shared.harness_error(format!("producer did not start: {e}"));
                std::thread::sleep(Duration::from_millis(100));
                return None;
            }
        };
        *shared.producer.pid.lock().expect("pid") = Some(t.pid());
        // Required consumers only for an implementation that has them (PROTOCOL.md capability
        // `required`); without, no consumer is judged as required.
        let has_required = t.has("required");
        if !has_required {
            shared.history.lock().expect("history").required.clear();
        }
        let life = ProducerLife {
            pid: t.pid(),
            armed: armed.clone(),
            started_ns: monotonic_ns(),
            created: false,
            published_through: None,
            alerts: Vec::new(),
            action: has_required.then_some(plan.action),
            errors: Vec::new(),
            end: End::Running,
        };
        Some(Producer {
            shared,
            t,
            armed,
            incarnation,
            has_required,
            life,
        })
    }

    /// The process went away: how its life ended, and its transcript kept.
    fn gone(&mut self, e: DriverError) {
        let slot = &self.shared.producer;
        let mut pid = slot.pid.lock().expect("pid");
        *pid = None;
        self.life.end = self.shared.ending(slot, &self.armed, format!("{e}"));
        drop(pid);
        self.shared
            .keep_transcript(&self.t, self.incarnation, &self.life.end);
    }

    /// Records the life that ended with `e`; after a death the fault caused, waits the restart
    /// pause it asked for (`pause`).
    fn died(mut self, e: DriverError, pause: bool) {
        self.gone(e);
        let shared = self.shared;
        shared
            .history
            .lock()
            .expect("history")
            .producer
            .push(self.life);
        if pause {
            restart_pause(&shared.producer);
        }
    }

    /// Creates the ring, or takes over from the dead producer (SPEC.md §7.9), retrying what
    /// the testee refuses; `Err` if the process went away meanwhile.
    fn create(&mut self, plan: &ProducerPlan, required: &[String]) -> Result<(), DriverError> {
        let shared = self.shared;
        loop {
            let ring = shared.ring.clone();
            let (capacity, event_size) = (shared.cfg.capacity, shared.cfg.event_size);
            let req = Required {
                ids: required.to_vec(),
                action: plan.action,
                progress_timeout_ms: Some(PROGRESS_TIMEOUT_MS),
                grace_ms: Some(GRACE_MS),
            };
            let wait = Some(if self.t.has("wait-block") {
                Wait::Block
            } else {
                Wait::Yield
            });
            let has_required = self.has_required;
            let reply = self.t.send(|id| Command::CreateProducer {
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
            match reply.and_then(|id| self.t.wait(id, Instant::now() + REPLY_DEADLINE)) {
                Ok(Reply { result: Ok(_), .. }) => {
                    self.life.created = true;
                    return Ok(());
                }
                Ok(Reply {
                    result: Err((kind, msg)),
                    ..
                }) => {
                    self.life
                        .errors
                        .push(format!("create_producer: {kind:?}: {msg}"));
                    if shared.producer_stop.load(Ordering::SeqCst) {
                        return Ok(());
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Publishes in chunks until the campaign stops it (then closes) or the process dies.
    fn publish_until_stopped(mut self, plan: &ProducerPlan) -> Life {
        let shared = self.shared;
        let mut closing_armed = self
            .armed
            .as_deref()
            .is_some_and(|a| a.starts_with("producer.close"));
        loop {
            if shared.producer_stop.load(Ordering::SeqCst) {
                self.close();
                return Life::Closed;
            }
            let healing = shared.heal.load(Ordering::SeqCst);
            if healing && shared.final_seq.lock().expect("final").is_some() {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            match self.publish(plan.batch) {
                Ok(Reply { result: Ok(f), .. }) => {
                    self.life.published_through = f.last_seq.or(self.life.published_through);
                    if healing {
                        *shared.final_seq.lock().expect("final") = self.life.published_through;
                    }
                    if closing_armed {
                        closing_armed = false;
                        if let Err(e) = self.armed_close() {
                            self.died(e, true);
                            return Life::Died;
                        }
                    }
                }
                Ok(Reply {
                    result: Err((kind, msg)),
                    ..
                }) => {
                    self.life.errors.push(format!("publish: {kind:?}: {msg}"));
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(DriverError::Timeout(..)) => {
                    let mut h = shared.history.lock().expect("history");
                    h.harness_errors.push(format!(
                        "producer pid {} did not answer publish within {REPLY_DEADLINE:?}: hung",
                        self.t.pid()
                    ));
                    drop(h);
                    shared.producer.killed.store(true, Ordering::SeqCst);
                    self.t.kill();
                    self.died(DriverError::Gone("killed as hung".into()), false);
                    return Life::Died;
                }
                Err(e) => {
                    self.died(e, true);
                    return Life::Died;
                }
            }
        }
    }

    /// One `publish` of [`PUBLISH_CHUNK`] events, recording its progress and liveness
    /// messages as they stream in.
    fn publish(&mut self, batch: u64) -> Result<Reply, DriverError> {
        let life = &mut self.life;
        let t = &mut self.t;
        t.send(|id| Command::Publish {
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
        })
    }

    /// The planned crash: the close stops halfway (producer.close). `Err` is the death it
    /// planned; a close that succeeds is a harness error.
    fn armed_close(&mut self) -> Result<(), DriverError> {
        self.t
            .send(|id| Command::Leave { id })
            .and_then(|id| self.t.wait(id, Instant::now() + REPLY_DEADLINE))?;
        self.shared.harness_error(format!(
            "producer pid {} closed the ring although armed with producer.close",
            self.t.pid()
        ));
        Ok(())
    }

    /// Closes cleanly and exits (the end of the campaign).
    fn close(mut self) {
        let r = self
            .t
            .send(|id| Command::Leave { id })
            .and_then(|id| self.t.wait(id, Instant::now() + REPLY_DEADLINE));
        if let Err(e) = r {
            self.life.errors.push(format!("leave: {e}"));
        }
        let Producer {
            shared,
            t,
            mut life,
            ..
        } = self;
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
        *shared.producer.pid.lock().expect("pid") = None;
        shared.history.lock().expect("history").producer.push(life);
    }
}
