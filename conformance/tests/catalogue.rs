//! The conformance catalogue under `cargo test`: one test per case instance (case x producer
//! implementation x consumer implementation x backend), named like `ringproof conform` names
//! them, so a failure points at the exact rule and pairing.
//!
//! The reference testee is this test binary itself (`--ringproof-testee`); the disruptor-mp
//! testee is the `dmp-peer` binary that `cargo test --workspace` builds next to it.

use libtest_mimic::{Arguments, Failed, Trial};
use ringproof_conformance::cases::catalogue;
use ringproof_conformance::driver::Implementation;
use ringproof_conformance::protocol::Backend;
use ringproof_conformance::runner::{self, Probed, Status};
use ringproof_conformance::schema::Schema;
use std::sync::Arc;

fn main() {
    ringproof_conformance::testee_ref::serve_if_asked();
    let mut args = Arguments::from_args();
    // Cases spawn several spinning processes each: on small machines, one at a time.
    args.test_threads.get_or_insert(1);
    let exe = std::env::current_exe().expect("test executable");
    let schema = Arc::new(Schema::load());
    let mut impls: Vec<Probed> = Vec::new();
    let reference = ringproof_conformance::testee_ref::this_executable();
    impls.push(runner::probe(&reference, &schema).expect("the reference testee starts"));
    // target/<profile>/deps/catalogue-<hash> -> target/<profile>/dmp-peer
    let dmp = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("dmp-peer"));
    let dmp_missing = match dmp {
        Some(p) if p.exists() => {
            let imp = Implementation {
                name: "disruptor-mp".into(),
                program: p,
                args: vec!["testee".into()],
                env: Vec::new(),
            };
            impls.push(runner::probe(&imp, &schema).expect("the disruptor-mp testee starts"));
            false
        }
        _ => true,
    };
    let cases = Arc::new(catalogue());
    let impls = Arc::new(impls);
    let expected = Arc::new(
        runner::load_expected(&runner::default_expected_dir(), &impls)
            .expect("expected-failure lists parse"),
    );
    let plan = runner::plan(&cases, &impls, &[Backend::Shm, Backend::Mmap], None);
    let mut trials: Vec<Trial> = plan
        .into_iter()
        .map(|inst| {
            let (cases, impls, schema, expected) = (
                Arc::clone(&cases),
                Arc::clone(&impls),
                Arc::clone(&schema),
                Arc::clone(&expected),
            );
            let ignored = inst.skip.is_some();
            Trial::test(inst.key.clone(), move || {
                let r = runner::run_instance(&cases[inst.case], &inst, &impls, &schema, &expected);
                match r.status {
                    Status::Pass | Status::ExpectedFailure | Status::Skipped => Ok(()),
                    s => Err(Failed::from(format!("{}: {}", s.as_str(), r.detail))),
                }
            })
            .with_ignored_flag(ignored)
        })
        .collect();
    if dmp_missing {
        trials.push(Trial::test("interop.disruptor-mp-testee-built", || {
            Err(Failed::from("target/<profile>/dmp-peer is missing: run `cargo test --workspace` (or `cargo build -p dmp-peer`) so the interop matrix runs"))
        }));
    }
    libtest_mimic::run(&args, trials).exit();
}
