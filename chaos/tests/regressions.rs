//! Replays every seed in chaos/regressions/ (seeds that once found a bug), and checks that
//! together they arm every failpoint, so the replay exercises each exact crash point.

mod common;

use ringproof_chaos::regression::load_dir;
use ringproof_chaos::schedule::{generate, Fault};
use std::collections::BTreeSet;
use std::path::Path;

fn regressions() -> Vec<(String, ringproof_chaos::regression::Regression)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let all = load_dir(&dir).expect("regression files parse");
    assert!(!all.is_empty(), "no regression in {}", dir.display());
    all
}

#[test]
fn regression_seeds_cover_every_failpoint() {
    let mut armed = BTreeSet::new();
    for (_, r) in regressions() {
        let s = generate(&r.config(common::reference()).schedule_params());
        if s.initial_create_crash.is_some() {
            armed.insert("segment.create".to_owned());
        }
        for f in s.faults {
            if let Fault::Failpoint { point, .. } = f.fault {
                armed.insert(point);
            }
        }
    }
    for p in ringproof::kit::failpoint::POINTS {
        assert!(
            armed.contains(*p),
            "no regression seed arms {p}: add one (chaos/README.md)"
        );
    }
}

#[test]
fn every_regression_seed_passes() {
    for (file, r) in regressions() {
        let o = ringproof_chaos::run(r.config(common::reference()), &|_| {})
            .expect("the campaign runs");
        common::assert_passed_and_clean(&o, &file);
    }
}
