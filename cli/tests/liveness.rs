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
//! multiprocess.rs) or by SIGSTOP (a stopped process is alive but commits nothing). "The
//! producer has looked at its consumers since X" is observed through its registry heartbeat:
//! while blocked it rescans (and beats, at most every 10 ms) and checks liveness (at most every
//! check interval, 5 ms) in the same loop, so three heartbeat changes after X mean at least one
//! complete liveness check after X. Consumers beat in the same check that looks at the
//! producer, so three beats of a caught-up consumer mean it has seen the producer's state. The
//! only plain sleep waits out a progress timeout the test itself configured.
//!
//! Linux only (`/proc`, `/dev/shm`, Linux signal numbers).

#![cfg(target_os = "linux")]

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
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s[s.rfind(')')? + 1..].trim_start().chars().next()
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

// ---------------------------------------------------------------------------------------------
// 1. A dead non-required consumer stops gating.

/// The gate holds the producer at `head`; a non-required consumer that caught up to `head` is
/// SIGSTOPped and the gate leaves, so the producer runs one ring further and blocks on the
/// stopped (alive) consumer. Then that consumer is SIGKILLed: the producer must notice the
/// death, retire the slot (DEAD) and finish; the surviving consumer gets every event.
fn dead_nonrequired_consumer(backend: Backend) {
    let fx = Fixture::new(&format!("dead_nonreq_{backend:?}"));
    let r = fx.ring(backend, "r");
    let n = events(20_000) as i64;
    let hold = n / 4;
    let head = hold + CAP - 1;
    let mut p = r.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(n),
        a("--wait-consumers"),
        a(3),
        a("--timeout-ms"),
        a(TIMEOUT),
    ]));
    let mut victim = r.consume("victim", &["--mode", "copy"]);
    let mut c_ok = r.consume("c_ok", &["--mode", "batch"]);
    let mut gate = r.attach_gate("gate", 64);
    gate_consume(
        &mut gate,
        hold as u64,
        &mut [&mut p, &mut victim, &mut c_ok],
    );
    wait_producer_at(
        &r,
        head,
        "the producer to stop one ring ahead of the gate",
        &mut [&mut p, &mut victim, &mut c_ok],
    );
    wait_consumer_at(&r, "victim", head, &mut [&mut p, &mut victim, &mut c_ok]);
    let reg = registry(&r);
    let slot = slot_of(&reg, "victim");
    assert_eq!(cursor_file_value(&r.consumer_cursor_path("victim")), head);
    stop(&mut victim);
    drop(gate);
    // Stopped is alive: the victim gates, the producer waits for it one ring ahead.
    wait_producer_at(
        &r,
        head + CAP,
        "the producer to block on the stopped consumer",
        &mut [&mut p, &mut victim, &mut c_ok],
    );
    producer_looked(&reg, &mut [&mut p, &mut victim, &mut c_ok]);
    assert_producer_stays(&r, head + CAP, &mut p);
    assert_eq!(
        reg.slot_state(slot),
        SLOT_ACTIVE,
        "a stopped consumer was retired"
    );

    victim.kill();
    let killed = Instant::now();
    let outs = wait_all(vec![p, c_ok]);
    let took = killed.elapsed();
    outs[0].expect_producer_ok(n as u64);
    assert_eq!(
        outs[0].get("gating"),
        &serde_json::json!(["c_ok"]),
        "the dead consumer still gated\n{}",
        outs[0].describe()
    );
    assert_eq!(alerts(&outs[0]), vec![], "no required consumers, no alerts");
    outs[1].expect_consumer_clean(0, n - 1);
    assert_eq!(outs[1].i64("closed_at"), n - 1);
    assert!(
        took < Duration::from_secs(10),
        "the producer needed {took:?} after the kill"
    );
    // The registry mapping outlives its name: the producer retired the slot (DEAD), and its
    // clean close then reaped it (FREE) and removed the dead consumer's cursor (SPEC.md §7.6).
    assert_eq!(
        reg.slot_state(slot),
        SLOT_FREE,
        "the dead consumer's slot after the close"
    );
    assert!(
        !r.consumer_cursor_path("victim").exists(),
        "the dead consumer's cursor outlived the ring"
    );
    drop(reg);
    drop(victim);
    remove_dead_cursors(&fx, &r, &[]);
}

#[test]
fn dead_nonrequired_consumer_stops_gating_shm() {
    dead_nonrequired_consumer(Backend::Shm);
}

#[test]
fn dead_nonrequired_consumer_stops_gating_dir() {
    dead_nonrequired_consumer(Backend::Dir);
}

/// A dead non-required consumer's slot is retired (DEAD) and the stream moves past its cursor;
/// restarting it under its id must not silently skip what it missed: the re-join fails (exit
/// 2) naming exactly the sequences published while it did not gate (SPEC.md §7.3 step 5).
#[test]
fn dead_nonrequired_consumer_restart_is_told_what_it_missed() {
    let fx = Fixture::new("dead_nonreq_rejoin");
    let r = fx.ring(Backend::Shm, "r");
    let n = events(20_000) as i64;
    let hold = n / 4;
    let head = hold + CAP - 1;
    let mut p = r.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(n),
        a("--wait-consumers"),
        a(2),
        a("--timeout-ms"),
        a(TIMEOUT),
    ]));
    let mut victim = r.consume("victim", &["--mode", "copy"]);
    let mut gate = r.attach_gate("gate", 64);
    gate_consume(&mut gate, hold as u64, &mut [&mut p, &mut victim]);
    wait_producer_at(
        &r,
        head,
        "the producer to stop one ring ahead of the gate",
        &mut [&mut p, &mut victim],
    );
    wait_consumer_at(&r, "victim", head, &mut [&mut p, &mut victim]);
    let reg = registry(&r);
    let slot = slot_of(&reg, "victim");
    victim.kill();
    // Blocked on the gate, the producer checks every gate's owner and retires the dead one.
    wait_until(
        "the producer to retire the dead consumer",
        &mut [&mut p],
        || reg.slot_state(slot) == SLOT_DEAD,
    );
    // Two more rings' worth pass the dead cursor.
    gate_consume(&mut gate, 2 * CAP as u64, &mut [&mut p]);
    let now = hold + 3 * CAP - 1;
    wait_producer_at(
        &r,
        now,
        "the producer to pass the dead consumer's cursor",
        &mut [&mut p],
    );
    let committed = cursor_file_value(&r.consumer_cursor_path("victim"));
    assert_eq!(committed, head);

    let out = r
        .consume("victim", &["--mode", "copy", "--attach-timeout-ms", "0"])
        .wait();
    out.expect_error(&[
        "\"victim\"",
        &format!("missed sequences {}..={now}", committed + 1),
    ]);
    assert_eq!(
        cursor_file_value(&r.consumer_cursor_path("victim")),
        committed,
        "the refused re-join moved the cursor"
    );
    assert!(
        !r.active_ids().iter().any(|id| id == "victim"),
        "the refused re-join kept a gating slot"
    );

    let rest = (n - hold - 2 * CAP) as u64;
    gate_consume(&mut gate, rest, &mut [&mut p]);
    drop(gate);
    p.wait().expect_producer_ok(n as u64);
    drop(reg);
    drop(victim);
    // The refused re-join left the slot DEAD: the closing producer removed the slot and its cursor.
    remove_dead_cursors(&fx, &r, &[]);
}

// ---------------------------------------------------------------------------------------------
// 2. A dead required consumer with the shutdown action.

/// The gate holds the producer at `head`; required consumer c_1, caught up to `head`, is
/// SIGKILLed. The producer, still blocked on the gate, acts at once (death does not wait for
/// the progress timeout, set long here): exit 3, an error naming c_1, one alert with
/// dead: true. Its clean shutdown closes the ring: c_0 and the gate end with a clean prefix.
fn dead_required_consumer_shutdown(backend: Backend) {
    let fx = Fixture::new(&format!("dead_req_shut_{backend:?}"));
    let r = fx.ring(backend, "r");
    let n = events(20_000) as i64;
    let hold = n / 4;
    let head = hold + CAP - 1;
    let mut p = r.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(n),
        a("--wait-consumers"),
        a(3),
        a("--timeout-ms"),
        a(TIMEOUT),
        a("--required"),
        a("c_1"),
        a("--action"),
        a("shutdown"),
        a("--progress-timeout-ms"),
        a(30_000),
        a("--grace-ms"),
        a(30_000),
    ]));
    let mut c_0 = r.consume("c_0", &["--mode", "copy"]);
    let mut c_1 = r.consume("c_1", &["--mode", "lease"]);
    let mut gate = r.attach_gate("gate", 64);
    gate_consume(&mut gate, hold as u64, &mut [&mut p, &mut c_0, &mut c_1]);
    wait_producer_at(
        &r,
        head,
        "the producer to stop one ring ahead of the gate",
        &mut [&mut p, &mut c_0, &mut c_1],
    );
    wait_consumer_at(&r, "c_1", head, &mut [&mut p, &mut c_0, &mut c_1]);
    let committed = cursor_file_value(&r.consumer_cursor_path("c_1"));
    assert_eq!(committed, head);

    c_1.kill();
    let out = p.wait();
    out.expect_code(3);
    let e = out.error();
    for needle in [
        "\"c_1\"",
        "graceful shutdown",
        "dead: true",
        &format!("past {committed}"),
    ] {
        assert!(
            e.contains(needle),
            "error {e:?} does not mention {needle:?}\n{}",
            out.describe()
        );
    }
    let al = alerts(&out);
    assert_eq!(al.len(), 1, "{}", out.describe());
    assert_eq!(
        (al[0].0.as_str(), al[0].1, al[0].2),
        ("c_1", committed, true),
        "{}",
        out.describe()
    );
    // Blocked on the gate the whole time: nothing past `head` was published.
    assert_eq!(out.i64("last_seq"), head, "{}", out.describe());

    let c0 = c_0.wait();
    c0.expect_consumer_clean(0, head);
    assert_eq!(c0.i64("closed_at"), head, "{}", c0.describe());
    assert!(
        c0.is_null("producer_gone_at"),
        "a clean shutdown, not a crash\n{}",
        c0.describe()
    );
    let rest = (head - hold + 1) as u64;
    gate_consume(&mut gate, rest, &mut []);
    let mut buf = [0u8; 64];
    match gate.try_next_into(&mut buf) {
        Err(Error::Closed { final_sequence }) => assert_eq!(final_sequence, head),
        other => panic!("expected Closed at {head}, got {other:?}"),
    }
    drop(gate);
    drop(c_1);
    remove_dead_cursors(&fx, &r, &["c_1"]);
}

#[test]
fn dead_required_consumer_shuts_producer_down_shm() {
    dead_required_consumer_shutdown(Backend::Shm);
}

#[test]
fn dead_required_consumer_shuts_producer_down_dir() {
    dead_required_consumer_shutdown(Backend::Dir);
}

// ---------------------------------------------------------------------------------------------
// 3. A dead required consumer with the alert action, then restarted under its id.

/// As in (2) but `--action alert`: the producer raises the alert and keeps waiting; once the
/// gate leaves it stops exactly one ring past the dead consumer's committed cursor. The same id
/// restarted takes the still-ACTIVE slot over, resumes right after its committed cursor, and
/// the stream completes.
fn dead_required_consumer_alert_takeover(backend: Backend) {
    let fx = Fixture::new(&format!("dead_req_alert_{backend:?}"));
    let r = fx.ring(backend, "r");
    let n = events(20_000) as i64;
    let hold = n / 4;
    let head = hold + CAP - 1;
    let mut p = r.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(n),
        a("--wait-consumers"),
        a(3),
        a("--timeout-ms"),
        a(TIMEOUT),
        a("--required"),
        a("c_1"),
        a("--action"),
        a("alert"),
        a("--progress-timeout-ms"),
        a(30_000),
        a("--grace-ms"),
        a(30_000),
    ]));
    let mut c_0 = r.consume("c_0", &["--mode", "batch"]);
    let mut c_1 = r.consume("c_1", &["--mode", "copy"]);
    let mut gate = r.attach_gate("gate", 64);
    gate_consume(&mut gate, hold as u64, &mut [&mut p, &mut c_0, &mut c_1]);
    wait_producer_at(
        &r,
        head,
        "the producer to stop one ring ahead of the gate",
        &mut [&mut p, &mut c_0, &mut c_1],
    );
    wait_consumer_at(&r, "c_1", head, &mut [&mut p, &mut c_0, &mut c_1]);
    let reg = registry(&r);
    let slot = slot_of(&reg, "c_1");
    let incarnation = reg.slot(slot).incarnation.load(Ordering::Acquire);

    c_1.kill();
    // The producer sees the death while still blocked on the gate, alerts, and keeps going.
    producer_looked(&reg, &mut [&mut p, &mut c_0]);
    drop(gate);
    let committed = cursor_file_value(&r.consumer_cursor_path("c_1"));
    assert_eq!(committed, head);
    let limit = committed + CAP;
    wait_producer_at(
        &r,
        limit,
        "the producer to stop one ring past the dead required consumer",
        &mut [&mut p, &mut c_0],
    );
    producer_looked(&reg, &mut [&mut p, &mut c_0]);
    assert_producer_stays(&r, limit, &mut p);
    assert_eq!(
        reg.slot_state(slot),
        SLOT_ACTIVE,
        "a required consumer's slot keeps gating"
    );
    assert!(!reg.slot_owner_alive(slot));
    // The cursor file still says what the dead consumer committed.
    assert_eq!(cursor_file_value(&r.consumer_cursor_path("c_1")), committed);

    let again = r.consume("c_1", &["--mode", "lease"]);
    let outs = wait_all(vec![p, c_0, again]);
    outs[0].expect_producer_ok(n as u64);
    assert_eq!(
        alerts(&outs[0])
            .iter()
            .map(|a| (a.0.as_str(), a.1, a.2))
            .collect::<Vec<_>>(),
        vec![("c_1", committed, true)],
        "{}",
        outs[0].describe()
    );
    outs[1].expect_consumer_clean(0, n - 1);
    let o = &outs[2];
    let start = o.i64("start_seq");
    assert!(
        start <= committed + 1,
        "the restart skipped events: start_seq {start}, committed {committed}\n{}",
        o.describe()
    );
    assert_eq!(
        start,
        committed + 1,
        "a takeover resumes right after the commit\n{}",
        o.describe()
    );
    o.expect_consumer_clean(start, n - 1);
    assert_eq!(o.i64("closed_at"), n - 1, "{}", o.describe());
    assert_eq!(
        reg.slot(slot).incarnation.load(Ordering::Acquire),
        incarnation + 1,
        "takeover bumps the incarnation"
    );
    drop(reg);
    drop(c_1);
    fx.assert_clean();
}

#[test]
fn dead_required_consumer_alert_then_takeover_shm() {
    dead_required_consumer_alert_takeover(Backend::Shm);
}

#[test]
fn dead_required_consumer_alert_then_takeover_dir() {
    dead_required_consumer_alert_takeover(Backend::Dir);
}

// ---------------------------------------------------------------------------------------------
// 4. The producer SIGKILLed mid-stream and restarted.

/// The producer, publishing in batches of 5, is SIGKILLed while the stream flows (possibly in
/// the middle of writing a batch). The consumer drains what was published, reports the
/// producer gone and keeps polling; a restarted `produce` takes the ring over and resumes right
/// after the last published sequence; the consumer sees one contiguous clean stream to the end.
fn producer_restart(backend: Backend) {
    let fx = Fixture::new(&format!("prod_restart_{backend:?}"));
    let r = fx.ring(backend, "r");
    let m = events(5_000) as i64;
    let mut p1 = r.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(1_000_000_000u64),
        a("--batch"),
        a(5),
        a("--wait-consumers"),
        a(1),
        a("--timeout-ms"),
        a(TIMEOUT),
    ]));
    let mut c_0 = r.consume("c_0", &["--mode", "lease"]);
    wait_until("the consumer to join", &mut [&mut p1, &mut c_0], || {
        r.active_ids().iter().any(|id| id == "c_0")
    });
    let pc = r.open_producer_cursor().expect("producer cursor");
    wait_until("the stream to flow", &mut [&mut p1, &mut c_0], || {
        pc.load() >= 1000
    });
    let reg = registry(&r);
    let slot = slot_of(&reg, "c_0");

    p1.kill();
    let last = cursor_file_value(&producer_cursor_path(&r));
    assert_eq!(last, pc.load());
    assert!(last >= 1000);
    // Published in whole batches of 5 from 0.
    assert_eq!(
        (last + 1) % 5,
        0,
        "a batch is published with one cursor store"
    );
    wait_consumer_at(&r, "c_0", last, &mut [&mut c_0]);
    consumer_looked(&reg, slot, &mut [&mut c_0]);
    assert!(
        c_0.running(),
        "a consumer keeps running when the producer dies"
    );
    assert!(!reg.producer_alive());

    let p2 = r.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--size"),
        a(64),
        a("--events"),
        a(m),
        a("--timeout-ms"),
        a(TIMEOUT),
    ]));
    let outs = wait_all(vec![p2, c_0]);
    let o = &outs[0];
    o.expect_code(0);
    assert_eq!(
        o.i64("first_seq"),
        last + 1,
        "the restart resumes after the last published sequence\n{}",
        o.describe()
    );
    assert_eq!(o.i64("last_seq"), last + m, "{}", o.describe());
    assert_eq!(o.u64("published"), m as u64);
    assert_eq!(o.get("drained"), &Value::Bool(true));
    let c = &outs[1];
    c.expect_consumer_clean(0, last + m);
    assert_eq!(c.i64("producer_gone_at"), last, "{}", c.describe());
    assert_eq!(o.i64("first_seq"), c.i64("producer_gone_at") + 1);
    assert_eq!(c.i64("closed_at"), last + m, "{}", c.describe());
    assert_eq!(
        reg.control().producer_starts.load(Ordering::Acquire),
        2,
        "one restart"
    );
    drop(reg);
    drop(p1);
    fx.assert_clean();
}

#[test]
fn producer_killed_mid_stream_restarts_and_resumes_shm() {
    producer_restart(Backend::Shm);
}

#[test]
fn producer_killed_mid_stream_restarts_and_resumes_dir() {
    producer_restart(Backend::Dir);
}

// ---------------------------------------------------------------------------------------------
// 5. A live producer is never displaced.

fn second_producer_refused(backend: Backend) {
    let fx = Fixture::new(&format!("live_producer_{backend:?}"));
    let r = fx.ring(backend, "r");
    let n = events(5_000) as i64;
    let hold = n / 4;
    let head = hold + CAP - 1;
    let mut p = r.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(n),
        a("--wait-consumers"),
        a(2),
        a("--timeout-ms"),
        a(TIMEOUT),
    ]));
    let mut c_0 = r.consume("c_0", &["--mode", "copy"]);
    let mut gate = r.attach_gate("gate", 64);
    gate_consume(&mut gate, hold as u64, &mut [&mut p, &mut c_0]);
    wait_producer_at(
        &r,
        head,
        "the producer to block on the gate",
        &mut [&mut p, &mut c_0],
    );
    let reg = registry(&r);

    let pid = p.pid();
    let out = r
        .produce(&refs(&[a("--capacity"), a(CAP), a("--events"), a(10)]))
        .wait();
    out.expect_error(&["live producer", &format!("pid {pid}")]);
    // A different geometry is refused the same way (ownership is checked first).
    r.produce(&["--capacity", "8", "--size", "16", "--events", "10"])
        .wait()
        .expect_error(&["live producer", &format!("pid {pid}")]);
    assert_eq!(
        reg.producer_pid(),
        pid,
        "the refused producer changed the owner"
    );
    assert_eq!(
        reg.control().producer_starts.load(Ordering::Acquire),
        1,
        "the refused producer counted as a start"
    );
    assert!(
        reg.closed().is_none(),
        "the refused producer closed the ring"
    );
    assert!(
        r.ring_is_valid() && r.other_paths().iter().all(|p| p.exists()),
        "the refused producer removed names"
    );
    assert_producer_stays(&r, head, &mut p);

    drop(gate);
    let outs = wait_all(vec![p, c_0]);
    outs[0].expect_producer_ok(n as u64);
    outs[1].expect_consumer_clean(0, n - 1);
    drop(reg);
    fx.assert_clean();
}

#[test]
fn live_producer_refuses_a_second_one_shm() {
    second_producer_refused(Backend::Shm);
}

#[test]
fn live_producer_refuses_a_second_one_dir() {
    second_producer_refused(Backend::Dir);
}

// ---------------------------------------------------------------------------------------------
// 6. A required consumer SIGKILLed at an arbitrary point of a flowing stream, restarted.

/// c_1 (required, alert, batch reads: one commit per batch) is SIGKILLed while the stream
/// flows: events it read but had not committed are lost with it. Its slot keeps gating, so the
/// producer stops one ring past the committed cursor; the restart takes over, resumes at
/// committed + 1 (duplicates are possible only in committed+1..=committed+capacity, what the
/// dead one may have read), and sees everything to the end.
fn required_consumer_killed_mid_flow(backend: Backend) {
    let fx = Fixture::new(&format!("kill_flow_{backend:?}"));
    let r = fx.ring(backend, "r");
    let n = events(50_000) as i64;
    let mut p = r.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(n),
        a("--wait-consumers"),
        a(2),
        a("--timeout-ms"),
        a(TIMEOUT),
        a("--required"),
        a("c_1"),
        a("--action"),
        a("alert"),
        a("--progress-timeout-ms"),
        a(30_000),
        a("--grace-ms"),
        a(30_000),
    ]));
    let mut c_0 = r.consume("c_0", &["--mode", "copy"]);
    let mut c_1 = r.consume("c_1", &["--mode", "batch"]);
    wait_until("c_1 to join", &mut [&mut p, &mut c_0, &mut c_1], || {
        r.active_ids().iter().any(|id| id == "c_1")
    });
    let c1 = r.open_consumer_cursor("c_1").expect("c_1 cursor");
    wait_until(
        "c_1 to be under way",
        &mut [&mut p, &mut c_0, &mut c_1],
        || c1.load() >= 1000,
    );
    c_1.kill();
    let committed = cursor_file_value(&r.consumer_cursor_path("c_1"));
    assert_eq!(committed, c1.load());
    assert!(
        committed + CAP < n - 1,
        "the stream ended before the kill (committed {committed} of {n}): raise the event count"
    );
    let limit = committed + CAP;
    wait_producer_at(
        &r,
        limit,
        "the producer to stop one ring past the dead required consumer",
        &mut [&mut p, &mut c_0],
    );
    let reg = registry(&r);
    producer_looked(&reg, &mut [&mut p, &mut c_0]);
    assert_producer_stays(&r, limit, &mut p);

    let again = r.consume("c_1", &["--mode", "batch"]);
    let outs = wait_all(vec![p, c_0, again]);
    outs[0].expect_producer_ok(n as u64);
    assert!(
        alerts(&outs[0])
            .iter()
            .any(|a| a.0 == "c_1" && a.1 == committed && a.2),
        "no dead alert for c_1\n{}",
        outs[0].describe()
    );
    outs[1].expect_consumer_clean(0, n - 1);
    let o = &outs[2];
    assert_eq!(
        o.i64("start_seq"),
        committed + 1,
        "resumes right after the commit\n{}",
        o.describe()
    );
    o.expect_consumer_clean(committed + 1, n - 1);
    drop(reg);
    drop(c_1);
    fx.assert_clean();
}

#[test]
fn required_consumer_killed_mid_flow_resumes_shm() {
    required_consumer_killed_mid_flow(Backend::Shm);
}

#[test]
fn required_consumer_killed_mid_flow_resumes_dir() {
    required_consumer_killed_mid_flow(Backend::Dir);
}

// ---------------------------------------------------------------------------------------------
// 7. Pid reuse cannot fake liveness.

/// In-process: a consumer slot whose owner word names a live pid (this process) with the wrong
/// start time is dead: `slot_owner_alive` says so and `drain` retires it instead of waiting.
/// With the right start time the same pid is alive and gates. The same holds for the producer
/// word: a consumer sees a producer with a wrong start time as gone.
#[test]
fn pid_reuse_cannot_make_a_dead_participant_alive() {
    let fx = Fixture::new("pid_reuse");
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let name = r.ring_name();
        let mut p = ProducerBuilder::new(name.clone())
            .capacity(8)
            .create_raw(64)
            .expect("producer");
        let c = ConsumerBuilder::new(name.clone(), "c_0")
            .attach_raw(64)
            .expect("consumer");
        let reg = Registry::open(&name.registry()).expect("registry");
        let slot = slot_of(&reg, "c_0");
        let pid = std::process::id();
        let start = ringproof::kit::process::own_start_time();
        assert!(start > 0);
        assert_eq!(
            reg.slot(slot).owner.load(Ordering::Acquire),
            owner_word(pid, start)
        );
        assert!(reg.slot_owner_alive(slot));

        // Our pid, another start time: a process that had this pid before us.
        reg.slot(slot)
            .owner
            .store(owner_word(pid, start ^ 1), Ordering::Release);
        assert!(
            !reg.slot_owner_alive(slot),
            "a recycled pid made a dead consumer look alive"
        );
        testkit::produce(&mut p, 8, 1, |_| {}).expect("a ring's worth fits");
        assert_eq!(p.min_gating_sequence(), -1);
        assert_eq!(p.gating_ids(), vec!["c_0".to_owned()]);
        let t = Instant::now();
        assert!(
            p.drain(Duration::from_secs(20)).expect("drain"),
            "drain waited on a consumer whose owner is dead"
        );
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "drain took {:?}",
            t.elapsed()
        );
        assert_eq!(
            reg.slot_state(slot),
            SLOT_DEAD,
            "the producer retired the slot"
        );
        assert_eq!(p.gating_ids(), Vec::<String>::new());

        // The right start time: alive.
        reg.slot(slot)
            .owner
            .store(owner_word(pid, start), Ordering::Release);
        assert!(reg.slot_owner_alive(slot));
        drop(c);

        // A live consumer with the right word gates: drain waits out its (configured) timeout.
        let mut c = ConsumerBuilder::new(name.clone(), "c_1")
            .attach_raw(64)
            .expect("consumer");
        let slot = slot_of(&reg, "c_1");
        assert!(reg.slot_owner_alive(slot));
        testkit::produce(&mut p, 8, 1, |_| {}).expect("publish");
        assert!(
            !p.drain(Duration::from_millis(100)).expect("drain"),
            "drain passed a live consumer that read nothing"
        );
        assert_eq!(reg.slot_state(slot), SLOT_ACTIVE);
        let mut buf = [0u8; 64];
        for seq in 8..16 {
            assert_eq!(c.try_next_into(&mut buf).expect("read"), Some(seq));
            ringproof::kit::payload::verify(seq as u64, &buf).expect("payload");
        }
        assert!(p.drain(Duration::from_secs(20)).expect("drain"));

        // The producer's word: wrong start time, a caught-up consumer finds the producer gone.
        let owner = reg.control().producer_owner.load(Ordering::Acquire);
        assert!(reg.producer_alive());
        reg.control()
            .producer_owner
            .store(owner_word(pid, start ^ 1), Ordering::Release);
        assert!(
            !reg.producer_alive(),
            "a recycled pid made a dead producer look alive"
        );
        match c.wait_for_event(Duration::from_secs(20)) {
            Err(Error::ProducerGone { last_published }) => assert_eq!(last_published, 15),
            other => panic!("expected ProducerGone, got {other:?}"),
        }
        reg.control().producer_owner.store(owner, Ordering::Release);
        assert!(reg.producer_alive());
        assert!(!c
            .wait_for_event(Duration::from_millis(30))
            .expect("a live producer is not gone"));
        drop(c);
        drop(reg);
        drop(p);
        fx.assert_clean();
    }
}

// ---------------------------------------------------------------------------------------------
// 8. A stalled (SIGSTOPped) required consumer.

/// The gate holds the producer at `head`; required consumer c_1 catches up and is SIGSTOPped
/// (alive, but commits nothing); the gate leaves, so the producer blocks on c_1 one ring later.
/// Past the progress timeout the producer alerts (dead: false). With `cont_after_alert`, c_1 is
/// SIGCONTinued (well within the grace period): the stream completes. Otherwise the test waits
/// for the action.
fn stalled_required_consumer(
    backend: Backend,
    action: &str,
    grace_ms: u64,
    cont_after_alert: bool,
) {
    let fx = Fixture::new(&format!("stall_{action}_{backend:?}"));
    let r = fx.ring(backend, "r");
    let n = events(20_000) as i64;
    let hold = n / 4;
    let head = hold + CAP - 1;
    let progress_ms = 200u64;
    let mut p = r.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(n),
        a("--wait-consumers"),
        a(3),
        a("--timeout-ms"),
        a(TIMEOUT),
        a("--required"),
        a("c_1"),
        a("--action"),
        a(action),
        a("--progress-timeout-ms"),
        a(progress_ms),
        a("--grace-ms"),
        a(grace_ms),
    ]));
    let mut c_0 = r.consume("c_0", &["--mode", "copy"]);
    let mut c_1 = r.consume("c_1", &["--mode", "batch"]);
    let mut gate = r.attach_gate("gate", 64);
    gate_consume(&mut gate, hold as u64, &mut [&mut p, &mut c_0, &mut c_1]);
    wait_producer_at(
        &r,
        head,
        "the producer to stop one ring ahead of the gate",
        &mut [&mut p, &mut c_0, &mut c_1],
    );
    wait_consumer_at(&r, "c_1", head, &mut [&mut p, &mut c_0, &mut c_1]);
    stop(&mut c_1);
    drop(gate);
    let limit = head + CAP;
    wait_producer_at(
        &r,
        limit,
        "the producer to block on the stopped consumer",
        &mut [&mut p, &mut c_0, &mut c_1],
    );
    let blocked = Instant::now();
    let reg = registry(&r);

    // Stopped is not dead: its id cannot be taken over, and the refusal changes nothing.
    let slot = slot_of(&reg, "c_1");
    let incarnation = reg.slot(slot).incarnation.load(Ordering::Acquire);
    r.consume("c_1", &["--attach-timeout-ms", "0"])
        .wait()
        .expect_error(&["in use", &format!("process {}", c_1.pid())]);
    assert_eq!(
        reg.slot(slot).incarnation.load(Ordering::Acquire),
        incarnation
    );
    assert_eq!(cursor_file_value(&r.consumer_cursor_path("c_1")), head);

    if cont_after_alert {
        // The stall began no earlier than `blocked`; wait out the configured progress timeout,
        // then for a liveness check after it: the alert has been raised.
        std::thread::sleep(Duration::from_millis(progress_ms + 100));
        producer_looked(&reg, &mut [&mut p, &mut c_0, &mut c_1]);
        assert_producer_stays(&r, limit, &mut p);
        if action == "shutdown" {
            assert!(
                blocked.elapsed() < Duration::from_millis(grace_ms),
                "the test took {:?}, longer than the grace period it means to stay within",
                blocked.elapsed()
            );
        }
        cont(&mut c_1);
        let outs = wait_all(vec![p, c_0, c_1]);
        outs[0].expect_producer_ok(n as u64);
        let al = alerts(&outs[0]);
        assert!(
            !al.is_empty(),
            "no alert for the stalled consumer\n{}",
            outs[0].describe()
        );
        assert!(
            al.iter().all(|a| a.0 == "c_1" && !a.2),
            "{}",
            outs[0].describe()
        );
        let first = &al[0];
        assert_eq!(
            first.1,
            head,
            "the alert names where c_1 stopped\n{}",
            outs[0].describe()
        );
        assert!(
            first.3 >= progress_ms,
            "alerted after {} ms, before the progress timeout",
            first.3
        );
        outs[1].expect_consumer_clean(0, n - 1);
        outs[2].expect_consumer_clean(0, n - 1);
    } else {
        let out = p.wait();
        out.expect_code(3);
        let e = out.error();
        for needle in [
            "\"c_1\"",
            "graceful shutdown",
            "dead: false",
            &format!("past {head}"),
        ] {
            assert!(
                e.contains(needle),
                "error {e:?} does not mention {needle:?}\n{}",
                out.describe()
            );
        }
        let al = alerts(&out);
        assert_eq!(al.len(), 1, "{}", out.describe());
        assert_eq!(
            (al[0].0.as_str(), al[0].1, al[0].2),
            ("c_1", head, false),
            "{}",
            out.describe()
        );
        assert!(al[0].3 >= progress_ms);
        assert_eq!(out.i64("last_seq"), limit, "{}", out.describe());
        // The stopped consumer, continued, drains the closed ring.
        cont(&mut c_1);
        let outs = wait_all(vec![c_0, c_1]);
        for o in &outs {
            o.expect_consumer_clean(0, limit);
            assert_eq!(o.i64("closed_at"), limit, "{}", o.describe());
        }
    }
    drop(reg);
    fx.assert_clean();
}

#[test]
fn stopped_required_consumer_alerts_and_recovers_on_sigcont_alert_shm() {
    stalled_required_consumer(Backend::Shm, "alert", 300, true);
}

#[test]
fn stopped_required_consumer_recovers_within_grace_shutdown_dir() {
    stalled_required_consumer(Backend::Dir, "shutdown", 10_000, true);
}

#[test]
fn stopped_required_consumer_past_grace_shuts_down_shm() {
    stalled_required_consumer(Backend::Shm, "shutdown", 300, false);
}

// ---------------------------------------------------------------------------------------------
// 9. `ringproof rm`.

/// A ring whose producer and consumers were all SIGKILLed (one left an unreaped zombie) is
/// removed by `ringproof rm`; while any participant runs, rm refuses and names it.
fn rm_after_crash(backend: Backend) {
    let fx = Fixture::new(&format!("rm_{backend:?}"));
    let r = fx.ring(backend, "r");
    let mut p = r.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(1_000_000_000u64),
        a("--wait-consumers"),
        a(2),
        a("--timeout-ms"),
        a(TIMEOUT),
    ]));
    let mut c_0 = r.consume("c_0", &["--mode", "copy"]);
    let mut c_1 = r.consume("c_1", &["--mode", "batch"]);
    let pc = r.open_producer_cursor_waiting(&mut [&mut p, &mut c_0, &mut c_1]);
    wait_until(
        "the stream to flow",
        &mut [&mut p, &mut c_0, &mut c_1],
        || pc.load() >= 1000,
    );

    let out = rm(&r, &[]);
    out.expect_error(&["live participant", &format!("pid {}", p.pid())]);
    p.kill();
    let out = rm(&r, &[]);
    out.expect_error(&["live participant"]);
    let e = out.error();
    assert!(
        e.contains(&format!("pid {}", c_0.pid())) || e.contains(&format!("pid {}", c_1.pid())),
        "rm names neither live consumer: {e}"
    );
    assert!(r.ring_is_valid(), "a refused rm removed the ring");
    c_0.kill();
    c_1.kill_leave_zombie();
    let expected = rm_names(&r, &["c_0", "c_1"]);
    let out = rm(&r, &[]);
    out.expect_code(0);
    assert_eq!(removed(&out), expected, "{}", out.describe());
    fx.assert_clean();
    // Nothing left: rm says so.
    rm(&r, &[]).expect_error(&["does not exist"]);
    drop(c_1);
}

#[test]
fn rm_removes_a_crashed_ring_and_refuses_a_live_one_shm() {
    rm_after_crash(Backend::Shm);
}

#[test]
fn rm_removes_a_crashed_ring_and_refuses_a_live_one_dir() {
    rm_after_crash(Backend::Dir);
}

/// `rm` of a crashed shm ring `X` must not touch a live ring whose name merely starts with
/// `X_`: with disruptor-mp's names, `X_b_producer_seq` and `X_b_c_0_seq` (ring `X_b`) look
/// like consumer cursors `b_producer` and `b_c_0` of ring `X`.
#[test]
fn rm_leaves_a_live_ring_with_a_longer_name_alone() {
    let fx = Fixture::new("rm_prefix");
    let dead = fx.ring(Backend::Shm, "a");
    let live = fx.ring(Backend::Shm, "a_b");
    let n = events(2_000) as i64;
    let mut pd = dead.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(1_000_000_000u64),
        a("--timeout-ms"),
        a(TIMEOUT),
    ]));
    let pc = dead.open_producer_cursor_waiting(&mut [&mut pd]);
    wait_until("the dead-to-be ring to publish", &mut [&mut pd], || {
        pc.load() >= 100
    });
    pd.kill();

    let mut p = live.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(n),
        a("--wait-consumers"),
        a(1),
        a("--timeout-ms"),
        a(TIMEOUT),
    ]));
    let mut gate = live.attach_gate("c_0", 64);
    gate_consume(&mut gate, 1, &mut [&mut p]);
    wait_producer_at(
        &live,
        CAP,
        "the live producer to block on its consumer",
        &mut [&mut p],
    );
    let live_names = {
        let mut v = vec![live.ring_path(), live.consumer_cursor_path("c_0")];
        v.extend(live.other_paths());
        v
    };
    assert!(live_names.iter().all(|p| p.exists()));

    let expected = rm_names(&dead, &[]);
    let out = rm(&dead, &[]);
    out.expect_code(0);
    let missing: Vec<String> = live_names
        .iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    let got = removed(&out);
    // Whatever happens, let the live ring finish before judging.
    gate_consume(&mut gate, (n - 1) as u64, &mut [&mut p]);
    drop(gate);
    let pout = p.wait();
    assert!(
        missing.is_empty(),
        "`ringproof rm --ring {}` removed names of the live ring {}: {missing:?} (rm reported {got:?})",
        dead.name,
        live.name
    );
    assert_eq!(got, expected, "{}", out.describe());
    pout.expect_producer_ok(n as u64);
    fx.assert_clean();
}

// ---------------------------------------------------------------------------------------------

trait RingExt {
    fn open_producer_cursor_waiting(
        &self,
        procs: &mut [&mut Proc],
    ) -> ringproof::kit::cursor::Cursor;
}

impl RingExt for Ring {
    fn open_producer_cursor_waiting(
        &self,
        procs: &mut [&mut Proc],
    ) -> ringproof::kit::cursor::Cursor {
        wait_until("the producer cursor to exist", procs, || {
            self.open_producer_cursor().is_some()
        });
        self.open_producer_cursor().expect("producer cursor")
    }
}

// ---------------------------------------------------------------------------------------------
// 10. The evict action.

/// A required consumer stopped (SIGSTOP) past its progress timeout and grace period under
/// `--action evict` is evicted: its slot becomes EVICTED, the producer moves on and finishes,
/// the other consumer loses nothing, and the evicted consumer, once continued, gets the typed
/// "evicted" error naming exactly the sequences it missed (SPEC.md §7.10).
fn evicted_required_consumer(backend: Backend, kill: bool) {
    let fx = Fixture::new(&format!("evict_{backend:?}_{kill}"));
    let r = fx.ring(backend, "r");
    let n = events(20_000) as i64;
    let hold = n / 4;
    let head = hold + CAP - 1;
    let progress_ms = 200u64;
    let mut p = r.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(n),
        a("--wait-consumers"),
        a(3),
        a("--timeout-ms"),
        a(TIMEOUT),
        a("--required"),
        a("c_1"),
        a("--action"),
        a("evict"),
        a("--progress-timeout-ms"),
        a(progress_ms),
        a("--grace-ms"),
        a(300),
    ]));
    let mut c_0 = r.consume("c_0", &["--mode", "copy"]);
    let mut c_1 = r.consume("c_1", &["--mode", "batch"]);
    let mut gate = r.attach_gate("gate", 64);
    gate_consume(&mut gate, hold as u64, &mut [&mut p, &mut c_0, &mut c_1]);
    wait_producer_at(
        &r,
        head,
        "the producer to stop one ring ahead of the gate",
        &mut [&mut p, &mut c_0, &mut c_1],
    );
    wait_consumer_at(&r, "c_1", head, &mut [&mut p, &mut c_0, &mut c_1]);
    if kill {
        c_1.kill();
    } else {
        stop(&mut c_1);
    }
    drop(gate);
    let reg = registry(&r);
    let slot = slot_of(&reg, "c_1");

    // Evicted (a dead one at once, a stopped one after progress timeout + grace); the
    // producer then finishes without it.
    let out = p.wait();
    out.expect_producer_ok(n as u64);
    let al = alerts(&out);
    assert_eq!(al.len(), 1, "{}", out.describe());
    assert_eq!(
        (al[0].0.as_str(), al[0].1, al[0].2),
        ("c_1", head, kill),
        "{}",
        out.describe()
    );
    // A killed evicted consumer is dead at the close: the producer reaps its slot and cursor
    // (SPEC.md §7.6). A stopped one still lives, and keeps both until it restarts.
    let expected_state = if kill { SLOT_FREE } else { SLOT_EVICTED };
    assert_eq!(
        reg.slot_state(slot),
        expected_state,
        "the required consumer's slot after the close"
    );
    let c_0 = c_0.wait();
    c_0.expect_consumer_clean(0, n - 1);
    if !kill {
        // Continued, it learns it was evicted, with the exact range it missed.
        cont(&mut c_1);
        let out = c_1.wait();
        out.expect_error(&[
            "\"c_1\" was evicted",
            &format!("missed sequences {}..={}", head + 1, n - 1),
        ]);
    }
    drop(reg);
    remove_dead_cursors(&fx, &r, if kill { &[] } else { &["c_1"] });
}

#[test]
fn evicted_required_consumer_is_told_what_it_missed_shm() {
    evicted_required_consumer(Backend::Shm, false);
}

#[test]
fn evicted_required_consumer_is_told_what_it_missed_dir() {
    evicted_required_consumer(Backend::Dir, false);
}

/// SIGKILLed instead of stopped: evicted at once (no progress timeout), and the producer keeps
/// publishing; the other consumer loses nothing.
#[test]
fn dead_required_consumer_is_evicted_at_once_shm() {
    evicted_required_consumer(Backend::Shm, true);
}
