//! 6. A required consumer SIGKILLed at an arbitrary point of a flowing stream, restarted.

use super::*;

/// c_1 (required, alert, batch reads: one commit per batch) is SIGKILLed while the stream
/// flows: events it read but had not committed are lost with it. Its slot keeps gating, so the
/// producer stops one ring past the committed cursor; the restart takes over, resumes at
/// committed + 1 (duplicates are possible only in committed+1..=committed+capacity, what the
/// dead one may have read), and sees everything to the end.
fn required_consumer_killed_mid_flow(backend: Backend) {
    let fx = Fixture::new(&format!("kill_flow_{backend:?}"));
    let r = fx.ring(backend, "r");
    let n = events(50_000) as i64;
    let mut p = r.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(n),
        a("--wait-consumers"),
        a(2),
        a("--timeout-ms"),
        a(TIMEOUT),
        a("--required"),
        a("c_1"),
        a("--action"),
        a("alert"),
        a("--progress-timeout-ms"),
        a(30_000),
        a("--grace-ms"),
        a(30_000),
    ]));
    let mut c_0 = r.consume("c_0", &["--mode", "copy"]);
    let mut c_1 = r.consume("c_1", &["--mode", "batch"]);
    wait_until("c_1 to join", &mut [&mut p, &mut c_0, &mut c_1], || {
        r.active_ids().iter().any(|id| id == "c_1")
    });
    let c1 = r.open_consumer_cursor("c_1").expect("c_1 cursor");
    wait_until(
        "c_1 to be under way",
        &mut [&mut p, &mut c_0, &mut c_1],
        || c1.load() >= 1000,
    );
    c_1.kill();
    let committed = cursor_file_value(&r.consumer_cursor_path("c_1"));
    assert_eq!(committed, c1.load());
    assert!(
        committed + CAP < n - 1,
        "the stream ended before the kill (committed {committed} of {n}): raise the event count"
    );
    let limit = committed + CAP;
    wait_producer_at(
        &r,
        limit,
        "the producer to stop one ring past the dead required consumer",
        &mut [&mut p, &mut c_0],
    );
    let reg = registry(&r);
    producer_looked(&reg, &mut [&mut p, &mut c_0]);
    assert_producer_stays(&r, limit, &mut p);

    let again = r.consume("c_1", &["--mode", "batch"]);
    let outs = wait_all(vec![p, c_0, again]);
    outs[0].expect_producer_ok(n as u64);
    assert!(
        alerts(&outs[0])
            .iter()
            .any(|a| a.0 == "c_1" && a.1 == committed && a.2),
        "no dead alert for c_1\n{}",
        outs[0].describe()
    );
    outs[1].expect_consumer_clean(0, n - 1);
    let o = &outs[2];
    assert_eq!(
        o.i64("start_seq"),
        committed + 1,
        "resumes right after the commit\n{}",
        o.describe()
    );
    o.expect_consumer_clean(committed + 1, n - 1);
    drop(reg);
    drop(c_1);
    fx.assert_clean();
}

#[test]
fn required_consumer_killed_mid_flow_resumes_shm() {
    required_consumer_killed_mid_flow(Backend::Shm);
}

#[test]
fn required_consumer_killed_mid_flow_resumes_dir() {
    required_consumer_killed_mid_flow(Backend::Dir);
}
