//! Hostile creation and restart (issue 11, CREATE part): a stalled creator, racing producers,
//! a truncated registry, a failed restart's bookkeeping, another user's segments, a FIFO under
//! a segment name, a full filesystem, a planted or world-writable consumers directory, and a
//! hostile element size. Real `ringproof` processes; each test cleans up and checks that
//! nothing of it is left, temporaries (`.NAME.PID.NANOS.tmp`) included.

mod consumers_dir;
mod creation;
mod full_fs;
mod permissions;

#[path = "../common/mod.rs"]
mod common;

use common::*;
use ringproof::kit::layout::{LayoutHeader, SegmentKind};
use ringproof::kit::registry::Registry;
use ringproof_testsupport::Child;
use serde_json::Value;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A child run with its own environment or through `sh` (common's `Proc` runs the binary
/// plainly). Killed and reaped on drop.
struct Run(Child);

fn spawn(label: &str, program: &str, args: &[String], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(program);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let label = format!("{label} `{program} {}`", args.join(" "));
    Run(Child::spawn(label, cmd, HARD_TIMEOUT))
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
        self.0.running()
    }

    /// Waits (killing it and failing after [`HARD_TIMEOUT`]) and parses its JSON line, if it
    /// printed exactly one line that is JSON (`Null` otherwise: a crash prints none).
    fn wait(mut self) -> Output {
        if self.0.wait().is_err() {
            panic!(
                "{} did not exit within {HARD_TIMEOUT:?} (killed)",
                self.0.label()
            );
        }
        let c = self.0.captured();
        let json = c
            .stdout
            .lines()
            .next()
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or(Value::Null);
        let out = Output {
            label: c.label,
            status: c.status.expect("exited"),
            stdout: c.stdout,
            stderr: c.stderr,
            json,
        };
        assert!(
            !out.stderr.contains("panicked"),
            "{} panicked\n{}",
            out.label,
            out.describe()
        );
        out
    }
}

/// Everything of `ring` left anywhere a segment or temporary of it can be: /dev/shm names and
/// temporaries of the fixture's prefix, and the fixture directory's entries.
fn leftovers(fx: &Fixture) -> Vec<String> {
    let mut v = fx.shm_leftovers();
    v.extend(fx.dir_leftovers());
    v
}

fn assert_nothing_left(fx: &Fixture) {
    let left = leftovers(fx);
    assert!(left.is_empty(), "leaked: {left:?}");
}

/// Removes whatever a test planted or damaged on purpose (the tools may rightly refuse it).
fn remove_planted(fx: &Fixture) {
    ringproof_testsupport::remove_shm(&fx.prefix);
    for e in std::fs::read_dir(&fx.dir)
        .expect("read test dir")
        .filter_map(|e| e.ok())
    {
        let p = e.path();
        if p.symlink_metadata().map(|m| m.is_dir()).unwrap_or(false) {
            let _ = std::fs::remove_dir_all(&p);
        } else {
            let _ = std::fs::remove_file(&p);
        }
    }
}

fn path_of(p: &ringproof::kit::names::SegmentPath) -> PathBuf {
    match p {
        ringproof::kit::names::SegmentPath::Shm(n) => shm_path(n),
        ringproof::kit::names::SegmentPath::File(f) => f.clone(),
    }
}

/// Whether any entry of `dir` is named like `what` or a temporary of it.
fn name_or_temp_exists(dir: &Path, what: &str) -> bool {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()).any(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n == what || n.starts_with(&format!(".{what}."))
            })
        })
        .unwrap_or(false)
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// A producer that holds its ring (waiting for a consumer that never comes), then is
/// SIGKILLed: what a crash leaves behind.
fn crashed_ring(ring: &Ring, capacity: usize) {
    let mut p = role(
        ring,
        "produce",
        &[
            "--capacity",
            &capacity.to_string(),
            "--events",
            "10",
            "--wait-consumers",
            "1",
            "--timeout-ms",
            PRODUCER_TIMEOUT_MS,
        ],
        &[],
    );
    let name = ring.ring_name();
    let deadline = Instant::now() + HARD_TIMEOUT;
    // The counters segment is made last (after the ring): then the producer is waiting.
    while !(ring.ring_is_valid()
        && Registry::open(&name.registry()).is_ok()
        && path_of(&name.counters()).exists())
    {
        assert!(p.running(), "the holding producer exited early");
        assert!(
            Instant::now() < deadline,
            "the holding producer never created its ring"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(p);
}
