//! Hostile creation and restart (issue 11, CREATE part): a stalled creator, racing producers,
//! a truncated registry, a failed restart's bookkeeping, another user's segments, a FIFO under
//! a segment name, a full filesystem, a planted or world-writable consumers directory, and a
//! hostile element size. Real `ringproof` processes; each test cleans up and checks that
//! nothing of it is left, temporaries (`.NAME.PID.NANOS.tmp`) included.

mod common;

use common::*;
use ringproof::layout::{LayoutHeader, SegmentKind};
use ringproof::registry::Registry;
use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A child run with its own environment or through `sh` (common's `Proc` runs the binary
/// plainly). Killed and reaped on drop.
struct Run {
    label: String,
    child: Child,
    out: Option<JoinHandle<String>>,
    err: Option<JoinHandle<String>>,
}

fn reader(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = r.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    })
}

fn spawn(label: &str, program: &str, args: &[String], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {program} {args:?}: {e}"));
    let out = Some(reader(child.stdout.take().expect("stdout")));
    let err = Some(reader(child.stderr.take().expect("stderr")));
    Run { label: format!("{label} `{program} {}`", args.join(" ")), child, out, err }
}

/// `ringproof ARGS` with `env`.
fn ringproof(label: &str, args: Vec<String>, env: &[(&str, &str)]) -> Run {
    spawn(label, BIN, &args, env)
}

/// `ringproof CMD` on `ring` with `extra` arguments.
fn role(ring: &Ring, cmd: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let mut args = vec![cmd.to_owned()];
    args.extend(ring.args());
    args.extend(extra.iter().map(|s| s.to_string()));
    ringproof(cmd, args, env)
}

impl Run {
    fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Waits (killing it and failing after [`HARD_TIMEOUT`]) and parses its JSON line, if it
    /// printed exactly one line that is JSON (`Null` otherwise: a crash prints none).
    fn wait(mut self) -> Output {
        let deadline = Instant::now() + HARD_TIMEOUT;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{} did not exit within {HARD_TIMEOUT:?} (killed)", self.label);
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let stdout = self.out.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        let stderr = self.err.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        let json = stdout.lines().next().and_then(|l| serde_json::from_str(l).ok()).unwrap_or(Value::Null);
        let out = Output { label: self.label.clone(), status, stdout, stderr, json };
        assert!(!out.stderr.contains("panicked"), "{} panicked\n{}", out.label, out.describe());
        out
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Everything of `ring` left anywhere a segment or temporary of it can be: /dev/shm names and
/// temporaries of the fixture's prefix, and the fixture directory's entries.
fn leftovers(fx: &Fixture) -> Vec<String> {
    let mut v = fx.shm_leftovers();
    let dot = format!(".{}", fx.prefix);
    v.extend(
        std::fs::read_dir("/dev/shm")
            .expect("read /dev/shm")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&dot)),
    );
    v.extend(fx.dir_leftovers());
    v
}

fn assert_nothing_left(fx: &Fixture) {
    let left = leftovers(fx);
    assert!(left.is_empty(), "leaked: {left:?}");
}

/// Removes whatever a test planted or damaged on purpose (the tools may rightly refuse it).
fn remove_planted(fx: &Fixture) {
    let dot = format!(".{}", fx.prefix);
    for e in std::fs::read_dir("/dev/shm").expect("read /dev/shm").filter_map(|e| e.ok()) {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with(&fx.prefix) || n.starts_with(&dot) {
            let _ = std::fs::remove_file(e.path());
        }
    }
    for e in std::fs::read_dir(&fx.dir).expect("read test dir").filter_map(|e| e.ok()) {
        let p = e.path();
        if p.symlink_metadata().map(|m| m.is_dir()).unwrap_or(false) {
            let _ = std::fs::remove_dir_all(&p);
        } else {
            let _ = std::fs::remove_file(&p);
        }
    }
}

fn path_of(p: &ringproof::names::SegmentPath) -> PathBuf {
    match p {
        ringproof::names::SegmentPath::Shm(n) => Path::new("/dev/shm").join(n),
        ringproof::names::SegmentPath::File(f) => f.clone(),
    }
}

/// Whether any entry of `dir` is named like `what` or a temporary of it.
fn name_or_temp_exists(dir: &Path, what: &str) -> bool {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).any(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n == what || n.starts_with(&format!(".{what}."))
        }))
        .unwrap_or(false)
}

/// A producer that holds its ring (waiting for a consumer that never comes), then is
/// SIGKILLed: what a crash leaves behind.
fn crashed_ring(ring: &Ring, capacity: usize) {
    let mut p = role(ring, "produce", &["--capacity", &capacity.to_string(), "--events", "10", "--wait-consumers", "1", "--timeout-ms", PRODUCER_TIMEOUT_MS], &[]);
    let name = ring.ring_name();
    let deadline = Instant::now() + HARD_TIMEOUT;
    while !(ring.ring_is_valid() && Registry::open(&name.registry()).is_ok()) {
        assert!(p.running(), "the holding producer exited early");
        assert!(Instant::now() < deadline, "the holding producer never created its ring");
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(p);
}

// ---------------------------------------------------------------------------------------------
// F3: a producer stalled inside the creation of its registry never deletes the winner's.

fn stalled_creator(fx: &Fixture, backend: Backend) {
    let ring = fx.ring(backend, &format!("stall{}", backend as u8));
    let name = ring.ring_name();
    let (dir, reg) = match backend {
        Backend::Shm => (PathBuf::from("/dev/shm"), format!("{}_registry", ring.name)),
        Backend::Dir => (fx.dir.clone(), format!("{}.registry", ring.name)),
    };
    // A: stalls 3 s right after sizing its registry (before its header), then goes on.
    let a = role(&ring, "produce", &["--events", "10", "--capacity", "16"], &[("RINGPROOF_FAILPOINT", "segment.create@1:sleep=3000")]);
    wait_until("A to start creating its registry", &mut [], || name_or_temp_exists(&dir, &reg));
    let events = events(20_000);
    // B: the same ring, meanwhile; waits for one consumer, publishes through a 16-slot ring.
    let b = role(&ring, "produce", &["--events", &events.to_string(), "--capacity", "16", "--wait-consumers", "1", "--timeout-ms", PRODUCER_TIMEOUT_MS], &[]);
    let b_pid = b.child.id();
    wait_until("B to own the ring", &mut [], || Registry::open(&name.registry()).is_ok_and(|r| r.producer_pid() == b_pid));
    let reg_before = ringproof::segment::identity_of(&name.registry());
    let out_a = a.wait();
    out_a.expect_error(&["live producer"]);
    assert_eq!(ringproof::segment::identity_of(&name.registry()), reg_before, "A's failure touched B's registry");
    // A consumer that comes after A's failure is gated by B: a 16-slot ring, TP1-checked.
    let c = role(&ring, "consume", &["--id", "c"], &[]);
    let out_b = b.wait();
    let out_c = c.wait();
    out_b.expect_producer_ok(events);
    out_c.expect_consumer_clean(0, events as i64 - 1);
    assert_nothing_left(fx);
}

#[test]
fn stalled_creator_never_removes_the_winners_registry() {
    let fx = Fixture::new("stall");
    for backend in BACKENDS {
        stalled_creator(&fx, backend);
    }
}

// ---------------------------------------------------------------------------------------------
// F19: two producers started at once: each runs, or is told the ring has a live producer.

#[test]
fn racing_producers_each_run_or_see_a_live_producer() {
    let fx = Fixture::new("race");
    let pairs = 100;
    let mut refused = 0;
    for i in 0..pairs {
        let ring = fx.ring(if i % 2 == 0 { Backend::Shm } else { Backend::Dir }, "r");
        let p1 = role(&ring, "produce", &["--events", "5", "--capacity", "8"], &[]);
        let p2 = role(&ring, "produce", &["--events", "5", "--capacity", "8"], &[]);
        for out in [p1.wait(), p2.wait()] {
            match out.code() {
                Some(0) => {}
                _ => {
                    out.expect_error(&["live producer"]);
                    refused += 1;
                }
            }
        }
        assert_nothing_left(&fx);
    }
    fx.report(&format!("{pairs} pairs, {refused} refused with a live producer"));
}

// ---------------------------------------------------------------------------------------------
// F9 (restart): a truncated registry or producer cursor is reported, never removed.

#[test]
fn truncated_segments_are_reported_and_never_removed_on_restart() {
    let fx = Fixture::new("trunc");
    for backend in BACKENDS {
        for victim in ["registry", "producer cursor"] {
            let ring = fx.ring(backend, &format!("t{}{}", backend as u8, victim.len()));
            let name = ring.ring_name();
            crashed_ring(&ring, 64);
            let path = path_of(&if victim == "registry" { name.registry() } else { name.producer_cursor() });
            std::fs::OpenOptions::new().write(true).open(&path).expect("open victim").set_len(0).expect("truncate");
            let out = role(&ring, "produce", &["--capacity", "64", "--events", "10"], &[]).wait();
            out.expect_error(&["damaged", "rm --force"]);
            for p in [name.registry(), name.producer_cursor(), name.ring()] {
                assert!(path_of(&p).exists(), "{victim} case: {p} was removed by the failed restart");
            }
            remove_planted(&fx);
        }
    }
    assert_nothing_left(&fx);
}

// ---------------------------------------------------------------------------------------------
// F21 (restart bookkeeping): a restart that fails does not count as a producer start.

#[test]
fn failed_restart_does_not_count_a_start() {
    let fx = Fixture::new("starts");
    for backend in BACKENDS {
        let ring = fx.ring(backend, "s");
        let name = ring.ring_name();
        crashed_ring(&ring, 64);
        let starts = || Registry::open(&name.registry()).expect("registry").control().producer_starts.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(starts(), 1);
        // Wrong capacity: the restart is refused after it claimed the registry.
        role(&ring, "produce", &["--capacity", "128", "--events", "10"], &[]).wait().expect_error(&["capacity"]);
        assert_eq!(starts(), 1, "a failed restart counted as a start");
        role(&ring, "produce", &["--capacity", "64", "--events", "10"], &[]).wait().expect_producer_ok(10);
        // The successful restart counted (its registry is gone with its clean close).
        assert_nothing_left(&fx);
    }
}

// ---------------------------------------------------------------------------------------------
// F13: a FIFO under a segment name is refused at once, never opened blocking.

#[test]
fn fifo_under_a_segment_name_is_refused() {
    let fx = Fixture::new("fifo");
    let name = format!("{}_f", fx.prefix);
    let path = Path::new("/dev/shm").join(&name);
    let made = Command::new("mkfifo").arg(&path).status().map(|s| s.success()).unwrap_or(false);
    if !made {
        eprintln!("skipped: mkfifo failed");
        return;
    }
    // One at a time: a second opener of the FIFO would let a blocked first one through.
    let runs: [(&str, Vec<String>); 3] = [
        ("inspect", vec!["layout".into(), "inspect".into(), "--shm".into(), name.clone()]),
        ("diff", vec!["layout".into(), "diff".into(), "--shm".into(), name.clone(), name.clone()]),
        ("consume", vec!["consume".into(), "--ring".into(), name.clone(), "--id".into(), "c".into(), "--attach-timeout-ms".into(), "200".into()]),
    ];
    for (label, args) in runs {
        let out = ringproof(label, args, &[]).wait();
        assert_eq!(out.code(), Some(2), "{label}\n{}", out.describe());
        assert!(out.stderr.contains("FIFO") || out.stderr.contains("not a regular file"), "{label}: {}", out.describe());
    }
    std::fs::remove_file(&path).expect("remove fifo");
    assert_nothing_left(&fx);
}

// ---------------------------------------------------------------------------------------------
// F10: a ring header claiming 1 TiB events is refused with a bound, not an abort.

#[test]
fn hostile_element_size_is_refused() {
    let fx = Fixture::new("esize");
    for backend in BACKENDS {
        let ring = fx.ring(backend, &format!("e{}", backend as u8));
        let name = ring.ring_name();
        let element = 1u64 << 40;
        let h = LayoutHeader::new(SegmentKind::Ring, 8, element, 1, element);
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode_0600().open(path_of(&name.ring())).expect("create ring");
        f.write_all(&h.to_bytes()).expect("write header");
        // Sparse: the pages are never touched.
        f.set_len(56 + element).expect("size ring");
        drop(f);
        let cursor = ringproof::cursor::Cursor::create(&name.producer_cursor(), "producer cursor", -1, 0).expect("producer cursor");
        drop(cursor);
        let out = role(&ring, "consume", &["--id", "c", "--attach-timeout-ms", "200"], &[]).wait();
        out.expect_error(&["element size", "16777216"]);
        remove_planted(&fx);
    }
    assert_nothing_left(&fx);
}

trait Mode0600 {
    fn mode_0600(&mut self) -> &mut Self;
}

impl Mode0600 for std::fs::OpenOptions {
    fn mode_0600(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.mode(0o600)
    }
}
