//! Shared helpers for the multi-process tests: unique ring names, spawning `ringproof` with
//! piped output, waiting with a hard timeout, parsing its one JSON line, observing cursors and
//! the registry from outside, and the [`Fixture`] guard that fails a test which leaks a
//! segment (and removes the leftovers either way, so one failure does not poison others).
//!
//! Synchronisation is always a condition: the producer's `--wait-consumers`, the consumer's
//! attach retry, a cursor reaching a value, an id appearing in the registry. The only sleeps
//! are the polling intervals of those condition checks.

#![allow(dead_code)]

use ringproof::kit::cursor::Cursor;
use ringproof::kit::registry::Registry;
use ringproof::{ConsumerBuilder, RawConsumer, RingName};
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_ringproof");
/// Hard limit for any one child process, and for any condition the tests wait for.
pub const HARD_TIMEOUT: Duration = Duration::from_secs(60);
/// `--timeout-ms` the tests give producers (startup and drain): the hard limit decides first.
pub const PRODUCER_TIMEOUT_MS: &str = "60000";
/// Polling interval of condition waits.
const POLL: Duration = Duration::from_micros(200);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// One test at a time: each runs two to four busy processes, and a 2-core CI machine running
/// several such tests at once turns spin/yield hand-offs into scheduler round trips.
static SERIAL: Mutex<()> = Mutex::new(());

/// Event counts: modest in debug builds (the usual `cargo test`), larger in release.
pub fn events(debug: u64) -> u64 {
    if cfg!(debug_assertions) {
        debug
    } else {
        debug * 5
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Shm,
    Dir,
}

pub const BACKENDS: [Backend; 2] = [Backend::Shm, Backend::Dir];

/// One test's namespace: every ring it makes is named `{prefix}_{tag}`, every mmap ring lives in
/// `dir`. On drop it kills nothing (processes are [`Proc`]s, dropped first), removes whatever
/// is left under the prefix in /dev/shm and in `dir`, and fails the test if anything was.
pub struct Fixture {
    pub prefix: String,
    pub dir: PathBuf,
    started: Instant,
    _serial: MutexGuard<'static, ()>,
}

impl Fixture {
    pub fn new(test: &str) -> Fixture {
        // A test that failed while holding the lock poisons it; its guard has cleaned up.
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        // `x` after the pid and `_` after the counter: no prefix is a prefix of another's.
        let prefix = format!("rpt{pid}x{n}_{test}");
        assert!(
            prefix.len() <= 60,
            "test name too long for a ring name: {prefix}"
        );
        let dir = std::env::temp_dir().join(format!("ringproof-test-{pid}-{n}-{test}"));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("remove stale test dir");
        }
        std::fs::create_dir(&dir).expect("create test dir");
        let fx = Fixture {
            prefix,
            dir,
            started: Instant::now(),
            _serial: serial,
        };
        assert_eq!(
            fx.shm_leftovers(),
            Vec::<String>::new(),
            "shm names under a fresh prefix"
        );
        fx
    }

    /// Prints how long the test has run so far (shown with `--nocapture`).
    pub fn report(&self, what: &str) {
        eprintln!(
            "[{}] {what}: {:.2}s",
            self.prefix,
            self.started.elapsed().as_secs_f64()
        );
    }

    /// A ring of this test on `backend`.
    pub fn ring(&self, backend: Backend, tag: &str) -> Ring {
        Ring {
            name: format!("{}_{tag}", self.prefix),
            backend,
            dir: self.dir.clone(),
        }
    }

    /// Entries of /dev/shm whose name starts with this test's prefix, and temporaries of its
    /// segments (`.{name}.{pid}.{nanos}.tmp`, left by a creator killed mid-creation).
    pub fn shm_leftovers(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir("/dev/shm")
            .expect("read /dev/shm")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.strip_prefix('.').unwrap_or(n).starts_with(&self.prefix))
            .collect();
        v.sort();
        v
    }

    /// Everything under the test's mmap root, recursively, relative to it.
    pub fn dir_leftovers(&self) -> Vec<String> {
        let mut v = Vec::new();
        list_recursive(&self.dir, &self.dir, &mut v);
        v.sort();
        v
    }

    /// Asserts now that nothing of this test is left (the guard does it again at drop).
    pub fn assert_clean(&self) {
        let shm = self.shm_leftovers();
        let dir = self.dir_leftovers();
        assert!(
            shm.is_empty() && dir.is_empty(),
            "leaked segments: /dev/shm {shm:?}, {}: {dir:?}",
            self.dir.display()
        );
    }
}

fn list_recursive(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(|e| e.ok()) {
        let p = e.path();
        out.push(p.strip_prefix(root).unwrap_or(&p).display().to_string());
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            list_recursive(root, &p, out);
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let shm = self.shm_leftovers();
        let dir = self.dir_leftovers();
        for name in &shm {
            let _ = std::fs::remove_file(Path::new("/dev/shm").join(name));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        self.report("done");
        if !std::thread::panicking() && (!shm.is_empty() || !dir.is_empty()) {
            panic!(
                "test leaked segments (now removed): /dev/shm {shm:?}, {}: {dir:?}",
                self.dir.display()
            );
        }
    }
}

/// A ring's name and backend, as the tests address it.
#[derive(Clone, Debug)]
pub struct Ring {
    pub name: String,
    pub backend: Backend,
    pub dir: PathBuf,
}

impl Ring {
    /// `--ring NAME [--dir DIR]`.
    pub fn args(&self) -> Vec<String> {
        let mut v = vec!["--ring".to_owned(), self.name.clone()];
        if self.backend == Backend::Dir {
            v.push("--dir".into());
            v.push(self.dir.display().to_string());
        }
        v
    }

    /// The library's view of the same name.
    pub fn ring_name(&self) -> RingName {
        match self.backend {
            Backend::Shm => RingName::shm(&self.name).expect("valid name"),
            Backend::Dir => RingName::dir(&self.dir, &self.name).expect("valid name"),
        }
    }

    /// Filesystem path of the ring segment (shm objects live in /dev/shm on Linux).
    pub fn ring_path(&self) -> PathBuf {
        match self.backend {
            Backend::Shm => Path::new("/dev/shm").join(&self.name),
            Backend::Dir => self.dir.join(format!("{}.ring", self.name)),
        }
    }

    /// Filesystem path of consumer `id`'s cursor.
    pub fn consumer_cursor_path(&self, id: &str) -> PathBuf {
        match self.backend {
            Backend::Shm => Path::new("/dev/shm").join(format!("{}_{id}_seq", self.name)),
            Backend::Dir => self
                .dir
                .join(format!("{}.consumers", self.name))
                .join(format!("{id}.cursor")),
        }
    }

    /// Paths of the ring's segments other than the ring itself (producer cursor, registry).
    pub fn other_paths(&self) -> Vec<PathBuf> {
        match self.backend {
            Backend::Shm => vec![
                Path::new("/dev/shm").join(format!("{}_producer_seq", self.name)),
                Path::new("/dev/shm").join(format!("{}_registry", self.name)),
            ],
            Backend::Dir => vec![
                self.dir.join(format!("{}.producer.cursor", self.name)),
                self.dir.join(format!("{}.registry", self.name)),
            ],
        }
    }

    /// The producer cursor, once it exists and is valid.
    pub fn open_producer_cursor(&self) -> Option<Cursor> {
        Cursor::open(&self.ring_name().producer_cursor(), "producer cursor").ok()
    }

    /// Consumer `id`'s cursor, once it exists and is valid.
    pub fn open_consumer_cursor(&self, id: &str) -> Option<Cursor> {
        Cursor::open(&self.ring_name().consumer_cursor(id), "consumer cursor").ok()
    }

    /// Ids of the consumers registered now (empty if there is no registry).
    pub fn active_ids(&self) -> Vec<String> {
        match Registry::open(&self.ring_name().registry()) {
            Ok(r) => r.active().into_iter().map(|p| p.id).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Whether the ring segment exists with a valid LayoutV1 ring header.
    pub fn ring_is_valid(&self) -> bool {
        use ringproof::kit::layout::{Expect, SegmentKind};
        ringproof::kit::segment::Segment::open(
            &self.ring_name().ring(),
            "ring",
            &Expect::kind(SegmentKind::Ring),
        )
        .is_ok()
    }

    /// A snapshot of the valid ring segment's bytes.
    pub fn ring_bytes(&self) -> Vec<u8> {
        use ringproof::kit::layout::{Expect, SegmentKind};
        ringproof::kit::segment::Segment::open(
            &self.ring_name().ring(),
            "ring",
            &Expect::kind(SegmentKind::Ring),
        )
        .expect("open ring")
        .snapshot()
    }

    /// Spawns `ringproof produce` on this ring with `extra` arguments.
    pub fn produce(&self, extra: &[&str]) -> Proc {
        let mut args = vec!["produce".to_owned()];
        args.extend(self.args());
        args.extend(extra.iter().map(|s| s.to_string()));
        Proc::spawn(&format!("producer[{}]", self.name), &args)
    }

    /// Spawns `ringproof consume --id ID` on this ring with `extra` arguments.
    pub fn consume(&self, id: &str, extra: &[&str]) -> Proc {
        let mut args = vec!["consume".to_owned()];
        args.extend(self.args());
        args.extend(["--id".to_owned(), id.to_owned()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        Proc::spawn(&format!("consumer {id}[{}]", self.name), &args)
    }

    /// Attaches a consumer inside the test process (a gate the test controls), retrying until
    /// the ring exists.
    pub fn attach_gate(&self, id: &str, size: usize) -> RawConsumer {
        ConsumerBuilder::new(self.ring_name(), id)
            .attach_timeout(HARD_TIMEOUT)
            .attach_raw(size)
            .unwrap_or_else(|e| panic!("gate {id} failed to attach to {}: {e}", self.name))
    }
}

/// Consumes exactly `n` events through an in-test consumer, checking order and payload, with a
/// hard deadline. `procs` are checked for an early death (which would leave us waiting).
pub fn gate_consume(c: &mut RawConsumer, n: u64, procs: &mut [&mut Proc]) {
    let deadline = Instant::now() + HARD_TIMEOUT;
    let mut buf = vec![0u8; c.element_size()];
    let mut got = 0;
    let mut idle = 0u32;
    while got < n {
        match c.try_next_into(&mut buf) {
            Ok(Some(seq)) => {
                idle = 0;
                ringproof::kit::payload::verify(seq as u64, &buf)
                    .unwrap_or_else(|e| panic!("gate {}: bad payload at {seq}: {e}", c.id()));
                got += 1;
            }
            Ok(None) => {
                idle += 1;
                if idle & 0xff == 0 {
                    assert!(
                        Instant::now() < deadline,
                        "gate {} got {got} of {n} events within {HARD_TIMEOUT:?}",
                        c.id()
                    );
                    check_alive(procs);
                }
                std::thread::yield_now();
            }
            Err(e) => panic!("gate {} failed after {got} of {n} events: {e}", c.id()),
        }
    }
}

/// What a finished child left.
#[derive(Debug)]
pub struct Output {
    pub label: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub json: Value,
}

impl Output {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Asserts the exit code, showing everything the process said otherwise.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "{}: unexpected exit status\n{}",
            self.label,
            self.describe()
        );
        self
    }

    pub fn describe(&self) -> String {
        format!(
            "status: {:?}\nstdout: {}\nstderr: {}",
            self.status,
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }

    pub fn get(&self, key: &str) -> &Value {
        self.json
            .get(key)
            .unwrap_or_else(|| panic!("{}: no {key:?} in {}", self.label, self.json))
    }

    pub fn i64(&self, key: &str) -> i64 {
        self.get(key)
            .as_i64()
            .unwrap_or_else(|| panic!("{}: {key:?} is not an integer in {}", self.label, self.json))
    }

    pub fn u64(&self, key: &str) -> u64 {
        self.get(key)
            .as_u64()
            .unwrap_or_else(|| panic!("{}: {key:?} is not a u64 in {}", self.label, self.json))
    }

    pub fn is_null(&self, key: &str) -> bool {
        self.get(key).is_null()
    }

    /// The `error` of an error line (exit 2).
    pub fn error(&self) -> String {
        self.get("error")
            .as_str()
            .unwrap_or_else(|| panic!("{}: error is not a string", self.label))
            .to_owned()
    }

    /// Asserts a failed run: exit 2, an error line mentioning every one of `needles`.
    pub fn expect_error(&self, needles: &[&str]) -> &Self {
        self.expect_code(2);
        let e = self.error();
        for n in needles {
            assert!(
                e.contains(n),
                "{}: error {e:?} does not mention {n:?}",
                self.label
            );
        }
        self
    }

    /// Asserts the producer published `events` events from 0 and drained (exit 0).
    pub fn expect_producer_ok(&self, events: u64) -> &Self {
        self.expect_code(0);
        assert_eq!(self.get("role"), "producer", "{}", self.describe());
        assert_eq!(self.u64("published"), events, "{}", self.describe());
        assert_eq!(self.i64("first_seq"), 0, "{}", self.describe());
        assert_eq!(
            self.i64("last_seq"),
            events as i64 - 1,
            "{}",
            self.describe()
        );
        assert_eq!(
            self.get("drained"),
            &Value::Bool(true),
            "{}",
            self.describe()
        );
        self
    }

    /// Asserts a consumer run that exited 0 having seen exactly `first..=last`, in order, with
    /// every payload intact.
    pub fn expect_consumer_clean(&self, first: i64, last: i64) -> &Self {
        self.expect_code(0);
        let d = self.describe();
        assert_eq!(self.get("role"), "consumer", "{d}");
        assert_eq!(self.u64("out_of_order"), 0, "{d}");
        assert_eq!(self.u64("payload_errors"), 0, "{d}");
        assert_eq!(self.get("errors"), &Value::Array(vec![]), "{d}");
        assert_eq!(self.i64("first_seq"), first, "{d}");
        assert_eq!(self.i64("last_seq"), last, "{d}");
        assert_eq!(self.u64("consumed"), (last - first + 1) as u64, "{d}");
        self
    }
}

/// A running `ringproof` child. Dropping it kills it (SIGKILL) and reaps it, so a failing
/// test never leaves processes behind.
pub struct Proc {
    pub label: String,
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
    exited: Option<ExitStatus>,
}

fn reader(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = r.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    })
}

impl Proc {
    pub fn spawn(label: &str, args: &[String]) -> Proc {
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {BIN} {args:?}: {e}"));
        let stdout = Some(reader(child.stdout.take().expect("piped stdout")));
        let stderr = Some(reader(child.stderr.take().expect("piped stderr")));
        Proc {
            label: format!("{label} `ringproof {}`", args.join(" ")),
            child,
            stdout,
            stderr,
            exited: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has not exited yet.
    pub fn running(&mut self) -> bool {
        self.poll().is_none()
    }

    fn poll(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().expect("try_wait");
        }
        self.exited
    }

    /// SIGKILL and reap (a crash, as far as the ring can tell).
    pub fn kill(&mut self) {
        if self.poll().is_none() {
            let _ = self.child.kill();
            self.exited = Some(self.child.wait().expect("reap killed child"));
        }
    }

    /// SIGKILL without reaping: the process stays a zombie (its pid still exists) until this
    /// `Proc` is waited for or dropped. Returns once the kernel shows it as a zombie.
    pub fn kill_leave_zombie(&mut self) {
        assert!(self.exited.is_none(), "{} already exited", self.label);
        self.child.kill().expect("SIGKILL");
        let stat = format!("/proc/{}/stat", self.pid());
        wait_until("the killed process to become a zombie", &mut [], || {
            std::fs::read_to_string(&stat)
                .ok()
                .and_then(|s| {
                    s.rfind(')')
                        .map(|i| s[i + 1..].trim_start().starts_with('Z'))
                })
                .unwrap_or(false)
        });
    }

    /// Waits for the exit, killing the child and failing the test after [`HARD_TIMEOUT`].
    pub fn wait(self) -> Output {
        self.wait_for(HARD_TIMEOUT)
    }

    pub fn wait_for(mut self, timeout: Duration) -> Output {
        let deadline = Instant::now() + timeout;
        while self.poll().is_none() {
            if Instant::now() >= deadline {
                self.kill();
                let out = self.collect();
                panic!(
                    "{} did not exit within {timeout:?} (killed)\n{}",
                    out.label,
                    out.describe()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        self.finish()
    }

    /// Output of an exited child, without parsing (for diagnostics).
    fn collect(&mut self) -> Output {
        let status = self.exited.expect("exited");
        let stdout = self
            .stdout
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let stderr = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        Output {
            label: self.label.clone(),
            status,
            stdout,
            stderr,
            json: Value::Null,
        }
    }

    /// Output of an exited child: no panic, exactly one JSON object line on stdout.
    fn finish(mut self) -> Output {
        let mut out = self.collect();
        assert!(
            !out.stderr.contains("panicked"),
            "{} panicked\n{}",
            out.label,
            out.describe()
        );
        let lines: Vec<&str> = out
            .stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "{}: expected exactly one JSON line\n{}",
            out.label,
            out.describe()
        );
        out.json = serde_json::from_str(lines[0]).unwrap_or_else(|e| {
            panic!(
                "{}: stdout is not JSON ({e})\n{}",
                out.label,
                out.describe()
            )
        });
        assert!(
            out.json.is_object(),
            "{}: JSON line is not an object\n{}",
            out.label,
            out.describe()
        );
        out
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Panics (with its output) if any of `procs` has exited: a condition it was supposed to bring
/// about will not come.
pub fn check_alive(procs: &mut [&mut Proc]) {
    for p in procs.iter_mut() {
        if !p.running() {
            let out = p.collect();
            panic!("{} exited early\n{}", out.label, out.describe());
        }
    }
}

/// Polls `cond` until it holds, failing after [`HARD_TIMEOUT`] or as soon as one of `procs`
/// (which must stay alive meanwhile) exits. Waiting for a condition, not for time.
pub fn wait_until(what: &str, procs: &mut [&mut Proc], mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + HARD_TIMEOUT;
    loop {
        if cond() {
            return;
        }
        check_alive(procs);
        assert!(
            Instant::now() < deadline,
            "timed out after {HARD_TIMEOUT:?} waiting for {what}"
        );
        std::thread::sleep(POLL);
    }
}

/// Waits for every process, failing fast: the first one to exit with a non-zero status (or
/// all of them not finishing within [`HARD_TIMEOUT`]) kills the rest and fails the test with
/// every output so far. Returns the outputs in the order given.
pub fn wait_all(procs: Vec<Proc>) -> Vec<Output> {
    let deadline = Instant::now() + HARD_TIMEOUT;
    let mut procs: Vec<Option<Proc>> = procs.into_iter().map(Some).collect();
    let mut outs: Vec<Option<Output>> = procs.iter().map(|_| None).collect();
    loop {
        let mut pending = false;
        for i in 0..procs.len() {
            let Some(p) = procs[i].as_mut() else { continue };
            match p.poll() {
                Some(status) if status.success() => {
                    outs[i] = Some(procs[i].take().expect("some").finish())
                }
                Some(_) => {
                    let mut p = procs[i].take().expect("some");
                    let failed = p.collect();
                    let others = kill_and_describe(&mut procs, &mut outs);
                    panic!(
                        "{} failed\n{}\n--- the others:\n{others}",
                        failed.label,
                        failed.describe()
                    );
                }
                None => pending = true,
            }
        }
        if !pending {
            return outs.into_iter().map(|o| o.expect("finished")).collect();
        }
        if Instant::now() >= deadline {
            let others = kill_and_describe(&mut procs, &mut outs);
            panic!("processes did not finish within {HARD_TIMEOUT:?} (killed)\n{others}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn kill_and_describe(procs: &mut [Option<Proc>], outs: &mut [Option<Output>]) -> String {
    let mut s = String::new();
    for (p, o) in procs.iter_mut().zip(outs.iter()) {
        if let Some(p) = p {
            let was_running = p.running();
            p.kill();
            let out = p.collect();
            s += &format!(
                "{} ({}):\n{}\n",
                out.label,
                if was_running { "killed" } else { "exited" },
                out.describe()
            );
        } else if let Some(o) = o {
            s += &format!("{} (finished):\n{}\n", o.label, o.describe());
        }
    }
    s
}

/// `s` as an owned argument (for building argument lists from numbers).
pub fn a(s: impl ToString) -> String {
    s.to_string()
}

/// Borrowed view of owned arguments.
pub fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
