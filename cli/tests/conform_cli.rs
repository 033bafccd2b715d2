//! `ringproof conform` end to end: the closing line, JSON and JUnit output, the case list, and
//! the strictness of expected-failure lists (an unexpected pass fails the run).

use std::process::Command;

fn ringproof(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ringproof"))
        .args(args)
        .output()
        .expect("ringproof runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "ringproof-conform-cli-{}-{tag}",
        std::process::id()
    ));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[test]
fn list_names_every_case_with_its_rule() {
    let (code, out, _) = ringproof(&["conform", "--list"]);
    assert_eq!(code, 0);
    for id in [
        "layout.ring.header",
        "spsc.wraparound",
        "join.late-joiner",
        "restart.consumer-resumes",
        "cleanup.no-leak",
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} missing from --list:\n{out}"));
        assert!(line.contains("SPEC §"), "{line}");
    }
}

#[test]
fn a_run_writes_json_and_junit_and_closes_with_counts() {
    let dir = temp_dir("out");
    let (json, junit) = (dir.join("r.json"), dir.join("r.xml"));
    let (code, out, err) = ringproof(&[
        "conform",
        "--case",
        "spsc.wraparound",
        "--json",
        json.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        out.lines().last(),
        Some("2 passed, 0 failed, 0 skipped"),
        "{out}"
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["totals"]["pass"], 2);
    let keys: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "spsc.wraparound[ringproof>ringproof,shm]",
            "spsc.wraparound[ringproof>ringproof,mmap]"
        ]
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("tests=\"2\" failures=\"0\""), "{xml}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_listed_case_that_passes_fails_the_run() {
    let dir = temp_dir("strict");
    std::fs::write(
        dir.join("ringproof.txt"),
        "spsc.wraparound[*,shm]  # pretend it is broken\n",
    )
    .unwrap();
    let (code, out, err) = ringproof(&[
        "conform",
        "--case",
        "spsc.wraparound",
        "--backend",
        "shm",
        "--expected",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("unexpected-pass") && out.contains("remove the entry"),
        "{out}"
    );
    assert_eq!(
        out.lines().last(),
        Some("0 passed, 1 failed, 0 skipped"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unknown_implementation_and_case_are_clear_errors() {
    let (code, _, err) = ringproof(&["conform", "--impl", "/nonexistent/testee"]);
    assert_eq!(code, 2);
    assert!(err.contains("does not exist"), "{err}");
    let (code, _, err) = ringproof(&["conform", "--case", "no.such.case"]);
    assert_eq!(code, 2);
    assert!(err.contains("no case matches"), "{err}");
}

#[test]
fn a_normal_build_carries_no_mutants_and_says_how_to_get_them() {
    let bin = std::fs::read(env!("CARGO_BIN_EXE_ringproof")).expect("the ringproof binary");
    assert!(
        !bin.windows(b"RINGPROOF_MUTANT".len())
            .any(|w| w == b"RINGPROOF_MUTANT"),
        "a normal ringproof build contains mutant code (the string RINGPROOF_MUTANT)"
    );
    let (code, _, err) = ringproof(&["conform", "--mutants"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cargo build -p ringproof-cli --features mutants"),
        "{err}"
    );
}
