//! Liveness across pid namespaces (SPEC.md §7.10): a consumer in another pid namespace cannot
//! be judged by pid (its pid means something else here), so it is judged by its heartbeat:
//! never retired while it beats, retired once it stops.
//!
//! Needs `unshare --pid` (root or user namespaces); the test says so and does nothing where the
//! machine cannot create a pid namespace.

use ringproof::kit::layout::registry::{SLOT_ACTIVE, SLOT_DEAD};
use ringproof::kit::registry::Registry;
use ringproof::kit::testkit;
use ringproof::{ProducerBuilder, RingName};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Cleanup(String, Option<Child>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(c) = self.1.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for f in ringproof_testsupport::shm_segments_of(&self.0) {
            let _ = std::fs::remove_file(ringproof_testsupport::shm_path(&f));
        }
    }
}

fn can_unshare() -> bool {
    Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn wait_for(what: &str, deadline: Instant, cond: impl FnMut() -> bool) {
    let left = deadline.saturating_duration_since(Instant::now());
    ringproof_testsupport::poll_until(what, left, cond)
}

#[test]
fn a_consumer_in_another_pid_namespace_is_judged_by_its_heartbeat() {
    if !can_unshare() {
        eprintln!("skipping: this machine cannot create a pid namespace (unshare --pid failed)");
        return;
    }
    let ring = format!("rppidns{}", std::process::id());
    let mut guard = Cleanup(ring.clone(), None);
    let name = RingName::shm(&ring).unwrap();
    let mut producer = ProducerBuilder::new(name.clone())
        .capacity(8)
        .create_raw(64)
        .unwrap();
    // The consumer runs as pid 1 (or 2) of a fresh pid namespace; --kill-child ends it with unshare.
    let child = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            env!("CARGO_BIN_EXE_ringproof"),
        ])
        .args([
            "consume", "--ring", &ring, "--id", "c_ns", "--mode", "copy", "--wait", "sleep",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("unshare runs");
    guard.1 = Some(child);
    let reg = Registry::open(&name.registry()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    wait_for("the namespaced consumer to join", deadline, || {
        reg.active().iter().any(|p| p.id == "c_ns")
    });
    let slot = reg
        .active()
        .into_iter()
        .find(|p| p.id == "c_ns")
        .unwrap()
        .slot;
    assert_ne!(
        reg.slot(slot)
            .pid_ns
            .load(std::sync::atomic::Ordering::Relaxed),
        ringproof::kit::process::own_pid_ns()
    );

    // Alive across the namespace boundary: it gates a ring of 8 through 3000 events (well past
    // the 1 s heartbeat timeout at its sleep-wait pace) and is never retired.
    let report = testkit::produce(&mut producer, 3000, 1, |_| {}).unwrap();
    assert_eq!(report.last_sequence, 2999);
    assert!(
        producer.drain(Duration::from_secs(20)).unwrap(),
        "the namespaced consumer did not consume everything"
    );
    assert_eq!(
        reg.slot_state(slot),
        SLOT_ACTIVE,
        "a live consumer in another pid namespace was retired"
    );

    // Killed: its heartbeat stops; the producer retires it within the heartbeat timeout (1 s)
    // plus a check interval, and publishing goes on past it.
    let mut child = guard.1.take().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = Instant::now();
    testkit::produce(&mut producer, 100, 1, |_| {}).unwrap();
    let took = killed.elapsed();
    assert_eq!(
        reg.slot_state(slot),
        SLOT_DEAD,
        "the dead namespaced consumer's slot"
    );
    assert!(took < Duration::from_secs(10), "detection took {took:?}");
    drop(producer);
    drop(reg);
    let left = ringproof_testsupport::shm_segments_of(&ring);
    assert!(left.is_empty(), "left behind: {left:?}");
}
