//! Hostile joins (issue 11, F1, F2, F16): two consumers racing for one id, consumer ids and ring
//! names whose shm cursor name is another ring's segment, and cursor values no participant
//! writes. Each test runs real `ringproof` processes against each other (or against segments
//! crafted in the test process) and checks, with TP1 payloads, that no consumer is handed an
//! event that was never published or was overwritten, and that the refused participant gets a
//! typed error and touches nothing that is not its own.
//!
//! Synchronisation is by condition only: a producer waiting for its consumers, a cursor reaching
//! a value, a process exiting.
//!
//! Linux only (`/dev/shm`).

#![cfg(target_os = "linux")]

mod common;

use common::*;
use ringproof::kit::cursor::Cursor;
use ringproof::kit::layout::cursor::JOINED;
use ringproof::kit::registry::Registry;
use ringproof::kit::segment::identity_of;
use ringproof::ProducerBuilder;
use std::sync::atomic::Ordering;
use std::time::Instant;

const SIZE: &str = "64";

/// Whether consumer `id`'s join handshake completed (its cursor says so, SPEC.md §5): from then
/// on, whatever is published is delivered to it.
fn joined(ring: &Ring, id: &str) -> bool {
    ring.open_consumer_cursor(id)
        .is_some_and(|c| c.cell().joined.load(Ordering::Acquire) == JOINED)
}

/// A consumer run until the ring closed (no `--events`): it may start after 0 (a fresh joiner
/// starts after what the producer published while counting it, SPEC.md §7.3 step 5), but must
/// see every event from there to the last, intact.
fn expect_clean_to_close(out: &Output, last: i64) {
    out.expect_code(0);
    assert_eq!(
        (out.u64("payload_errors"), out.u64("out_of_order")),
        (0, 0),
        "{}",
        out.describe()
    );
    assert_eq!(out.i64("closed_at"), last, "{}", out.describe());
    if out.u64("consumed") > 0 {
        assert_eq!(out.i64("last_seq"), last, "{}", out.describe());
    }
}

// ---------------------------------------------------------------------------------------------
// F1: two consumers with the same id started at the same instant.

/// Waits until one of `a`, `b` exits and returns (the exited one's output, the other).
fn first_exit(mut a: Proc, mut b: Proc) -> (Output, Proc) {
    let deadline = Instant::now() + HARD_TIMEOUT;
    loop {
        if !a.running() {
            return (a.wait(), b);
        }
        if !b.running() {
            return (b.wait(), a);
        }
        assert!(
            Instant::now() < deadline,
            "neither of two same-id consumers exited within {HARD_TIMEOUT:?}: both admitted?"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// One try: both consumers wait for the ring, then the producer creates it and waits for two
/// gates. Exactly one of the pair may be admitted; the other must fail with *id in use* before
/// anything is published. A third consumer under another id then lets the producer start, and
/// the admitted one must read every event intact: the refused one removed nothing of it.
fn same_id_race(ring: &Ring, n: u64) {
    let events = a(n);
    let args = [
        "--events",
        &events,
        "--size",
        SIZE,
        "--attach-timeout-ms",
        "60000",
    ];
    let first = ring.consume("twin", &args);
    let second = ring.consume("twin", &args);
    let mut producer = ring.produce(&[
        "--capacity",
        "16",
        "--size",
        SIZE,
        "--events",
        &events,
        "--wait-consumers",
        "2",
        "--timeout-ms",
        "20000",
    ]);
    let (refused, winner) = first_exit(first, second);
    refused.expect_error(&["twin", "in use"]);
    check_alive(&mut [&mut producer]);
    assert_eq!(
        ring.active_ids(),
        ["twin"],
        "the id must be registered exactly once"
    );
    // Until the ring closes: a fresh joiner starts after whatever the producer published once
    // it counted that joiner (SPEC.md §7.3 step 5), which may be a few events.
    let third = ring.consume("other", &["--size", SIZE]);
    let outs = wait_all(vec![producer, winner, third]);
    outs[0].expect_producer_ok(n);
    outs[1].expect_consumer_clean(0, n as i64 - 1);
    expect_clean_to_close(&outs[2], n as i64 - 1);
}

#[test]
fn same_id_race_admits_exactly_one_shm() {
    let fx = Fixture::new("twin_shm");
    for i in 0..64 {
        same_id_race(&fx.ring(Backend::Shm, &format!("r{i}")), 300);
        fx.assert_clean();
    }
}

#[test]
fn same_id_race_admits_exactly_one_dir() {
    let fx = Fixture::new("twin_dir");
    for i in 0..64 {
        same_id_race(&fx.ring(Backend::Dir, &format!("r{i}")), 300);
        fx.assert_clean();
    }
}

// ---------------------------------------------------------------------------------------------
// F2: names that alias another ring's segments (shm names are flat: `/N_{id}_seq`).

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

// ---------------------------------------------------------------------------------------------
// F16: cursor values that no participant writes.

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

// ---------------------------------------------------------------------------------------------
// The join lock (F1's mechanism): a holder that keeps it (a stopped process) gets a joiner a
// typed error, not a hang.

#[test]
fn a_held_join_lock_times_out_with_a_typed_error() {
    let fx = Fixture::new("join_lock");
    for backend in BACKENDS {
        let ring = fx.ring(backend, "l");
        let mut p = ProducerBuilder::new(ring.ring_name())
            .capacity(16)
            .create_raw(64)
            .expect("producer");
        let registry = Registry::open(&ring.ring_name().registry()).expect("registry");
        let held = registry
            .lock_joins(&ring.name, Instant::now())
            .expect("the join lock is free");
        let out = ring
            .consume("c", &["--events", "1", "--attach-timeout-ms", "0"])
            .wait();
        out.expect_error(&["join lock", &ring.name]);
        assert!(
            ring.active_ids().is_empty() && ring.open_consumer_cursor("c").is_none(),
            "a joiner without the lock touched the ring"
        );
        // Released: the same join goes through.
        drop(held);
        let mut c = ring.consume("c", &["--events", "1", "--attach-timeout-ms", "0"]);
        wait_until("consumer c to finish joining", &mut [&mut c], || {
            joined(&ring, "c")
        });
        ringproof::kit::testkit::produce(&mut p, 1, 1, |_| {}).expect("publish");
        c.wait().expect_consumer_clean(0, 0);
        drop(p);
        fx.assert_clean();
    }
}

/// An unfinished cursor (a disruptor-mp consumer creating it in place, or a damaged one) under
/// a name that another existing ring may own is not removed by a consumer whose id collides
/// with it: *name alias*, and the object stays (SPEC §3.5). Before, the consumer waited 100 ms,
/// removed it and created its own.
#[test]
fn unfinished_cursor_of_an_alias_ring_is_not_removed() {
    use std::os::unix::fs::MetadataExt;
    let fx = Fixture::new("alias_unf");
    let owner = fx.ring(Backend::Shm, "a_x");
    let attacker = fx.ring(Backend::Shm, "a");
    let path = owner.consumer_cursor_path("c");
    assert_eq!(
        path,
        attacker.consumer_cursor_path("x_c"),
        "the test needs colliding names"
    );
    // Both rings exist; ring `a_x`'s consumer `c` is half-way through creating its cursor in
    // place (all zero bytes, as disruptor-mp leaves it for a moment).
    let owner_producer = ProducerBuilder::new(owner.ring_name())
        .capacity(16)
        .create_raw(64)
        .expect("a_x's producer");
    let attacker_producer = ProducerBuilder::new(attacker.ring_name())
        .capacity(16)
        .create_raw(64)
        .expect("a's producer");
    std::fs::write(&path, [0u8; 128]).expect("plant an unfinished cursor");
    let before = std::fs::symlink_metadata(&path).expect("planted").ino();
    let refused = attacker
        .consume("x_c", &["--events", "1", "--attach-timeout-ms", "0"])
        .wait_for(std::time::Duration::from_secs(20));
    refused.expect_error(&["alias", &owner.name]);
    assert_eq!(
        std::fs::symlink_metadata(&path).map(|m| m.ino()).ok(),
        Some(before),
        "the unfinished cursor ring a_x's consumer is creating was removed or replaced"
    );
    std::fs::remove_file(&path).expect("remove the planted cursor");
    drop(attacker_producer);
    drop(owner_producer);
    fx.assert_clean();
}
