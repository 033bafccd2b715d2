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
    let shm: Vec<String> = std::fs::read_dir("/dev/shm")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&o.ring))
                .collect()
        })
        .unwrap_or_default();
    assert!(shm.is_empty(), "{what} left {shm:?} in /dev/shm");
    let tmp: Vec<String> = std::fs::read_dir(std::env::temp_dir())
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(&o.ring))
                .collect()
        })
        .unwrap_or_default();
    assert!(tmp.is_empty(), "{what} left {tmp:?} in the temp directory");
}
