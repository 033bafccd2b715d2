//! F11: a heartbeat from the future never keeps a dead consumer alive.

use super::*;

/// Kills a namespaced consumer and waits until its process is gone, then stamps its slot with a
/// heartbeat 100000 s in the future (what a peer with a time namespace ahead, and no
/// correction, writes; or a hostile one).
fn kill_and_stamp_future(c: &mut NsConsumer, reg: &Registry, slot: usize) {
    let inner = c.inner_pid();
    c.kill();
    wait_until("the namespaced consumer to die", &mut [], || dead(inner));
    let future = ringproof::kit::process::boottime_ns() + 100_000 * 1_000_000_000;
    reg.slot(slot).heartbeat.store(future, Ordering::Relaxed);
}

/// F11: a heartbeat from the future (a consumer in a time namespace 100000 s ahead) must not
/// keep a dead consumer alive: the blocked producer retires it and goes on.
#[test]
fn f11_a_heartbeat_from_the_future_does_not_keep_a_dead_consumer_gating() {
    let flags = ["--time", "--boottime", "100000", "--pid"];
    if !can_unshare(&flags) {
        eprintln!("skipped: this machine cannot create a time + pid namespace (unshare --time --boottime 100000 --pid failed)");
        return;
    }
    let fx = Fixture::new("f11p");
    let ring = fx.ring(Backend::Shm, "p");
    let events = 200_000u64;
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
    let mut c = NsConsumer::spawn(&flags, &ring, "c_fut", &["--wait", "sleep"]);
    let reg = open_registry(&ring, &mut [&mut p]);
    wait_until("the namespaced consumer to join", &mut [&mut p], || {
        reg.active().iter().any(|p| p.id == "c_fut")
    });
    let slot = slot_of(&reg, "c_fut").expect("slot");
    let pc = ring.open_producer_cursor().expect("producer cursor");
    wait_until("events to flow", &mut [&mut p], || pc.load() >= 100);
    // Stop it first, so that it dies while the producer still needs it (with 8 slots the
    // producer cannot finish without it): otherwise a fast consumer reads everything before
    // the kill, the producer closes while its fresh heartbeat still says alive, and nothing
    // here is tested.
    let inner = c.inner_pid();
    signal(inner, "-STOP");
    wait_until("the namespaced consumer to stop", &mut [&mut p], || {
        proc_stat(inner).is_some_and(|s| s.state == 'T')
    });
    assert!(
        pc.load() < events as i64 - 1,
        "the consumer read everything before it was stopped: raise the event count"
    );
    kill_and_stamp_future(&mut c, &reg, slot);
    // Bounded: the dead consumer is retired within the heartbeat timeout, not never.
    p.wait_for(Duration::from_secs(30))
        .expect_producer_ok(events);
    drop(reg);
}

/// F11: producer and consumer both died, the consumer's heartbeat is from the future:
/// `ringproof rm` removes the ring instead of refusing forever.
#[test]
fn f11_rm_is_not_refused_by_a_heartbeat_from_the_future() {
    let flags = ["--time", "--boottime", "100000", "--pid"];
    if !can_unshare(&flags) {
        eprintln!("skipped: this machine cannot create a time + pid namespace (unshare --time --boottime 100000 --pid failed)");
        return;
    }
    let fx = Fixture::new("f11rm");
    let ring = fx.ring(Backend::Shm, "rm");
    let mut p = ring.produce(&[
        "--capacity",
        "8",
        "--events",
        "100000000",
        "--wait-consumers",
        "1",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
    ]);
    let mut c = NsConsumer::spawn(&flags, &ring, "c_fut", &["--wait", "sleep"]);
    let reg = open_registry(&ring, &mut [&mut p]);
    wait_until("the namespaced consumer to join", &mut [&mut p], || {
        reg.active().iter().any(|p| p.id == "c_fut")
    });
    let slot = slot_of(&reg, "c_fut").expect("slot");
    let pc = ring.open_producer_cursor().expect("producer cursor");
    wait_until("events to flow", &mut [&mut p], || pc.load() >= 100);
    p.kill();
    kill_and_stamp_future(&mut c, &reg, slot);
    let mut args = vec!["rm".to_owned()];
    args.extend(ring.args());
    let out = Proc::spawn("rm", &args).wait();
    out.expect_code(0);
    assert!(
        !out.get("removed")
            .as_array()
            .expect("removed list")
            .is_empty(),
        "{}",
        out.describe()
    );
    drop(reg);
}
