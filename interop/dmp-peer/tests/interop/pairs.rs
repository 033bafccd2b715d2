//! The interop pairs: each direction, mixed consumers, the sizes, and the harness's own deadline.

use super::*;

/// Case 1: disruptor-mp producer -> ringproof consumer: 1,000,000 events of 64 bytes through 1024
/// slots (the ring wraps ~976 times).
#[test]
fn dmp_producer_to_ringproof_consumer_1m() {
    dmp_to_rp(
        "d2r1m",
        64,
        1024,
        1_000_000,
        "batch",
        Order::ProducerFirst,
        LIMIT_1M,
    );
}

/// Case 2: ringproof producer -> disruptor-mp consumer: 1,000,000 events of 64 bytes, 1024 slots.
/// The disruptor-mp consumer starts first (its attach retries until the ring exists).
#[test]
fn ringproof_producer_to_dmp_consumer_1m() {
    rp_to_dmp(
        "r2d1m",
        64,
        1024,
        1_000_000,
        Order::ConsumersFirst,
        LIMIT_1M,
    );
}

/// Case 3: Mixed broadcast: one ringproof producer; a registered ringproof consumer and a
/// discovered disruptor-mp consumer both see every event.
#[test]
fn mixed_ringproof_producer_to_ringproof_and_dmp_consumers() {
    let events = 200_000;
    let (p, cs) = Scenario {
        tag: "mixr",
        size: 64,
        capacity: 256,
        events,
        order: Order::ConsumersFirst,
        limit: LIMIT,
        producer: Prod::Rp {
            prefix: "dmp".into(),
            discover_max: 2,
            min: 2,
        },
        consumers: vec![
            Cons::Rp {
                id: "rpc".into(),
                mode: "lease",
            },
            Cons::Dmp { id: "dmp_0".into() },
        ],
    }
    .run();
    assert_producer(&p, events);
    let mut gating: Vec<String> =
        serde_json::from_value(p.field("gating_at_start").clone()).unwrap();
    gating.sort();
    assert_eq!(gating, ["dmp_0", "rpc"], "{p}");
    for c in &cs {
        assert_clean(c, events);
    }
}

/// Case 4: disruptor-mp producer gating on a disruptor-mp consumer (`mx_0`) and a ringproof
/// consumer (`mx_1`) at once.
#[test]
fn mixed_dmp_producer_to_dmp_and_ringproof_consumers() {
    let events = 200_000;
    let (p, cs) = Scenario {
        tag: "mixd",
        size: 64,
        capacity: 256,
        events,
        order: Order::ProducerFirst,
        limit: LIMIT,
        producer: Prod::Dmp {
            prefix: "mx".into(),
            consumers: 2,
        },
        consumers: vec![
            Cons::Dmp { id: "mx_0".into() },
            Cons::Rp {
                id: "mx_1".into(),
                mode: "copy",
            },
        ],
    }
    .run();
    assert_producer(&p, events);
    for c in &cs {
        assert_clean(c, events);
    }
}

/// Case 5a: 8-byte events (sequence only, no checksum), disruptor-mp -> ringproof.
#[test]
fn dmp_producer_to_ringproof_consumer_size8() {
    dmp_to_rp(
        "d2r8",
        8,
        1024,
        200_000,
        "copy",
        Order::ProducerFirst,
        LIMIT,
    );
}

/// Case 5b: 8-byte events, ringproof -> disruptor-mp.
#[test]
fn ringproof_producer_to_dmp_consumer_size8() {
    rp_to_dmp("r2d8", 8, 1024, 200_000, Order::ProducerFirst, LIMIT);
}

/// Case 5c: 4096-byte events through 64 slots, disruptor-mp -> ringproof.
#[test]
fn dmp_producer_to_ringproof_consumer_size4096() {
    dmp_to_rp(
        "d2r4k",
        4096,
        64,
        20_000,
        "lease",
        Order::ProducerFirst,
        LIMIT,
    );
}

/// Case 5d: 4096-byte events through 64 slots, ringproof -> disruptor-mp.
#[test]
fn ringproof_producer_to_dmp_consumer_size4096() {
    rp_to_dmp("r2d4k", 4096, 64, 20_000, Order::ConsumersFirst, LIMIT);
}

/// The harness itself: a peer that never finishes (a disruptor-mp producer waiting for a
/// consumer nobody starts) is killed at the hard deadline, the test fails rather than hangs,
/// and the guard removes the segments the killed peer left in /dev/shm.
#[test]
fn harness_kills_children_and_cleans_up_at_the_hard_deadline() {
    let mut name = String::new();
    let mut armed: Option<Instant> = None;
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut s = Session::new("hang", Duration::from_secs(30));
        let t0 = Instant::now();
        name = s.name.clone();
        s.spawn_dmp(
            "disruptor-mp producer without consumers",
            &strings(&[
                "produce",
                "--name",
                &s.name.clone(),
                "--capacity",
                "64",
                "--events",
                "10",
                "--size",
                "64",
                "--consumer-prefix",
                "nobody",
                "--consumers",
                "1",
                "--startup-timeout-ms",
                "60000",
            ]),
        );
        // Let it create its segments first (slow on a loaded machine), then start the clock.
        let cursor = ringproof_testsupport::shm_path(format!("{}_producer_seq", s.name));
        while !cursor.exists() && t0.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            cursor.exists(),
            "the producer should have created its segments"
        );
        armed = Some(Instant::now());
        s.set_deadline(Duration::from_millis(500));
        s.wait_all();
    }));
    let msg = r.expect_err("wait_all must fail at the deadline");
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.starts_with("hard timeout"), "{msg}");
    let waited = armed.expect("deadline armed").elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "killed {waited:?} after a 500 ms deadline"
    );
    assert_eq!(
        common::shm_leftovers(&name),
        Vec::<String>::new(),
        "the guard must remove leftovers"
    );
}
