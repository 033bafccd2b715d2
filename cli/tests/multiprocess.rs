//! Multi-process tests of the reference ring: `ringproof produce` and `ringproof consume` run
//! as separate OS processes over POSIX shm and over mmap'd files, and the tests judge them by
//! their exit codes and JSON lines. Payload integrity is checked inside the consumer processes
//! (TP1 payload: sequence, body words, checksum), so a slot overwritten before it was consumed
//! shows up as `payload_errors` / `out_of_order`.
//!
//! Where a test needs the stream held at a precise point it attaches a consumer inside the test
//! process (a "gate", see `Ring::attach_gate`): the producer may run at most one ring ahead of
//! the gate's cursor, so "the producer has published part of the stream and is stuck at X" is a
//! condition the test can wait for, never a matter of timing. Every test ends with the
//! [`Fixture`] guard: nothing of the test may be left in /dev/shm or its mmap directory.

mod common;

use common::*;
use serde_json::Value;

const TIMEOUT: &str = PRODUCER_TIMEOUT_MS;

/// One producer and one consumer process; the consumer starts first and relies on the attach
/// retry, the producer waits for it.
fn spsc(r: &Ring, size: usize, capacity: usize, n: u64, mode: &str, batch: usize) {
    let c = r.consume(
        "c_0",
        &refs(&[
            a("--size"),
            a(size),
            a("--events"),
            a(n),
            a("--mode"),
            a(mode),
        ]),
    );
    let p = r.produce(&refs(&[
        a("--capacity"),
        a(capacity),
        a("--size"),
        a(size),
        a("--events"),
        a(n),
        a("--batch"),
        a(batch),
        a("--wait-consumers"),
        a(1),
        a("--timeout-ms"),
        a(TIMEOUT),
    ]));
    let outs = wait_all(vec![p, c]);
    outs[0].expect_producer_ok(n);
    assert_eq!(outs[0].u64("size"), size as u64);
    outs[1].expect_consumer_clean(0, n as i64 - 1);
    assert_eq!(outs[1].i64("start_seq"), 0, "{}", outs[1].describe());
    // It stopped because it had all it asked for, not because the ring closed under it.
    assert!(outs[1].is_null("closed_at"), "{}", outs[1].describe());
}

/// Sizes 8 (sequence only), 64 and 4096 bytes; every run wraps a small ring many times.
fn spsc_all_sizes(fx: &Fixture, backend: Backend, mode: &str) {
    for (size, capacity, n) in [
        (8, 64, events(200_000)),
        (64, 1024, events(200_000)),
        (4096, 64, events(10_000)),
    ] {
        assert!(n / capacity as u64 >= 150, "at least 150 wraparounds");
        spsc(
            &fx.ring(backend, &format!("s{size}")),
            size,
            capacity,
            n,
            mode,
            1,
        );
        fx.report(&format!(
            "{n} events of {size} bytes through {capacity} slots"
        ));
    }
}

#[test]
fn spsc_shm_copy() {
    let fx = Fixture::new("spsc_shm_copy");
    spsc_all_sizes(&fx, Backend::Shm, "copy");
}

#[test]
fn spsc_shm_lease() {
    let fx = Fixture::new("spsc_shm_lease");
    spsc_all_sizes(&fx, Backend::Shm, "lease");
}

#[test]
fn spsc_shm_batch() {
    let fx = Fixture::new("spsc_shm_batch");
    spsc_all_sizes(&fx, Backend::Shm, "batch");
}

#[test]
fn spsc_dir_copy() {
    let fx = Fixture::new("spsc_dir_copy");
    spsc_all_sizes(&fx, Backend::Dir, "copy");
}

#[test]
fn spsc_dir_lease() {
    let fx = Fixture::new("spsc_dir_lease");
    spsc_all_sizes(&fx, Backend::Dir, "lease");
}

#[test]
fn spsc_dir_batch() {
    let fx = Fixture::new("spsc_dir_batch");
    spsc_all_sizes(&fx, Backend::Dir, "batch");
}

/// Single-event publishes to a back-off consumer (WaitStrategy::Backoff) on a small ring: the
/// consumer looks at the cursor only once per interval, the producer fills the ring in between
/// and waits on it with back-off too; every event arrives intact and in order.
#[test]
fn spsc_backoff_consumer_sees_every_single_event_publish() {
    let fx = Fixture::new("backoff");
    let n = events(100_000);
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let p = r.produce(&refs(&[
            a("--capacity"),
            a(16),
            a("--events"),
            a(n),
            a("--wait-consumers"),
            a(1),
            a("--wait"),
            a("backoff"),
            a("--timeout-ms"),
            a(TIMEOUT),
        ]));
        let c = r.consume(
            "c_0",
            &refs(&[
                a("--events"),
                a(n),
                a("--mode"),
                a("copy"),
                a("--wait"),
                a("backoff"),
            ]),
        );
        let outs = wait_all(vec![p, c]);
        outs[0].expect_producer_ok(n);
        outs[1].expect_consumer_clean(0, n as i64 - 1);
    }
}

/// Two consumers, one sleeping whenever it has caught up (slow): the slow one gates the
/// producer, the fast one is never lapped, both see every event intact.
#[test]
fn spmc_slow_consumer_gates_producer() {
    let fx = Fixture::new("spmc_slow");
    let n = events(100_000);
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let p = r.produce(&refs(&[
            a("--capacity"),
            a(64),
            a("--events"),
            a(n),
            a("--wait-consumers"),
            a(2),
            a("--wait"),
            a("block"),
            a("--timeout-ms"),
            a(TIMEOUT),
        ]));
        let fast = r.consume(
            "fast",
            &refs(&[a("--events"), a(n), a("--mode"), a("batch")]),
        );
        let slow = r.consume(
            "slow",
            &refs(&[
                a("--events"),
                a(n),
                a("--mode"),
                a("copy"),
                a("--wait"),
                a("sleep"),
            ]),
        );
        let outs = wait_all(vec![p, fast, slow]);
        outs[0].expect_producer_ok(n);
        outs[1].expect_consumer_clean(0, n as i64 - 1);
        outs[2].expect_consumer_clean(0, n as i64 - 1);
    }
}

/// A ring of 8 slots under constant backpressure: the producer waits for the slowest of two
/// consumers tens of thousands of times and never overwrites an unconsumed slot (any such
/// overwrite is a stale or torn payload in a consumer).
#[test]
fn backpressure_capacity_8() {
    let fx = Fixture::new("backpressure");
    let n = events(30_000);
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let c0 = r.consume(
            "c_0",
            &refs(&[
                a("--events"),
                a(n),
                a("--mode"),
                a("lease"),
                a("--wait"),
                a("block"),
            ]),
        );
        let c1 = r.consume(
            "c_1",
            &refs(&[
                a("--events"),
                a(n),
                a("--mode"),
                a("copy"),
                a("--wait"),
                a("sleep"),
            ]),
        );
        let p = r.produce(&refs(&[
            a("--capacity"),
            a(8),
            a("--size"),
            a(128),
            a("--events"),
            a(n),
            a("--wait-consumers"),
            a(2),
            a("--timeout-ms"),
            a(TIMEOUT),
        ]));
        let outs = wait_all(vec![p, c0, c1]);
        outs[0].expect_producer_ok(n);
        outs[1].expect_consumer_clean(0, n as i64 - 1);
        outs[2].expect_consumer_clean(0, n as i64 - 1);
    }
}

/// Batched publishing (one cursor store per batch), with batches equal to the capacity and a
/// final partial batch; two consumers in different read modes verify every event.
#[test]
fn batched_publishing() {
    let fx = Fixture::new("batched");
    for backend in BACKENDS {
        for (capacity, batch, n) in [
            (64, 64, events(100_000) + 3),
            (8, 8, events(20_000) + 1),
            (1024, 64, events(100_000)),
        ] {
            let r = fx.ring(backend, &format!("c{capacity}b{batch}"));
            // Every side parks in the kernel while it waits: with a batch as large as the ring,
            // each batch is a full hand-off, which spin/yield waiting turns into scheduler
            // round trips on a busy 2-core machine.
            let p = r.produce(&refs(&[
                a("--capacity"),
                a(capacity),
                a("--batch"),
                a(batch),
                a("--events"),
                a(n),
                a("--wait-consumers"),
                a(2),
                a("--wait"),
                a("block"),
                a("--timeout-ms"),
                a(TIMEOUT),
            ]));
            let c0 = r.consume(
                "c_0",
                &refs(&[
                    a("--events"),
                    a(n),
                    a("--mode"),
                    a("batch"),
                    a("--wait"),
                    a("block"),
                ]),
            );
            let c1 = r.consume(
                "c_1",
                &refs(&[
                    a("--events"),
                    a(n),
                    a("--mode"),
                    a("lease"),
                    a("--wait"),
                    a("block"),
                ]),
            );
            let outs = wait_all(vec![p, c0, c1]);
            outs[0].expect_producer_ok(n);
            outs[1].expect_consumer_clean(0, n as i64 - 1);
            outs[2].expect_consumer_clean(0, n as i64 - 1);
            fx.report(&format!(
                "{backend:?}: {n} events in batches of {batch} through {capacity} slots"
            ));
        }
    }
}

/// A batch that can never fit is an error (exit 2, JSON error naming the batch), not a hang,
/// and the failed producer removes everything it created. A consumer that was waiting sees a
/// closed, empty ring.
#[test]
fn batch_larger_than_capacity_fails_cleanly() {
    let fx = Fixture::new("batch_too_large");
    for backend in BACKENDS {
        let r = fx.ring(backend, "alone");
        let out = r
            .produce(&["--capacity", "8", "--batch", "16", "--events", "100"])
            .wait();
        out.expect_error(&["batch of 16", "8 slots"]);
        fx.assert_clean();

        // With a consumer attached before the first publish.
        let r = fx.ring(backend, "watched");
        let c = r.consume("c_0", &["--mode", "copy"]);
        let p = r.produce(&[
            "--capacity",
            "8",
            "--batch",
            "16",
            "--events",
            "100",
            "--wait-consumers",
            "1",
            "--timeout-ms",
            TIMEOUT,
        ]);
        p.wait().expect_error(&["batch of 16", "8 slots"]);
        let c = c.wait();
        c.expect_code(0);
        assert_eq!(c.u64("consumed"), 0, "{}", c.describe());
        assert_eq!(c.i64("closed_at"), -1, "{}", c.describe());
        assert!(c.is_null("first_seq"), "{}", c.describe());
        fx.assert_clean();
    }
}

/// A consumer that joins while the producer is mid-stream (held there by a gate, after many
/// wraparounds) starts after the head and sees a contiguous, clean suffix up to the final
/// sequence, ending because the producer closed the ring.
fn late_joiner(backend: Backend, mode: &str, extra: &[&str]) {
    let fx = Fixture::new(&format!("late_{mode}"));
    let r = fx.ring(backend, "r");
    let n = events(100_000);
    let hold = n / 4;
    let cap = 64;
    let mut p = r.produce(&refs(&[
        a("--capacity"),
        a(cap),
        a("--events"),
        a(n),
        a("--wait-consumers"),
        a(2),
        a("--timeout-ms"),
        a(TIMEOUT),
    ]));
    let mut c0 = r.consume(
        "c_0",
        &refs(&[
            a("--events"),
            a(n),
            a("--mode"),
            a("copy"),
            a("--wait"),
            a("block"),
        ]),
    );
    let mut gate = r.attach_gate("gate", 64);
    gate_consume(&mut gate, hold, &mut [&mut p, &mut c0]);
    // The gate holds the producer one ring ahead of it.
    let head = (hold + cap - 1) as i64;
    let pc = r.open_producer_cursor().expect("producer cursor");
    wait_until(
        "the producer to stop one ring ahead of the gate",
        &mut [&mut p, &mut c0],
        || {
            let v = pc.load();
            assert!(v <= head, "producer at {v} passed the gate's limit {head}");
            v == head
        },
    );
    let mut args = vec!["--mode", mode];
    args.extend_from_slice(extra);
    let mut c1 = r.consume("c_1", &args);
    wait_until("c_1 to join", &mut [&mut p, &mut c0, &mut c1], || {
        r.active_ids().iter().any(|id| id == "c_1")
    });
    drop(gate);
    let outs = wait_all(vec![p, c0, c1]);
    outs[0].expect_producer_ok(n);
    outs[1].expect_consumer_clean(0, n as i64 - 1);
    let late = &outs[2];
    let start = late.i64("start_seq");
    // Joined at the head of the held stream; the producer can have moved at most one more ring
    // (gated by c_1's initial cursor) between the registry entry and c_1's read of the head.
    assert!(
        start > head && start <= head + 1 + cap as i64,
        "start_seq {start}, head {head}\n{}",
        late.describe()
    );
    late.expect_consumer_clean(start, n as i64 - 1);
    assert_eq!(late.i64("closed_at"), n as i64 - 1, "{}", late.describe());
}

#[test]
fn late_joiner_shm() {
    late_joiner(Backend::Shm, "lease", &[]);
}

#[test]
fn late_joiner_dir() {
    late_joiner(Backend::Dir, "copy", &["--wait", "block"]);
}

/// A consumer SIGKILLed mid-stream keeps gating through its registry slot and cursor; the
/// producer stops one ring past the dead cursor; the same id restarted takes the slot over,
/// resumes right after the last committed sequence and drains to the end. At-least-once:
/// between the two incarnations nothing is missing. With `zombie`, the killed process is not
/// reaped before the restart (its pid still exists, as a zombie).
fn restart_resume(backend: Backend, zombie: bool) {
    let fx = Fixture::new(if zombie { "restart_zombie" } else { "restart" });
    let r = fx.ring(backend, "r");
    let n = events(100_000);
    let hold = n / 4;
    let cap = 64u64;
    // The victim is required with the alert-only action, so its slot keeps gating after it
    // dies (a dead non-required consumer stops gating: that is liveness.rs's subject).
    let mut p = r.produce(&refs(&[
        a("--capacity"),
        a(cap),
        a("--events"),
        a(n),
        a("--wait-consumers"),
        a(2),
        a("--timeout-ms"),
        a(TIMEOUT),
        a("--required"),
        a("victim"),
        a("--action"),
        a("alert"),
    ]));
    let mut victim = r.consume("victim", &["--mode", "copy"]);
    let mut gate = r.attach_gate("gate", 64);
    gate_consume(&mut gate, hold, &mut [&mut p, &mut victim]);
    // With the gate at hold-1, the victim can consume through hold+cap-1 and no further.
    let v_expected = (hold + cap - 1) as i64;
    let vc = r.open_consumer_cursor("victim").expect("victim cursor");
    wait_until(
        "the victim to reach the gate's limit",
        &mut [&mut p, &mut victim],
        || {
            let v = vc.load();
            assert!(
                v <= v_expected,
                "victim at {v} beyond the producer's limit {v_expected}"
            );
            v == v_expected
        },
    );
    if zombie {
        victim.kill_leave_zombie();
    } else {
        victim.kill();
    }
    let committed = vc.load();
    assert_eq!(committed, v_expected);
    drop(gate);

    // Only the dead consumer gates now: the producer must stop one ring past its cursor.
    let limit = committed + cap as i64;
    let pc = r.open_producer_cursor().expect("producer cursor");
    wait_until(
        "the producer to reach the dead consumer's limit",
        &mut [&mut p],
        || {
            let v = pc.load();
            assert!(v <= limit, "producer published {v}, past the dead consumer's limit {limit}: a slot it has not consumed was overwritten");
            v == limit
        },
    );
    for _ in 0..200 {
        std::thread::yield_now();
        assert_eq!(
            pc.load(),
            limit,
            "the producer moved past a dead consumer's gate"
        );
    }
    assert!(
        p.running(),
        "the producer finished although a gating consumer never consumed"
    );
    assert!(
        r.active_ids().iter().any(|id| id == "victim"),
        "the dead consumer's slot was dropped"
    );

    let again = r.consume("victim", &["--mode", "lease"]);
    let outs = wait_all(vec![p, again]);
    outs[0].expect_producer_ok(n);
    let o = &outs[1];
    assert_eq!(
        o.i64("start_seq"),
        committed + 1,
        "resumes after the last commit\n{}",
        o.describe()
    );
    o.expect_consumer_clean(committed + 1, n as i64 - 1);
    assert_eq!(o.i64("closed_at"), n as i64 - 1, "{}", o.describe());
    drop(victim);
}

#[test]
fn consumer_restart_resumes_shm() {
    restart_resume(Backend::Shm, false);
}

#[test]
fn consumer_restart_resumes_dir() {
    restart_resume(Backend::Dir, false);
}

#[test]
fn consumer_restart_takes_over_from_unreaped_zombie() {
    restart_resume(Backend::Shm, true);
    restart_resume(Backend::Dir, true);
}

/// Blocking (futex) waits: a consumer parked before the producer exists is woken for every
/// event and by the close; a producer parked on a tiny ring is woken by a slow consumer; and
/// both sides parked.
#[test]
fn blocking_wait_strategy_wakes() {
    let fx = Fixture::new("blocking");
    for backend in BACKENDS {
        // Consumer blocks, started first; runs until the ring closes.
        let n = events(50_000);
        let r = fx.ring(backend, "cons");
        let c = r.consume("c_0", &["--wait", "block", "--mode", "copy"]);
        let p = r.produce(&refs(&[
            a("--capacity"),
            a(1024),
            a("--events"),
            a(n),
            a("--wait-consumers"),
            a(1),
            a("--timeout-ms"),
            a(TIMEOUT),
        ]));
        let outs = wait_all(vec![p, c]);
        outs[0].expect_producer_ok(n);
        outs[1].expect_consumer_clean(0, n as i64 - 1);
        assert_eq!(outs[1].i64("closed_at"), n as i64 - 1);

        // Producer blocks on a ring of 8 gated by a consumer that sleeps whenever it is idle.
        let n = events(10_000);
        let r = fx.ring(backend, "prod");
        let p = r.produce(&refs(&[
            a("--capacity"),
            a(8),
            a("--events"),
            a(n),
            a("--wait"),
            a("block"),
            a("--wait-consumers"),
            a(1),
            a("--timeout-ms"),
            a(TIMEOUT),
        ]));
        let c = r.consume(
            "c_0",
            &refs(&[
                a("--events"),
                a(n),
                a("--wait"),
                a("sleep"),
                a("--mode"),
                a("copy"),
            ]),
        );
        let outs = wait_all(vec![p, c]);
        outs[0].expect_producer_ok(n);
        outs[1].expect_consumer_clean(0, n as i64 - 1);

        // Both sides block, small ring, batched publishing.
        let n = events(50_000);
        let r = fx.ring(backend, "both");
        let c = r.consume("c_0", &["--wait", "block", "--mode", "lease"]);
        let p = r.produce(&refs(&[
            a("--capacity"),
            a(64),
            a("--batch"),
            a(16),
            a("--events"),
            a(n),
            a("--wait"),
            a("block"),
            a("--wait-consumers"),
            a(1),
            a("--timeout-ms"),
            a(TIMEOUT),
        ]));
        let outs = wait_all(vec![p, c]);
        outs[0].expect_producer_ok(n);
        outs[1].expect_consumer_clean(0, n as i64 - 1);
        assert_eq!(outs[1].i64("closed_at"), n as i64 - 1);
    }
}

/// While a ring runs, exactly its segments exist (so the guard's check means something); after
/// a clean shutdown nothing is left in /dev/shm or the mmap root.
#[test]
fn clean_shutdown_leaves_nothing() {
    let fx = Fixture::new("clean");
    let n = events(20_000);
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let mut p = r.produce(&refs(&[
            a("--capacity"),
            a(64),
            a("--events"),
            a(n),
            a("--wait-consumers"),
            a(2),
            a("--timeout-ms"),
            a(TIMEOUT),
        ]));
        let mut c0 = r.consume("c_0", &refs(&[a("--events"), a(n)]));
        wait_until("c_0 to join", &mut [&mut p, &mut c0], || {
            r.active_ids().iter().any(|id| id == "c_0")
        });
        let expected: Vec<String> = match backend {
            Backend::Shm => vec![
                r.name.clone(),
                format!("{}_c_0_seq", r.name),
                format!("{}_counters", r.name),
                format!("{}_producer_seq", r.name),
                format!("{}_registry", r.name),
            ],
            Backend::Dir => vec![
                format!("{}.consumers", r.name),
                format!("{}.consumers/c_0.cursor", r.name),
                format!("{}.counters", r.name),
                format!("{}.producer.cursor", r.name),
                format!("{}.registry", r.name),
                format!("{}.ring", r.name),
            ],
        };
        // A file segment is built under a temporary name and linked into place; the temporary
        // name is removed right after the link, so it can be seen for a moment.
        let transient = |n: &String| {
            n.rsplit('/')
                .next()
                .is_some_and(|f| f.starts_with('.') && f.ends_with(".tmp"))
        };
        let list = || match backend {
            Backend::Shm => fx.shm_leftovers(),
            Backend::Dir => fx.dir_leftovers(),
        };
        wait_until("segment creation to finish", &mut [&mut p, &mut c0], || {
            !list().iter().any(transient)
        });
        let live = list();
        assert_eq!(live, expected, "segments of a live ring");
        let c1 = r.consume(
            "c_1",
            &refs(&[a("--events"), a(n), a("--mode"), a("lease")]),
        );
        let outs = wait_all(vec![p, c0, c1]);
        outs[0].expect_producer_ok(n);
        outs[1].expect_consumer_clean(0, n as i64 - 1);
        outs[2].expect_consumer_clean(0, n as i64 - 1);
        assert_eq!(fx.shm_leftovers(), Vec::<String>::new());
        assert_eq!(fx.dir_leftovers(), Vec::<String>::new());
    }
}

/// The guard itself: a leftover under the test's prefix fails the test, and is removed.
#[test]
fn guard_detects_and_removes_leaks() {
    let names = std::sync::Mutex::new(None);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let fx = Fixture::new("guard");
        let shm = std::path::Path::new("/dev/shm").join(format!("{}_leak", fx.prefix));
        let file = fx.dir.join("leak.ring");
        std::fs::write(&shm, b"x").unwrap();
        std::fs::write(&file, b"x").unwrap();
        *names.lock().unwrap() = Some((shm, fx.dir.clone()));
    }));
    let err = result.expect_err("the guard must fail a test that leaks");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("leaked"), "{msg}");
    let (shm, dir) = names.lock().unwrap().take().unwrap();
    assert!(!shm.exists(), "the guard removes leaked shm objects");
    assert!(!dir.exists(), "the guard removes the test directory");
}

/// The plain quick-start consumer (`ringproof consume --ring R --id c`: batch mode, no event
/// limit) reads until the producer closes the ring.
#[test]
fn default_consumer_reads_until_close() {
    let fx = Fixture::new("default_consumer");
    let n = 1000;
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let c = r.consume("c_0", &[]);
        let p = r.produce(&refs(&[
            a("--events"),
            a(n),
            a("--wait-consumers"),
            a(1),
            a("--timeout-ms"),
            a(3000),
        ]));
        let pout = p.wait();
        if pout.code() != Some(0) {
            // Show where the consumer's cursor is (its process is still running).
            let cursor = r.open_consumer_cursor("c_0").map(|c| c.load());
            panic!(
                "the producer did not drain: consumer c_0's committed cursor is {cursor:?} after {n} events were published\n{}",
                pout.describe()
            );
        }
        pout.expect_producer_ok(n);
        let c = c.wait();
        c.expect_consumer_clean(0, n as i64 - 1);
        assert_eq!(c.i64("closed_at"), n as i64 - 1);
    }
}

/// A producer whose consumers do not come fails after its timeout (exit 2) and removes its
/// segments.
#[test]
fn missing_consumers_time_out_cleanly() {
    let fx = Fixture::new("no_consumers");
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let out = r
            .produce(&[
                "--wait-consumers",
                "1",
                "--timeout-ms",
                "200",
                "--events",
                "10",
            ])
            .wait();
        out.expect_error(&["only 0 of 1 consumers"]);
        fx.assert_clean();
    }
}

/// A producer whose consumer does not drain exits 4 after its drain timeout; the consumer,
/// still attached, drains the closed ring afterwards and then sees it closed.
#[test]
fn drain_timeout_exits_4_and_consumer_drains_closed_ring() {
    let fx = Fixture::new("drain_timeout");
    // Both backends at once, so the two drain timeouts overlap. The timeout also bounds the
    // producer's wait for the gate to join: generous, as the gate attaches right away.
    let mut runs = Vec::new();
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let p = r.produce(&[
            "--capacity",
            "64",
            "--events",
            "10",
            "--wait-consumers",
            "1",
            "--timeout-ms",
            "2000",
        ]);
        let gate = r.attach_gate("gate", 64);
        runs.push((r, p, gate));
    }
    for (r, p, mut gate) in runs {
        let out = p.wait();
        out.expect_code(4);
        assert_eq!(
            out.get("drained"),
            &Value::Bool(false),
            "{}",
            out.describe()
        );
        assert_eq!(out.u64("published"), 10);
        assert_eq!(out.i64("last_seq"), 9);
        assert_eq!(
            out.get("gating"),
            &serde_json::json!(["gate"]),
            "{}",
            out.describe()
        );
        // The producer is gone and its names are removed; the mapped ring still holds the data.
        assert!(
            !r.ring_path().exists(),
            "the producer removed its ring on exit"
        );
        gate_consume(&mut gate, 10, &mut []);
        let mut buf = [0u8; 64];
        match gate.try_next_into(&mut buf) {
            Err(ringproof::Error::Closed { final_sequence }) => assert_eq!(final_sequence, 9),
            other => panic!("expected Closed after draining, got {other:?}"),
        }
        drop(gate);
    }
    fx.assert_clean();
}

/// A consumer with another event size is refused (exit 2, "element size"), leaves nothing,
/// and does not disturb the ring: a right consumer still gets everything.
#[test]
fn bad_element_size_is_refused() {
    let fx = Fixture::new("bad_size");
    let n = 1000;
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let p = r.produce(&refs(&[
            a("--size"),
            a(64),
            a("--events"),
            a(n),
            a("--wait-consumers"),
            a(1),
            a("--timeout-ms"),
            a(TIMEOUT),
        ]));
        let bad = r
            .consume("c_bad", &["--size", "16", "--attach-timeout-ms", "60000"])
            .wait();
        bad.expect_error(&["element size"]);
        assert!(
            !r.consumer_cursor_path("c_bad").exists(),
            "refused consumer left its cursor"
        );
        let c = r.consume("c_0", &refs(&[a("--size"), a(64), a("--events"), a(n)]));
        let outs = wait_all(vec![p, c]);
        outs[0].expect_producer_ok(n);
        outs[1].expect_consumer_clean(0, n as i64 - 1);
    }
}

/// Attaching to a ring that does not exist, without waiting, fails at once.
#[test]
fn missing_ring_is_reported() {
    let fx = Fixture::new("missing");
    for backend in BACKENDS {
        let r = fx.ring(backend, "nope");
        let start = std::time::Instant::now();
        r.consume("c_0", &["--attach-timeout-ms", "0"])
            .wait()
            .expect_error(&["does not exist"]);
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
        // With a short wait it retries, then reports the same.
        r.consume("c_0", &["--attach-timeout-ms", "100"])
            .wait()
            .expect_error(&["does not exist"]);
    }
}

fn plant(path: &std::path::Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn garbage(len: usize, seed: u64) -> Vec<u8> {
    (0..len as u64)
        .map(|i| (ringproof::kit::payload::mix(seed ^ i) as u8) | 1)
        .collect()
}

/// Foreign files under the ring's names are recognised as such, never mapped as a ring.
#[test]
fn foreign_files_are_rejected() {
    let fx = Fixture::new("foreign");
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let mut planted = vec![r.ring_path()];
        planted.extend(r.other_paths());
        for (i, path) in planted.iter().enumerate() {
            plant(path, &garbage(200, i as u64));
        }
        let out = r.consume("c_0", &["--attach-timeout-ms", "0"]).wait();
        out.expect_error(&["bad magic", "not a LayoutV1"]);
        // Retrying cannot help: a bad magic is reported at once, whatever the attach timeout.
        let out = r
            .consume("c_0", &["--attach-timeout-ms", "60000"])
            .wait_for(std::time::Duration::from_secs(30));
        out.expect_error(&["bad magic"]);
        // The right magic with a broken header.
        let mut header = garbage(200, 99);
        header[..8].copy_from_slice(b"DSMPTV01");
        header[8..10].copy_from_slice(&1u16.to_le_bytes());
        plant(&r.ring_path(), &header);
        r.consume("c_0", &["--attach-timeout-ms", "0"])
            .wait()
            .expect_error(&["checksum"]);
        assert!(
            !r.consumer_cursor_path("c_0").exists(),
            "refused consumer left its cursor"
        );
        for path in &planted {
            std::fs::remove_file(path).unwrap();
        }
    }
}

/// A copy of a real ring, cut short: reported as truncated (or shorter than a header), never
/// mapped past its end.
#[test]
fn truncated_ring_is_rejected() {
    let fx = Fixture::new("truncated");
    let n = 100;
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let mut p = r.produce(&refs(&[
            a("--capacity"),
            a(1024),
            a("--events"),
            a(n),
            a("--wait-consumers"),
            a(1),
            a("--timeout-ms"),
            a(TIMEOUT),
        ]));
        wait_until("the ring to be created", &mut [&mut p], || {
            r.ring_is_valid()
        });
        let bytes = r.ring_bytes();
        assert!(bytes.len() > 1024 * 64);
        let cut = fx.ring(backend, "cut");
        plant(&cut.ring_path(), &bytes[..bytes.len() / 2]);
        cut.consume("c_0", &["--attach-timeout-ms", "0"])
            .wait()
            .expect_error(&["truncated"]);
        plant(&cut.ring_path(), &bytes[..40]);
        cut.consume("c_0", &["--attach-timeout-ms", "0"])
            .wait()
            .expect_error(&["shorter"]);
        std::fs::remove_file(cut.ring_path()).unwrap();
        let c = r.consume("c_0", &refs(&[a("--events"), a(n)]));
        let outs = wait_all(vec![p, c]);
        outs[0].expect_producer_ok(n);
        outs[1].expect_consumer_clean(0, n as i64 - 1);
    }
}

/// A second producer on a live ring is refused and does not disturb the first.
#[test]
fn second_producer_is_refused() {
    let fx = Fixture::new("two_producers");
    let n = events(10_000);
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let mut p = r.produce(&refs(&[
            a("--capacity"),
            a(64),
            a("--events"),
            a(n),
            a("--wait-consumers"),
            a(1),
            a("--timeout-ms"),
            a(TIMEOUT),
        ]));
        wait_until("the ring to be created", &mut [&mut p], || {
            r.ring_is_valid()
        });
        r.produce(&["--capacity", "64", "--events", "10"])
            .wait()
            .expect_error(&["live producer"]);
        assert!(
            r.ring_is_valid() && r.other_paths().iter().all(|p| p.exists()),
            "the refused producer removed the live ring's segments"
        );
        let c = r.consume("c_0", &refs(&[a("--events"), a(n)]));
        let outs = wait_all(vec![p, c]);
        outs[0].expect_producer_ok(n);
        outs[1].expect_consumer_clean(0, n as i64 - 1);
    }
}

/// A producer refused because a foreign file holds the ring's name leaves the file alone and
/// creates nothing that outlives it.
#[test]
fn producer_over_foreign_file_leaves_nothing() {
    let fx = Fixture::new("foreign_producer");
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let junk = garbage(200, 7);
        plant(&r.ring_path(), &junk);
        r.produce(&["--events", "10"])
            .wait()
            .expect_error(&["already exists"]);
        assert_eq!(
            std::fs::read(r.ring_path()).unwrap(),
            junk,
            "the foreign file was modified"
        );
        std::fs::remove_file(r.ring_path()).unwrap();
        fx.assert_clean();
    }
}

/// A consumer id held by a live consumer is refused (exit 2) without touching that consumer's
/// cursor.
#[test]
fn live_consumer_id_is_refused() {
    let fx = Fixture::new("id_in_use");
    let n = 1000;
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let mut p = r.produce(&refs(&[
            a("--events"),
            a(n),
            a("--wait-consumers"),
            a(1),
            a("--timeout-ms"),
            a(TIMEOUT),
        ]));
        let mut gate = r.attach_gate("c_0", 64);
        r.consume("c_0", &["--attach-timeout-ms", "0"])
            .wait()
            .expect_error(&["in use"]);
        gate_consume(&mut gate, n, &mut [&mut p]);
        drop(gate);
        p.wait().expect_producer_ok(n);
    }
}

/// A consumer refused because every registry slot is taken leaves no cursor behind.
#[test]
fn full_registry_refusal_leaves_nothing() {
    let fx = Fixture::new("registry_full");
    let n = 10;
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let mut p = r.produce(&refs(&[
            a("--events"),
            a(n),
            a("--wait-consumers"),
            a(64),
            a("--timeout-ms"),
            a(TIMEOUT),
        ]));
        let mut gates: Vec<_> = (0..64)
            .map(|i| r.attach_gate(&format!("g{i}"), 64))
            .collect();
        let out = r.consume("c_x", &["--attach-timeout-ms", "0"]).wait();
        out.expect_error(&["no free slot"]);
        let leaked = r.consumer_cursor_path("c_x").exists();
        for g in gates.iter_mut() {
            gate_consume(g, n, &mut [&mut p]);
        }
        drop(gates);
        p.wait().expect_producer_ok(n);
        if leaked {
            let _ = std::fs::remove_file(r.consumer_cursor_path("c_x"));
        }
        assert!(
            !leaked,
            "{:?}: the refused consumer left its cursor {}",
            backend,
            r.consumer_cursor_path("c_x").display()
        );
    }
}

/// Invalid configurations are refused before anything is created.
#[test]
fn bad_configuration_is_refused() {
    let fx = Fixture::new("bad_config");
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        r.produce(&["--capacity", "3", "--events", "10"])
            .wait()
            .expect_error(&["power of two"]);
        r.produce(&["--capacity", "0", "--events", "10"])
            .wait()
            .expect_error(&["power of two"]);
        r.produce(&["--size", "0", "--events", "10"])
            .wait()
            .expect_error(&["--size 0"]);
        r.consume("producer", &["--attach-timeout-ms", "0"])
            .wait()
            .expect_error(&["invalid name"]);
        r.consume(&"x".repeat(49), &["--attach-timeout-ms", "0"])
            .wait()
            .expect_error(&["invalid name"]);
        let mut args = vec!["produce".to_owned(), "--ring".into(), "a/b".into()];
        if backend == Backend::Dir {
            args.extend(["--dir".to_owned(), fx.dir.display().to_string()]);
        }
        Proc::spawn("producer[a/b]", &args)
            .wait()
            .expect_error(&["invalid name"]);
        fx.assert_clean();
    }
}

/// The test payload needs whole 8-byte words: a producer asked for another event size must
/// refuse (exit 2) rather than publish events it could not fill and report success.
#[test]
fn payload_size_not_multiple_of_8_is_refused() {
    let fx = Fixture::new("size12");
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let out = r.produce(&["--size", "12", "--events", "10"]).wait();
        out.expect_error(&["multiple of 8"]);
        fx.assert_clean();
    }
}
