//! F21: SIGTERM, SIGINT and the exit-after options end `produce` and `consume` cleanly.

use super::*;

/// A producer publishing without end once `c_0` joined, and `c_0` (with `consumer_args`),
/// returned once 2000 events went through.
fn streaming(ring: &Ring, consumer_args: &[&str]) -> (Proc, Proc) {
    let mut p = ring.produce(&[
        "--wait-consumers",
        "1",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
        "--events",
        "1000000000000",
    ]);
    let args: Vec<&str> = ["--attach-timeout-ms", "60000"]
        .into_iter()
        .chain(consumer_args.iter().copied())
        .collect();
    let mut c = ring.consume("c_0", &args);
    wait_until("2000 events", &mut [&mut p, &mut c], || {
        produced(ring) > 2000
    });
    (p, c)
}

/// F21: SIGTERM to `produce` closes the ring: it prints its summary, and its consumer drains
/// and exits with *closed*; nothing is left.
#[test]
fn f21_sigterm_to_produce_closes_the_ring() {
    let fx = Fixture::new("f21term");
    let ring = fx.ring(Backend::Shm, "r");
    let (p, c) = streaming(&ring, &[]);
    signal(&p, libc::SIGTERM);
    let po = p.wait();
    po.expect_code(128 + libc::SIGTERM);
    assert_eq!(po.get("interrupted"), "SIGTERM", "{}", po.describe());
    let last = po.i64("last_seq");
    let co = c.wait();
    co.expect_consumer_clean(0, last);
    assert_eq!(co.i64("closed_at"), last, "{}", co.describe());
    fx.assert_clean();
}

/// F21: SIGINT to `consume` leaves cleanly (summary printed, cursor removed, slot freed); the
/// producer, no longer gated, then takes SIGTERM too.
#[test]
fn f21_sigint_to_consume_leaves_cleanly() {
    let fx = Fixture::new("f21int");
    let ring = fx.ring(Backend::Dir, "r");
    let (p, c) = streaming(&ring, &[]);
    signal(&c, libc::SIGINT);
    let co = c.wait();
    co.expect_code(128 + libc::SIGINT);
    assert_eq!(co.get("interrupted"), "SIGINT", "{}", co.describe());
    assert_eq!(
        (co.u64("out_of_order"), co.u64("payload_errors")),
        (0, 0),
        "{}",
        co.describe()
    );
    assert!(
        !ring.consumer_cursor_path("c_0").exists(),
        "the interrupted consumer left its cursor"
    );
    assert!(
        ring.active_ids().is_empty(),
        "the interrupted consumer still gates: {:?}",
        ring.active_ids()
    );
    signal(&p, libc::SIGTERM);
    p.wait().expect_code(128 + libc::SIGTERM);
    fx.assert_clean();
}

/// F21: `consume --exit-after-gone-ms` exits cleanly once a SIGKILLed producer has stayed gone.
#[test]
fn f21_consume_exits_after_the_producer_is_gone() {
    let fx = Fixture::new("f21gone");
    let ring = fx.ring(Backend::Shm, "r");
    let (mut p, c) = streaming(&ring, &["--exit-after-gone-ms", "200"]);
    p.kill();
    let co = c.wait();
    co.expect_code(0);
    assert_eq!(co.get("exit_reason"), "producer_gone", "{}", co.describe());
    let last = co.i64("last_seq");
    assert_eq!(co.i64("producer_gone_at"), last, "{}", co.describe());
    co.expect_consumer_clean(0, last);
    assert!(
        !ring.consumer_cursor_path("c_0").exists(),
        "the consumer left its cursor"
    );
    let o = rm(&ring, false);
    assert!(o.status.success(), "{}", text(&o));
    fx.assert_clean();
}

/// F21: SIGTERM to `produce` while it waits for its consumers: summary, ring closed and removed.
#[test]
fn f21_sigterm_while_waiting_for_consumers() {
    let fx = Fixture::new("f21wait");
    let ring = fx.ring(Backend::Dir, "r");
    let mut p = ring.produce(&[
        "--wait-consumers",
        "1",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
        "--events",
        "10",
    ]);
    wait_until("the ring", &mut [&mut p], || ring.ring_is_valid());
    signal(&p, libc::SIGTERM);
    let po = p.wait();
    po.expect_code(128 + libc::SIGTERM);
    assert_eq!(
        (po.get("interrupted").as_str(), po.u64("published")),
        (Some("SIGTERM"), 0),
        "{}",
        po.describe()
    );
    fx.assert_clean();
}

/// F21: `consume --exit-after-idle-ms` leaves a ring on which nothing is published.
#[test]
fn f21_consume_exits_after_idle() {
    let fx = Fixture::new("f21idle");
    let ring = fx.ring(Backend::Shm, "r");
    // It waits for two consumers and so publishes nothing while only one is there.
    let mut p = ring.produce(&[
        "--wait-consumers",
        "2",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
        "--events",
        "10",
    ]);
    let c = ring.consume(
        "c_0",
        &[
            "--attach-timeout-ms",
            "60000",
            "--exit-after-idle-ms",
            "100",
        ],
    );
    let co = c.wait();
    co.expect_code(0);
    assert_eq!(
        (co.get("exit_reason").as_str(), co.u64("consumed")),
        (Some("idle"), 0),
        "{}",
        co.describe()
    );
    assert!(
        !ring.consumer_cursor_path("c_0").exists(),
        "the consumer left its cursor"
    );
    check_alive(&mut [&mut p]);
    signal(&p, libc::SIGTERM);
    p.wait().expect_code(128 + libc::SIGTERM);
    fx.assert_clean();
}
