//! Heartbeats of participants that never wait (SPEC.md R6.2.d): the only evidence of life a
//! peer in another pid namespace has. A producer whose consumers keep up beats when a claim
//! passes its cached limit (after that publish's cursor store: one event, a batch, or a claim's
//! commit); a consumer that always finds
//! something to read beats once per 1024 refreshes of the producer cursor. Neither ever idles
//! or waits here, so neither beats any other way.

use crate::common::{event, Event, TestRing, SIZE};
use ringproof::kit::payload::fill;
use ringproof::kit::registry::Registry;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Bound of a wait for one heartbeat (beats are at most 10 ms apart while due).
const BEAT_TIMEOUT: Duration = Duration::from_secs(20);

/// Calls `step` until `beat()` reads something other than its first value; fails after
/// [`BEAT_TIMEOUT`].
fn step_until_beat(what: &str, beat: impl Fn() -> u64, mut step: impl FnMut()) {
    let first = beat();
    let deadline = Instant::now() + BEAT_TIMEOUT;
    let mut steps = 0u64;
    while beat() == first {
        assert!(
            Instant::now() < deadline,
            "{what}: no heartbeat in {BEAT_TIMEOUT:?} ({steps} steps)"
        );
        step();
        steps += 1;
    }
}

/// A producer with no consumers: its limit is always `capacity` ahead, so it passes the limit
/// once per 16 events and never waits for room. `publish` steps it once.
fn producer_beats(ring: &TestRing, what: &str, mut publish: impl FnMut()) {
    let reg = Registry::open(&ring.name.registry()).expect("registry");
    let beat = || reg.control().producer_heartbeat.load(Ordering::Relaxed);
    step_until_beat(what, beat, &mut publish);
}

#[test]
fn a_typed_producer_that_never_waits_beats() {
    let ring = TestRing::new("beat-typed");
    let mut p = ring.builder().create::<Event>().expect("create");
    producer_beats(&ring, "typed publish", || {
        let seq = p.last_published() + 1;
        p.publish(&event(seq)).expect("publish");
    });
    drop(p);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}

#[test]
fn a_raw_producer_that_never_waits_beats() {
    let ring = TestRing::new("beat-raw");
    let mut p = ring.producer();
    producer_beats(&ring, "raw publish_with", || {
        let seq = p.last_published() + 1;
        p.publish_with(|e| fill(seq as u64, e).expect("fill"))
            .expect("publish");
    });
    drop(p);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}

#[test]
fn a_typed_batch_producer_that_never_waits_beats() {
    let ring = TestRing::new("beat-tbatch");
    let mut p = ring.builder().create::<Event>().expect("create");
    producer_beats(&ring, "typed publish_batch", || {
        let first = p.last_published() + 1;
        p.publish_batch(4, |i, e| *e = event(first + i as i64))
            .expect("publish_batch");
    });
    drop(p);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}

#[test]
fn a_raw_batch_producer_that_never_waits_beats() {
    let ring = TestRing::new("beat-rbatch");
    let mut p = ring.producer();
    producer_beats(&ring, "raw publish_batch", || {
        let first = p.last_published() + 1;
        p.publish_batch(4, |i, e| fill((first + i as i64) as u64, e).expect("fill"))
            .expect("publish_batch");
    });
    drop(p);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}

#[test]
fn a_claiming_producer_that_never_waits_beats() {
    let ring = TestRing::new("beat-claim");
    let mut p = ring.producer();
    producer_beats(&ring, "claim and commit", || {
        let mut claim = p.claim(4).expect("claim");
        let first = claim.first_sequence();
        for i in 0..4 {
            fill((first + i as i64) as u64, claim.slot_mut(i)).expect("fill");
        }
        claim.commit();
    });
    drop(p);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}

#[test]
fn a_consumer_that_never_idles_beats() {
    // One event published, one read, in turn: every read refreshes the producer cursor and
    // finds exactly one event, so the consumer never polls an empty ring.
    let ring = TestRing::new("beat-cons");
    let mut p = ring.producer();
    let mut c = ring.consumer("c_0");
    let reg = Registry::open(&ring.name.registry()).expect("registry");
    let slot = reg
        .active()
        .into_iter()
        .find(|m| m.id == "c_0")
        .expect("c_0 joined")
        .slot;
    let beat = || reg.slot(slot).heartbeat.load(Ordering::Relaxed);
    let mut buf = vec![0u8; SIZE];
    step_until_beat("consumer reading one event per refresh", beat, || {
        let seq = p.last_published() + 1;
        p.publish_with(|e| fill(seq as u64, e).expect("fill"))
            .expect("publish");
        assert_eq!(c.try_read_into(&mut buf).expect("read"), Some(seq));
    });
    drop(reg);
    drop(c);
    drop(p);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}
