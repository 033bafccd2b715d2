//! Publishing and reading through every API shape: typed and raw, one event, a batch, a claim
//! written in place, a lease read in place, runs of slices; a consumer thread against a
//! producer on a small ring, so that every test wraps it many times under gating.

use crate::common::{check, event, publish, read, read_typed, Event, TestRing, CAPACITY, SIZE};
use ringproof::kit::payload::{fill, verify};
use ringproof::ConsumerBuilder;

/// Typed `publish` against typed `next` in another thread: every event arrives once, in order,
/// intact, across many wraps of a 16-slot ring.
#[test]
fn typed_events_cross_threads_in_order() {
    let ring = TestRing::new("typed");
    let n = 5_000i64;
    let mut p = ring.builder().create::<Event>().expect("create");
    let mut c = ConsumerBuilder::new(ring.name.clone(), "c_0")
        .attach::<Event>()
        .expect("attach");
    let reader = std::thread::spawn(move || {
        read_typed(&mut c, 0, n);
        assert!(c.try_read().expect("try_read").is_none());
    });
    for seq in 0..n {
        assert_eq!(p.publish(&event(seq)).expect("publish"), seq);
    }
    reader.join().expect("reader");
    drop(p);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}

/// Raw single publishes against a raw reader thread.
#[test]
fn raw_events_cross_threads_in_order() {
    let ring = TestRing::new("raw");
    let n = 5_000u64;
    let mut p = ring.producer();
    let mut c = ring.consumer("c_0");
    let reader = std::thread::spawn(move || read(&mut c, 0, n));
    publish(&mut p, n);
    reader.join().expect("reader");
    drop(p);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}

/// In one thread, in rounds that never run a ring ahead: raw `publish_batch`, `claim` +
/// `commit` and `publish` write; `poll_batch`, `lease`, `try_read` and `try_next_into` read.
#[test]
fn raw_batch_claim_and_lease() {
    let ring = TestRing::new("rawshapes");
    let mut p = ring.producer();
    let mut c = ring.consumer("c_0");
    let per = (CAPACITY / 4) as i64;
    let mut buf = vec![0u8; SIZE];
    for round in 0..200i64 {
        let base = round * 4 * per;
        // Write: a batch, a claim, a raw publish, a batch again.
        let last = p
            .publish_batch(per as usize, |i, e| {
                fill((base + i as i64) as u64, e).unwrap()
            })
            .expect("publish_batch");
        assert_eq!(last, base + per - 1);
        let mut claim = p.claim(per as usize).expect("claim");
        assert_eq!(claim.first_sequence(), base + per);
        for i in 0..claim.len() {
            fill((base + per + i as i64) as u64, claim.slot_mut(i)).unwrap();
        }
        assert_eq!(claim.commit(), base + 2 * per - 1);
        for i in 0..per {
            let mut e = vec![0u8; SIZE];
            fill((base + 2 * per + i) as u64, &mut e).unwrap();
            p.publish(&e).expect("publish");
        }
        publish_batch_of(&mut p, base + 3 * per, per);
        // Read: a batch, leases, try_read, try_next_into.
        let mut next = base;
        let got = c
            .poll_batch(per as usize, |seq, e, _| {
                assert_eq!(seq, next);
                verify(seq as u64, e).unwrap();
                next += 1;
            })
            .expect("poll_batch");
        assert_eq!(got, per as usize);
        for _ in 0..per {
            let lease = c.lease().expect("lease");
            assert_eq!(lease.sequence(), next);
            verify(next as u64, &lease).unwrap();
            lease.verify().expect("not evicted");
            next += 1;
        }
        for _ in 0..per {
            let seq = c
                .try_read_with(|seq, e| {
                    verify(seq as u64, e).unwrap();
                    seq
                })
                .expect("try_read")
                .expect("published");
            assert_eq!(seq, next);
            next += 1;
        }
        for _ in 0..per {
            assert_eq!(c.try_read_into(&mut buf).expect("read"), Some(next));
            verify(next as u64, &buf).unwrap();
            next += 1;
        }
        assert_eq!(c.try_read_into(&mut buf).expect("read"), None, "all read");
    }
    drop(c);
    drop(p);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}

fn publish_batch_of(p: &mut ringproof::RawProducer, first: i64, n: i64) {
    let last = p
        .publish_batch(n as usize, |i, e| {
            fill((first + i as i64) as u64, e).unwrap()
        })
        .expect("publish_batch");
    assert_eq!(last, first + n - 1);
}

/// The typed shapes: `publish_batch`, `claim` + `get_mut` + `commit`; `lease`, `poll_batch`,
/// `poll_slices`, `try_next`. A reader thread on the raw side of a second consumer checks
/// that typed and raw views agree on the bytes.
#[test]
fn typed_batch_claim_lease_and_slices() {
    let ring = TestRing::new("typedshapes");
    let (mut p, mut c, mut raw) = ring.typed_with_readers();
    let rounds = 200i64;
    let per = (CAPACITY / 4) as i64;
    let raw_reader = std::thread::spawn(move || read(&mut raw, 0, (rounds * 4 * per) as u64));
    for round in 0..rounds {
        let base = round * 4 * per;
        p.publish_batch(per as usize, |i, e| *e = event(base + i as i64))
            .expect("publish_batch");
        let mut claim = p.claim(per as usize).expect("claim");
        for i in 0..claim.len() {
            *claim.get_mut(i) = event(base + per + i as i64);
        }
        assert_eq!(claim.commit(), base + 2 * per - 1);
        for i in 0..2 * per {
            p.publish_with(|e| *e = event(base + 2 * per + i))
                .expect("publish_with");
        }
        let mut next = base;
        while next < base + per {
            let lease = c.lease().expect("lease");
            assert_eq!(lease.sequence(), next);
            check(next, &lease);
            next += 1;
        }
        let mut seen = 0;
        c.poll_batch(per as usize, |seq, e, _| {
            assert_eq!(seq, next + seen);
            check(seq, e);
            seen += 1;
        })
        .expect("poll_batch");
        next += seen;
        while next < base + 3 * per {
            let max = (base + 3 * per - next) as usize;
            c.poll_runs(max, |first, run| {
                assert_eq!(first, next);
                for (i, e) in run.iter().enumerate() {
                    check(first + i as i64, e);
                }
                next += run.len() as i64;
            })
            .expect("poll_slices");
        }
        while next < base + 4 * per {
            let (seq, e) = c.try_read().expect("try_next").expect("published");
            assert_eq!(seq, next);
            check(seq, &e);
            next += 1;
        }
    }
    raw_reader.join().expect("raw reader");
    drop(c);
    drop(p);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}

/// Batches of sizes that do not divide the ring (1 to 16 events on 16 slots), so that most
/// straddle its end and are written as two runs: typed and raw `publish_batch` and
/// `try_publish_batch` against a typed and a raw reader thread, every event in order, intact.
#[test]
fn batches_that_straddle_the_ring_end() {
    let ring = TestRing::new("wrapbatch");
    let (mut p, mut typed, mut raw) = ring.typed_with_readers();
    let sizes: Vec<usize> = (0..400).map(|k| 1 + (k * 7) % CAPACITY).collect();
    let total: i64 = sizes.iter().sum::<usize>() as i64;
    let typed_reader = std::thread::spawn(move || read_typed(&mut typed, 0, total));
    let raw_reader = std::thread::spawn(move || read(&mut raw, 0, total as u64));
    let mut next = 0i64;
    for (k, &n) in sizes.iter().enumerate() {
        let first = next;
        let last = match k % 4 {
            0 => p.publish_batch(n, |i, e| *e = event(first + i as i64)),
            1 => loop {
                match p.try_publish_batch(n, |i, e| *e = event(first + i as i64)) {
                    Err(ringproof::Error::Full { .. }) => std::hint::spin_loop(),
                    other => break other,
                }
            },
            _ => p
                .raw()
                .publish_batch(n, |i, e| fill((first + i as i64) as u64, e).expect("fill")),
        }
        .expect("publish a batch");
        assert_eq!(last, first + n as i64 - 1);
        next = last + 1;
    }
    typed_reader.join().expect("typed reader");
    raw_reader.join().expect("raw reader");
    drop(p);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}
