//! 5. A live producer is never displaced.

use super::*;

fn second_producer_refused(backend: Backend) {
    let fx = Fixture::new(&format!("live_producer_{backend:?}"));
    let r = fx.ring(backend, "r");
    let n = events(5_000) as i64;
    let hold = n / 4;
    let head = hold + CAP - 1;
    let mut p = r.produce(&refs(&[
        a("--capacity"),
        a(CAP),
        a("--events"),
        a(n),
        a("--wait-consumers"),
        a(2),
        a("--timeout-ms"),
        a(TIMEOUT),
    ]));
    let mut c_0 = r.consume("c_0", &["--mode", "copy"]);
    let mut gate = r.attach_gate("gate", 64);
    gate_consume(&mut gate, hold as u64, &mut [&mut p, &mut c_0]);
    wait_producer_at(
        &r,
        head,
        "the producer to block on the gate",
        &mut [&mut p, &mut c_0],
    );
    let reg = registry(&r);

    let pid = p.pid();
    let out = r
        .produce(&refs(&[a("--capacity"), a(CAP), a("--events"), a(10)]))
        .wait();
    out.expect_error(&["live producer", &format!("pid {pid}")]);
    // A different geometry is refused the same way (ownership is checked first).
    r.produce(&["--capacity", "8", "--size", "16", "--events", "10"])
        .wait()
        .expect_error(&["live producer", &format!("pid {pid}")]);
    assert_eq!(
        reg.producer_pid(),
        pid,
        "the refused producer changed the owner"
    );
    assert_eq!(
        reg.control().producer_starts.load(Ordering::Acquire),
        1,
        "the refused producer counted as a start"
    );
    assert!(
        reg.closed().is_none(),
        "the refused producer closed the ring"
    );
    assert!(
        r.ring_is_valid() && r.other_paths().iter().all(|p| p.exists()),
        "the refused producer removed names"
    );
    assert_producer_stays(&r, head, &mut p);

    drop(gate);
    let outs = wait_all(vec![p, c_0]);
    outs[0].expect_producer_ok(n as u64);
    outs[1].expect_consumer_clean(0, n - 1);
    drop(reg);
    fx.assert_clean();
}

#[test]
fn live_producer_refuses_a_second_one_shm() {
    second_producer_refused(Backend::Shm);
}

#[test]
fn live_producer_refuses_a_second_one_dir() {
    second_producer_refused(Backend::Dir);
}
