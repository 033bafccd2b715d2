//! One lifecycle carried out by real testee processes, side by side with the model: starting,
//! asking and ending testees, the clean end, and the ring's names removed whatever happens.

use super::miss::{expect_ok, miss, testee_err, Miss};
use super::model::{ConsumerState, Model, ProducerState};
use super::{listed, Caps, Lifecycle, Mismatch, Op, Side, CAPACITY, CONSUMERS, SIZE, STEP_MS};
use crate::ctx::{consumer_id, remove_all, ring_leftovers};
use crate::driver::{Reply, Testee};
use crate::protocol::{Backend, Command, Mode};
use crate::schema::Schema;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Index of a testee process in [`Run::procs`].
pub(super) type H = usize;

/// A lifecycle being carried out: processes and the model side by side.
pub(super) struct Run<'a> {
    pub(super) producer_side: &'a Side,
    pub(super) consumer_side: &'a Side,
    pub(super) caps: Caps,
    pub(super) schema: Arc<Schema>,
    pub(super) ring: crate::protocol::RingAddr,
    /// Every testee started, `None` once it exited or was killed.
    pub(super) procs: Vec<Option<Testee>>,
    /// Transcripts of testees that exited or were killed.
    pub(super) ended: Vec<String>,
    pub(super) model: Model,
    pub(super) producer: Option<H>,
    pub(super) consumers: [Option<H>; CONSUMERS],
    pub(super) coverage: BTreeMap<&'static str, u64>,
    /// Expected-list patterns of mismatches tolerated so far (the model followed the
    /// implementation and the lifecycle went on).
    pub(super) tolerated: Vec<String>,
    /// The model's state before the step under way (for reports).
    pub(super) before: String,
}

impl<'a> Run<'a> {
    /// Whether `m` is listed as expected for this pairing; if so it is recorded, and the
    /// caller makes the model follow what the implementation did.
    pub(super) fn tolerate(&mut self, m: &Miss) -> bool {
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

    pub(super) fn spawn(&mut self, consumer: bool, label: &str) -> Result<H, Miss> {
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

    pub(super) fn request(
        &mut self,
        h: H,
        what: &str,
        make: impl FnOnce(u64) -> Command,
    ) -> Result<Reply, Miss> {
        let t = self.procs[h].as_mut().expect("a running testee");
        t.request(make, Instant::now() + Duration::from_millis(STEP_MS))
            .map_err(|e| testee_err(what, e))
    }

    pub(super) fn start_producer(&mut self) -> Result<(H, Reply), Miss> {
        let h = self.spawn(false, "producer")?;
        let ring = self.ring.clone();
        let reply = self.request(h, "create_producer", |id| {
            Command::create_producer(ring, CAPACITY, SIZE)
                .discover("c", 8)
                .command(id)
        })?;
        Ok((h, reply))
    }

    pub(super) fn attach(&mut self, c: usize) -> Result<(H, Reply), Miss> {
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
    pub(super) fn leave(&mut self, h: H, rule: &'static str) -> Result<(), Miss> {
        let reply = self.request(h, "leave", |id| Command::Leave { id })?;
        expect_ok(&reply, rule, "leave").map(drop)
    }

    /// Ends a testee that holds no role any more: `exit`, and it must end with status 0.
    pub(super) fn exit(&mut self, h: H) -> Result<(), Miss> {
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
    pub(super) fn kill(&mut self, h: H) {
        if let Some(mut t) = self.procs[h].take() {
            t.kill();
            self.ended.push(t.transcript());
        }
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
    /// Expected-list patterns of the mismatches tolerated on the way (see [`Summary`](super::Summary)).
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
