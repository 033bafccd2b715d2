//! A consumer that stops gating: a dead one is retired by the blocked producer, which goes on
//! (and its re-join is told what it missed); a required one that stalls past its grace period
//! under `LivenessAction::Evict` is evicted, learns it at its next read, and the producer goes
//! on without it.

use crate::common::{publish, read, TestRing, CAPACITY, SIZE, TIMEOUT};
use crate::roles;
use ringproof::{Error, LivenessAction, OnLapped, RequiredConsumers};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A consumer process dies having read nothing; the producer, blocked on its cursor one ring
/// in, retires it and publishes on; a live consumer thread gets every event, and the dead
/// id's re-join fails naming what it missed (or, with `OnLapped::Resync`, starts at the head).
#[test]
fn a_dead_consumer_stops_gating() {
    let ring = TestRing::new("dead");
    let n = 3 * CAPACITY as u64;
    let mut p = ring.producer();
    let mut live = ring.consumer("c_live");
    let child = roles::spawn("consume_and_die", &ring, "c_dead", 0);
    p.wait_for_consumers(2, TIMEOUT)
        .expect("both consumers join");
    roles::expect_success(child);
    let reader = std::thread::spawn(move || read(&mut live, 0, n));
    publish(&mut p, n);
    reader.join().expect("live reader");
    match ring.consumer_builder("c_dead").attach_raw(SIZE) {
        Err(Error::Lapped { id, from, to }) => {
            assert_eq!((id.as_str(), from, to), ("c_dead", 0, n as i64 - 1))
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(c) => panic!("re-joined at {} past missed events", c.next_sequence()),
    }
    // Asked to, it re-joins at the head instead.
    let c = ring
        .consumer_builder("c_dead")
        .on_lapped(OnLapped::Resync)
        .attach_raw(SIZE)
        .expect("resync");
    assert_eq!(c.next_sequence(), n as i64, "resyncs at the head");
    drop(c);
    drop(p);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}

/// A required consumer that reads nothing is evicted after progress timeout + grace; the
/// alert hook fires once, the producer finishes, and the consumer's next read fails with
/// `Evicted` naming the sequences it can no longer trust.
#[test]
fn a_stalled_required_consumer_is_evicted() {
    let ring = TestRing::new("evict");
    let n = 3 * CAPACITY as i64;
    let alerts = Arc::new(Mutex::new(Vec::new()));
    let hook_alerts = Arc::clone(&alerts);
    let required = RequiredConsumers::new(["c_req"])
        .with_startup_wait_timeout(TIMEOUT)
        .with_progress_timeout(Duration::from_millis(50))
        .with_progress_check_interval(Duration::from_millis(5))
        .with_shutdown_grace_period(Duration::from_millis(50))
        .with_action(LivenessAction::Evict)
        .with_alert_hook(move |a| hook_alerts.lock().unwrap().push(a.clone()));
    // The producer waits at creation for its required consumer: attach it from a thread.
    let attacher = {
        let b = ring.consumer_builder("c_req");
        std::thread::spawn(move || b.attach_raw(SIZE).expect("attach c_req"))
    };
    let mut p = ring
        .builder()
        .required_consumers(required)
        .create_raw(SIZE)
        .expect("create");
    let mut stalled = attacher.join().expect("attacher");
    publish(&mut p, n as u64);
    let alerts = alerts.lock().unwrap().clone();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        (
            alerts[0].consumer_id.as_str(),
            alerts[0].last_sequence,
            alerts[0].dead
        ),
        ("c_req", -1, false)
    );
    let mut buf = vec![0u8; SIZE];
    match stalled.try_read_into(&mut buf) {
        Err(Error::Evicted { id, from, .. }) => assert_eq!((id.as_str(), from), ("c_req", 0)),
        other => panic!("expected Evicted, got {other:?}"),
    }
    drop(stalled);
    drop(p);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}
