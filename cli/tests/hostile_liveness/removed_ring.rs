//! F12: a consumer of a removed ring is told.

use super::*;

/// F12: the ring is removed (what `ringproof rm` does, and does while a consumer sits between
/// creating its cursor and joining) and a new producer creates it anew. The old consumer,
/// whose producer is dead, must end with a typed error in bounded time instead of waiting on
/// the removed ring forever.
#[test]
fn f12_a_consumer_of_a_removed_ring_is_told() {
    let fx = Fixture::new("f12");
    for (backend, tag) in [(Backend::Shm, "shm"), (Backend::Dir, "dir")] {
        removed_ring_case(&fx.ring(backend, tag));
    }
}

fn removed_ring_case(ring: &Ring) {
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
    let mut c = ring.consume("c", &["--wait", "sleep"]);
    let pc = {
        let mut pc = None;
        wait_until("the producer cursor", &mut [&mut p], || {
            pc = ring.open_producer_cursor();
            pc.is_some()
        });
        pc.expect("producer cursor")
    };
    wait_until("events to flow", &mut [&mut p, &mut c], || pc.load() >= 100);
    p.kill();
    // `rm` refuses while the consumer is registered and alive; in the window before its join it
    // does not see it, and removes every name. Do exactly that removal here.
    let name = ring.ring_name();
    for path in [
        name.ring(),
        name.producer_cursor(),
        name.registry(),
        name.counters(),
        name.consumer_cursor("c"),
    ] {
        if ringproof::kit::segment::exists(&path) {
            ringproof::kit::segment::unlink(&path).expect("unlink");
        }
    }
    if let Some(dir) = name.consumers_dir() {
        let _ = std::fs::remove_dir(dir);
    }
    let p2 = ring.produce(&[
        "--capacity",
        "8",
        "--events",
        "10",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
    ]);
    p2.wait().expect_producer_ok(10);
    let out = c.wait_for(Duration::from_secs(30));
    out.expect_error(&["removed", &ring.name]);
}
