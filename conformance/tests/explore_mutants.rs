//! `--explore` finds planted lifecycle defects within its default budget. Built only with
//! `--features mutants` (`ci/test` runs `cargo test -p ringproof-conformance --features mutants
//! --test explore_mutants`): the reference testee (this test binary, `--ringproof-testee`) runs
//! with `RINGPROOF_MUTANT` set, the exploration runs with its default lifecycle count and seed,
//! and must report a failure whose shrunk lifecycle, saved and loaded as a replay file, fails
//! again with the same rule at the same step.

use libtest_mimic::{Arguments, Failed, Trial};
use ringproof_conformance::driver::Implementation;
use ringproof_conformance::explore::{self, Config, Replay, Side};
use ringproof_conformance::runner;
use ringproof_conformance::schema::Schema;
use std::sync::Arc;

/// The planted defects the exploration must find (`ringproof_conformance::mutants::MUTANTS`,
/// section "exploration").
const FOUND_BY_EXPLORE: &[&str] = &[
    "consumer.resume-off-by-one",
    "producer.close-final-off-by-one",
];

fn finds(mutant: &'static str) -> Result<(), Failed> {
    let schema = Arc::new(Schema::load());
    let imp = Implementation {
        env: vec![("RINGPROOF_MUTANT".into(), mutant.into())],
        ..ringproof_conformance::testee_ref::this_executable()
    };
    let p = runner::probe(&imp, &schema)?;
    let side = Side {
        imp: p.imp,
        capabilities: p.capabilities,
        expected: Vec::new(),
    };
    let cfg = Config::default();
    let s = explore::explore(&side, &side, &schema, &cfg, |_, _| {});
    let Some(f) = &s.found else {
        return Err(format!(
            "{mutant} survived {} lifecycles of seed {} ({:.1?})",
            s.ran, cfg.seed, s.elapsed
        )
        .into());
    };
    println!(
        "{mutant}: found in lifecycle {} of seed {} ({} passed before it), rule {}, shrunk from {} to {} steps in {} runs, {:.1?} in all:\n{}",
        f.index,
        cfg.seed,
        s.passed,
        f.mismatch.rule,
        f.original_len,
        f.lifecycle.ops.len(),
        f.shrink_runs,
        s.elapsed,
        explore::render(&f.lifecycle, &f.mismatch)
    );
    // The replay file round-trips and fails the same way.
    let path = std::env::temp_dir().join(format!(
        "ringproof-explore-{}-{mutant}.json",
        std::process::id()
    ));
    Replay::of(f, "ringproof", "ringproof", cfg.seed).save(&path)?;
    let replay = Replay::load(&path);
    let _ = std::fs::remove_file(&path);
    let replay = replay?;
    let o = explore::run_lifecycle(&side, &side, &schema, &replay.lifecycle());
    match o.result {
        Err(m) if m.rule == f.mismatch.rule && m.step == f.mismatch.step => Ok(()),
        Err(m) => Err(format!(
            "the replay failed differently: rule {} at step {:?}, expected rule {} at step {:?}",
            m.rule, m.step, f.mismatch.rule, f.mismatch.step
        )
        .into()),
        Ok(()) => Err("the replay of the shrunk lifecycle passed".into()),
    }
}

fn main() {
    ringproof_conformance::testee_ref::serve_if_asked();
    let mut args = Arguments::from_args();
    args.test_threads.get_or_insert(1);
    let trials = FOUND_BY_EXPLORE
        .iter()
        .map(|&m| Trial::test(format!("explore.finds-{m}"), move || finds(m)))
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
