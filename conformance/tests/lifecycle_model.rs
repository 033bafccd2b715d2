//! The lifecycle model of `ringproof conform --explore` (`ringproof_conformance::explore`) in
//! CI: random lifecycles of producers and consumers (publish, consume, join late, leave, crash
//! and restart, second producer, duplicate id, close), carried out by real testee processes and
//! checked step by step against the model, then a clean shutdown that must leave nothing in
//! /dev/shm or the ring's directory.
//!
//! - `explore.ringproof`: the reference testee (this test binary, `--ringproof-testee`) in both
//!   roles, must pass every lifecycle.
//! - `explore.disruptor-mp`: the disruptor-mp testee (`target/<profile>/dmp-peer testee`, as in
//!   `catalogue.rs`) in both roles, `explore.ringproof>disruptor-mp` (the reference producer
//!   with disruptor-mp consumers) and `explore.disruptor-mp>ringproof` (the other way round); disruptor-mp's known deviations are listed, with
//!   reasons, in `conformance/expected/explore-disruptor-mp.txt`, and any mismatch not listed
//!   fails.
//!
//! A failure prints the shrunk minimal lifecycle, the step, expected vs observed and the
//! testees' transcripts, and saves the lifecycle as JSON for `ringproof conform --replay`.
//! Fixed seed and counts (`EXPLORE_LIFECYCLES=n` runs more of each).
//! Run: `cargo test -p ringproof-conformance --test lifecycle_model`.

use libtest_mimic::{Arguments, Failed, Trial};
use ringproof_conformance::driver::Implementation;
use ringproof_conformance::explore::{self, Config, Replay, Side};
use ringproof_conformance::runner;
use ringproof_conformance::schema::Schema;
use std::sync::Arc;

/// Lifecycles against the reference (about 10 s here).
const REFERENCE_LIFECYCLES: u32 = 300;
/// Lifecycles against disruptor-mp (about 10 s here: each listed stall costs 2 s).
const DMP_LIFECYCLES: u32 = 60;
/// Lifecycles of a reference producer with disruptor-mp consumers (about 5 s here). The other
/// mix is not run: a ringproof consumer leaving a disruptor-mp mmap ring removes its consumers
/// directory (it takes a ring without a registry for one whose producer is gone), so the next
/// consumer cannot attach (`join.ok`); see the exploration's report.
const MIXED_LIFECYCLES: u32 = 100;

fn side(imp: Implementation, schema: &Arc<Schema>) -> Result<Side, Failed> {
    let p = runner::probe(&imp, schema)?;
    let expected = explore::load_expected(&runner::default_expected_dir(), &p.imp.name)?;
    Ok(Side {
        imp: p.imp,
        capabilities: p.capabilities,
        expected,
    })
}

fn explore_pair(
    producer: Implementation,
    consumer: Implementation,
    lifecycles: u32,
) -> Result<(), Failed> {
    let schema = Arc::new(Schema::load());
    let (p, c) = (side(producer, &schema)?, side(consumer, &schema)?);
    let lifecycles = std::env::var("EXPLORE_LIFECYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(lifecycles);
    let cfg = Config {
        lifecycles,
        ..Config::default()
    };
    let summary = explore::explore(&p, &c, &schema, &cfg, |_, _| {});
    let pair = format!("{}>{}", p.imp.name, c.imp.name);
    println!("{pair}: {} lifecycles passed, {} ended in an expected mismatch, in {:.1?}; steps carried out:", summary.passed, summary.ended_expected, summary.elapsed);
    print!("{}", explore::coverage_lines(&summary));
    for (pattern, n) in &summary.expected_hits {
        println!("  expected mismatch x{n}: {pattern}");
    }
    for e in &summary.expected_unseen {
        println!(
            "  note: listed mismatch not seen: {}  # {}",
            e.pattern, e.reason
        );
    }
    let Some(f) = &summary.found else {
        return Ok(());
    };
    let path = std::env::temp_dir().join(format!(
        "ringproof-explore-failure-{}-{}.json",
        p.imp.name, c.imp.name
    ));
    let saved = Replay::of(f, &p.imp.name, &c.imp.name, cfg.seed)
        .save(&path)
        .map(|_| format!("saved to {}", path.display()))
        .unwrap_or_else(|e| e);
    Err(format!(
        "lifecycle {} of seed {} broke {} (shrunk from {} to {} steps; {saved}):\n{}",
        f.index,
        cfg.seed,
        f.key,
        f.original_len,
        f.lifecycle.ops.len(),
        explore::render(&f.lifecycle, &f.mismatch)
    )
    .into())
}

fn main() {
    ringproof_conformance::testee_ref::serve_if_asked();
    let mut args = Arguments::from_args();
    args.test_threads.get_or_insert(1);
    let exe = std::env::current_exe().expect("test executable");
    let reference = ringproof_conformance::testee_ref::this_executable();
    let r = reference.clone();
    let mut trials = vec![Trial::test("explore.ringproof", move || {
        explore_pair(r.clone(), r, REFERENCE_LIFECYCLES)
    })];
    // target/<profile>/deps/lifecycle_model-<hash> -> target/<profile>/dmp-peer
    match exe.parent().and_then(|deps| deps.parent()).map(|dir| dir.join("dmp-peer")).filter(|p| p.exists()) {
        Some(p) => {
            let dmp = Implementation { name: "disruptor-mp".into(), program: p, args: vec!["testee".into()], env: Vec::new() };
            let d = dmp.clone();
            trials.push(Trial::test("explore.disruptor-mp", move || explore_pair(d.clone(), d, DMP_LIFECYCLES)));
            let (r, d) = (reference.clone(), dmp.clone());
            trials.push(Trial::test("explore.ringproof>disruptor-mp", move || explore_pair(r, d, MIXED_LIFECYCLES)));
            trials.push(Trial::test("explore.disruptor-mp>ringproof", move || explore_pair(dmp, reference, MIXED_LIFECYCLES)));
        }
        None => trials.push(Trial::test("explore.disruptor-mp", || {
            Err(Failed::from("target/<profile>/dmp-peer is missing: run `cargo test --workspace` (or `cargo build -p dmp-peer`) so the disruptor-mp exploration runs"))
        })),
    }
    libtest_mimic::run(&args, trials).exit();
}
