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

/// Every `§N.M` cited anywhere in the repository (code, docs, CI scripts) names a section
/// SPEC.md has: a renumbered SPEC must not leave stale pointers behind. A `§` that follows
/// another document's name on the same line (`rust-ipc-peers.md §2.3`) is that document's.
#[test]
fn every_cited_spec_section_exists() {
    let sections: std::collections::HashSet<String> = coverage::SPEC
        .lines()
        .filter(|l| l.starts_with('#'))
        .filter_map(|l| l.trim_start_matches('#').split_whitespace().next())
        .map(|n| n.trim_end_matches('.').to_string())
        .filter(|n| n.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert!(sections.contains("7.3"), "SPEC.md headings not found");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut stale = Vec::new();
    let mut cited = 0;
    for file in source_files(&root) {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            for (at, _) in line.match_indices('§') {
                let before = &line[..at];
                if other_document_named(before) {
                    continue;
                }
                let number: String = line[at + '§'.len_utf8()..]
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                let number = number.trim_end_matches('.');
                if number.is_empty() {
                    continue;
                }
                cited += 1;
                if !sections.contains(number) {
                    stale.push(format!("{}:{}: §{number}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(
        cited > 100,
        "only {cited} citations found: is the walk broken?"
    );
    assert!(
        stale.is_empty(),
        "sections SPEC.md does not have:\n{}",
        stale.join("\n")
    );
}

/// Whether the text before a `§` on its line names a document other than SPEC.md last.
fn other_document_named(before: &str) -> bool {
    let last_doc = before
        .split(|c: char| c.is_whitespace() || c == '`' || c == '(' || c == '[')
        .rfind(|w| w.contains(".md") || w.contains(".txt"));
    last_doc.is_some_and(|w| !w.contains("SPEC.md"))
}

fn source_files(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if entry.file_type().unwrap().is_dir() {
                if !name.starts_with('.') && name != "target" {
                    dirs.push(path);
                }
            } else if ["rs", "md", "sh", "yml", "toml", "txt"]
                .iter()
                .any(|ext| name.ends_with(&format!(".{ext}")))
            {
                out.push(path);
            }
        }
    }
    out
}
