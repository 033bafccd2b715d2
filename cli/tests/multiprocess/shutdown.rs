//! Blocking waits woken by events and by the close; what a clean shutdown leaves (nothing), and the guard that checks it.

use super::*;

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
        let shm = shm_path(format!("{}_leak", fx.prefix));
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
