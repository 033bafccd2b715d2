//! What a running case can do: start testees in either role, drive them, read segments
//! directly, and judge deliveries against the TP1 payload.

use crate::driver::{DriverError, Implementation, Reply, Testee};
use crate::protocol::{Backend, Command, Mode, RingAddr, Wait, WaitConsumers};
use crate::schema::Schema;
use ringproof::kit::payload::{fill, fnv1a64_update, FNV64_OFFSET};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a case did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseError {
    /// The implementation broke the rule; the string is the evidence.
    Fail(String),
    /// The case could not be carried out (testee crashed, protocol violation, harness problem).
    Error(String),
    /// Something did not happen within the case's time.
    Timeout(String),
    /// The case does not apply.
    Skip(String),
}

impl From<DriverError> for CaseError {
    fn from(e: DriverError) -> Self {
        match e {
            DriverError::Timeout(..) => CaseError::Timeout(e.to_string()),
            other => CaseError::Error(other.to_string()),
        }
    }
}

/// How long a consumer may see no event before `consume` returns (a healthy stream never idles
/// this long, even on a loaded 2-core machine).
pub const IDLE_MS: u64 = 5_000;

/// Shorthand for failing with evidence.
pub fn fail<T>(msg: impl Into<String>) -> Result<T, CaseError> {
    Err(CaseError::Fail(msg.into()))
}

/// Handle of a testee started by the case.
pub type H = usize;

/// The consumer ids the harness uses: `c_{k}`, discoverable by prefix `c`.
pub fn consumer_id(k: usize) -> String {
    format!("c_{k}")
}

/// One running case instance.
pub struct Ctx {
    pub producer_impl: Implementation,
    pub consumer_impl: Implementation,
    pub backend: Backend,
    pub ring: RingAddr,
    /// The mmap root (a fresh directory), also present for shm cases (unused there).
    pub root: PathBuf,
    pub deadline: Instant,
    schema: Arc<Schema>,
    pub testees: Vec<Testee>,
    /// Free-form observations that go into the report even on a pass.
    pub notes: Vec<String>,
}

impl Ctx {
    pub fn new(
        producer_impl: Implementation,
        consumer_impl: Implementation,
        backend: Backend,
        name: String,
        root: PathBuf,
        timeout: Duration,
        schema: Arc<Schema>,
    ) -> Ctx {
        let ring = RingAddr {
            backend,
            name,
            root: (backend == Backend::Mmap).then(|| root.display().to_string()),
        };
        Ctx {
            producer_impl,
            consumer_impl,
            backend,
            ring,
            root,
            deadline: Instant::now() + timeout,
            schema,
            testees: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn spawn(&mut self, imp: Implementation, label: &str) -> Result<H, CaseError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let t = Testee::spawn(
            &imp,
            label,
            Arc::clone(&self.schema),
            left.min(Duration::from_secs(10)),
        )?;
        self.testees.push(t);
        Ok(self.testees.len() - 1)
    }

    /// Starts a testee of the producer implementation.
    pub fn start_producer_testee(&mut self, label: &str) -> Result<H, CaseError> {
        self.spawn(self.producer_impl.clone(), label)
    }

    /// Starts a testee of the consumer implementation.
    pub fn start_consumer_testee(&mut self, label: &str) -> Result<H, CaseError> {
        self.spawn(self.consumer_impl.clone(), label)
    }

    pub fn t(&mut self, h: H) -> &mut Testee {
        &mut self.testees[h]
    }

    /// Sends a command without waiting.
    pub fn send(&mut self, h: H, make: impl FnOnce(u64) -> Command) -> Result<u64, CaseError> {
        Ok(self.testees[h].send(make)?)
    }

    /// Waits for a reply.
    pub fn wait(&mut self, h: H, id: u64) -> Result<Reply, CaseError> {
        let deadline = self.deadline;
        Ok(self.testees[h].wait(id, deadline)?)
    }

    /// Sends and waits.
    pub fn request(&mut self, h: H, make: impl FnOnce(u64) -> Command) -> Result<Reply, CaseError> {
        let id = self.send(h, make)?;
        self.wait(h, id)
    }

    /// Starts a producer testee and creates the ring (the reply may be an error).
    pub fn producer(
        &mut self,
        capacity: u64,
        event_size: u64,
        wait_consumers: Option<(u64, u64)>,
    ) -> Result<(H, Reply), CaseError> {
        self.producer_with(capacity, event_size, wait_consumers, None)
    }

    pub fn producer_with(
        &mut self,
        capacity: u64,
        event_size: u64,
        wait_consumers: Option<(u64, u64)>,
        wait: Option<Wait>,
    ) -> Result<(H, Reply), CaseError> {
        let h = self.start_producer_testee("producer")?;
        let ring = self.ring.clone();
        let reply = self.request(h, |id| {
            Command::create_producer(ring, capacity, event_size)
                .wait_consumers(
                    wait_consumers.map(|(min, timeout_ms)| WaitConsumers { min, timeout_ms }),
                )
                .discover("c", 8)
                .wait(wait)
                .command(id)
        })?;
        Ok((h, reply))
    }

    /// Sends `create_producer` without waiting (for producers that wait for consumers).
    pub fn producer_async(
        &mut self,
        capacity: u64,
        event_size: u64,
        min_consumers: u64,
    ) -> Result<(H, u64), CaseError> {
        self.producer_async_required(capacity, event_size, min_consumers, None)
    }

    /// [`producer_async`](Self::producer_async) with required consumers.
    pub fn producer_async_required(
        &mut self,
        capacity: u64,
        event_size: u64,
        min_consumers: u64,
        required: Option<crate::protocol::Required>,
    ) -> Result<(H, u64), CaseError> {
        let h = self.start_producer_testee("producer")?;
        let ring = self.ring.clone();
        let timeout_ms = self
            .deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as u64;
        let id = self.send(h, |id| {
            Command::create_producer(ring, capacity, event_size)
                .wait_consumers(WaitConsumers {
                    min: min_consumers,
                    timeout_ms,
                })
                .discover("c", 8)
                .required(required)
                .command(id)
        })?;
        self.await_created();
        Ok((h, id))
    }

    /// Polls (up to 5 s) until the ring is completely created: its ring segment, its producer
    /// cursor, and the name its producer creates last of all, the registry (ringproof makes it
    /// first) or the readiness counter `N_cr` (disruptor-mp makes it last). A disruptor-mp
    /// consumer counts itself ready only if `N_cr` exists when it attaches, so one attached
    /// during creation is never counted and a producer waiting for it times out: a
    /// disruptor-mp race (its own consumers' bug) kept out of the way of every case that
    /// attaches consumers to a producer that waits for them. Creation is not what those
    /// cases check; a producer that never finishes creating still fails them by timeout.
    pub fn await_created(&self) {
        let names = [("", ".ring"), ("_producer_seq", ".producer.cursor")]
            .map(|(s, f)| self.segment_path(s, f));
        let last = [("_registry", ".registry"), ("_cr", ".ready.cursor")]
            .map(|(s, f)| self.segment_path(s, f));
        let deadline = Instant::now() + Duration::from_secs(5);
        while !(names.iter().all(|p| p.exists()) && last.iter().any(|p| p.exists()))
            && Instant::now() < deadline
        {
            // Polling for names that appear, with a deadline; no event depends on this sleep.
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Starts a consumer testee and attaches it as `c_{k}`; the reply may be an error.
    pub fn consumer(
        &mut self,
        k: usize,
        event_size: u64,
        wait: Option<Wait>,
    ) -> Result<(H, Reply), CaseError> {
        let h = self.start_consumer_testee(&format!("consumer {}", consumer_id(k)))?;
        let reply = self.attach(h, k, event_size, wait)?;
        Ok((h, reply))
    }

    /// Attaches testee `h` as consumer `c_{k}`.
    pub fn attach(
        &mut self,
        h: H,
        k: usize,
        event_size: u64,
        wait: Option<Wait>,
    ) -> Result<Reply, CaseError> {
        let ring = self.ring.clone();
        let timeout_ms = self
            .deadline
            .saturating_duration_since(Instant::now())
            .as_millis()
            .min(10_000) as u64;
        self.request(h, |id| Command::AttachConsumer {
            id,
            ring,
            consumer_id: consumer_id(k),
            event_size,
            timeout_ms,
            wait,
            resync: None,
        })
    }

    /// Sends `publish` without waiting.
    pub fn publish_async(&mut self, h: H, count: u64, batch: u64) -> Result<u64, CaseError> {
        self.send(h, |id| Command::Publish {
            id,
            count,
            batch: (batch > 1).then_some(batch),
        })
    }

    /// Sends `consume` without waiting. The consumer gives up after [`IDLE_MS`] without an
    /// event, so a stalled stream fails fast instead of running into the case timeout.
    pub fn consume_async(&mut self, h: H, count: u64, mode: Mode) -> Result<u64, CaseError> {
        let timeout_ms = (self
            .deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as u64)
            .min(IDLE_MS);
        self.send(h, |id| Command::Consume {
            id,
            count,
            mode,
            timeout_ms,
        })
    }

    /// Sends `consume` with an explicit idle timeout.
    pub fn consume_idle(
        &mut self,
        h: H,
        count: u64,
        mode: Mode,
        idle_ms: u64,
    ) -> Result<u64, CaseError> {
        self.send(h, |id| Command::Consume {
            id,
            count,
            mode,
            timeout_ms: idle_ms,
        })
    }

    /// The `ok` fields of a reply, or a failure naming `what`.
    pub fn expect_ok<'r>(
        reply: &'r Reply,
        what: &str,
    ) -> Result<&'r crate::protocol::OkFields, CaseError> {
        reply
            .ok()
            .map_err(|e| CaseError::Fail(format!("{what} failed: {e}")))
    }

    /// The producer cursor a testee reports.
    pub fn cursors(&mut self, h: H) -> Result<(Option<i64>, Option<i64>), CaseError> {
        let r = self.request(h, |id| Command::Cursors { id })?;
        let f = Self::expect_ok(&r, "cursors")?;
        Ok((f.producer, f.consumer))
    }

    /// Sends `leave` and checks it succeeded.
    pub fn leave(&mut self, h: H) -> Result<(), CaseError> {
        let r = self.request(h, |id| Command::Leave { id })?;
        Self::expect_ok(&r, "leave")?;
        Ok(())
    }

    /// Sends `exit` to every testee still running and waits for them.
    pub fn exit_all(&mut self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut problems = Vec::new();
        for t in std::mem::take(&mut self.testees) {
            let label = t.label.clone();
            match t.exit(deadline) {
                Ok(0) => {}
                Ok(code) => problems.push(format!("{label} exited with status {code}")),
                Err(e) => problems.push(e.to_string()),
            }
        }
        problems
    }

    /// Path of a ring segment in the file system (shm objects live in /dev/shm).
    pub fn segment_path(&self, shm_suffix: &str, file_suffix: &str) -> PathBuf {
        match self.backend {
            Backend::Shm => {
                PathBuf::from("/dev/shm").join(format!("{}{shm_suffix}", self.ring.name))
            }
            Backend::Mmap => self.root.join(format!("{}{file_suffix}", self.ring.name)),
        }
    }

    /// Every name this case's ring left behind (shm objects and files under the root).
    pub fn leftovers(&self) -> Vec<String> {
        ring_leftovers(&self.ring.name, Some(&self.root))
    }

    /// Removes everything [`leftovers`](Self::leftovers) lists.
    pub fn remove_leftovers(&self) {
        remove_all(self.leftovers());
    }
}

/// Every name of ring `name` in /dev/shm (`name` and `name_*`, and the temporaries of those,
/// `.name.*` and `.name_*`, left by a creator killed mid-creation) and everything under `root`
/// (the mmap backend's directory), sorted: what a ring left behind.
pub fn ring_leftovers(name: &str, root: Option<&std::path::Path>) -> Vec<String> {
    let mut found = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/dev/shm") {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let bare = n
                .strip_prefix('.')
                .and_then(|t| t.strip_suffix(".tmp"))
                .and_then(|t| t.split_once('.'))
                .map_or(n.as_str(), |(seg, _)| seg);
            if bare == name || bare.starts_with(&format!("{name}_")) {
                found.push(format!("/dev/shm/{n}"));
            }
        }
    }
    if let Some(root) = root {
        walk(root, &mut found);
    }
    found.sort();
    found
}

/// Removes each path (a directory with everything in it), ignoring what is already gone.
pub fn remove_all(paths: impl IntoIterator<Item = String>) {
    for p in paths {
        let path = PathBuf::from(&p);
        if path.is_dir() {
            let _ = std::fs::remove_dir_all(&path);
        } else {
            let _ = std::fs::remove_file(&path);
        }
    }
}

fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            }
            out.push(p.display().to_string());
        }
    }
}

/// FNV-1a 64 digest of the TP1 payloads of `first..=last`, as a testee reports it.
pub fn expected_digest(first: i64, last: i64, event_size: usize) -> String {
    let mut buf = vec![0u8; event_size];
    let mut h = FNV64_OFFSET;
    for seq in first..=last {
        let _ = fill(seq as u64, &mut buf);
        h = fnv1a64_update(h, &buf);
    }
    format!("{h:016x}")
}

/// Checks that `reply`'s events are exactly `first..=last`, in order, each with its TP1 bytes.
pub fn check_delivery(
    reply: &Reply,
    event_size: usize,
    first: i64,
    last: i64,
    who: &str,
) -> Result<(), CaseError> {
    let mut next = first;
    for (a, b, digest) in &reply.events {
        if *a != next {
            let what = if *a > next {
                "lost"
            } else {
                "duplicated or reordered"
            };
            return fail(format!(
                "{who}: expected sequence {next}, got a run starting at {a} ({what} events)"
            ));
        }
        if b < a {
            return fail(format!("{who}: malformed run {a}..{b}"));
        }
        if *digest != expected_digest(*a, *b, event_size) {
            return fail(format!("{who}: events {a}..={b} do not carry their TP1 payloads (torn, stale or corrupt slots)"));
        }
        next = b + 1;
    }
    if next != last + 1 {
        return fail(format!(
            "{who}: delivered up to {} but {last} was published",
            next - 1
        ));
    }
    Ok(())
}
