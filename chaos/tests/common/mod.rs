//! Shared by the campaign tests: the reference testee built with this crate, and the cleanup
//! assertions every test makes.
#![allow(dead_code)] // each test crate uses a subset

use ringproof_chaos::Outcome;
use ringproof_conformance::driver::Implementation;
use std::path::PathBuf;

/// The reference testee (`ringproof testee`'s code) built as this crate's binary.
pub fn reference() -> Implementation {
    Implementation {
        name: "ringproof".into(),
        program: PathBuf::from(env!("CARGO_BIN_EXE_ringproof-chaos-testee")),
        args: Vec::new(),
        env: Vec::new(),
    }
}

/// Fails with the verdict table and the violations unless the campaign passed; then checks that
/// nothing of its ring is left in /dev/shm or the temp directory.
pub fn assert_passed_and_clean(o: &Outcome, what: &str) {
    assert!(
        o.verdict.passed(),
        "{what} failed:\n{}\n{}\nreport: {:?}",
        ringproof_chaos::report::verdict_table(&o.verdict),
        ringproof_chaos::report::violations(&o.verdict, 30),
        o.report
    );
    let shm = ringproof_testsupport::shm_names(|n| n.starts_with(&o.ring));
    assert!(shm.is_empty(), "{what} left {shm:?} in /dev/shm");
    let tmp = ringproof_testsupport::temp_names(|n| n.contains(&o.ring));
    assert!(tmp.is_empty(), "{what} left {tmp:?} in the temp directory");
}
