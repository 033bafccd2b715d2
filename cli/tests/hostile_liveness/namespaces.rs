//! F4 (b, c): consumers in other pid and time namespaces are judged by their heartbeats.

use super::*;

/// F4 (b): a consumer in another pid namespace is judged by its heartbeat; stopped for longer
/// than the heartbeat timeout it is retired (rightly: it looks dead). When it runs again it
/// must learn it with a typed error, never read the slots the producer rewrote meanwhile.
#[test]
fn f4b_a_retired_consumer_in_another_pid_namespace_is_told_not_fed_stale_slots() {
    if !can_unshare(&["--pid"]) {
        eprintln!("skipped: this machine cannot create a pid namespace (unshare --pid failed)");
        return;
    }
    let fx = Fixture::new("f4b");
    let ring = fx.ring(Backend::Shm, "r");
    let events = 1000u64;
    let mut p = ring.produce(&[
        "--capacity",
        "8",
        "--events",
        &a(events),
        "--wait-consumers",
        "2",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
    ]);
    let c = NsConsumer::spawn(&["--pid"], &ring, "c_ns", &["--wait", "sleep"]);
    let mut gate = ring.attach_gate("g", 64);
    let reg = open_registry(&ring, &mut [&mut p]);
    wait_until("the namespaced consumer to join", &mut [&mut p], || {
        reg.active().iter().any(|p| p.id == "c_ns")
    });
    let slot = slot_of(&reg, "c_ns").expect("slot");
    gate_consume(&mut gate, 100, &mut [&mut p]);
    let mut cursor = None;
    wait_until("the namespaced consumer's cursor", &mut [&mut p], || {
        cursor = ring.open_consumer_cursor("c_ns");
        cursor.is_some()
    });
    let cursor = cursor.expect("cursor");
    wait_until(
        "the namespaced consumer to read 90 events",
        &mut [&mut p],
        || cursor.load() >= 89,
    );
    let inner = c.inner_pid();
    signal(inner, "-STOP");
    // Stopped: its heartbeat ages; the blocked producer retires it after the 1 s timeout.
    wait_until(
        "the producer to retire the stopped consumer",
        &mut [&mut p],
        || reg.slot_state(slot) == SLOT_DEAD,
    );
    // The producer now laps it: the slots it has not read are rewritten.
    gate_consume(&mut gate, 200, &mut [&mut p]);
    assert!(ring.open_producer_cursor().expect("producer cursor").load() > cursor.load() + 8);
    signal(inner, "-CONT");
    gate_consume(&mut gate, events - 300, &mut [&mut p]);
    p.wait().expect_producer_ok(events);
    let (code, out, err) = c.wait_for(HARD_TIMEOUT);
    expect_told_or_clean(code, &out, &err);
    assert_eq!(
        code,
        Some(2),
        "the lapped consumer cannot have read everything\nstdout: {out}\nstderr: {err}"
    );
    drop(gate);
    drop(reg);
}

/// F4 (c): a consumer in a time namespace whose boottime runs 100 s behind. Its heartbeats must
/// mean the same to the producer as anyone's; before the fix they looked 100 s old and it was
/// retired at once, and read almost nothing but overwritten slots.
#[test]
fn f4c_a_consumer_in_a_time_namespace_behind_is_not_retired() {
    let flags = ["--time", "--boottime", "-100", "--pid"];
    if !can_unshare(&flags) {
        eprintln!("skipped: this machine cannot create a time + pid namespace (unshare --time --boottime -100 --pid failed)");
        return;
    }
    let fx = Fixture::new("f4c");
    let ring = fx.ring(Backend::Shm, "r");
    let events = events(20_000);
    let mut p = ring.produce(&[
        "--capacity",
        "8",
        "--events",
        &a(events),
        "--wait-consumers",
        "1",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
    ]);
    let c = NsConsumer::spawn(&flags, &ring, "c_tns", &[]);
    let reg = open_registry(&ring, &mut [&mut p]);
    wait_until("the namespaced consumer to join", &mut [&mut p], || {
        reg.active().iter().any(|p| p.id == "c_tns")
    });
    let slot = slot_of(&reg, "c_tns").expect("slot");
    let p = p.wait();
    p.expect_producer_ok(events);
    let (code, out, err) = c.wait_for(HARD_TIMEOUT);
    let json: serde_json::Value =
        serde_json::from_str(out.lines().last().unwrap_or("")).unwrap_or_default();
    assert_eq!(
        code,
        Some(0),
        "the time-namespaced consumer failed\nstdout: {out}\nstderr: {err}"
    );
    assert_eq!(json["payload_errors"], 0, "stdout: {out}");
    assert_eq!(json["out_of_order"], 0, "stdout: {out}");
    assert_eq!(json["last_seq"], events as i64 - 1, "stdout: {out}");
    // The producer closed cleanly; the slot (in the still-mapped registry) was never retired.
    assert_ne!(reg.slot_state(slot), SLOT_DEAD);
    drop(reg);
}
