//! F1: two consumers with the same id started at the same instant.

use super::*;

/// Waits until one of `a`, `b` exits and returns (the exited one's output, the other).
fn first_exit(mut a: Proc, mut b: Proc) -> (Output, Proc) {
    let deadline = Instant::now() + HARD_TIMEOUT;
    loop {
        if !a.running() {
            return (a.wait(), b);
        }
        if !b.running() {
            return (b.wait(), a);
        }
        assert!(
            Instant::now() < deadline,
            "neither of two same-id consumers exited within {HARD_TIMEOUT:?}: both admitted?"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// One try: both consumers wait for the ring, then the producer creates it and waits for two
/// gates. Exactly one of the pair may be admitted; the other must fail with *id in use* before
/// anything is published. A third consumer under another id then lets the producer start, and
/// the admitted one must read every event intact: the refused one removed nothing of it.
fn same_id_race(ring: &Ring, n: u64) {
    let events = a(n);
    let args = [
        "--events",
        &events,
        "--size",
        SIZE,
        "--attach-timeout-ms",
        "60000",
    ];
    let first = ring.consume("twin", &args);
    let second = ring.consume("twin", &args);
    let mut producer = ring.produce(&[
        "--capacity",
        "16",
        "--size",
        SIZE,
        "--events",
        &events,
        "--wait-consumers",
        "2",
        "--timeout-ms",
        "20000",
    ]);
    let (refused, winner) = first_exit(first, second);
    refused.expect_error(&["twin", "in use"]);
    check_alive(&mut [&mut producer]);
    assert_eq!(
        ring.active_ids(),
        ["twin"],
        "the id must be registered exactly once"
    );
    // Until the ring closes: a fresh joiner starts after whatever the producer published once
    // it counted that joiner (SPEC.md §7.3 step 5), which may be a few events.
    let third = ring.consume("other", &["--size", SIZE]);
    let outs = wait_all(vec![producer, winner, third]);
    outs[0].expect_producer_ok(n);
    outs[1].expect_consumer_clean(0, n as i64 - 1);
    expect_clean_to_close(&outs[2], n as i64 - 1);
}

#[test]
fn same_id_race_admits_exactly_one_shm() {
    let fx = Fixture::new("twin_shm");
    for i in 0..64 {
        same_id_race(&fx.ring(Backend::Shm, &format!("r{i}")), 300);
        fx.assert_clean();
    }
}

#[test]
fn same_id_race_admits_exactly_one_dir() {
    let fx = Fixture::new("twin_dir");
    for i in 0..64 {
        same_id_race(&fx.ring(Backend::Dir, &format!("r{i}")), 300);
        fx.assert_clean();
    }
}
