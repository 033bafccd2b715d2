//! What the interop tests add to `ringproof-testsupport` (which spawns, reaps, times out and
//! scans /dev/shm): the two kinds of peer, their result lines, and a [`Session`] per test.
//!
//! Two kinds of peer, each in its own OS process:
//! - the disruptor-mp side: the `dmp-peer` binary of this package;
//! - the ringproof side: this very test binary, re-executed with [`ROLE_ENV`] set and
//!   `--exact ringproof_role --nocapture --test-threads 1`, so the `ringproof_role` test runs
//!   the role (see `interop/main.rs`) and prints one line `ROLE_RESULT {json}`.
//!
//! Every test builds a [`Session`]: it owns the children and the shm name. Dropping it (on
//! success or on a panic) kills whatever still runs and removes every /dev/shm entry of the
//! ring, so a failed run never poisons the next one; [`Session::finish`] asserts that the peers
//! themselves left nothing behind.

#![allow(dead_code)]

use ringproof_testsupport::{self as support, Child};
use serde_json::Value;
use std::process::{Command, ExitStatus};
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

/// Set in a child's environment to the role it plays: `producer` or `consumer`.
pub const ROLE_ENV: &str = "RINGPROOF_INTEROP_ROLE";
/// The name of the child entry test (in `interop/main.rs`).
pub const ROLE_TEST: &str = "ringproof_role";
/// Marks the ringproof child's result line among libtest's own output.
pub const MARKER: &str = "ROLE_RESULT ";

/// Takes this test's turn: the interop tests each run two or three spinning processes; on a
/// small machine, running several tests at once turns into a scheduling benchmark.
pub fn serial() -> MutexGuard<'static, ()> {
    support::serial()
}

/// A shm ring name unique to this process and this test.
pub fn unique_name(tag: &str) -> String {
    support::unique_name("rpi", tag)
}

/// The /dev/shm entries whose name starts with `name`.
pub fn shm_leftovers(name: &str) -> Vec<String> {
    support::shm_leftovers(name)
}

/// How one peer ended.
#[derive(Debug)]
pub struct Outcome {
    pub label: String,
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    /// The result line (`ROLE_RESULT` line of a ringproof child, the JSON line of dmp-peer).
    pub json: Option<Value>,
    pub wall: Duration,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// `json[key]` as u64, failing with the whole outcome if it is missing.
    pub fn u64(&self, key: &str) -> u64 {
        self.field(key)
            .as_u64()
            .unwrap_or_else(|| panic!("{}: {key} is not a u64\n{self}", self.label))
    }

    /// `json[key]` as i64, failing with the whole outcome if it is missing.
    pub fn i64(&self, key: &str) -> i64 {
        self.field(key)
            .as_i64()
            .unwrap_or_else(|| panic!("{}: {key} is not an i64\n{self}", self.label))
    }

    pub fn field(&self, key: &str) -> &Value {
        self.json
            .as_ref()
            .and_then(|j| j.get(key))
            .unwrap_or_else(|| panic!("{}: no {key:?} in the result\n{self}", self.label))
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tail = |s: &str| {
            let n = s.len();
            let start = n.saturating_sub(4000);
            let start = (start..n).find(|&i| s.is_char_boundary(i)).unwrap_or(n);
            s[start..].to_owned()
        };
        writeln!(
            f,
            "--- {} ({:?}, {:.2?}) ---",
            self.label, self.status, self.wall
        )?;
        writeln!(
            f,
            "result: {}",
            self.json
                .as_ref()
                .map_or("<none>".into(), |j| j.to_string())
        )?;
        writeln!(f, "stdout (tail):\n{}", tail(&self.stdout))?;
        write!(f, "stderr (tail):\n{}", tail(&self.stderr))
    }
}

/// A running peer; its outcome once it exited (or was killed).
struct Peer {
    child: Child,
    done: Option<Outcome>,
}

/// The result line: the text after [`MARKER`] for a ringproof child, else the last line of
/// stdout that parses as a JSON object (dmp-peer prints exactly one).
fn result_line(stdout: &str) -> Option<Value> {
    if let Some(line) = stdout.lines().rev().find(|l| l.contains(MARKER)) {
        let at = line.find(MARKER).expect("contains") + MARKER.len();
        return serde_json::from_str(&line[at..]).ok();
    }
    stdout
        .lines()
        .rev()
        .filter(|l| l.trim_start().starts_with('{'))
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
}

impl Peer {
    fn spawn(label: &str, cmd: Command, limit: Duration) -> Peer {
        Peer {
            child: Child::spawn(label, cmd, limit),
            done: None,
        }
    }

    fn label(&self) -> &str {
        self.child.label()
    }

    /// Collects the outcome once the child exited (or was killed).
    fn reap(&mut self) {
        let c = self.child.captured();
        let json = result_line(&c.stdout);
        self.done = Some(Outcome {
            label: c.label,
            status: c.status,
            stdout: c.stdout,
            stderr: c.stderr,
            json,
            wall: c.wall,
        });
    }

    fn poll(&mut self) -> bool {
        if self.done.is_some() {
            return true;
        }
        if self.child.try_wait().is_some() {
            self.reap();
            return true;
        }
        false
    }

    fn kill(&mut self) {
        if self.done.is_none() {
            self.child.kill();
            self.reap();
        }
    }
}

/// One test's ring: its unique name, its children, its deadline.
pub struct Session {
    pub name: String,
    peers: Vec<Peer>,
    deadline: Instant,
    started: Instant,
    _turn: MutexGuard<'static, ()>,
}

impl Session {
    /// Takes this test's turn and names its ring. `limit` bounds the whole test.
    pub fn new(tag: &str, limit: Duration) -> Session {
        let turn = serial();
        let name = unique_name(tag);
        assert!(
            shm_leftovers(&name).is_empty(),
            "fresh name {name} already in /dev/shm"
        );
        Session {
            name,
            peers: Vec::new(),
            deadline: Instant::now() + limit,
            started: Instant::now(),
            _turn: turn,
        }
    }

    /// Moves the hard deadline to `from_now` from now.
    pub fn set_deadline(&mut self, from_now: Duration) {
        self.deadline = Instant::now() + from_now;
    }

    /// Starts `dmp-peer` with `args` (after the subcommand).
    pub fn spawn_dmp(&mut self, label: &str, args: &[String]) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dmp-peer"));
        cmd.args(args);
        let limit = self.deadline.saturating_duration_since(Instant::now());
        self.peers.push(Peer::spawn(label, cmd, limit));
    }

    /// Starts this test binary as a ringproof `role` with `RP_*` parameters.
    pub fn spawn_rp(&mut self, label: &str, role: &str, params: &[(&str, String)]) {
        let exe = std::env::current_exe().expect("current_exe");
        let mut cmd = Command::new(exe);
        cmd.args(["--exact", ROLE_TEST, "--nocapture", "--test-threads", "1"])
            .env(ROLE_ENV, role)
            .env("RUST_BACKTRACE", "1");
        for (k, v) in params {
            cmd.env(k, v);
        }
        let limit = self.deadline.saturating_duration_since(Instant::now());
        self.peers.push(Peer::spawn(label, cmd, limit));
    }

    /// Waits for every peer. Fails (killing the rest) at the deadline, or a grace period after
    /// the first peer that exits unsuccessfully, printing everything each peer said.
    pub fn wait_all(&mut self) -> Vec<Outcome> {
        const GRACE: Duration = Duration::from_secs(3);
        let mut failed_at: Option<Instant> = None;
        loop {
            let mut all = true;
            for p in &mut self.peers {
                if p.poll() {
                    if !p.done.as_ref().expect("reaped").success() {
                        failed_at.get_or_insert_with(Instant::now);
                    }
                } else {
                    all = false;
                }
            }
            if all {
                break;
            }
            let now = Instant::now();
            let timed_out = now >= self.deadline;
            let gave_up = failed_at.is_some_and(|t| now - t >= GRACE);
            if timed_out || gave_up {
                for p in &mut self.peers {
                    p.kill();
                }
                let report = self.report();
                panic!(
                    "{} after {:.2?}; children killed\n{report}",
                    if timed_out {
                        "hard timeout"
                    } else {
                        "a peer failed and the rest did not finish"
                    },
                    self.started.elapsed()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if self
            .peers
            .iter()
            .any(|p| !p.done.as_ref().expect("reaped").success())
        {
            panic!("a peer failed\n{}", self.report());
        }
        self.peers
            .drain(..)
            .map(|mut p| p.done.take().expect("reaped"))
            .collect()
    }

    fn report(&self) -> String {
        self.peers
            .iter()
            .map(|p| {
                p.done.as_ref().map_or_else(
                    || format!("--- {} (still running) ---", p.label()),
                    |o| o.to_string(),
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Asserts that the peers removed every segment of the ring. Call after [`wait_all`].
    pub fn finish(self) -> Duration {
        let left = shm_leftovers(&self.name);
        assert!(
            left.is_empty(),
            "peers left segments of {} in /dev/shm: {left:?}",
            self.name
        );
        self.started.elapsed()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for p in &mut self.peers {
            p.kill();
        }
        let left = support::remove_shm(&self.name);
        if !left.is_empty() && !std::thread::panicking() {
            eprintln!("removed leftovers of {}: {left:?}", self.name);
        }
    }
}
