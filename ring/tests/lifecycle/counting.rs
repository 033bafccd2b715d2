//! A consumer's counters (SPEC.md R12.6.c): added to in batches while it reads, exact at its
//! first empty poll, on `flush` and after it leaves; the lag's high-water mark follows.

use crate::common::{publish, read, TestRing, SIZE};
use ringproof::kit::counters::Counters;

/// `id.label`'s value in the ring's counters segment.
fn counter(counters: &Counters, id: &str, label: &str) -> u64 {
    let label = format!("{id}.{label}");
    counters
        .snapshot()
        .into_iter()
        .find(|v| v.label == label)
        .unwrap_or_else(|| panic!("no counter {label}"))
        .value
}

#[test]
fn consumer_counters_batch_and_catch_up() {
    let ring = TestRing::new("counting");
    let mut p = ring
        .builder()
        .capacity(256)
        .create_raw(SIZE)
        .expect("create");
    let mut c = ring.consumer("c_0");
    let counters = Counters::open(&ring.name.counters()).expect("counters segment");
    let consumed = |c: &Counters| counter(c, "c_0", "events_consumed");
    let bytes = |c: &Counters| counter(c, "c_0", "events_consumed_bytes");

    // 100 events read one at a time, never finding the ring empty: added to once, at the
    // 64th event; the other 36 wait for a catch-up.
    publish(&mut p, 100);
    read(&mut c, 0, 100);
    assert_eq!(consumed(&counters), 64);
    assert_eq!(bytes(&counters), 64 * SIZE as u64);
    c.flush();
    assert_eq!(consumed(&counters), 100);
    assert_eq!(bytes(&counters), 100 * SIZE as u64);
    // 200 behind at one refresh: the lag's mark is published with the next addition.
    publish(&mut p, 200);
    read(&mut c, 100, 30);
    c.flush();
    assert_eq!(consumed(&counters), 130);
    assert_eq!(counter(&counters, "c_0", "consumer_lag_max"), 200);
    // The first empty poll catches up by itself.
    read(&mut c, 130, 170);
    assert!(
        consumed(&counters) < 300,
        "added per 64 events, not per event"
    );
    let mut buf = vec![0u8; SIZE];
    assert_eq!(c.try_read_into(&mut buf).expect("empty poll"), None);
    assert_eq!(consumed(&counters), 300);
    assert_eq!(bytes(&counters), 300 * SIZE as u64);
    // Leaving catches up too.
    publish(&mut p, 10);
    read(&mut c, 300, 10);
    assert_eq!(consumed(&counters), 300);
    drop(c);
    assert_eq!(consumed(&counters), 310);
    drop(counters);
    drop(p);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}
