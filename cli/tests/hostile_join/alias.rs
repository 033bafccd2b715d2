//! F2: names that alias another ring's segments (shm names are flat: `/N_{id}_seq`).

use super::*;

/// The identity and epoch of a cursor segment.
fn cursor_state(ring: &Ring, id: &str) -> (ringproof::kit::segment::Identity, u64) {
    let c = ring
        .open_consumer_cursor(id)
        .unwrap_or_else(|| panic!("cursor {id} of {}", ring.name));
    (
        c.segment().identity(),
        c.cell().epoch.load(Ordering::Acquire),
    )
}

fn epoch_of(ring: &Ring) -> u64 {
    Registry::open(&ring.ring_name().registry())
        .expect("registry")
        .epoch()
}

/// `victim`'s consumer `victim_id` (a gate in the test process) holds its producer after 16
/// events; then consumer `attacker_id` of ring `attacker`, whose shm cursor name is the gate's,
/// tries to join while `attacker`'s producer waits for it. The attacker must be refused with the
/// alias error, the gate's cursor must be untouched (same object, same epoch, same value), and
/// the gate must then read every event of its own ring intact.
fn alias_refused(fx: &Fixture, victim: &Ring, victim_id: &str, attacker: &Ring, attacker_id: &str) {
    assert_eq!(
        victim.consumer_cursor_path(victim_id),
        attacker.consumer_cursor_path(attacker_id),
        "the test needs colliding names"
    );
    let n: u64 = 500;
    let events = a(n);
    let mut vp = victim.produce(&[
        "--capacity",
        "16",
        "--size",
        SIZE,
        "--events",
        &events,
        "--wait-consumers",
        "1",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
    ]);
    let mut gate = victim.attach_gate(victim_id, 64);
    let value = gate.next_sequence() - 1;
    wait_until(
        "the victim's producer to fill its ring",
        &mut [&mut vp],
        || {
            victim
                .open_producer_cursor()
                .is_some_and(|c| c.load() == value + 16)
        },
    );
    let before = cursor_state(victim, victim_id);
    assert_eq!(before.1, epoch_of(victim));
    assert_eq!(
        victim
            .open_consumer_cursor(victim_id)
            .expect("cursor")
            .load(),
        value
    );
    // The attacker's ring exists for as long as the test holds its producer.
    let ap = ProducerBuilder::new(attacker.ring_name())
        .capacity(16)
        .create_raw(64)
        .expect("attacker's producer");
    let refused = attacker
        .consume(attacker_id, &["--events", "1", "--attach-timeout-ms", "0"])
        .wait_for(std::time::Duration::from_secs(20));
    refused.expect_error(&["alias", &victim.name]);
    assert!(
        attacker.active_ids().is_empty(),
        "the refused consumer joined"
    );
    drop(ap);
    assert_eq!(
        cursor_state(victim, victim_id),
        before,
        "the victim's cursor segment was touched"
    );
    assert_eq!(
        victim
            .open_consumer_cursor(victim_id)
            .expect("cursor")
            .load(),
        value,
        "the victim's cursor value was changed"
    );
    gate_consume(&mut gate, n - (value + 1) as u64, &mut [&mut vp]);
    drop(gate);
    vp.wait().expect_producer_ok(n);
    fx.assert_clean();
}

#[test]
fn alias_consumer_of_shorter_ring_is_refused() {
    let fx = Fixture::new("alias_fwd");
    // Ring `a`'s consumer `x_c` would use `/a_x_c_seq`: consumer `c` of the running ring `a_x`.
    alias_refused(
        &fx,
        &fx.ring(Backend::Shm, "a_x"),
        "c",
        &fx.ring(Backend::Shm, "a"),
        "x_c",
    );
    // Deeper: ring `a`'s consumer `x_y_c` and consumer `c` of ring `a_x_y`.
    alias_refused(
        &fx,
        &fx.ring(Backend::Shm, "b_x_y"),
        "c",
        &fx.ring(Backend::Shm, "b"),
        "x_y_c",
    );
}

#[test]
fn alias_consumer_of_longer_ring_is_refused() {
    let fx = Fixture::new("alias_rev");
    // The reverse order: ring `a`'s consumer `x_c` runs; ring `a_x`'s consumer `c` arrives.
    alias_refused(
        &fx,
        &fx.ring(Backend::Shm, "a"),
        "x_c",
        &fx.ring(Backend::Shm, "a_x"),
        "c",
    );
}

/// The rule refuses only what collides: rings `a` and `a_x` run side by side with consumers
/// whose cursor names differ (`/a_y_seq`, `/a_x_c_seq`), each reading its own ring intact.
#[test]
fn rings_whose_names_extend_each_other_coexist() {
    let fx = Fixture::new("alias_ok");
    let short = fx.ring(Backend::Shm, "a");
    let long = fx.ring(Backend::Shm, "a_x");
    let n: u64 = 500;
    let events = a(n);
    let args = [
        "--capacity",
        "16",
        "--size",
        SIZE,
        "--events",
        &events,
        "--wait-consumers",
        "1",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
    ];
    let procs = vec![
        short.produce(&args),
        long.produce(&args),
        short.consume("y", &[]),
        long.consume("c", &[]),
    ];
    let outs = wait_all(procs);
    outs[0].expect_producer_ok(n);
    outs[1].expect_producer_ok(n);
    expect_clean_to_close(&outs[2], n as i64 - 1);
    expect_clean_to_close(&outs[3], n as i64 - 1);
    fx.assert_clean();
}

#[test]
fn names_that_name_another_rings_segments_are_refused() {
    let fx = Fixture::new("alias_names");
    let ring = fx.ring(Backend::Shm, "a");
    let longer = fx.ring(Backend::Shm, "a_x");
    let n = a(100);
    // `x_producer` of ring `a` would be ring `a_x`'s producer cursor; refused before anything is
    // opened, while `a_x` runs.
    let mut lp = longer.produce(&[
        "--capacity",
        "16",
        "--size",
        SIZE,
        "--events",
        &n,
        "--wait-consumers",
        "1",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
    ]);
    wait_until("ring a_x", &mut [&mut lp], || longer.ring_is_valid());
    let pc = identity_of(&longer.ring_name().producer_cursor()).expect("a_x's producer cursor");
    ring.consume("x_producer", &["--events", "1", "--attach-timeout-ms", "0"])
        .wait()
        .expect_error(&["x_producer", "producer"]);
    ring.consume("producer", &["--events", "1", "--attach-timeout-ms", "0"])
        .wait()
        .expect_error(&["producer"]);
    assert_eq!(identity_of(&longer.ring_name().producer_cursor()), Some(pc));
    let c = longer.consume("d", &[]);
    let outs = wait_all(vec![lp, c]);
    outs[0].expect_producer_ok(100);
    expect_clean_to_close(&outs[1], 99);
    // Ring names whose own shm object would be another ring's segment.
    for suffix in ["seq", "cr", "registry", "counters"] {
        let bad = fx.ring(Backend::Shm, &format!("a_{suffix}"));
        bad.produce(&["--events", "1"])
            .wait()
            .expect_error(&["_seq, _cr, _registry"]);
        bad.consume("c", &["--events", "1", "--attach-timeout-ms", "0"])
            .wait()
            .expect_error(&["_seq, _cr, _registry"]);
    }
    fx.assert_clean();
}
