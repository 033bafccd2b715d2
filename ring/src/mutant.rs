//! Planted defects ("mutants") that measure the conformance suite itself.
//!
//! A conformance suite is only as good as the defects it catches. Built with the cargo feature
//! `mutants` (never in a normal or release build), the reference implementation can be told to
//! misbehave in one named way through the environment variable `RINGPROOF_MUTANT`, e.g.
//! `RINGPROOF_MUTANT=producer.no-gating`. The conformance crate's `mutants` test and
//! `ringproof conform --mutants` run the case catalogue against each mutant and count the ones
//! no case kills. The catalogue of names, with what each breaks and which cases kill it, lives
//! in `ringproof_conformance::mutants`.
//!
//! A mutation point in the code reads `if mutant!("<name>") { ...defect... }`.
//! Without the feature the macro is the literal `false`: the name is not compiled in, the branch
//! folds away, and no mutant's code is reachable (a CLI test checks that the `ringproof` binary
//! does not even contain the variable's name).

/// Whether the planted defect `name` is switched on for this process (`RINGPROOF_MUTANT`).
#[cfg(feature = "mutants")]
pub fn active(name: &str) -> bool {
    use std::sync::OnceLock;
    static CHOSEN: OnceLock<Option<String>> = OnceLock::new();
    CHOSEN
        .get_or_init(|| std::env::var("RINGPROOF_MUTANT").ok())
        .as_deref()
        == Some(name)
}
