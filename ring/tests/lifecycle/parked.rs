//! A participant killed while parked in the blocking wait leaves its announcement in a wake
//! word it can never take back; unrepaired, the peer that reads that word would make a
//! `FUTEX_WAKE` system call after every cursor store for the rest of the ring's life. A
//! consumer's count in `consumers_parked` is taken back by the producer that retires it (SPEC.md
//! §8 {R8.d}); a producer's in a consumer cursor's `waiters`, by the restart that takes the ring
//! over (§7.9).

use crate::common::{publish, read, TestRing, CAPACITY, TIMEOUT};
use crate::roles;
use ringproof::kit::cursor::Cursor;
use ringproof::kit::layout::registry::{park_token, SlotState};
use ringproof::kit::registry::Registry;
use ringproof_testsupport::{poll_until, Child};
use std::sync::atomic::Ordering;

/// Attempts at killing a parked consumer inside its sleep: it wakes every quarter of the
/// heartbeat timeout to look around and parks again microseconds later, and a kill that lands
/// in between leaves it uncounted (nothing to repair, nothing tested): then another one parks.
const PARK_ATTEMPTS: usize = 3;

/// Starts a consumer `id` that parks, waits until it is counted in `consumers_parked` with its
/// mark in its slot, and kills it. Returns its slot, or `None` if the kill found it awake.
fn park_and_kill(ring: &TestRing, registry: &Registry, id: &str) -> (Option<usize>, Child) {
    let parked = || registry.control().consumers_parked.load(Ordering::SeqCst);
    let mut child = roles::spawn("consume_parked", ring, id, 0);
    let slot = || registry.active().into_iter().find(|p| p.id == id);
    poll_until(&format!("{id} to park"), TIMEOUT, || {
        parked() == 1
            && slot().is_some_and(|p| registry.slot(p.slot).parked.load(Ordering::SeqCst) != 0)
    });
    let p = slot().expect("the parked consumer's slot");
    child.kill();
    let mark = registry.slot(p.slot).parked.load(Ordering::SeqCst);
    if parked() == 0 {
        assert_eq!(mark, 0, "an uncounted consumer left its mark");
        return (None, child);
    }
    assert_eq!(parked(), 1, "one consumer parked");
    assert_eq!(
        mark,
        park_token(u64::from(p.pid) | p.start_time << 32),
        "the parked consumer's slot holds its park token"
    );
    (Some(p.slot), child)
}

/// A consumer killed in the blocking wait stays counted in `consumers_parked`, so every publish
/// would `FUTEX_WAKE` nobody; the producer, blocked on its cursor, retires it as dead and takes
/// the count back with the slot's mark, and it stays 0 while the producer publishes on.
#[test]
fn a_consumer_killed_while_parked_is_uncounted_when_retired() {
    let ring = TestRing::new("parkc");
    let mut p = ring.producer();
    let registry = Registry::open(&ring.name.registry()).expect("registry");
    let parked = || registry.control().consumers_parked.load(Ordering::SeqCst);
    let mut killed = None;
    for attempt in 0..PARK_ATTEMPTS {
        let (slot, child) = park_and_kill(&ring, &registry, &format!("c_parked{attempt}"));
        drop(child);
        if let Some(slot) = slot {
            killed = Some(slot);
            break;
        }
    }
    let slot = killed.expect("no consumer was killed while parked");
    assert_eq!(
        registry.state(slot),
        Some(SlotState::Active),
        "the dead consumer still gates"
    );
    // Past one ring the dead consumer's cursor blocks the producer, which retires it: the
    // publish cannot return before the retirement, and the retirement takes the count back.
    publish(&mut p, 2 * CAPACITY as u64);
    assert_eq!(
        registry.state(slot),
        Some(SlotState::Dead),
        "retired as dead"
    );
    assert_eq!(
        registry.slot(slot).parked.load(Ordering::SeqCst),
        0,
        "the retirement cleared the dead consumer's mark"
    );
    assert_eq!(
        parked(),
        0,
        "consumers_parked still counts the consumer killed while parked: the producer makes a FUTEX_WAKE per publish"
    );
    publish(&mut p, 2 * CAPACITY as u64);
    assert_eq!(parked(), 0, "nobody parks: the count stays 0");
    drop(registry);
    drop(p);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}

/// A producer killed while parked for room stays counted in the gating consumer cursor's
/// `waiters`, so every commit of that consumer would `FUTEX_WAKE` nobody; the restart that
/// takes the ring over zeroes it, and the consumer then reads everything the dead producer
/// published.
#[test]
fn a_producer_killed_while_parked_is_uncounted_by_its_restart() {
    let ring = TestRing::new("parkp");
    let mut child = roles::spawn("produce_parked", &ring, "", CAPACITY as u64 + 1);
    let mut c = ring.consumer("c_slow");
    let cursor =
        Cursor::open(&ring.name.consumer_cursor("c_slow"), "consumer cursor").expect("cursor");
    let waiters = || cursor.cell().waiters.load(Ordering::SeqCst);
    // Its backstop outlasts the test: once counted, it stays counted until killed.
    poll_until("the producer to park for room", TIMEOUT, || waiters() == 1);
    child.kill();
    assert_eq!(
        waiters(),
        1,
        "the killed producer's announcement stays behind"
    );
    let p = ring.producer();
    assert_eq!(
        waiters(),
        0,
        "the restart left the dead producer's announcement: the consumer makes a FUTEX_WAKE per commit"
    );
    read(&mut c, 0, CAPACITY as u64);
    assert_eq!(waiters(), 0);
    drop(c);
    drop(cursor);
    drop(p);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}
