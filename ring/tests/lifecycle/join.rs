//! Joining, leaving and re-joining: a consumer starts after what was published before it
//! joined, one that left cleanly comes back as a new consumer at the head, and a consumer whose
//! process died mid-stream is taken over under its id, resuming after its last commit.

use crate::common::{publish, read, TestRing, CAPACITY};
use crate::roles;

/// A consumer that joins after 100 events (published with nobody gating) starts at 100.
#[test]
fn a_late_joiner_starts_after_the_head() {
    let ring = TestRing::new("late");
    let mut p = ring.producer();
    publish(&mut p, 100);
    let mut c = ring.consumer("c_0");
    assert_eq!(c.next_sequence(), 100);
    publish(&mut p, 10);
    read(&mut c, 100, 10);
    drop(c);
    drop(p);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}

/// A clean leave (drop) gives up the consumer's place: it stops gating at once (the producer
/// runs past its cursor) and the same id re-joins as a new consumer, at the head.
#[test]
fn a_clean_leave_gives_up_the_place() {
    let ring = TestRing::new("rejoin");
    let mut p = ring.producer();
    let mut c = ring.consumer("c_0");
    publish(&mut p, 10);
    read(&mut c, 0, 5);
    drop(c);
    publish(&mut p, 3 * CAPACITY as u64);
    let head = 10 + 3 * CAPACITY as i64 - 1;
    let mut c = ring.consumer("c_0");
    assert_eq!(c.next_sequence(), head + 1, "re-joins at the head");
    publish(&mut p, 5);
    read(&mut c, head + 1, 5);
    drop(c);
    drop(p);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}

/// A consumer process that dies mid-stream leaves its slot and cursor gating; the same id
/// attached again takes the slot over and resumes after the dead one's last commit: nothing
/// is lost between the two.
#[test]
fn a_dead_consumer_is_taken_over_under_its_id() {
    let ring = TestRing::new("takeover");
    let mut p = ring.producer();
    let child = roles::spawn("consume_and_die", &ring, "c_0", 5);
    p.wait_for_consumers(1, crate::common::TIMEOUT)
        .expect("the child consumer joins");
    publish(&mut p, CAPACITY as u64);
    roles::expect_success(child);
    let mut c = ring.consumer("c_0");
    assert_eq!(c.next_sequence(), 5, "resumes after the dead one's commit");
    read(&mut c, 5, CAPACITY as u64 - 5);
    for lap in 1..3 {
        publish(&mut p, CAPACITY as u64);
        read(&mut c, lap * CAPACITY as i64, CAPACITY as u64);
    }
    drop(c);
    drop(p);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}
