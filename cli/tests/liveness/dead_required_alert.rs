//! 3. A dead required consumer with the alert action, then restarted under its id.

use super::*;

/// As in (2) but `--action alert`: the producer raises the alert and keeps waiting; once the
/// gate leaves it stops exactly one ring past the dead consumer's committed cursor. The same id
/// restarted takes the still-ACTIVE slot over, resumes right after its committed cursor, and
/// the stream completes.
fn dead_required_consumer_alert_takeover(backend: Backend) {
    let fx = Fixture::new(&format!("dead_req_alert_{backend:?}"));
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
        a("alert"),
        a("--progress-timeout-ms"),
        a(30_000),
        a("--grace-ms"),
        a(30_000),
    ]));
    let mut c_0 = r.consume("c_0", &["--mode", "batch"]);
    let mut c_1 = r.consume("c_1", &["--mode", "copy"]);
    let mut gate = r.attach_gate("gate", 64);
    gate_consume(&mut gate, hold as u64, &mut [&mut p, &mut c_0, &mut c_1]);
    wait_producer_at(
        &r,
        head,
        "the producer to stop one ring ahead of the gate",
        &mut [&mut p, &mut c_0, &mut c_1],
    );
    wait_consumer_at(&r, "c_1", head, &mut [&mut p, &mut c_0, &mut c_1]);
    let reg = registry(&r);
    let slot = slot_of(&reg, "c_1");
    let incarnation = reg.slot(slot).incarnation.load(Ordering::Acquire);

    c_1.kill();
    // The producer sees the death while still blocked on the gate, alerts, and keeps going.
    producer_looked(&reg, &mut [&mut p, &mut c_0]);
    drop(gate);
    let committed = cursor_file_value(&r.consumer_cursor_path("c_1"));
    assert_eq!(committed, head);
    let limit = committed + CAP;
    wait_producer_at(
        &r,
        limit,
        "the producer to stop one ring past the dead required consumer",
        &mut [&mut p, &mut c_0],
    );
    producer_looked(&reg, &mut [&mut p, &mut c_0]);
    assert_producer_stays(&r, limit, &mut p);
    assert_eq!(
        reg.slot_state(slot),
        SLOT_ACTIVE,
        "a required consumer's slot keeps gating"
    );
    assert!(!reg.slot_owner_alive(slot));
    // The cursor file still says what the dead consumer committed.
    assert_eq!(cursor_file_value(&r.consumer_cursor_path("c_1")), committed);

    let again = r.consume("c_1", &["--mode", "lease"]);
    let outs = wait_all(vec![p, c_0, again]);
    outs[0].expect_producer_ok(n as u64);
    assert_eq!(
        alerts(&outs[0])
            .iter()
            .map(|a| (a.0.as_str(), a.1, a.2))
            .collect::<Vec<_>>(),
        vec![("c_1", committed, true)],
        "{}",
        outs[0].describe()
    );
    outs[1].expect_consumer_clean(0, n - 1);
    let o = &outs[2];
    let start = o.i64("start_seq");
    assert!(
        start <= committed + 1,
        "the restart skipped events: start_seq {start}, committed {committed}\n{}",
        o.describe()
    );
    assert_eq!(
        start,
        committed + 1,
        "a takeover resumes right after the commit\n{}",
        o.describe()
    );
    o.expect_consumer_clean(start, n - 1);
    assert_eq!(o.i64("closed_at"), n - 1, "{}", o.describe());
    assert_eq!(
        reg.slot(slot).incarnation.load(Ordering::Acquire),
        incarnation + 1,
        "takeover bumps the incarnation"
    );
    drop(reg);
    drop(c_1);
    fx.assert_clean();
}

#[test]
fn dead_required_consumer_alert_then_takeover_shm() {
    dead_required_consumer_alert_takeover(Backend::Shm);
}

#[test]
fn dead_required_consumer_alert_then_takeover_dir() {
    dead_required_consumer_alert_takeover(Backend::Dir);
}
