//! F16: cursor values that no participant writes.

use super::*;

/// A producer in the test process whose cursor then holds `value`: a consumer process must
/// refuse it with a typed error instead of reading slots never published.
#[test]
fn hostile_producer_cursor_values_are_refused() {
    let fx = Fixture::new("hostile_head");
    for (i, value) in [-2, -5, i64::MIN, i64::MAX].into_iter().enumerate() {
        for backend in BACKENDS {
            let ring = fx.ring(backend, &format!("v{i}"));
            let p = ProducerBuilder::new(ring.ring_name())
                .capacity(16)
                .create_raw(64)
                .expect("producer");
            let cursor = Cursor::open(&ring.ring_name().producer_cursor(), "producer cursor")
                .expect("producer cursor");
            cursor.cell().value.store(value, Ordering::Release);
            let out = ring
                .consume("c", &["--events", "1", "--attach-timeout-ms", "0"])
                .wait();
            out.expect_error(&["producer cursor", &value.to_string()]);
            assert!(
                ring.active_ids().is_empty(),
                "{value}: the refused consumer joined"
            );
            assert!(
                ring.open_consumer_cursor("c").is_none(),
                "{value}: the refused consumer left its cursor"
            );
            drop(p);
            fx.assert_clean();
        }
    }
}

/// A gate whose cursor says `i64::MAX` (a value past anything published) must not make the
/// producer's limit (`min(gates) + capacity`) overflow: the producer publishes and drains.
#[test]
fn gate_at_i64_max_does_not_wrap_the_limit() {
    let fx = Fixture::new("hostile_gate");
    for backend in BACKENDS {
        let ring = fx.ring(backend, "g");
        let n: u64 = 100;
        let mut p = ring.produce(&[
            "--capacity",
            "16",
            "--size",
            SIZE,
            "--events",
            &a(n),
            "--wait-consumers",
            "1",
            "--timeout-ms",
            PRODUCER_TIMEOUT_MS,
        ]);
        let gate = ring.attach_gate("liar", 64);
        Cursor::open(&ring.ring_name().consumer_cursor("liar"), "cursor")
            .expect("gate cursor")
            .cell()
            .value
            .store(i64::MAX, Ordering::Release);
        check_alive(&mut [&mut p]);
        p.wait().expect_producer_ok(n);
        drop(gate);
        fx.assert_clean();
    }
}

/// A consumer cursor of this ring holding a hostile value (its owner died): the takeover must
/// refuse it with a typed error instead of resuming at `value + 1`.
#[test]
fn hostile_own_cursor_values_are_refused() {
    let fx = Fixture::new("hostile_own");
    for (i, value) in [-5, i64::MIN, i64::MAX].into_iter().enumerate() {
        for backend in BACKENDS {
            let ring = fx.ring(backend, &format!("o{i}"));
            let p = ProducerBuilder::new(ring.ring_name())
                .capacity(16)
                .create_raw(64)
                .expect("producer");
            let mut c = ring.consume("c", &["--events", "1000", "--attach-timeout-ms", "0"]);
            wait_until("consumer c to finish joining", &mut [&mut c], || {
                joined(&ring, "c")
            });
            c.kill();
            ring.open_consumer_cursor("c")
                .expect("cursor")
                .cell()
                .value
                .store(value, Ordering::Release);
            let out = ring
                .consume("c", &["--events", "1", "--attach-timeout-ms", "0"])
                .wait();
            out.expect_error(&["consumer cursor", &value.to_string()]);
            drop(p);
            fx.assert_clean();
        }
    }
}
