//! 8. A stalled (SIGSTOPped) required consumer.

use super::*;

/// The gate holds the producer at `head`; required consumer c_1 catches up and is SIGSTOPped
/// (alive, but commits nothing); the gate leaves, so the producer blocks on c_1 one ring later.
/// Past the progress timeout the producer alerts (dead: false). With `cont_after_alert`, c_1 is
/// SIGCONTinued (well within the grace period): the stream completes. Otherwise the test waits
/// for the action.
fn stalled_required_consumer(
    backend: Backend,
    action: &str,
    grace_ms: u64,
    cont_after_alert: bool,
) {
    let fx = Fixture::new(&format!("stall_{action}_{backend:?}"));
    let r = fx.ring(backend, "r");
    let n = events(20_000) as i64;
    let hold = n / 4;
    let head = hold + CAP - 1;
    let progress_ms = 200u64;
    let mut p = r.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(n),
        a("--wait-consumers"),
        a(3),
        a("--timeout-ms"),
        a(TIMEOUT),
        a("--required"),
        a("c_1"),
        a("--action"),
        a(action),
        a("--progress-timeout-ms"),
        a(progress_ms),
        a("--grace-ms"),
        a(grace_ms),
    ]));
    let mut c_0 = r.consume("c_0", &["--mode", "copy"]);
    let mut c_1 = r.consume("c_1", &["--mode", "batch"]);
    let mut gate = r.attach_gate("gate", 64);
    gate_consume(&mut gate, hold as u64, &mut [&mut p, &mut c_0, &mut c_1]);
    wait_producer_at(
        &r,
        head,
        "the producer to stop one ring ahead of the gate",
        &mut [&mut p, &mut c_0, &mut c_1],
    );
    wait_consumer_at(&r, "c_1", head, &mut [&mut p, &mut c_0, &mut c_1]);
    stop(&mut c_1);
    drop(gate);
    let limit = head + CAP;
    wait_producer_at(
        &r,
        limit,
        "the producer to block on the stopped consumer",
        &mut [&mut p, &mut c_0, &mut c_1],
    );
    let blocked = Instant::now();
    let reg = registry(&r);

    // Stopped is not dead: its id cannot be taken over, and the refusal changes nothing.
    let slot = slot_of(&reg, "c_1");
    let incarnation = reg.slot(slot).incarnation.load(Ordering::Acquire);
    r.consume("c_1", &["--attach-timeout-ms", "0"])
        .wait()
        .expect_error(&["in use", &format!("process {}", c_1.pid())]);
    assert_eq!(
        reg.slot(slot).incarnation.load(Ordering::Acquire),
        incarnation
    );
    assert_eq!(cursor_file_value(&r.consumer_cursor_path("c_1")), head);

    if cont_after_alert {
        // The stall began no earlier than `blocked`; wait out the configured progress timeout,
        // then for a liveness check after it: the alert has been raised.
        std::thread::sleep(Duration::from_millis(progress_ms + 100));
        producer_looked(&reg, &mut [&mut p, &mut c_0, &mut c_1]);
        assert_producer_stays(&r, limit, &mut p);
        if action == "shutdown" {
            assert!(
                blocked.elapsed() < Duration::from_millis(grace_ms),
                "the test took {:?}, longer than the grace period it means to stay within",
                blocked.elapsed()
            );
        }
        cont(&mut c_1);
        let outs = wait_all(vec![p, c_0, c_1]);
        outs[0].expect_producer_ok(n as u64);
        let al = alerts(&outs[0]);
        assert!(
            !al.is_empty(),
            "no alert for the stalled consumer\n{}",
            outs[0].describe()
        );
        assert!(
            al.iter().all(|a| a.0 == "c_1" && !a.2),
            "{}",
            outs[0].describe()
        );
        let first = &al[0];
        assert_eq!(
            first.1,
            head,
            "the alert names where c_1 stopped\n{}",
            outs[0].describe()
        );
        assert!(
            first.3 >= progress_ms,
            "alerted after {} ms, before the progress timeout",
            first.3
        );
        outs[1].expect_consumer_clean(0, n - 1);
        outs[2].expect_consumer_clean(0, n - 1);
    } else {
        let out = p.wait();
        let alert = expect_shutdown_on(&out, "c_1", head, false);
        assert!(alert.3 >= progress_ms);
        assert_eq!(out.i64("last_seq"), limit, "{}", out.describe());
        // The stopped consumer, continued, drains the closed ring.
        cont(&mut c_1);
        let outs = wait_all(vec![c_0, c_1]);
        for o in &outs {
            o.expect_consumer_clean(0, limit);
            assert_eq!(o.i64("closed_at"), limit, "{}", o.describe());
        }
    }
    drop(reg);
    fx.assert_clean();
}

#[test]
fn stopped_required_consumer_alerts_and_recovers_on_sigcont_alert_shm() {
    stalled_required_consumer(Backend::Shm, "alert", 300, true);
}

#[test]
fn stopped_required_consumer_recovers_within_grace_shutdown_dir() {
    stalled_required_consumer(Backend::Dir, "shutdown", 10_000, true);
}

#[test]
fn stopped_required_consumer_past_grace_shuts_down_shm() {
    stalled_required_consumer(Backend::Shm, "shutdown", 300, false);
}

// ---------------------------------------------------------------------------------------------
// 9. `ringproof rm`.

/// A ring whose producer and consumers were all SIGKILLed (one left an unreaped zombie) is
/// removed by `ringproof rm`; while any participant runs, rm refuses and names it.
fn rm_after_crash(backend: Backend) {
    let fx = Fixture::new(&format!("rm_{backend:?}"));
    let r = fx.ring(backend, "r");
    let mut p = r.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(1_000_000_000u64),
        a("--wait-consumers"),
        a(2),
        a("--timeout-ms"),
        a(TIMEOUT),
    ]));
    let mut c_0 = r.consume("c_0", &["--mode", "copy"]);
    let mut c_1 = r.consume("c_1", &["--mode", "batch"]);
    let pc = r.open_producer_cursor_waiting(&mut [&mut p, &mut c_0, &mut c_1]);
    wait_until(
        "the stream to flow",
        &mut [&mut p, &mut c_0, &mut c_1],
        || pc.load() >= 1000,
    );

    let out = rm(&r, &[]);
    out.expect_error(&["live participant", &format!("pid {}", p.pid())]);
    p.kill();
    let out = rm(&r, &[]);
    out.expect_error(&["live participant"]);
    let e = out.error();
    assert!(
        e.contains(&format!("pid {}", c_0.pid())) || e.contains(&format!("pid {}", c_1.pid())),
        "rm names neither live consumer: {e}"
    );
    assert!(r.ring_is_valid(), "a refused rm removed the ring");
    c_0.kill();
    c_1.kill_leave_zombie();
    let expected = rm_names(&r, &["c_0", "c_1"]);
    let out = rm(&r, &[]);
    out.expect_code(0);
    assert_eq!(removed(&out), expected, "{}", out.describe());
    fx.assert_clean();
    // Nothing left: rm says so.
    rm(&r, &[]).expect_error(&["does not exist"]);
    drop(c_1);
}

#[test]
fn rm_removes_a_crashed_ring_and_refuses_a_live_one_shm() {
    rm_after_crash(Backend::Shm);
}

#[test]
fn rm_removes_a_crashed_ring_and_refuses_a_live_one_dir() {
    rm_after_crash(Backend::Dir);
}

/// `rm` of a crashed shm ring `X` must not touch a live ring whose name merely starts with
/// `X_`: with disruptor-mp's names, `X_b_producer_seq` and `X_b_c_0_seq` (ring `X_b`) look
/// like consumer cursors `b_producer` and `b_c_0` of ring `X`.
#[test]
fn rm_leaves_a_live_ring_with_a_longer_name_alone() {
    let fx = Fixture::new("rm_prefix");
    let dead = fx.ring(Backend::Shm, "a");
    let live = fx.ring(Backend::Shm, "a_b");
    let n = events(2_000) as i64;
    let mut pd = dead.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(1_000_000_000u64),
        a("--timeout-ms"),
        a(TIMEOUT),
    ]));
    let pc = dead.open_producer_cursor_waiting(&mut [&mut pd]);
    wait_until("the dead-to-be ring to publish", &mut [&mut pd], || {
        pc.load() >= 100
    });
    pd.kill();

    let mut p = live.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(n),
        a("--wait-consumers"),
        a(1),
        a("--timeout-ms"),
        a(TIMEOUT),
    ]));
    let mut gate = live.attach_gate("c_0", 64);
    gate_consume(&mut gate, 1, &mut [&mut p]);
    wait_producer_at(
        &live,
        CAP,
        "the live producer to block on its consumer",
        &mut [&mut p],
    );
    let live_names = {
        let mut v = vec![live.ring_path(), live.consumer_cursor_path("c_0")];
        v.extend(live.other_paths());
        v
    };
    assert!(live_names.iter().all(|p| p.exists()));

    let expected = rm_names(&dead, &[]);
    let out = rm(&dead, &[]);
    out.expect_code(0);
    let missing: Vec<String> = live_names
        .iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    let got = removed(&out);
    // Whatever happens, let the live ring finish before judging.
    gate_consume(&mut gate, (n - 1) as u64, &mut [&mut p]);
    drop(gate);
    let pout = p.wait();
    assert!(
        missing.is_empty(),
        "`ringproof rm --ring {}` removed names of the live ring {}: {missing:?} (rm reported {got:?})",
        dead.name,
        live.name
    );
    assert_eq!(got, expected, "{}", out.describe());
    pout.expect_producer_ok(n as u64);
    fx.assert_clean();
}

// ---------------------------------------------------------------------------------------------

trait RingExt {
    fn open_producer_cursor_waiting(
        &self,
        procs: &mut [&mut Proc],
    ) -> ringproof::kit::cursor::Cursor;
}

impl RingExt for Ring {
    fn open_producer_cursor_waiting(
        &self,
        procs: &mut [&mut Proc],
    ) -> ringproof::kit::cursor::Cursor {
        wait_until("the producer cursor to exist", procs, || {
            self.open_producer_cursor().is_some()
        });
        self.open_producer_cursor().expect("producer cursor")
    }
}

// ---------------------------------------------------------------------------------------------
// 10. The evict action.

/// A required consumer stopped (SIGSTOP) past its progress timeout and grace period under
/// `--action evict` is evicted: its slot becomes EVICTED, the producer moves on and finishes,
/// the other consumer loses nothing, and the evicted consumer, once continued, gets the typed
/// "evicted" error naming exactly the sequences it missed (SPEC.md §7.10).
fn evicted_required_consumer(backend: Backend, kill: bool) {
    let fx = Fixture::new(&format!("evict_{backend:?}_{kill}"));
    let r = fx.ring(backend, "r");
    let n = events(20_000) as i64;
    let hold = n / 4;
    let head = hold + CAP - 1;
    let progress_ms = 200u64;
    let mut p = r.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(n),
        a("--wait-consumers"),
        a(3),
        a("--timeout-ms"),
        a(TIMEOUT),
        a("--required"),
        a("c_1"),
        a("--action"),
        a("evict"),
        a("--progress-timeout-ms"),
        a(progress_ms),
        a("--grace-ms"),
        a(300),
    ]));
    let mut c_0 = r.consume("c_0", &["--mode", "copy"]);
    let mut c_1 = r.consume("c_1", &["--mode", "batch"]);
    let mut gate = r.attach_gate("gate", 64);
    gate_consume(&mut gate, hold as u64, &mut [&mut p, &mut c_0, &mut c_1]);
    wait_producer_at(
        &r,
        head,
        "the producer to stop one ring ahead of the gate",
        &mut [&mut p, &mut c_0, &mut c_1],
    );
    wait_consumer_at(&r, "c_1", head, &mut [&mut p, &mut c_0, &mut c_1]);
    // Its slot while it is still active: once killed, the producer may evict it at once.
    let reg = registry(&r);
    let slot = slot_of(&reg, "c_1");
    if kill {
        c_1.kill();
    } else {
        stop(&mut c_1);
    }
    drop(gate);

    // Evicted (a dead one at once, a stopped one after progress timeout + grace); the
    // producer then finishes without it.
    let out = p.wait();
    out.expect_producer_ok(n as u64);
    let al = alerts(&out);
    assert_eq!(al.len(), 1, "{}", out.describe());
    assert_eq!(
        (al[0].0.as_str(), al[0].1, al[0].2),
        ("c_1", head, kill),
        "{}",
        out.describe()
    );
    // A killed evicted consumer is dead at the close: the producer reaps its slot and cursor
    // (SPEC.md §7.6). A stopped one still lives, and keeps both until it restarts.
    let expected_state = if kill { SLOT_FREE } else { SLOT_EVICTED };
    assert_eq!(
        reg.slot_state(slot),
        expected_state,
        "the required consumer's slot after the close"
    );
    let c_0 = c_0.wait();
    c_0.expect_consumer_clean(0, n - 1);
    if !kill {
        // Continued, it learns it was evicted, with the exact range it missed.
        cont(&mut c_1);
        let out = c_1.wait();
        out.expect_error(&[
            "\"c_1\" was evicted",
            &format!("missed sequences {}..={}", head + 1, n - 1),
        ]);
    }
    drop(reg);
    remove_dead_cursors(&fx, &r, if kill { &[] } else { &["c_1"] });
}

#[test]
fn evicted_required_consumer_is_told_what_it_missed_shm() {
    evicted_required_consumer(Backend::Shm, false);
}

#[test]
fn evicted_required_consumer_is_told_what_it_missed_dir() {
    evicted_required_consumer(Backend::Dir, false);
}

/// SIGKILLed instead of stopped: evicted at once (no progress timeout), and the producer keeps
/// publishing; the other consumer loses nothing.
#[test]
fn dead_required_consumer_is_evicted_at_once_shm() {
    evicted_required_consumer(Backend::Shm, true);
}
