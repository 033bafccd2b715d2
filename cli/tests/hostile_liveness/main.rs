//! Hostile liveness cases (issue 11: F4 a/b/c, F11, F12): a live consumer must never be
//! declared dead on missing evidence, one that was retired while alive must learn it before it
//! reads a rewritten slot, heartbeats must mean the same in every time namespace, a heartbeat
//! from the future must not keep a dead consumer alive, and a consumer whose ring was removed
//! must notice. Real processes throughout; TP1 payloads check every event read.
//!
//! Namespaced consumers need `unshare` with pid (and time) namespaces; where the machine
//! cannot make them the test says so and does nothing. Lowering a running producer's file
//! limit uses `prlimit --pid`.

mod fd_exhaustion;
mod future_heartbeat;
mod namespaces;
mod removed_ring;

#[path = "../common/mod.rs"]
mod common;

use common::*;
use ringproof::kit::layout::registry::{SLOT_ACTIVE, SLOT_DEAD};
use ringproof::kit::registry::Registry;
use ringproof_testsupport::procstat::{children_of, dead, proc_stat};
use ringproof_testsupport::{Child, TimedOut};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// `ringproof consume` run inside fresh namespaces by `unshare ... --fork --kill-child`.
struct NsConsumer(Child);

impl NsConsumer {
    fn spawn(unshare: &[&str], ring: &Ring, id: &str, extra: &[&str]) -> NsConsumer {
        let mut args: Vec<String> = unshare.iter().map(|s| s.to_string()).collect();
        args.extend(["--fork", "--mount-proc", "--kill-child", BIN, "consume"].map(String::from));
        args.extend(ring.args());
        args.extend(["--id".to_owned(), id.to_owned()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let label = format!("consumer {id} `unshare {}`", args.join(" "));
        let mut cmd = Command::new("unshare");
        cmd.args(&args);
        NsConsumer(Child::spawn(label, cmd, HARD_TIMEOUT))
    }

    /// The host pid of the `ringproof consume` process (unshare's only child), once it exists.
    fn inner_pid(&self) -> u32 {
        let me = self.0.pid();
        let mut inner = None;
        ringproof_testsupport::poll_until(
            &format!("{}: a child process", self.0.label()),
            HARD_TIMEOUT,
            || {
                inner = children_of(me).first().copied();
                inner.is_some()
            },
        );
        inner.expect("found")
    }

    /// Waits for the exit (killing it after `timeout`): (exit code, stdout, stderr).
    fn wait_for(mut self, timeout: Duration) -> (Option<i32>, String, String) {
        if let Err(TimedOut(c)) = self.0.wait_until(Instant::now() + timeout) {
            panic!(
                "{} did not exit within {timeout:?} (killed)\nstdout: {}\nstderr: {}",
                c.label, c.stdout, c.stderr
            );
        }
        let c = self.0.captured();
        (c.code(), c.stdout, c.stderr)
    }

    /// SIGKILL (unshare's `--kill-child` takes the consumer with it) and reap.
    fn kill(&mut self) {
        self.0.kill()
    }
}

/// Whether `unshare` with these namespace flags works here (root or user namespaces, a kernel
/// with time namespaces for `--time`).
fn can_unshare(flags: &[&str]) -> bool {
    Command::new("unshare")
        .args(flags)
        .args(["--fork", "--mount-proc", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid}");
}

/// Sets the soft RLIMIT_NOFILE of running process `pid`.
fn set_nofile(pid: u32, soft: u64) {
    let ok = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--nofile={soft}:")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "prlimit --pid {pid} --nofile={soft}:");
}

fn can_prlimit() -> bool {
    Command::new("prlimit")
        .args(["--pid", &std::process::id().to_string(), "--nofile"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The registry slot holding consumer `id`, in any state.
fn slot_of(reg: &Registry, id: &str) -> Option<usize> {
    (0..reg.slots()).find(|&i| reg.slot_state(i) != 0 && reg.slot_id(i).as_deref() == Some(id))
}

fn open_registry(ring: &Ring, procs: &mut [&mut Proc]) -> Registry {
    let mut reg = None;
    wait_until("the registry", procs, || {
        reg = Registry::open(&ring.ring_name().registry()).ok();
        reg.is_some()
    });
    reg.expect("registry")
}

/// A consumer that ended either with a typed lapped/evicted error (it was retired while alive
/// and was told) or clean; never with events that failed their checksum.
fn expect_told_or_clean(code: Option<i32>, out: &str, err: &str) {
    let json: serde_json::Value =
        serde_json::from_str(out.lines().last().unwrap_or("")).unwrap_or_default();
    match code {
        Some(2) => {
            let e = json["error"].as_str().unwrap_or_default();
            assert!(
                e.contains("missed sequences"),
                "expected a lapped/evicted error, got {e:?}\nstdout: {out}\nstderr: {err}"
            );
        }
        _ => {
            assert_eq!(
                json["payload_errors"], 0,
                "the retired consumer read overwritten slots\nstdout: {out}\nstderr: {err}"
            );
            assert_eq!(json["out_of_order"], 0, "stdout: {out}\nstderr: {err}");
            assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
        }
    }
}
