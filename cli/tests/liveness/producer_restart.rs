//! 4. The producer SIGKILLed mid-stream and restarted.

use super::*;

/// The producer, publishing in batches of 5, is SIGKILLed while the stream flows (possibly in
/// the middle of writing a batch). The consumer drains what was published, reports the
/// producer gone and keeps polling; a restarted `produce` takes the ring over and resumes right
/// after the last published sequence; the consumer sees one contiguous clean stream to the end.
fn producer_restart(backend: Backend) {
    let fx = Fixture::new(&format!("prod_restart_{backend:?}"));
    let r = fx.ring(backend, "r");
    let m = events(5_000) as i64;
    let mut p1 = r.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(1_000_000_000u64),
        a("--batch"),
        a(5),
        a("--wait-consumers"),
        a(1),
        a("--timeout-ms"),
        a(TIMEOUT),
    ]));
    let mut c_0 = r.consume("c_0", &["--mode", "lease"]);
    wait_until("the consumer to join", &mut [&mut p1, &mut c_0], || {
        r.active_ids().iter().any(|id| id == "c_0")
    });
    let pc = r.open_producer_cursor().expect("producer cursor");
    wait_until("the stream to flow", &mut [&mut p1, &mut c_0], || {
        pc.load() >= 1000
    });
    let reg = registry(&r);
    let slot = slot_of(&reg, "c_0");

    p1.kill();
    let last = cursor_file_value(&producer_cursor_path(&r));
    assert_eq!(last, pc.load());
    assert!(last >= 1000);
    // Published in whole batches of 5 from 0.
    assert_eq!(
        (last + 1) % 5,
        0,
        "a batch is published with one cursor store"
    );
    wait_consumer_at(&r, "c_0", last, &mut [&mut c_0]);
    consumer_looked(&reg, slot, &mut [&mut c_0]);
    assert!(
        c_0.running(),
        "a consumer keeps running when the producer dies"
    );
    assert!(!reg.producer_alive());

    let p2 = r.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--size"),
        a(64),
        a("--events"),
        a(m),
        a("--timeout-ms"),
        a(TIMEOUT),
    ]));
    let outs = wait_all(vec![p2, c_0]);
    let o = &outs[0];
    o.expect_code(0);
    assert_eq!(
        o.i64("first_seq"),
        last + 1,
        "the restart resumes after the last published sequence\n{}",
        o.describe()
    );
    assert_eq!(o.i64("last_seq"), last + m, "{}", o.describe());
    assert_eq!(o.u64("published"), m as u64);
    assert_eq!(o.get("drained"), &Value::Bool(true));
    let c = &outs[1];
    c.expect_consumer_clean(0, last + m);
    assert_eq!(c.i64("producer_gone_at"), last, "{}", c.describe());
    assert_eq!(o.i64("first_seq"), c.i64("producer_gone_at") + 1);
    assert_eq!(c.i64("closed_at"), last + m, "{}", c.describe());
    assert_eq!(
        reg.control().producer_starts.load(Ordering::Acquire),
        2,
        "one restart"
    );
    drop(reg);
    drop(p1);
    fx.assert_clean();
}

#[test]
fn producer_killed_mid_stream_restarts_and_resumes_shm() {
    producer_restart(Backend::Shm);
}

#[test]
fn producer_killed_mid_stream_restarts_and_resumes_dir() {
    producer_restart(Backend::Dir);
}
