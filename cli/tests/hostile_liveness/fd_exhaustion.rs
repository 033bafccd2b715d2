//! F4 (a): a producer out of file descriptors never declares a live consumer dead.

use super::*;

/// F4 (a): a producer that has run out of file descriptors cannot read `/proc`; that is no
/// evidence that its consumers died. Before the fix it retired the live gate within
/// microseconds and overwrote events the gate had not read.
#[test]
fn f4a_producer_out_of_file_descriptors_keeps_gating_its_live_consumer() {
    if !can_prlimit() {
        eprintln!("skipped: prlimit --pid is not available here");
        return;
    }
    let fx = Fixture::new("f4a");
    let ring = fx.ring(Backend::Shm, "r");
    let events = events(3000);
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
    let mut gate = ring.attach_gate("g", 64);
    let reg = open_registry(&ring, &mut [&mut p]);
    let pc = ring.open_producer_cursor().expect("producer cursor");
    // The gate reads nothing yet: the producer fills the ring and blocks on it.
    wait_until("the ring to fill", &mut [&mut p], || pc.load() >= 7);
    let slot = slot_of(&reg, "g").expect("gate slot");
    // Its limit becomes 3 (stdin, stdout, stderr are open): every open, /proc included, fails.
    set_nofile(p.pid(), 3);
    // The producer beats, then looks at its gates, every 10 ms while blocked: after two more
    // beats at least one whole look ran without file descriptors (a retirement ends the wait
    // early: the assertion below then says what happened).
    let beat = || reg.control().producer_heartbeat.load(Ordering::Relaxed);
    for _ in 0..2 {
        let b = beat();
        wait_until("a producer heartbeat", &mut [], || {
            beat() != b || reg.slot_state(slot) != SLOT_ACTIVE
        });
    }
    assert_eq!(
        reg.slot_state(slot),
        SLOT_ACTIVE,
        "a live consumer was retired because /proc could not be read"
    );
    // Blocked over and over while still without descriptors; every payload must verify.
    gate_consume(&mut gate, events / 2, &mut [&mut p]);
    assert_eq!(
        reg.slot_state(slot),
        SLOT_ACTIVE,
        "a live consumer was retired because /proc could not be read"
    );
    set_nofile(p.pid(), 1024);
    gate_consume(&mut gate, events - events / 2, &mut [&mut p]);
    p.wait().expect_producer_ok(events);
    drop(gate);
}

/// F4 (a), a consumer that joins while the producer is out of file descriptors: the producer
/// sees the join but cannot map the joiner's cursor. Before the fix it went on publishing as
/// if the joiner were not there, and the joiner read overwritten slots; now it publishes
/// nothing new until it can map every gating cursor.
#[test]
fn f4a_a_consumer_joining_a_producer_out_of_file_descriptors_is_gated() {
    if !can_prlimit() {
        eprintln!("skipped: prlimit --pid is not available here");
        return;
    }
    let fx = Fixture::new("f4aj");
    let ring = fx.ring(Backend::Shm, "r");
    let events = events(2000);
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
    let mut first = ring.attach_gate("g1", 64);
    let pc = ring.open_producer_cursor().expect("producer cursor");
    wait_until("the ring to fill", &mut [&mut p], || pc.load() >= 7);
    set_nofile(p.pid(), 3);
    // Joins while the producer cannot open anything: its cursor must still gate.
    let mut late = ring.attach_gate("g2", 64);
    let joined_at = late.next_sequence();
    // The first gate reads whatever is published, a few rounds, each followed by two producer
    // heartbeats (a whole rescan in between); the producer must not lap the late gate.
    let reg = open_registry(&ring, &mut [&mut p]);
    let beat = || reg.control().producer_heartbeat.load(Ordering::Relaxed);
    let mut buf = [0u8; 64];
    let mut read = 0u64;
    for _ in 0..4 {
        while let Some(seq) = first.try_read_into(&mut buf).expect("first gate reads") {
            ringproof::kit::payload::verify(seq as u64, &buf).expect("intact payload");
            read += 1;
        }
        for _ in 0..2 {
            let b = beat();
            wait_until("a producer heartbeat", &mut [&mut p], || beat() != b);
        }
    }
    assert!(
        pc.load() < joined_at + 8,
        "the producer published up to {} past a gate it could not map (joined at {joined_at})",
        pc.load()
    );
    set_nofile(p.pid(), 1024);
    let left = (events as i64 - joined_at) as u64;
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        gate_consume(&mut late, left, &mut []);
        tx.send(late).expect("send");
    });
    gate_consume(&mut first, events - read, &mut [&mut p]);
    t.join()
        .expect("late gate read every event it was owed, intact");
    let late = rx.recv().expect("late gate");
    p.wait().expect_producer_ok(events);
    drop((first, late, reg));
}
