//! Ends and refusals: the plain consumer reading to the close, producers whose consumers never come or never drain, wrong event sizes, missing rings.

use super::*;

/// The plain quick-start consumer (`ringproof consume --ring R --id c`: batch mode, no event
/// limit) reads until the producer closes the ring.
#[test]
fn default_consumer_reads_until_close() {
    let fx = Fixture::new("default_consumer");
    let n = 1000;
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let c = r.consume("c_0", &[]);
        let p = r.produce(&refs(&[
            a("--events"),
            a(n),
            a("--wait-consumers"),
            a(1),
            a("--timeout-ms"),
            a(3000),
        ]));
        let pout = p.wait();
        if pout.code() != Some(0) {
            // Show where the consumer's cursor is (its process is still running).
            let cursor = r.open_consumer_cursor("c_0").map(|c| c.load());
            panic!(
                "the producer did not drain: consumer c_0's committed cursor is {cursor:?} after {n} events were published\n{}",
                pout.describe()
            );
        }
        pout.expect_producer_ok(n);
        let c = c.wait();
        c.expect_consumer_clean(0, n as i64 - 1);
        assert_eq!(c.i64("closed_at"), n as i64 - 1);
    }
}

/// A producer whose consumers do not come fails after its timeout (exit 2) and removes its
/// segments.
#[test]
fn missing_consumers_time_out_cleanly() {
    let fx = Fixture::new("no_consumers");
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let out = r
            .produce(&[
                "--wait-consumers",
                "1",
                "--timeout-ms",
                "200",
                "--events",
                "10",
            ])
            .wait();
        out.expect_error(&["only 0 of 1 consumers"]);
        fx.assert_clean();
    }
}

/// A producer whose consumer does not drain exits 4 after its drain timeout; the consumer,
/// still attached, drains the closed ring afterwards and then sees it closed.
#[test]
fn drain_timeout_exits_4_and_consumer_drains_closed_ring() {
    let fx = Fixture::new("drain_timeout");
    // Both backends at once, so the two drain timeouts overlap. The timeout also bounds the
    // producer's wait for the gate to join: generous, as the gate attaches right away.
    let mut runs = Vec::new();
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let p = r.produce(&[
            "--capacity",
            "64",
            "--events",
            "10",
            "--wait-consumers",
            "1",
            "--timeout-ms",
            "2000",
        ]);
        let gate = r.attach_gate("gate", 64);
        runs.push((r, p, gate));
    }
    for (r, p, mut gate) in runs {
        let out = p.wait();
        out.expect_code(4);
        assert_eq!(
            out.get("drained"),
            &Value::Bool(false),
            "{}",
            out.describe()
        );
        assert_eq!(out.u64("published"), 10);
        assert_eq!(out.i64("last_seq"), 9);
        assert_eq!(
            out.get("gating"),
            &serde_json::json!(["gate"]),
            "{}",
            out.describe()
        );
        // The producer is gone and its names are removed; the mapped ring still holds the data.
        assert!(
            !r.ring_path().exists(),
            "the producer removed its ring on exit"
        );
        gate_consume(&mut gate, 10, &mut []);
        let mut buf = [0u8; 64];
        match gate.try_read_into(&mut buf) {
            Err(ringproof::Error::Closed { final_sequence }) => assert_eq!(final_sequence, 9),
            other => panic!("expected Closed after draining, got {other:?}"),
        }
        drop(gate);
    }
    fx.assert_clean();
}

/// A consumer with another event size is refused (exit 2, "element size"), leaves nothing,
/// and does not disturb the ring: a right consumer still gets everything.
#[test]
fn bad_element_size_is_refused() {
    let fx = Fixture::new("bad_size");
    let n = 1000;
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let p = r.produce(&refs(&[
            a("--size"),
            a(64),
            a("--events"),
            a(n),
            a("--wait-consumers"),
            a(1),
            a("--timeout-ms"),
            a(TIMEOUT),
        ]));
        let bad = r
            .consume("c_bad", &["--size", "16", "--attach-timeout-ms", "60000"])
            .wait();
        bad.expect_error(&["element size"]);
        assert!(
            !r.consumer_cursor_path("c_bad").exists(),
            "refused consumer left its cursor"
        );
        let c = r.consume("c_0", &refs(&[a("--size"), a(64), a("--events"), a(n)]));
        let outs = wait_all(vec![p, c]);
        outs[0].expect_producer_ok(n);
        outs[1].expect_consumer_clean(0, n as i64 - 1);
    }
}

/// Attaching to a ring that does not exist, without waiting, fails at once.
#[test]
fn missing_ring_is_reported() {
    let fx = Fixture::new("missing");
    for backend in BACKENDS {
        let r = fx.ring(backend, "nope");
        let start = std::time::Instant::now();
        r.consume("c_0", &["--attach-timeout-ms", "0"])
            .wait()
            .expect_error(&["does not exist"]);
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
        // With a short wait it retries, then reports the same.
        r.consume("c_0", &["--attach-timeout-ms", "100"])
            .wait()
            .expect_error(&["does not exist"]);
    }
}
