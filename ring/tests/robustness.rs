//! A consumer never reads outside its ring, whatever a (misbehaving or non-gating) producer's
//! cursor says, and bad builder input is a typed error.
// Maps segments and spawns processes: nothing here runs under `--cfg loom`
// (`ci/test` builds only `loom_protocol` that way).
#![cfg(not(loom))]

use ringproof::kit::cursor::Cursor;
use ringproof::{ConsumerBuilder, Error, ProducerBuilder, RingName, WaitStrategy};
use std::sync::atomic::Ordering;

fn unique(tag: &str) -> RingName {
    RingName::shm(&format!("rprob{}_{tag}", std::process::id())).unwrap()
}

fn assert_no_leftovers(name: &RingName) {
    let left = ringproof_testsupport::shm_segments_of(name.name());
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_cursor_far_ahead_never_makes_a_batch_read_past_the_ring() {
    let name = unique("ahead");
    let producer = ProducerBuilder::new(name.clone())
        .capacity(8)
        .create::<u64>()
        .unwrap();
    let mut consumer = ConsumerBuilder::new(name.clone(), "c_0")
        .attach::<u64>()
        .unwrap();
    // A producer that does not gate this consumer (foreign, or after an eviction) claims a
    // million events: a batch read must stay within one ring.
    let cursor = Cursor::open(&name.producer_cursor(), "producer cursor").unwrap();
    cursor.cell().value.store(1_000_000, Ordering::Release);
    let mut seen = 0;
    let n = consumer
        .poll_batch(usize::MAX, |_, _, _| seen += 1)
        .unwrap();
    assert_eq!((n, seen), (8, 8));
    let n = consumer
        .raw()
        .poll_runs(usize::MAX, |_, bytes| assert!(bytes.len() <= 8 * 8))
        .unwrap();
    assert_eq!(n, 8);
    cursor
        .cell()
        .value
        .store(producer.last_published(), Ordering::Release);
    drop(consumer);
    drop(producer);
    assert_no_leftovers(&name);
}

#[test]
fn bad_builder_input_is_a_typed_error() {
    let name = unique("bad");
    for cap in [0usize, 3, 1000] {
        assert!(matches!(
            ProducerBuilder::new(name.clone())
                .capacity(cap)
                .create::<u64>(),
            Err(Error::InvalidConfig(_))
        ));
    }
    assert!(matches!(
        ProducerBuilder::new(name.clone()).create_raw(0),
        Err(Error::InvalidConfig(_))
    ));
    assert!(matches!(
        ProducerBuilder::new(name.clone()).create_raw_aligned(24, 16),
        Err(Error::InvalidConfig(_))
    ));
    let mut p = ProducerBuilder::new(name.clone())
        .capacity(8)
        .create_raw(16)
        .unwrap();
    assert!(matches!(
        p.publish_batch(9, |_, _| {}),
        Err(Error::BatchTooLarge { n: 9, capacity: 8 })
    ));
    assert!(matches!(
        p.publish(&[0u8; 8]),
        Err(Error::EventSize {
            expected: 16,
            got: 8
        })
    ));
    assert!(matches!(
        ConsumerBuilder::new(name.clone(), "c_0").attach::<u64>(),
        Err(Error::Layout {
            source: ringproof::kit::layout::LayoutError::ElementSize {
                expected: 8,
                found: 16
            },
            ..
        })
    ));
    assert!(matches!(
        ConsumerBuilder::new(name.clone(), "producer").attach_raw(16),
        Err(Error::InvalidName { .. })
    ));
    // A buffer of the wrong size is refused at once, whatever the wait strategy: nothing is
    // published, so a read that waited first would never return.
    for wait in [WaitStrategy::BusySpin, WaitStrategy::blocking()] {
        let mut c = ConsumerBuilder::new(name.clone(), "c_0")
            .wait(wait)
            .attach_raw(16)
            .unwrap();
        assert!(matches!(
            c.read_into(&mut [0u8; 8]),
            Err(Error::EventSize {
                expected: 16,
                got: 8
            })
        ));
    }
    drop(p);
    assert!(matches!(
        ConsumerBuilder::new(name.clone(), "c_0")
            .attach_timeout(std::time::Duration::ZERO)
            .attach_raw(16),
        Err(Error::NotFound { .. })
    ));
    assert_no_leftovers(&name);
}
