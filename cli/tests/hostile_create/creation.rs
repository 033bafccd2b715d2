//! F3: a producer stalled inside the creation of its registry never deletes the winner's.

use super::*;

fn stalled_creator(fx: &Fixture, backend: Backend) {
    let ring = fx.ring(backend, &format!("stall{}", backend as u8));
    let name = ring.ring_name();
    let (dir, reg) = match backend {
        Backend::Shm => (PathBuf::from("/dev/shm"), format!("{}_registry", ring.name)),
        Backend::Dir => (fx.dir.clone(), format!("{}.registry", ring.name)),
    };
    // A: stalls 3 s right after sizing its registry (before its header), then goes on.
    let a = role(
        &ring,
        "produce",
        &["--events", "10", "--capacity", "16"],
        &[("RINGPROOF_FAILPOINT", "segment.create@1:sleep=3000")],
    );
    wait_until("A to start creating its registry", &mut [], || {
        name_or_temp_exists(&dir, &reg)
    });
    let events = events(20_000);
    // B: the same ring, meanwhile; waits for one consumer, publishes through a 16-slot ring.
    let b = role(
        &ring,
        "produce",
        &[
            "--events",
            &events.to_string(),
            "--capacity",
            "16",
            "--wait-consumers",
            "1",
            "--timeout-ms",
            PRODUCER_TIMEOUT_MS,
        ],
        &[],
    );
    let b_pid = b.0.pid();
    wait_until("B to own the ring", &mut [], || {
        Registry::open(&name.registry()).is_ok_and(|r| r.producer_pid() == b_pid)
    });
    let reg_before = ringproof::kit::segment::identity_of(&name.registry());
    let out_a = a.wait();
    out_a.expect_error(&["live producer"]);
    assert_eq!(
        ringproof::kit::segment::identity_of(&name.registry()),
        reg_before,
        "A's failure touched B's registry"
    );
    // A consumer that comes after A's failure is gated by B: a 16-slot ring, TP1-checked.
    let c = role(&ring, "consume", &["--id", "c"], &[]);
    let out_b = b.wait();
    let out_c = c.wait();
    out_b.expect_producer_ok(events);
    out_c.expect_consumer_clean(0, events as i64 - 1);
    assert_nothing_left(fx);
}

#[test]
fn stalled_creator_never_removes_the_winners_registry() {
    let fx = Fixture::new("stall");
    for backend in BACKENDS {
        stalled_creator(&fx, backend);
    }
}

// ---------------------------------------------------------------------------------------------
// F19: two producers started at once: each runs, or is told the ring has a live producer.

#[test]
fn racing_producers_each_run_or_see_a_live_producer() {
    let fx = Fixture::new("race");
    let pairs = 100;
    let mut refused = 0;
    for i in 0..pairs {
        let ring = fx.ring(
            if i % 2 == 0 {
                Backend::Shm
            } else {
                Backend::Dir
            },
            "r",
        );
        let p1 = role(&ring, "produce", &["--events", "5", "--capacity", "8"], &[]);
        let p2 = role(&ring, "produce", &["--events", "5", "--capacity", "8"], &[]);
        for out in [p1.wait(), p2.wait()] {
            match out.code() {
                Some(0) => {}
                _ => {
                    out.expect_error(&["live producer"]);
                    refused += 1;
                }
            }
        }
        assert_nothing_left(&fx);
    }
    fx.report(&format!(
        "{pairs} pairs, {refused} refused with a live producer"
    ));
}

// ---------------------------------------------------------------------------------------------
// F9 (restart): a truncated registry or producer cursor is reported, never removed.

#[test]
fn truncated_segments_are_reported_and_never_removed_on_restart() {
    let fx = Fixture::new("trunc");
    for backend in BACKENDS {
        for victim in ["registry", "producer cursor"] {
            let ring = fx.ring(backend, &format!("t{}{}", backend as u8, victim.len()));
            let name = ring.ring_name();
            crashed_ring(&ring, 64);
            let path = path_of(&if victim == "registry" {
                name.registry()
            } else {
                name.producer_cursor()
            });
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .expect("open victim")
                .set_len(0)
                .expect("truncate");
            let out = role(
                &ring,
                "produce",
                &["--capacity", "64", "--events", "10"],
                &[],
            )
            .wait();
            out.expect_error(&["damaged", "rm --force"]);
            for p in [name.registry(), name.producer_cursor(), name.ring()] {
                assert!(
                    path_of(&p).exists(),
                    "{victim} case: {p} was removed by the failed restart"
                );
            }
            remove_planted(&fx);
        }
    }
    assert_nothing_left(&fx);
}

// ---------------------------------------------------------------------------------------------
// F21 (restart bookkeeping): a restart that fails does not count as a producer start.

#[test]
fn failed_restart_does_not_count_a_start() {
    let fx = Fixture::new("starts");
    for backend in BACKENDS {
        let ring = fx.ring(backend, "s");
        let name = ring.ring_name();
        crashed_ring(&ring, 64);
        let starts = || {
            Registry::open(&name.registry())
                .expect("registry")
                .control()
                .producer_starts
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        assert_eq!(starts(), 1);
        // Wrong capacity: the restart is refused after it claimed the registry.
        role(
            &ring,
            "produce",
            &["--capacity", "128", "--events", "10"],
            &[],
        )
        .wait()
        .expect_error(&["capacity"]);
        assert_eq!(starts(), 1, "a failed restart counted as a start");
        role(
            &ring,
            "produce",
            &["--capacity", "64", "--events", "10"],
            &[],
        )
        .wait()
        .expect_producer_ok(10);
        // The successful restart counted (its registry is gone with its clean close).
        assert_nothing_left(&fx);
    }
}
