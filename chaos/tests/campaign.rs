//! A bounded campaign with a fixed seed: every fault family, real processes, checked
//! histories. This is what CI runs (well under two minutes). The shm campaign runs through the
//! CI recipe instead (2 shards of seed 20261127, `ci/examples/crash-ci.sh`, driven by
//! cli/tests/ci_recipe.rs from the example workflow), so the recipe cannot rot; this one
//! covers the mmap backend through the library.

mod common;

use ringproof_chaos::{run, Config};
use ringproof_conformance::protocol::Backend;
use std::time::Duration;

fn campaign(seed: u64, backend: Backend, secs: u64) {
    let mut cfg = Config::new(seed, Duration::from_secs(secs), common::reference());
    cfg.backend = backend;
    let o = run(cfg, &|_| {}).expect("the campaign runs");
    common::assert_passed_and_clean(&o, &format!("seed {seed} on {backend:?}"));
    let s = &o.verdict.stats;
    // The campaign must actually have hurt the ring, or its pass means nothing.
    assert!(
        s.injected_total() >= secs * 5,
        "only {} faults injected in {secs} s",
        s.injected_total()
    );
    for family in ["kill", "stop", "failpoints"] {
        assert!(
            s.injected.get(family).copied().unwrap_or(0) > 0,
            "no {family} fault injected: {:?}",
            s.injected
        );
    }
    assert!(s.failpoints_fired > 0, "no failpoint fired");
    assert!(
        s.producer_lives > 1 && s.consumer_lives > 3,
        "too few restarts: {s:?}"
    );
    assert!(
        s.events_delivered > 10_000,
        "only {} events delivered",
        s.events_delivered
    );
}

#[test]
fn bounded_campaign_mmap() {
    campaign(20261128, Backend::Mmap, 10);
}
