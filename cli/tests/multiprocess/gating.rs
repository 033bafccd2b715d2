//! Gating under load: slow consumers, constant backpressure, batched publishing, batches that cannot fit.

use super::*;

/// Two consumers, one sleeping whenever it has caught up (slow): the slow one gates the
/// producer, the fast one is never lapped, both see every event intact.
#[test]
fn spmc_slow_consumer_gates_producer() {
    let fx = Fixture::new("spmc_slow");
    let n = events(100_000);
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let p = r.produce(&refs(&[
            a("--capacity"),
            a(64),
            a("--events"),
            a(n),
            a("--wait-consumers"),
            a(2),
            a("--wait"),
            a("block"),
            a("--timeout-ms"),
            a(TIMEOUT),
        ]));
        let fast = r.consume(
            "fast",
            &refs(&[a("--events"), a(n), a("--mode"), a("batch")]),
        );
        let slow = r.consume(
            "slow",
            &refs(&[
                a("--events"),
                a(n),
                a("--mode"),
                a("copy"),
                a("--wait"),
                a("sleep"),
            ]),
        );
        let outs = wait_all(vec![p, fast, slow]);
        outs[0].expect_producer_ok(n);
        outs[1].expect_consumer_clean(0, n as i64 - 1);
        outs[2].expect_consumer_clean(0, n as i64 - 1);
    }
}

/// A ring of 8 slots under constant backpressure: the producer waits for the slowest of two
/// consumers tens of thousands of times and never overwrites an unconsumed slot (any such
/// overwrite is a stale or torn payload in a consumer).
#[test]
fn backpressure_capacity_8() {
    let fx = Fixture::new("backpressure");
    let n = events(30_000);
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let c0 = r.consume(
            "c_0",
            &refs(&[
                a("--events"),
                a(n),
                a("--mode"),
                a("lease"),
                a("--wait"),
                a("block"),
            ]),
        );
        let c1 = r.consume(
            "c_1",
            &refs(&[
                a("--events"),
                a(n),
                a("--mode"),
                a("copy"),
                a("--wait"),
                a("sleep"),
            ]),
        );
        let p = r.produce(&refs(&[
            a("--capacity"),
            a(8),
            a("--size"),
            a(128),
            a("--events"),
            a(n),
            a("--wait-consumers"),
            a(2),
            a("--timeout-ms"),
            a(TIMEOUT),
        ]));
        let outs = wait_all(vec![p, c0, c1]);
        outs[0].expect_producer_ok(n);
        outs[1].expect_consumer_clean(0, n as i64 - 1);
        outs[2].expect_consumer_clean(0, n as i64 - 1);
    }
}

/// Batched publishing (one cursor store per batch), with batches equal to the capacity and a
/// final partial batch; two consumers in different read modes verify every event.
#[test]
fn batched_publishing() {
    let fx = Fixture::new("batched");
    for backend in BACKENDS {
        for (capacity, batch, n) in [
            (64, 64, events(100_000) + 3),
            (8, 8, events(20_000) + 1),
            (1024, 64, events(100_000)),
        ] {
            let r = fx.ring(backend, &format!("c{capacity}b{batch}"));
            // Every side parks in the kernel while it waits: with a batch as large as the ring,
            // each batch is a full hand-off, which spin/yield waiting turns into scheduler
            // round trips on a busy 2-core machine.
            let p = r.produce(&refs(&[
                a("--capacity"),
                a(capacity),
                a("--batch"),
                a(batch),
                a("--events"),
                a(n),
                a("--wait-consumers"),
                a(2),
                a("--wait"),
                a("block"),
                a("--timeout-ms"),
                a(TIMEOUT),
            ]));
            let c0 = r.consume(
                "c_0",
                &refs(&[
                    a("--events"),
                    a(n),
                    a("--mode"),
                    a("batch"),
                    a("--wait"),
                    a("block"),
                ]),
            );
            let c1 = r.consume(
                "c_1",
                &refs(&[
                    a("--events"),
                    a(n),
                    a("--mode"),
                    a("lease"),
                    a("--wait"),
                    a("block"),
                ]),
            );
            let outs = wait_all(vec![p, c0, c1]);
            outs[0].expect_producer_ok(n);
            outs[1].expect_consumer_clean(0, n as i64 - 1);
            outs[2].expect_consumer_clean(0, n as i64 - 1);
            fx.report(&format!(
                "{backend:?}: {n} events in batches of {batch} through {capacity} slots"
            ));
        }
    }
}

/// A batch that can never fit is an error (exit 2, JSON error naming the batch), not a hang,
/// and the failed producer removes everything it created. A consumer that was waiting sees a
/// closed, empty ring.
#[test]
fn batch_larger_than_capacity_fails_cleanly() {
    let fx = Fixture::new("batch_too_large");
    for backend in BACKENDS {
        let r = fx.ring(backend, "alone");
        let out = r
            .produce(&["--capacity", "8", "--batch", "16", "--events", "100"])
            .wait();
        out.expect_error(&["batch of 16", "8 slots"]);
        fx.assert_clean();

        // With a consumer attached before the first publish.
        let r = fx.ring(backend, "watched");
        let c = r.consume("c_0", &["--mode", "copy"]);
        let p = r.produce(&[
            "--capacity",
            "8",
            "--batch",
            "16",
            "--events",
            "100",
            "--wait-consumers",
            "1",
            "--timeout-ms",
            TIMEOUT,
        ]);
        p.wait().expect_error(&["batch of 16", "8 slots"]);
        let c = c.wait();
        c.expect_code(0);
        assert_eq!(c.u64("consumed"), 0, "{}", c.describe());
        assert_eq!(c.i64("closed_at"), -1, "{}", c.describe());
        assert!(c.is_null("first_seq"), "{}", c.describe());
        fx.assert_clean();
    }
}
