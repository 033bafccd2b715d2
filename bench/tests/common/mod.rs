//! Shared by the bench smoke tests (`bench/tests`, `bench/peers/tests`, `cli/tests`): run a
//! bench front with tiny counts, read its JSON, check every case ran and verified its payload,
//! and that the run left nothing behind in /dev/shm or the temp directory.
//!
//! No timing is asserted anywhere: these only prove that every scenario and every peer
//! completes and moves the right bytes.

#![allow(dead_code)]

use ringproof_testsupport::{self as support, Child, TempDir, TimedOut};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Tiny counts: a few seconds for every scenario and peer together.
pub const TINY: &[&str] = &[
    "--quick",
    "--brackets",
    "1",
    "--events",
    "3000",
    "--rounds",
    "300",
    "--paced-rounds",
    "20",
    "--gap-us",
    "20",
    "--open-loop-rounds",
    "300",
    "--size",
    "8",
    "--size",
    "64",
    "--timeout-s",
    "60",
    "--max-preemptions",
    "1000000",
];

/// A scratch directory for the JSON, the plots and the captured output, removed on drop.
pub struct Scratch(pub TempDir);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        Scratch(TempDir::new(&format!(
            "ringproof-bench-test-{tag}-{}",
            std::process::id()
        )))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

/// What a finished bench run gave.
pub struct Ran {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `program args...` with `env`, output captured in `scratch` (files: the bench's own
/// children must not hold a pipe open); a run past `limit` is killed and fails the test (a
/// hang must not hang CI).
pub fn run(
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    scratch: &Scratch,
    limit: Duration,
) -> Ran {
    let mut cmd = Command::new(program);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let label = format!("{program} {args:?}");
    let mut child = Child::spawn_to_files(label, cmd, limit, scratch.0.path());
    if let Err(TimedOut(c)) = child.wait() {
        panic!(
            "{} did not finish within {limit:?}; stderr:\n{}",
            c.label, c.stderr
        );
    }
    let c = child.captured();
    eprintln!("{program} finished in {:.1} s", c.wall.as_secs_f64());
    Ran {
        status: c.status.expect("exited"),
        stdout: c.stdout,
        stderr: c.stderr,
    }
}

/// Entries of /dev/shm and of the temp directory that belong to orchestrator `pid`.
pub fn leftovers(pid: u32) -> Vec<String> {
    let prefix = format!("rpbench-{pid}-");
    support::shm_and_temp(|n| n.starts_with(&prefix))
}

/// Checks a finished run: exit 0, 0 errors, every expected case ran each of its subjects and
/// the floor, each verified events and saw no error, latency reports carry p99.99 and their
/// serialised histogram, and nothing of the run is left in /dev/shm or the temp directory.
/// Returns the JSON document.
pub fn check_run(ran: &Ran, json: &Path, expect: &[(&str, &[&str])]) -> Value {
    assert!(
        ran.status.success(),
        "bench failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        ran.status,
        ran.stdout,
        ran.stderr
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(json).expect("json written"))
        .expect("valid json");
    let v = &doc["verdict"];
    assert_eq!(v["errors"], 0, "payload errors: {v}");
    assert_eq!(v["failure"], Value::Null, "{v}");
    assert_eq!(
        v["leaked"].as_array().map(Vec::len),
        Some(0),
        "a child leaked names: {v}"
    );
    assert!(v["verified"].as_u64().unwrap_or(0) > 0);
    let cases = doc["cases"].as_array().expect("cases");
    for (title, subjects) in expect {
        let case = cases
            .iter()
            .find(|c| c["title"] == *title)
            .unwrap_or_else(|| {
                panic!(
                    "case {title} missing; have {:?}",
                    cases
                        .iter()
                        .map(|c| c["title"].to_string())
                        .collect::<Vec<_>>()
                )
            });
        let runs = case["runs"].as_array().expect("runs");
        for who in subjects.iter().copied().chain(["floor"]) {
            let mine: Vec<&Value> = runs.iter().filter(|r| r["who"] == who).collect();
            assert!(!mine.is_empty(), "{title}: no run of {who}");
            for r in mine {
                if who != "floor" && case["name"] != "paced-spin" {
                    let place = r["placement"].as_str().unwrap_or("");
                    assert!(
                        ["shared", "close", "far", "mixed"].contains(&place),
                        "{title}/{who}: bracket placement {place:?}"
                    );
                }
                let b = r["b"].as_array().expect("b");
                let verified: u64 = b
                    .iter()
                    .map(|b| {
                        b["result"]["consumed"]
                            .as_u64()
                            .or(b["result"]["rounds"].as_u64())
                            .unwrap_or(0)
                    })
                    .sum();
                assert!(verified > 0, "{title}/{who}: verified nothing: {r}");
                let errors: u64 = std::iter::once(&r["a"])
                    .chain(b)
                    .map(|s| s["result"]["errors"].as_u64().unwrap_or(0))
                    .sum();
                assert_eq!(errors, 0, "{title}/{who}: errors");
                if r["a"]["result"]["rtt_ns"].is_object() {
                    assert!(
                        r["a"]["result"]["rtt_hist_ns_v2z"]
                            .as_str()
                            .is_some_and(|s| !s.is_empty()),
                        "{title}/{who}: no serialised histogram"
                    );
                    assert!(
                        r["a"]["result"]["one_way_ns"]["p9999"].is_number(),
                        "{title}/{who}: no p99.99"
                    );
                }
            }
        }
    }
    let pid = doc["machine"]["pid"]
        .as_u64()
        .expect("pid in the machine info") as u32;
    assert_eq!(
        leftovers(pid),
        Vec::<String>::new(),
        "the run left names or directories behind"
    );
    doc
}

/// Every case of a full tiny run and the subjects each must have run, with `peers` included
/// (`false`: `--peers none`).
pub fn expected(peers: bool) -> Vec<(&'static str, &'static [&'static str])> {
    let stream: &[&str] = if peers {
        &[
            "ringproof",
            "disruptor-mp",
            "iceoryx2",
            "unix-socket",
            "pipe",
        ]
    } else {
        &["ringproof"]
    };
    let spmc: &[&str] = if peers {
        &["ringproof", "disruptor-mp", "iceoryx2"]
    } else {
        &["ringproof"]
    };
    let blocking: &[&str] = if peers {
        &["ringproof", "unix-socket", "pipe"]
    } else {
        &["ringproof"]
    };
    let rp: &[&str] = &["ringproof"];
    let backoff: &[&str] = if peers {
        &["ringproof", "disruptor-mp"]
    } else {
        &["ringproof"]
    };
    let diag: &[&str] = &["floor"];
    let off: &[&str] = &["counters off"];
    let on_off: &[&str] = &["ringproof", "counters off"];
    vec![
        ("stream-single 8B", stream),
        ("stream-single 64B", stream),
        ("stream-single-backoff", backoff),
        ("stream-coalesced", rp),
        ("stream-single-nocounters", off),
        ("stream-batch-nocounters", off),
        ("stream-batch 8B", rp),
        ("stream-batch 64B", rp),
        ("stream-batch-mmap", rp),
        ("spmc-2", spmc),
        ("spmc-n", spmc),
        ("pingpong-spin", stream),
        ("pingpong-blocking", blocking),
        ("pingpong-spin-mmap", rp),
        ("paced-spin", stream),
        ("wakeup-blocking", blocking),
        ("diag-stream-per-event", diag),
        ("diag-pingpong-2line", &["2-line"]),
        ("diag-pingpong-2line-touch", &["2-line touch"]),
        (
            "diag-ladder",
            &[
                "2-line",
                "+wake word",
                "+counters",
                "+liveness",
                "ringproof",
            ],
        ),
        ("diag-counters-pingpong", on_off),
        ("diag-counters-stream", on_off),
    ]
}

/// Checks that `dir` holds the SVG plots a run with latency and sized stream cases writes.
pub fn check_plots(dir: &Path) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .expect("plot dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for want in [
        "latency-pingpong-spin.svg",
        "latency-paced-spin.svg",
        "throughput-stream-single.svg",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "plot {want} missing; have {names:?}"
        );
        let svg = std::fs::read_to_string(dir.join(want)).expect("read svg");
        assert!(
            svg.starts_with("<svg") && svg.contains("polyline"),
            "{want} is no SVG line plot"
        );
    }
}
