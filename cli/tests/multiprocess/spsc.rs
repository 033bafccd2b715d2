//! One producer and one consumer process, every size, read mode and wait strategy.

use super::*;

/// One producer and one consumer process; the consumer starts first and relies on the attach
/// retry, the producer waits for it.
fn spsc(r: &Ring, size: usize, capacity: usize, n: u64, mode: &str, batch: usize) {
    let c = r.consume(
        "c_0",
        &refs(&[
            a("--size"),
            a(size),
            a("--events"),
            a(n),
            a("--mode"),
            a(mode),
        ]),
    );
    let p = r.produce(&refs(&[
        a("--capacity"),
        a(capacity),
        a("--size"),
        a(size),
        a("--events"),
        a(n),
        a("--batch"),
        a(batch),
        a("--wait-consumers"),
        a(1),
        a("--timeout-ms"),
        a(TIMEOUT),
    ]));
    let outs = wait_all(vec![p, c]);
    outs[0].expect_producer_ok(n);
    assert_eq!(outs[0].u64("size"), size as u64);
    outs[1].expect_consumer_clean(0, n as i64 - 1);
    assert_eq!(outs[1].i64("start_seq"), 0, "{}", outs[1].describe());
    // It stopped because it had all it asked for, not because the ring closed under it.
    assert!(outs[1].is_null("closed_at"), "{}", outs[1].describe());
}

/// Sizes 8 (sequence only), 64 and 4096 bytes; every run wraps a small ring many times.
fn spsc_all_sizes(fx: &Fixture, backend: Backend, mode: &str) {
    for (size, capacity, n) in [
        (8, 64, events(200_000)),
        (64, 1024, events(200_000)),
        (4096, 64, events(10_000)),
    ] {
        assert!(n / capacity as u64 >= 150, "at least 150 wraparounds");
        spsc(
            &fx.ring(backend, &format!("s{size}")),
            size,
            capacity,
            n,
            mode,
            1,
        );
        fx.report(&format!(
            "{n} events of {size} bytes through {capacity} slots"
        ));
    }
}

#[test]
fn spsc_shm_copy() {
    let fx = Fixture::new("spsc_shm_copy");
    spsc_all_sizes(&fx, Backend::Shm, "copy");
}

#[test]
fn spsc_shm_lease() {
    let fx = Fixture::new("spsc_shm_lease");
    spsc_all_sizes(&fx, Backend::Shm, "lease");
}

#[test]
fn spsc_shm_batch() {
    let fx = Fixture::new("spsc_shm_batch");
    spsc_all_sizes(&fx, Backend::Shm, "batch");
}

#[test]
fn spsc_dir_copy() {
    let fx = Fixture::new("spsc_dir_copy");
    spsc_all_sizes(&fx, Backend::Dir, "copy");
}

#[test]
fn spsc_dir_lease() {
    let fx = Fixture::new("spsc_dir_lease");
    spsc_all_sizes(&fx, Backend::Dir, "lease");
}

#[test]
fn spsc_dir_batch() {
    let fx = Fixture::new("spsc_dir_batch");
    spsc_all_sizes(&fx, Backend::Dir, "batch");
}

/// Single-event publishes to a back-off consumer (WaitStrategy::Backoff) on a small ring: the
/// consumer looks at the cursor only once per interval, the producer fills the ring in between
/// and waits on it with back-off too; every event arrives intact and in order.
#[test]
fn spsc_backoff_consumer_sees_every_single_event_publish() {
    let fx = Fixture::new("backoff");
    let n = events(100_000);
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let p = r.produce(&refs(&[
            a("--capacity"),
            a(16),
            a("--events"),
            a(n),
            a("--wait-consumers"),
            a(1),
            a("--wait"),
            a("backoff"),
            a("--timeout-ms"),
            a(TIMEOUT),
        ]));
        let c = r.consume(
            "c_0",
            &refs(&[
                a("--events"),
                a(n),
                a("--mode"),
                a("copy"),
                a("--wait"),
                a("backoff"),
            ]),
        );
        let outs = wait_all(vec![p, c]);
        outs[0].expect_producer_ok(n);
        outs[1].expect_consumer_clean(0, n as i64 - 1);
    }
}
