//! Deterministic replays of the crashes chaos campaigns found, one failpoint at a time: a
//! process crashes at an exact step, and the next incarnation must recover without loss (or
//! with the loss declared). Producers and consumers are separate testee processes.

mod common;

use ringproof_conformance::ctx::{check_delivery, Ctx};
use ringproof_conformance::driver::{Reply, Testee};
use ringproof_conformance::protocol::{Backend, Command, Discover, ErrorKind, Mode};
use ringproof_conformance::schema::Schema;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const SIZE: u64 = 64;
const CAPACITY: u64 = 64;

fn ctx(backend: Backend) -> Ctx {
    static N: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "chaosfp{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let root = std::env::temp_dir().join(format!("ringproof-chaos-root-{name}"));
    std::fs::create_dir_all(&root).unwrap();
    Ctx::new(
        common::reference(),
        common::reference(),
        backend,
        name,
        root,
        Duration::from_secs(60),
        Arc::new(Schema::load()),
    )
}

/// Starts a testee armed with `RINGPROOF_FAILPOINT=spec` and adds it to the case.
fn armed(c: &mut Ctx, label: &str, spec: &str) -> usize {
    let env = [(ringproof::kit::failpoint::ENV.to_owned(), spec.to_owned())];
    let t = Testee::spawn_with_env(
        &common::reference(),
        label,
        Arc::new(Schema::load()),
        Duration::from_secs(10),
        &env,
    )
    .unwrap();
    c.testees.push(t);
    c.testees.len() - 1
}

fn create_producer(c: &mut Ctx, h: usize) -> Result<Reply, ringproof_conformance::ctx::CaseError> {
    let ring = c.ring.clone();
    c.request(h, |id| Command::CreateProducer {
        id,
        ring,
        capacity: CAPACITY,
        event_size: SIZE,
        wait_consumers: None,
        discover: Some(Discover {
            prefix: "c".into(),
            max: 8,
        }),
        wait: None,
        required: None,
    })
}

fn attach(
    c: &mut Ctx,
    h: usize,
    resync: bool,
) -> Result<Reply, ringproof_conformance::ctx::CaseError> {
    let ring = c.ring.clone();
    c.request(h, |id| Command::AttachConsumer {
        id,
        ring,
        consumer_id: "c_0".into(),
        event_size: SIZE,
        timeout_ms: 5_000,
        wait: None,
        resync: resync.then_some(true),
    })
}

/// Ends the case cleanly and checks nothing of the ring is left. `crashed`: labels of the
/// testees this case crashed on purpose (they exit by signal, status -1).
fn finish(mut c: Ctx, crashed: &[&str]) {
    let expected: Vec<String> = crashed
        .iter()
        .map(|l| format!("{l} exited with status -1"))
        .collect();
    let problems: Vec<String> = c
        .exit_all()
        .into_iter()
        .filter(|p| !expected.contains(p))
        .collect();
    assert!(problems.is_empty(), "{problems:?}");
    let left = c.leftovers();
    c.remove_leftovers();
    let _ = std::fs::remove_dir_all(&c.root);
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A producer killed while creating its registry (1), producer cursor (2) or ring (3): the next
/// producer must take over or start afresh, and a consumer must then get every event.
fn producer_dies_creating(backend: Backend, pass: u64) {
    let mut c = ctx(backend);
    let dead = armed(
        &mut c,
        "producer (armed)",
        &format!("segment.create@{pass}"),
    );
    assert!(
        create_producer(&mut c, dead).is_err(),
        "segment.create@{pass} must crash the producer"
    );
    let p = c.start_producer_testee("producer").unwrap();
    let r = create_producer(&mut c, p).unwrap();
    Ctx::expect_ok(&r, "create_producer after the crash")
        .unwrap_or_else(|e| panic!("pass {pass}: {e:?}"));
    let (cons, r) = c.consumer(0, SIZE, None).unwrap();
    assert_eq!(Ctx::expect_ok(&r, "attach").unwrap().start_seq, Some(0));
    let id = c.consume_async(cons, 1_000, Mode::Copy).unwrap();
    let published = c
        .request(p, |id| Command::Publish {
            id,
            count: 1_000,
            batch: None,
        })
        .unwrap();
    Ctx::expect_ok(&published, "publish").unwrap();
    let got = c.wait(cons, id).unwrap();
    check_delivery(&got, SIZE as usize, 0, 999, "c_0").unwrap();
    c.leave(cons).unwrap();
    c.leave(p).unwrap();
    finish(c, &["producer (armed)"]);
}

#[test]
fn producer_crash_during_creation_is_recovered_shm() {
    for pass in 1..=3 {
        producer_dies_creating(Backend::Shm, pass);
    }
}

#[test]
fn producer_crash_during_creation_is_recovered_mmap() {
    for pass in 1..=3 {
        producer_dies_creating(Backend::Mmap, pass);
    }
}

/// A consumer killed while creating its cursor segment: its restart attaches and reads.
#[test]
fn consumer_crash_during_cursor_creation_is_recovered() {
    for backend in [Backend::Shm, Backend::Mmap] {
        let mut c = ctx(backend);
        let p = c.start_producer_testee("producer").unwrap();
        Ctx::expect_ok(&create_producer(&mut c, p).unwrap(), "create").unwrap();
        let dead = armed(&mut c, "consumer (armed)", "segment.create@1");
        assert!(
            attach(&mut c, dead, false).is_err(),
            "segment.create@1 must crash the consumer"
        );
        let (cons, r) = c.consumer(0, SIZE, None).unwrap();
        Ctx::expect_ok(&r, "attach after the crash").unwrap();
        let id = c.consume_async(cons, 100, Mode::Copy).unwrap();
        Ctx::expect_ok(
            &c.request(p, |id| Command::Publish {
                id,
                count: 100,
                batch: None,
            })
            .unwrap(),
            "publish",
        )
        .unwrap();
        check_delivery(&c.wait(cons, id).unwrap(), SIZE as usize, 0, 99, "c_0").unwrap();
        c.leave(cons).unwrap();
        c.leave(p).unwrap();
        finish(c, &["consumer (armed)"]);
    }
}

/// The stale takeover: c_0 dies, is retired DEAD while the producer laps it, re-joins and dies
/// before its handshake (consumer.attach). Its next incarnation must not resume from the
/// lapped cursor: it fails with `lapped`, and continues at the head when asked to resync.
#[test]
fn takeover_of_a_lapped_cursor_is_declared() {
    let mut c = ctx(Backend::Shm);
    let p = c.start_producer_testee("producer").unwrap();
    Ctx::expect_ok(&create_producer(&mut c, p).unwrap(), "create").unwrap();
    let (first, r) = c.consumer(0, SIZE, None).unwrap();
    Ctx::expect_ok(&r, "attach").unwrap();
    c.t(first).kill();
    // The producer waits for room on the dead consumer, retires it, and laps its cursor.
    let r = c
        .request(p, |id| Command::Publish {
            id,
            count: CAPACITY * 4,
            batch: None,
        })
        .unwrap();
    let last = Ctx::expect_ok(&r, "publish past a dead consumer")
        .unwrap()
        .last_seq
        .unwrap();
    let rejoin = armed(&mut c, "consumer (armed)", "consumer.attach@1");
    assert!(
        attach(&mut c, rejoin, false).is_err(),
        "consumer.attach@1 must crash the re-join"
    );
    let (next, r) = c.consumer(0, SIZE, None).unwrap();
    match &r.result {
        Err((ErrorKind::Lapped, msg)) => assert!(msg.contains("missed sequences 0..="), "{msg}"),
        other => panic!("a takeover of a lapped cursor must fail with lapped, got {other:?}"),
    }
    let r = attach(&mut c, next, true).unwrap();
    assert_eq!(
        Ctx::expect_ok(&r, "attach with resync").unwrap().start_seq,
        Some(last + 1)
    );
    c.leave(next).unwrap();
    c.leave(p).unwrap();
    finish(c, &["consumer c_0", "consumer (armed)"]);
}

/// A re-join that dies before its handshake, less than a ring behind the producer: c_0 reads
/// 10 events and dies; the producer, held by c_1, retires it; c_1 lets the producer go on to
/// `CAPACITY + 4` (c_0's cursor, 9, is not yet lapped) and the producer idles; c_0 re-joins and
/// dies at consumer.attach. A re-join's own handshake would have failed *lapped* (its cursor did
/// not gate while the producer published past it, SPEC.md §7.3 step 5), so the takeover of the
/// half-done re-join must end the same way, not resume from the old cursor as the takeover of a
/// completed join does: the cursor's `joined` word tells the two apart.
#[test]
fn takeover_of_a_half_done_rejoin_within_one_ring_is_declared() {
    let cap = CAPACITY as i64;
    let mut c = ctx(Backend::Shm);
    let p = c.start_producer_testee("producer").unwrap();
    Ctx::expect_ok(&create_producer(&mut c, p).unwrap(), "create").unwrap();
    let (first, r) = c.consumer(0, SIZE, None).unwrap();
    Ctx::expect_ok(&r, "attach c_0").unwrap();
    let (holder, r) = c.consumer(1, SIZE, None).unwrap();
    Ctx::expect_ok(&r, "attach c_1").unwrap();
    Ctx::expect_ok(
        &c.request(p, |id| Command::Publish {
            id,
            count: 10,
            batch: None,
        })
        .unwrap(),
        "publish 10",
    )
    .unwrap();
    let r = c
        .request(first, |id| Command::Consume {
            id,
            count: 10,
            mode: Mode::Copy,
            timeout_ms: 5_000,
        })
        .unwrap();
    assert_eq!(
        Ctx::expect_ok(&r, "c_0 reads 10").unwrap().consumed,
        Some(10)
    );
    c.t(first).kill();
    let r = c
        .request(p, |id| Command::Publish {
            id,
            count: CAPACITY - 10,
            batch: None,
        })
        .unwrap();
    assert_eq!(
        Ctx::expect_ok(&r, "fill the ring").unwrap().last_seq,
        Some(cap - 1)
    );
    // Five more: the producer waits on c_1 (at -1) and retires the dead c_0 meanwhile.
    let publish = c.publish_async(p, 5, 1).unwrap();
    let name = ringproof::RingName::shm(&c.ring.name).unwrap();
    let reg = ringproof::kit::registry::Registry::open(&name.registry()).unwrap();
    let slot = (0..reg.slots())
        .find(|&i| reg.slot_id(i).as_deref() == Some("c_0"))
        .expect("c_0 has a slot");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while reg.slot_state(slot) != ringproof::kit::layout::registry::SLOT_DEAD {
        assert!(
            std::time::Instant::now() < deadline,
            "the blocked producer never retired the dead c_0"
        );
        std::thread::yield_now();
    }
    let r = c
        .request(holder, |id| Command::Consume {
            id,
            count: 5,
            mode: Mode::Copy,
            timeout_ms: 5_000,
        })
        .unwrap();
    assert_eq!(Ctx::expect_ok(&r, "c_1 reads 5").unwrap().consumed, Some(5));
    assert_eq!(
        Ctx::expect_ok(&c.wait(p, publish).unwrap(), "the held publish")
            .unwrap()
            .last_seq,
        Some(cap + 4)
    );
    // The producer idles now (it checks no liveness), so the half-done re-join stays ACTIVE.
    let rejoin = armed(&mut c, "consumer (armed)", "consumer.attach@1");
    assert!(
        attach(&mut c, rejoin, false).is_err(),
        "consumer.attach@1 must crash the re-join"
    );
    assert_eq!(
        reg.slot_state(slot),
        ringproof::kit::layout::registry::SLOT_ACTIVE,
        "the crashed re-join left its slot gating"
    );
    drop(reg);
    let (next, r) = c.consumer(0, SIZE, None).unwrap();
    match &r.result {
        Err((ErrorKind::Lapped, msg)) => assert!(
            msg.contains(&format!("missed sequences 10..={}", cap + 4)),
            "{msg}"
        ),
        other => panic!("the takeover of a half-done re-join must fail with lapped, got {other:?}"),
    }
    let r = c
        .request(holder, |id| Command::Consume {
            id,
            count: CAPACITY,
            mode: Mode::Copy,
            timeout_ms: 5_000,
        })
        .unwrap();
    assert_eq!(
        Ctx::expect_ok(&r, "c_1 reads the rest").unwrap().consumed,
        Some(CAPACITY)
    );
    let r = attach(&mut c, next, true).unwrap();
    assert_eq!(
        Ctx::expect_ok(&r, "attach with resync").unwrap().start_seq,
        Some(cap + 5)
    );
    c.leave(next).unwrap();
    c.leave(holder).unwrap();
    c.leave(p).unwrap();
    finish(c, &["consumer c_0", "consumer (armed)"]);
}

/// A producer killed in the middle of its clean shutdown (ring CLOSED, names still there):
/// the next producer takes over, reopens the ring, and consumers continue without loss.
#[test]
fn producer_crash_during_close_is_taken_over() {
    let mut c = ctx(Backend::Shm);
    let p = armed(&mut c, "producer (armed)", "producer.close@1");
    Ctx::expect_ok(&create_producer(&mut c, p).unwrap(), "create").unwrap();
    let (cons, r) = c.consumer(0, SIZE, None).unwrap();
    Ctx::expect_ok(&r, "attach").unwrap();
    Ctx::expect_ok(
        &c.request(p, |id| Command::Publish {
            id,
            count: 50,
            batch: None,
        })
        .unwrap(),
        "publish",
    )
    .unwrap();
    assert!(
        c.request(p, |id| Command::Leave { id }).is_err(),
        "producer.close@1 must crash the close"
    );
    let p2 = c.start_producer_testee("producer 2").unwrap();
    Ctx::expect_ok(&create_producer(&mut c, p2).unwrap(), "takeover").unwrap();
    let id = c.consume_async(cons, 100, Mode::Batch).unwrap();
    let r = c
        .request(p2, |id| Command::Publish {
            id,
            count: 50,
            batch: None,
        })
        .unwrap();
    assert_eq!(
        Ctx::expect_ok(&r, "publish after takeover")
            .unwrap()
            .first_seq,
        Some(50)
    );
    check_delivery(&c.wait(cons, id).unwrap(), SIZE as usize, 0, 99, "c_0").unwrap();
    c.leave(cons).unwrap();
    c.leave(p2).unwrap();
    finish(c, &["producer (armed)"]);
}
