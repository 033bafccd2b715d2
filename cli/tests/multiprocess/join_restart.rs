//! Consumers joining mid-stream, and consumers SIGKILLed and restarted under their id.

use super::*;

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
    // dies (a dead non-required consumer stops gating: that is liveness/'s subject).
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
