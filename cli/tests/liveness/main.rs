//! Liveness with real signals (SPEC.md §7.9, §7.10): `ringproof` processes are SIGKILLed,
//! SIGSTOPped and SIGCONTinued mid-stream, and the tests check what the survivors do: dead
//! consumers stop gating (or, when required, get the configured action), a restarted consumer
//! takes its slot over and resumes from its committed cursor, a restarted producer resumes after
//! the last published sequence, a live producer is never displaced, pid reuse never makes a
//! dead participant look alive, and `ringproof rm` removes what crashed processes left.
//!
//! Payloads are TP1 (sequence, body, checksum) and verified by every consumer, in-process or
//! not, so a slot overwritten before it was consumed shows up as a payload error or a gap.
//!
//! Determinism: the stream is held at exact points by an in-process consumer (a "gate", see
//! multiprocess/) or by SIGSTOP (a stopped process is alive but commits nothing). "The
//! producer has looked at its consumers since X" is observed through its registry heartbeat:
//! while blocked it rescans (and beats, at most every 10 ms) and checks liveness (at most every
//! check interval, 5 ms) in the same loop, so three heartbeat changes after X mean at least one
//! complete liveness check after X. Consumers beat in the same check that looks at the
//! producer, so three beats of a caught-up consumer mean it has seen the producer's state. The
//! only plain sleep waits out a progress timeout the test itself configured.
//!
//! Linux only (`/proc`, `/dev/shm`, Linux signal numbers).

#![cfg(target_os = "linux")]

mod dead_nonrequired;
mod dead_required_alert;
mod dead_required_shutdown;
mod live_producer;
mod pid_reuse;
mod producer_restart;
mod required_killed;
mod stalled_required;

#[path = "../common/mod.rs"]
mod common;

use common::*;
use ringproof::kit::layout::registry::{
    owner_word, SLOT_ACTIVE, SLOT_DEAD, SLOT_EVICTED, SLOT_FREE,
};
use ringproof::kit::registry::Registry;
use ringproof::kit::testkit;
use ringproof::{ConsumerBuilder, Error, ProducerBuilder};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const TIMEOUT: &str = PRODUCER_TIMEOUT_MS;
const CAP: i64 = 64;

// ---------------------------------------------------------------------------------------------
// Signals and process state (no libc dependency in this crate: the C library's kill(2)).

#[cfg(any(
    target_arch = "mips",
    target_arch = "mips32r6",
    target_arch = "mips64",
    target_arch = "mips64r6"
))]
const SIGCONT: i32 = 25;
#[cfg(any(
    target_arch = "mips",
    target_arch = "mips32r6",
    target_arch = "mips64",
    target_arch = "mips64r6"
))]
const SIGSTOP: i32 = 23;
#[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
const SIGCONT: i32 = 19;
#[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
const SIGSTOP: i32 = 17;
#[cfg(not(any(
    target_arch = "mips",
    target_arch = "mips32r6",
    target_arch = "mips64",
    target_arch = "mips64r6",
    target_arch = "sparc",
    target_arch = "sparc64"
)))]
const SIGCONT: i32 = 18;
#[cfg(not(any(
    target_arch = "mips",
    target_arch = "mips32r6",
    target_arch = "mips64",
    target_arch = "mips64r6",
    target_arch = "sparc",
    target_arch = "sparc64"
)))]
const SIGSTOP: i32 = 19;

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}

fn signal(p: &Proc, sig: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is our own unreaped child.
    let rc = unsafe { kill(p.pid() as i32, sig) };
    assert_eq!(
        rc,
        0,
        "kill({}, {sig}) failed: {}",
        p.pid(),
        std::io::Error::last_os_error()
    );
}

/// The state letter of `/proc/PID/stat` (R, S, T, Z, ...).
fn proc_state(pid: u32) -> Option<char> {
    ringproof_testsupport::proc_stat(pid).map(|s| s.state)
}

/// SIGSTOP, then wait until the kernel shows the process stopped (it runs nothing from there).
fn stop(p: &mut Proc) {
    signal(p, SIGSTOP);
    let pid = p.pid();
    wait_until("the process to stop", &mut [&mut *p], || {
        matches!(proc_state(pid), Some('T' | 't'))
    });
}

/// SIGCONT, then wait until the process is no longer stopped.
fn cont(p: &mut Proc) {
    signal(p, SIGCONT);
    let pid = p.pid();
    wait_until("the process to continue", &mut [&mut *p], || {
        !matches!(proc_state(pid), Some('T' | 't'))
    });
}

// ---------------------------------------------------------------------------------------------
// Observing the ring from outside.

fn registry(r: &Ring) -> Registry {
    Registry::open(&r.ring_name().registry())
        .unwrap_or_else(|e| panic!("open registry of {}: {e}", r.name))
}

fn slot_of(reg: &Registry, id: &str) -> usize {
    reg.active()
        .into_iter()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("{id} has no active slot"))
        .slot
}

/// The `value` word of a cursor segment, read from the file's bytes 64..72 (not through the
/// library's mapping).
fn cursor_file_value(path: &std::path::Path) -> i64 {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(
        bytes.len() >= 72,
        "{} is {} bytes",
        path.display(),
        bytes.len()
    );
    i64::from_le_bytes(bytes[64..72].try_into().expect("8 bytes"))
}

fn producer_cursor_path(r: &Ring) -> std::path::PathBuf {
    r.other_paths()
        .into_iter()
        .next()
        .expect("producer cursor path")
}

/// Waits for `n` changes of a heartbeat word (see the module comment for what that proves).
fn beats(what: &str, procs: &mut [&mut Proc], n: usize, read: impl Fn() -> u64) {
    let mut last = read();
    for i in 0..n {
        wait_until(
            &format!("{what} (heartbeat {} of {n})", i + 1),
            procs,
            || read() != last,
        );
        last = read();
    }
}

/// Three producer heartbeats: the producer has completed a liveness check after this call.
fn producer_looked(reg: &Registry, procs: &mut [&mut Proc]) {
    beats("the producer to check its consumers", procs, 3, || {
        reg.control().producer_heartbeat.load(Ordering::Relaxed)
    });
}

/// Three heartbeats of the consumer in `slot`: it has completed a producer check after this call.
fn consumer_looked(reg: &Registry, slot: usize, procs: &mut [&mut Proc]) {
    beats("the consumer to check the producer", procs, 3, || {
        reg.slot(slot).heartbeat.load(Ordering::Relaxed)
    });
}

/// Waits until the producer cursor is exactly `at`, failing if it ever passes it.
fn wait_producer_at(r: &Ring, at: i64, why: &str, procs: &mut [&mut Proc]) {
    let pc = r.open_producer_cursor().expect("producer cursor");
    wait_until(why, procs, || {
        let v = pc.load();
        assert!(
            v <= at,
            "producer published {v}, past {at} ({why}): an unconsumed slot was overwritten"
        );
        v == at
    });
}

/// Waits until consumer `id`'s cursor is exactly `at`.
fn wait_consumer_at(r: &Ring, id: &str, at: i64, procs: &mut [&mut Proc]) {
    let c = r
        .open_consumer_cursor(id)
        .unwrap_or_else(|| panic!("cursor of {id}"));
    wait_until(&format!("{id} to reach {at}"), procs, || {
        let v = c.load();
        assert!(v <= at, "{id} at {v}, past {at}");
        v == at
    });
}

/// The producer cursor stays at `at` for a while (it is blocked, not merely slow to move).
fn assert_producer_stays(r: &Ring, at: i64, p: &mut Proc) {
    let pc = r.open_producer_cursor().expect("producer cursor");
    for _ in 0..200 {
        std::thread::yield_now();
        assert_eq!(pc.load(), at, "the producer moved past {at}");
    }
    assert!(
        p.running(),
        "the producer exited while it should be blocked"
    );
}

/// The `alerts` of a producer's JSON line as (consumer, last_sequence, dead, stalled_ms).
/// The producer ended with the graceful-shutdown action on `id`: exit 3, an error naming `id`,
/// the shutdown, whether it was dead and the sequence it stopped `past`, and exactly one alert
/// saying the same. Returns that alert.
fn expect_shutdown_on(out: &Output, id: &str, past: i64, dead: bool) -> (String, i64, bool, u64) {
    out.expect_code(3);
    let e = out.error();
    for needle in [
        format!("\"{id}\""),
        "graceful shutdown".to_owned(),
        format!("dead: {dead}"),
        format!("past {past}"),
    ] {
        assert!(
            e.contains(&needle),
            "error {e:?} does not mention {needle:?}\n{}",
            out.describe()
        );
    }
    let mut al = alerts(out);
    assert_eq!(al.len(), 1, "{}", out.describe());
    assert_eq!(
        (al[0].0.as_str(), al[0].1, al[0].2),
        (id, past, dead),
        "{}",
        out.describe()
    );
    al.remove(0)
}

fn alerts(out: &Output) -> Vec<(String, i64, bool, u64)> {
    out.get("alerts")
        .as_array()
        .unwrap_or_else(|| panic!("alerts is not an array\n{}", out.describe()))
        .iter()
        .map(|a| {
            (
                a["consumer"].as_str().expect("consumer").to_owned(),
                a["last_sequence"].as_i64().expect("last_sequence"),
                a["dead"].as_bool().expect("dead"),
                a["stalled_ms"].as_u64().expect("stalled_ms"),
            )
        })
        .collect()
}

/// `ringproof rm` on `r` with `extra` arguments.
fn rm(r: &Ring, extra: &[&str]) -> Output {
    let mut args = vec!["rm".to_owned()];
    args.extend(r.args());
    args.extend(extra.iter().map(|s| s.to_string()));
    Proc::spawn(&format!("rm[{}]", r.name), &args).wait()
}

/// The names `ringproof rm` should report for `r` now (SegmentPath's Display): those of the
/// ring's segments (readiness counter and counters segment where present) and of consumers
/// `ids`. The ring, producer cursor, registry and every id's cursor must exist.
fn rm_names(r: &Ring, ids: &[&str]) -> BTreeSet<String> {
    let name = r.ring_name();
    let must = {
        let mut v = vec![name.ring(), name.producer_cursor(), name.registry()];
        v.extend(ids.iter().map(|id| name.consumer_cursor(id)));
        v
    };
    for p in &must {
        assert!(
            ringproof::kit::segment::exists(p),
            "{p} does not exist before rm"
        );
    }
    let mut all = must;
    all.push(name.readiness());
    all.push(name.counters());
    all.into_iter()
        .filter(ringproof::kit::segment::exists)
        .map(|p| p.to_string())
        .collect()
}

fn removed(out: &Output) -> BTreeSet<String> {
    out.get("removed")
        .as_array()
        .unwrap_or_else(|| panic!("removed is not an array\n{}", out.describe()))
        .iter()
        .map(|v| v.as_str().expect("string").to_owned())
        .collect()
}

/// What is left of `r` after every live participant has gone: at most the cursors of the
/// consumers in `dead_ids` (a consumer that died keeps its cursor, SPEC.md §7.5, until a
/// producer's clean close reaps it, §7.6; a ring whose producer did not close cleanly keeps
/// it), which `rm --force` removes. Afterwards nothing of the test is left.
fn remove_dead_cursors(fx: &Fixture, r: &Ring, dead_ids: &[&str]) {
    let mut left = fx.shm_leftovers();
    left.extend(fx.dir_leftovers());
    left.sort();
    let (allowed, dir): (Vec<String>, Option<String>) = match r.backend {
        Backend::Shm => (
            dead_ids
                .iter()
                .map(|id| format!("{}_{id}_seq", r.name))
                .collect(),
            None,
        ),
        Backend::Dir => (
            dead_ids
                .iter()
                .map(|id| format!("{}.consumers/{id}.cursor", r.name))
                .collect(),
            Some(format!("{}.consumers", r.name)),
        ),
    };
    let unexpected: Vec<&String> = left
        .iter()
        .filter(|n| !allowed.contains(n) && Some(*n) != dir.as_ref())
        .collect();
    assert!(
        unexpected.is_empty(),
        "the closed ring left more than its dead consumers' cursors: {left:?}"
    );
    let cursors: BTreeSet<String> = dead_ids
        .iter()
        .filter(|id| r.consumer_cursor_path(id).exists())
        .map(|id| r.ring_name().consumer_cursor(id).to_string())
        .collect();
    if !left.is_empty() {
        let out = rm(r, &["--force"]);
        out.expect_code(0);
        assert_eq!(removed(&out), cursors, "{}", out.describe());
    }
    fx.assert_clean();
}
