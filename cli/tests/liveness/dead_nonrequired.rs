//! 1. A dead non-required consumer stops gating.

use super::*;

/// The gate holds the producer at `head`; a non-required consumer that caught up to `head` is
/// SIGSTOPped and the gate leaves, so the producer runs one ring further and blocks on the
/// stopped (alive) consumer. Then that consumer is SIGKILLed: the producer must notice the
/// death, retire the slot (DEAD) and finish; the surviving consumer gets every event.
fn dead_nonrequired_consumer(backend: Backend) {
    let fx = Fixture::new(&format!("dead_nonreq_{backend:?}"));
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
    ]));
    let mut victim = r.consume("victim", &["--mode", "copy"]);
    let mut c_ok = r.consume("c_ok", &["--mode", "batch"]);
    let mut gate = r.attach_gate("gate", 64);
    gate_consume(
        &mut gate,
        hold as u64,
        &mut [&mut p, &mut victim, &mut c_ok],
    );
    wait_producer_at(
        &r,
        head,
        "the producer to stop one ring ahead of the gate",
        &mut [&mut p, &mut victim, &mut c_ok],
    );
    wait_consumer_at(&r, "victim", head, &mut [&mut p, &mut victim, &mut c_ok]);
    let reg = registry(&r);
    let slot = slot_of(&reg, "victim");
    assert_eq!(cursor_file_value(&r.consumer_cursor_path("victim")), head);
    stop(&mut victim);
    drop(gate);
    // Stopped is alive: the victim gates, the producer waits for it one ring ahead.
    wait_producer_at(
        &r,
        head + CAP,
        "the producer to block on the stopped consumer",
        &mut [&mut p, &mut victim, &mut c_ok],
    );
    producer_looked(&reg, &mut [&mut p, &mut victim, &mut c_ok]);
    assert_producer_stays(&r, head + CAP, &mut p);
    assert_eq!(
        reg.slot_state(slot),
        SLOT_ACTIVE,
        "a stopped consumer was retired"
    );

    victim.kill();
    let killed = Instant::now();
    let outs = wait_all(vec![p, c_ok]);
    let took = killed.elapsed();
    outs[0].expect_producer_ok(n as u64);
    assert_eq!(
        outs[0].get("gating"),
        &serde_json::json!(["c_ok"]),
        "the dead consumer still gated\n{}",
        outs[0].describe()
    );
    assert_eq!(alerts(&outs[0]), vec![], "no required consumers, no alerts");
    outs[1].expect_consumer_clean(0, n - 1);
    assert_eq!(outs[1].i64("closed_at"), n - 1);
    assert!(
        took < Duration::from_secs(10),
        "the producer needed {took:?} after the kill"
    );
    // The registry mapping outlives its name: the producer retired the slot (DEAD), and its
    // clean close then reaped it (FREE) and removed the dead consumer's cursor (SPEC.md §7.6).
    assert_eq!(
        reg.slot_state(slot),
        SLOT_FREE,
        "the dead consumer's slot after the close"
    );
    assert!(
        !r.consumer_cursor_path("victim").exists(),
        "the dead consumer's cursor outlived the ring"
    );
    drop(reg);
    drop(victim);
    remove_dead_cursors(&fx, &r, &[]);
}

#[test]
fn dead_nonrequired_consumer_stops_gating_shm() {
    dead_nonrequired_consumer(Backend::Shm);
}

#[test]
fn dead_nonrequired_consumer_stops_gating_dir() {
    dead_nonrequired_consumer(Backend::Dir);
}

/// A dead non-required consumer's slot is retired (DEAD) and the stream moves past its cursor;
/// restarting it under its id must not silently skip what it missed: the re-join fails (exit
/// 2) naming exactly the sequences published while it did not gate (SPEC.md §7.3 step 5).
#[test]
fn dead_nonrequired_consumer_restart_is_told_what_it_missed() {
    let fx = Fixture::new("dead_nonreq_rejoin");
    let r = fx.ring(Backend::Shm, "r");
    let n = events(20_000) as i64;
    let hold = n / 4;
    let head = hold + CAP - 1;
    let mut p = r.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(n),
        a("--wait-consumers"),
        a(2),
        a("--timeout-ms"),
        a(TIMEOUT),
    ]));
    let mut victim = r.consume("victim", &["--mode", "copy"]);
    let mut gate = r.attach_gate("gate", 64);
    gate_consume(&mut gate, hold as u64, &mut [&mut p, &mut victim]);
    wait_producer_at(
        &r,
        head,
        "the producer to stop one ring ahead of the gate",
        &mut [&mut p, &mut victim],
    );
    wait_consumer_at(&r, "victim", head, &mut [&mut p, &mut victim]);
    let reg = registry(&r);
    let slot = slot_of(&reg, "victim");
    victim.kill();
    // Blocked on the gate, the producer checks every gate's owner and retires the dead one.
    wait_until(
        "the producer to retire the dead consumer",
        &mut [&mut p],
        || reg.slot_state(slot) == SLOT_DEAD,
    );
    // Two more rings' worth pass the dead cursor.
    gate_consume(&mut gate, 2 * CAP as u64, &mut [&mut p]);
    let now = hold + 3 * CAP - 1;
    wait_producer_at(
        &r,
        now,
        "the producer to pass the dead consumer's cursor",
        &mut [&mut p],
    );
    let committed = cursor_file_value(&r.consumer_cursor_path("victim"));
    assert_eq!(committed, head);

    let out = r
        .consume("victim", &["--mode", "copy", "--attach-timeout-ms", "0"])
        .wait();
    out.expect_error(&[
        "\"victim\"",
        &format!("missed sequences {}..={now}", committed + 1),
    ]);
    assert_eq!(
        cursor_file_value(&r.consumer_cursor_path("victim")),
        committed,
        "the refused re-join moved the cursor"
    );
    assert!(
        !r.active_ids().iter().any(|id| id == "victim"),
        "the refused re-join kept a gating slot"
    );

    let rest = (n - hold - 2 * CAP) as u64;
    gate_consume(&mut gate, rest, &mut [&mut p]);
    drop(gate);
    p.wait().expect_producer_ok(n as u64);
    drop(reg);
    drop(victim);
    // The refused re-join left the slot DEAD: the closing producer removed the slot and its cursor.
    remove_dead_cursors(&fx, &r, &[]);
}
