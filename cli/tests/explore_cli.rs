//! `ringproof conform --explore` and `--replay` end to end against the reference: a short
//! exploration passes and prints its step coverage; a replay file runs its lifecycle again and
//! says whether the saved failure reproduced; a file that is not one is a clear error.

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
        "ringproof-explore-cli-{}-{tag}",
        std::process::id()
    ));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[test]
fn a_short_exploration_of_the_reference_passes() {
    let (code, out, err) = ringproof(&[
        "conform",
        "--explore",
        "20",
        "--seed",
        "7",
        "--backend",
        "shm",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("20 lifecycles passed, 0 ended in an expected mismatch"),
        "{out}"
    );
    assert!(
        out.contains("second producer (refused)"),
        "step coverage printed: {out}"
    );
}

#[test]
fn a_replay_runs_the_saved_lifecycle_again() {
    let dir = temp_dir("replay");
    let file = dir.join("case.json");
    // A lifecycle the reference gets right, saved as if it had failed: the replay says the
    // saved failure no longer reproduces and passes.
    let saved = r#"{"format":"ringproof-explore/1","producer":"ringproof","consumer":"ringproof","seed":1,"index":0,
      "backend":"mmap","ops":[{"op":"join","c":0},{"op":"publish","n":3},{"op":"consume","c":0,"n":2,"mode":"lease"},
      {"op":"crash","c":0},{"op":"join","c":0},{"op":"publish_waiting","n":4,"batch":2}],
      "failure":{"step":4,"rule":"join.start-seq","action":"c_0 attaches","expected":"start_seq 2","observed":"start_seq 3","model":""}}"#;
    std::fs::write(&file, saved).unwrap();
    let (code, out, err) = ringproof(&["conform", "--replay", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("replay: 6 steps on mmap") && out.contains("no longer reproduced"),
        "{out}"
    );
    std::fs::write(&file, "{\"format\":\"something-else\"}").unwrap();
    let (code, _, err) = ringproof(&["conform", "--replay", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("not a replay file"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
