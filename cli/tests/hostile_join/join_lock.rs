//! The join lock (F1's mechanism): a holder that keeps it (a stopped process) gets a joiner a
//! typed error, not a hang.

use super::*;

#[test]
fn a_held_join_lock_times_out_with_a_typed_error() {
    let fx = Fixture::new("join_lock");
    for backend in BACKENDS {
        let ring = fx.ring(backend, "l");
        let mut p = ProducerBuilder::new(ring.ring_name())
            .capacity(16)
            .create_raw(64)
            .expect("producer");
        let registry = Registry::open(&ring.ring_name().registry()).expect("registry");
        let held = registry
            .lock_joins(&ring.name, Instant::now())
            .expect("the join lock is free");
        let out = ring
            .consume("c", &["--events", "1", "--attach-timeout-ms", "0"])
            .wait();
        out.expect_error(&["join lock", &ring.name]);
        assert!(
            ring.active_ids().is_empty() && ring.open_consumer_cursor("c").is_none(),
            "a joiner without the lock touched the ring"
        );
        // Released: the same join goes through.
        drop(held);
        let mut c = ring.consume("c", &["--events", "1", "--attach-timeout-ms", "0"]);
        wait_until("consumer c to finish joining", &mut [&mut c], || {
            joined(&ring, "c")
        });
        ringproof::kit::testkit::produce(&mut p, 1, 1, |_| {}).expect("publish");
        c.wait().expect_consumer_clean(0, 0);
        drop(p);
        fx.assert_clean();
    }
}

/// An unfinished cursor (a disruptor-mp consumer creating it in place, or a damaged one) under
/// a name that another existing ring may own is not removed by a consumer whose id collides
/// with it: *name alias*, and the object stays (SPEC §3.5). Before, the consumer waited 100 ms,
/// removed it and created its own.
#[test]
fn unfinished_cursor_of_an_alias_ring_is_not_removed() {
    use std::os::unix::fs::MetadataExt;
    let fx = Fixture::new("alias_unf");
    let owner = fx.ring(Backend::Shm, "a_x");
    let attacker = fx.ring(Backend::Shm, "a");
    let path = owner.consumer_cursor_path("c");
    assert_eq!(
        path,
        attacker.consumer_cursor_path("x_c"),
        "the test needs colliding names"
    );
    // Both rings exist; ring `a_x`'s consumer `c` is half-way through creating its cursor in
    // place (all zero bytes, as disruptor-mp leaves it for a moment).
    let owner_producer = ProducerBuilder::new(owner.ring_name())
        .capacity(16)
        .create_raw(64)
        .expect("a_x's producer");
    let attacker_producer = ProducerBuilder::new(attacker.ring_name())
        .capacity(16)
        .create_raw(64)
        .expect("a's producer");
    std::fs::write(&path, [0u8; 128]).expect("plant an unfinished cursor");
    let before = std::fs::symlink_metadata(&path).expect("planted").ino();
    let refused = attacker
        .consume("x_c", &["--events", "1", "--attach-timeout-ms", "0"])
        .wait_for(std::time::Duration::from_secs(20));
    refused.expect_error(&["alias", &owner.name]);
    assert_eq!(
        std::fs::symlink_metadata(&path).map(|m| m.ino()).ok(),
        Some(before),
        "the unfinished cursor ring a_x's consumer is creating was removed or replaced"
    );
    std::fs::remove_file(&path).expect("remove the planted cursor");
    drop(attacker_producer);
    drop(owner_producer);
    fx.assert_clean();
}
