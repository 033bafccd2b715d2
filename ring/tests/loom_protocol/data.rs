//! The data path: publishing, reading, leasing and gating, one and two consumers.

use super::model::*;
use super::{check, check_bounded, contiguous};
use loom::thread;

/// SPSC, one event per publish and per read, four events through two slots: every read sees
/// exactly its event, nothing is overwritten before it is read, and the cached limit is only
/// refreshed when exhausted.
/// Also caught: `commit` Release->Relaxed, `gate_position` Acquire->Relaxed, `within_limit` off
/// by one (`last <= limit + 1`: the producer overwrites slot 0 before it is read).
#[test]
fn spsc_wraps_without_torn_stale_or_overwritten_reads() {
    check(|| {
        let ring = Ring::new(1, 1);
        let consumer = {
            let ring = ring.clone();
            thread::spawn(move || {
                let mut c = Consumer::joined_before(ring, 0);
                c.read_through(3, 1);
                c.seen
            })
        };
        let mut p = Producer::new(ring);
        for _ in 0..4 {
            p.publish(1);
        }
        assert_eq!(consumer.join().unwrap(), contiguous(0, 3));
    });
}

/// Batched publish (two slots, one cursor store) and batched reads (one commit per batch).
/// Also caught: `commit` Release->Relaxed, `gate_position` Acquire->Relaxed. (`within_limit` off
/// by one is not: batches of two never leave the consumer one event behind.)
#[test]
fn batched_publish_and_batched_reads() {
    check(|| {
        let ring = Ring::new(1, 1);
        let consumer = {
            let ring = ring.clone();
            thread::spawn(move || {
                let mut c = Consumer::joined_before(ring, 0);
                c.read_through(3, CAPACITY);
                c.seen
            })
        };
        let mut p = Producer::new(ring);
        p.publish(2);
        p.publish(2);
        assert_eq!(consumer.join().unwrap(), contiguous(0, 3));
    });
}

/// A lease holds its slot in place until it commits: the producer, working from its cached
/// limit, never rewrites a leased slot, however the threads interleave between the two reads.
/// Also caught: `commit` Release->Relaxed (the rewrite races the second read), `gate_position`
/// Acquire->Relaxed, `within_limit` off by one (a cache one slot too generous).
#[test]
fn cached_limit_never_overwrites_a_leased_slot() {
    check(|| {
        let ring = Ring::new(1, 1);
        let consumer = {
            let ring = ring.clone();
            thread::spawn(move || {
                let mut c = Consumer::joined_before(ring, 0);
                while c.next <= 2 {
                    if !c.lease() {
                        c.wait();
                    }
                }
                c.seen
            })
        };
        let mut p = Producer::new(ring);
        for _ in 0..3 {
            p.publish(1);
        }
        assert_eq!(consumer.join().unwrap(), contiguous(0, 2));
    });
}

/// Broadcast: two consumers each read every event; the producer gates on the slower one.
/// Three threads: at 2 preemptions loom needs many minutes, so this one runs at 1 (seconds).
/// Also caught: `limit` taking the `max` of the gates instead of the `min` (only this test has
/// two gates), `commit` Release->Relaxed, `gate_position` Acquire->Relaxed, `within_limit` off
/// by one.
#[test]
fn two_consumers_each_see_every_event() {
    check_bounded(1, || {
        let ring = Ring::new(2, 2);
        let consumers: Vec<_> = (0..2)
            .map(|me| {
                let ring = ring.clone();
                thread::spawn(move || {
                    let mut c = Consumer::joined_before(ring, me);
                    c.read_through(2, CAPACITY);
                    c.seen
                })
            })
            .collect();
        let mut p = Producer::new(ring);
        for _ in 0..3 {
            p.publish(1);
        }
        for c in consumers {
            assert_eq!(c.join().unwrap(), contiguous(0, 2));
        }
    });
}
