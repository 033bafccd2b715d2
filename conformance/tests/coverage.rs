//! Every SPEC.md rule is checked by a case or listed, with its reason, as not checkable from
//! outside; every rule id a case names exists; conformance/COVERAGE.md is current.

use ringproof_conformance::cases::catalogue;
use ringproof_conformance::coverage::{self, coverage, render};
use std::path::Path;

#[test]
fn spec_rule_ids_are_unique_and_well_formed() {
    let rules = coverage::rules(coverage::SPEC);
    assert!(rules.len() > 100, "SPEC.md tags only {} rules", rules.len());
    let mut seen = std::collections::HashSet::new();
    for r in &rules {
        assert!(seen.insert(r.id.clone()), "SPEC.md tags {} twice", r.id);
        // R7.3.5 belongs under §7.3 (or §7): the heading's number is a prefix of the id's.
        let heading: Vec<&str> = r
            .section
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_end_matches('.')
            .split('.')
            .collect();
        let id: Vec<&str> = r.id[1..].split('.').collect();
        assert!(
            id.len() > heading.len() && id[..heading.len()] == heading[..],
            "{} sits under §{}",
            r.id,
            r.section
        );
    }
}

#[test]
fn every_rule_has_a_case_or_a_reason() {
    let cov = coverage(coverage::SPEC, &catalogue(), coverage::UNTESTABLE)
        .expect("untestable.txt parses");
    assert!(
        cov.is_complete(),
        "coverage problems:\n{}",
        cov.problems().join("\n")
    );
}

#[test]
fn every_case_names_its_rules() {
    for c in catalogue() {
        assert!(
            !c.rules.is_empty(),
            "case {} names no SPEC.md rule id",
            c.id
        );
    }
}

#[test]
fn coverage_md_is_current() {
    let cov = coverage(coverage::SPEC, &catalogue(), coverage::UNTESTABLE)
        .expect("untestable.txt parses");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("COVERAGE.md");
    let want = render(&cov);
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        if std::env::var_os("RINGPROOF_BLESS").is_some() {
            std::fs::write(&path, &want).expect("write COVERAGE.md");
            return;
        }
        panic!("conformance/COVERAGE.md is out of date: run `cargo run -p ringproof-cli -- conform --coverage > conformance/COVERAGE.md` (or this test with RINGPROOF_BLESS=1)");
    }
}
