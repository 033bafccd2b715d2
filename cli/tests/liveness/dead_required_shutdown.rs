//! 2. A dead required consumer with the shutdown action.

use super::*;

/// The gate holds the producer at `head`; required consumer c_1, caught up to `head`, is
/// SIGKILLed. The producer, still blocked on the gate, acts at once (death does not wait for
/// the progress timeout, set long here): exit 3, an error naming c_1, one alert with
/// dead: true. Its clean shutdown closes the ring: c_0 and the gate end with a clean prefix.
fn dead_required_consumer_shutdown(backend: Backend) {
    let fx = Fixture::new(&format!("dead_req_shut_{backend:?}"));
    let r = fx.ring(backend, "r");
    let n = events(20_000) as i64;
    let hold = n / 4;
    let head = hold + CAP - 1;
    let mut p = r.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(n),
        a("--wait-consumers"),
        a(3),
        a("--timeout-ms"),
        a(TIMEOUT),
        a("--required"),
        a("c_1"),
        a("--action"),
        a("shutdown"),
        a("--progress-timeout-ms"),
        a(30_000),
        a("--grace-ms"),
        a(30_000),
    ]));
    let mut c_0 = r.consume("c_0", &["--mode", "copy"]);
    let mut c_1 = r.consume("c_1", &["--mode", "lease"]);
    let mut gate = r.attach_gate("gate", 64);
    gate_consume(&mut gate, hold as u64, &mut [&mut p, &mut c_0, &mut c_1]);
    wait_producer_at(
        &r,
        head,
        "the producer to stop one ring ahead of the gate",
        &mut [&mut p, &mut c_0, &mut c_1],
    );
    wait_consumer_at(&r, "c_1", head, &mut [&mut p, &mut c_0, &mut c_1]);
    let committed = cursor_file_value(&r.consumer_cursor_path("c_1"));
    assert_eq!(committed, head);

    c_1.kill();
    let out = p.wait();
    expect_shutdown_on(&out, "c_1", committed, true);
    // Blocked on the gate the whole time: nothing past `head` was published.
    assert_eq!(out.i64("last_seq"), head, "{}", out.describe());

    let c0 = c_0.wait();
    c0.expect_consumer_clean(0, head);
    assert_eq!(c0.i64("closed_at"), head, "{}", c0.describe());
    assert!(
        c0.is_null("producer_gone_at"),
        "a clean shutdown, not a crash\n{}",
        c0.describe()
    );
    let rest = (head - hold + 1) as u64;
    gate_consume(&mut gate, rest, &mut []);
    let mut buf = [0u8; 64];
    match gate.try_read_into(&mut buf) {
        Err(Error::Closed { final_sequence }) => assert_eq!(final_sequence, head),
        other => panic!("expected Closed at {head}, got {other:?}"),
    }
    drop(gate);
    drop(c_1);
    remove_dead_cursors(&fx, &r, &["c_1"]);
}

#[test]
fn dead_required_consumer_shuts_producer_down_shm() {
    dead_required_consumer_shutdown(Backend::Shm);
}

#[test]
fn dead_required_consumer_shuts_producer_down_dir() {
    dead_required_consumer_shutdown(Backend::Dir);
}
