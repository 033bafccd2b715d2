//! Shared helpers for the multi-process tests of the `ringproof` binary: unique ring names,
//! spawning `ringproof` with piped output, waiting with a hard timeout, parsing its one JSON
//! line, observing cursors and the registry from outside, and the [`Fixture`] guard that fails
//! a test which leaks a segment (and removes the leftovers either way, so one failure does not
//! poison others).
//!
//! The process plumbing (kill and reap on drop, deadlines, output capture, leftover scans,
//! `/proc` state) is `ringproof-testsupport`; what lives here is specific to this crate: the
//! binary, its arguments and the JSON line it prints.
//!
//! Synchronisation is always a condition: the producer's `--wait-consumers`, the consumer's
//! attach retry, a cursor reaching a value, an id appearing in the registry. The only sleeps
//! are the polling intervals of those condition checks.

#![allow(dead_code, unused_imports)] // each test binary uses a subset

mod output;
mod proc;
mod ring;

pub use output::Output;
pub use proc::{check_alive, wait_all, wait_until, Proc};
pub use ring::{gate_consume, Ring};
pub use ringproof_testsupport::shm_path;

use ringproof_testsupport as support;
use std::path::PathBuf;
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_ringproof");
/// Hard limit for any one child process, and for any condition the tests wait for.
pub const HARD_TIMEOUT: Duration = Duration::from_secs(60);
/// `--timeout-ms` the tests give producers (startup and drain): the hard limit decides first.
pub const PRODUCER_TIMEOUT_MS: &str = "60000";

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
/// `dir`. Holding it is the test's turn (one test at a time: each runs two to four busy
/// processes). On drop it kills nothing (processes are [`Proc`]s, dropped first), removes
/// whatever is left under the prefix in /dev/shm and in `dir`, and fails the test if anything
/// was.
pub struct Fixture {
    pub prefix: String,
    pub dir: PathBuf,
    started: Instant,
    _serial: MutexGuard<'static, ()>,
}

impl Fixture {
    pub fn new(test: &str) -> Fixture {
        let serial = support::serial();
        let prefix = support::unique_name("rpt", test);
        assert!(
            prefix.len() <= 60,
            "test name too long for a ring name: {prefix}"
        );
        let dir = std::env::temp_dir().join(format!("ringproof-test-{prefix}"));
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
        support::shm_leftovers(&self.prefix)
    }

    /// Everything under the test's mmap root, recursively, relative to it.
    pub fn dir_leftovers(&self) -> Vec<String> {
        support::tree(&self.dir)
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

impl Drop for Fixture {
    fn drop(&mut self) {
        let shm = support::remove_shm(&self.prefix);
        let dir = self.dir_leftovers();
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

/// `s` as an owned argument (for building argument lists from numbers).
pub fn a(s: impl ToString) -> String {
    s.to_string()
}

/// Borrowed view of owned arguments.
pub fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
