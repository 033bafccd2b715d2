//! Issue 11, the tools' findings, run against the real binary: forged registry ids (F6), a ring
//! truncated under the tools (F9, F18), cursors a killed consumer left half made or never
//! removed (F14), dead creators' temporaries (F15), a registry slot forged to name pid 1
//! (F20), and the CLI roles under SIGTERM / SIGINT and a vanished producer (F21).
//!
//! Crafted states start from a real producer killed with SIGKILL (its ring, producer cursor and
//! registry stay), then the test writes the hostile words into the registry directly.

mod damaged;
mod names;
mod retired;
mod signals;
mod temporaries;

#[path = "../common/mod.rs"]
mod common;

use common::*;
use ringproof::kit::layout::registry::{owner_word, ROLE_CONSUMER, SLOT_ACTIVE, SLOT_DEAD};
use ringproof::kit::registry::Registry;
use ringproof::kit::segment;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;

/// A ring whose producer was SIGKILLed after creating it: ring, producer cursor and registry.
fn crashed_ring(fx: &Fixture, ring: &Ring) {
    let _ = fx;
    let mut p = ring.produce(&[
        "--wait-consumers",
        "1",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
        "--events",
        "10",
    ]);
    wait_until("the producer to create its ring", &mut [&mut p], || {
        ring.ring_is_valid() && Registry::open(&ring.ring_name().registry()).is_ok()
    });
    p.kill();
}

/// Writes slot `i` as a hostile peer would: any state, owner word and id bytes.
fn forge_slot(ring: &Ring, i: usize, state: u32, owner: u64, id: &[u8]) {
    let reg = Registry::open(&ring.ring_name().registry()).expect("open registry");
    let s = reg.slot(i);
    // SAFETY: the test is the only writer of this slot (the ring's producer is dead).
    unsafe {
        let bytes = &mut *s.id.get();
        bytes.fill(0);
        bytes[..id.len()].copy_from_slice(id);
    }
    s.id_len.store(id.len() as u32, Ordering::Release);
    s.role.store(ROLE_CONSUMER, Ordering::Relaxed);
    s.owner.store(owner, Ordering::Release);
    s.state.store(state, Ordering::Release);
}

fn run(args: &[String]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ringproof")
}

fn rm(ring: &Ring, force: bool) -> std::process::Output {
    let mut args = vec!["rm".to_owned()];
    args.extend(ring.args());
    if force {
        args.push("--force".into());
    }
    run(&args)
}

fn text(o: &std::process::Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout).trim_end(),
        String::from_utf8_lossy(&o.stderr).trim_end()
    )
}

fn stdout_json(o: &std::process::Output) -> serde_json::Value {
    let line = String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

/// A pid that was just alive and is now dead and reaped.
fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().expect("spawn true");
    let pid = c.id();
    c.wait().expect("reap true");
    pid
}

/// The published producer cursor, or -1.
fn produced(ring: &Ring) -> i64 {
    ring.open_producer_cursor().map_or(-1, |c| c.load())
}

fn signal(p: &Proc, sig: i32) {
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(
        unsafe { libc::kill(p.pid() as i32, sig) },
        0,
        "kill {sig} {}",
        p.label
    );
}

fn is_signal_death(o: &std::process::Output) -> bool {
    use std::os::unix::process::ExitStatusExt;
    o.status.signal().is_some()
}
