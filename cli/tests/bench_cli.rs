//! `ringproof bench` through the CLI: a tiny run of every scenario without peers (the sides run
//! as `ringproof bench-role`), checked like the bench's own smoke test: each case completes,
//! verifies its payload, writes JSON and plots, and leaves nothing in /dev/shm or the temp
//! directory. No timing is asserted.

#[path = "../../bench/tests/common/mod.rs"]
mod common;

use common::*;
use std::time::Duration;

#[test]
fn ringproof_bench_runs_every_scenario_through_the_cli() {
    let s = Scratch::new("cli");
    let json = s.path("out.json");
    let plots = s.path("plots");
    let mut args: Vec<&str> = vec!["bench"];
    args.extend(TINY);
    let (j, p) = (json.display().to_string(), plots.display().to_string());
    args.extend([
        "--peers",
        "none",
        "--readers",
        "3",
        "--json",
        &j,
        "--plot",
        &p,
    ]);
    let ran = run(
        env!("CARGO_BIN_EXE_ringproof"),
        &args,
        &[],
        &s,
        Duration::from_secs(300),
    );
    let doc = check_run(&ran, &json, &expected(false));
    assert!(doc["settings"]["args"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x == "bench")));
    check_plots(&plots);
    assert!(
        ran.stdout.contains("rp adv"),
        "the table has the peer-ratio column: {}",
        ran.stdout
    );
}

#[test]
fn ringproof_bench_names_the_peer_build_when_the_peers_are_missing() {
    let s = Scratch::new("cli-nopeers");
    let ran = run(
        env!("CARGO_BIN_EXE_ringproof"),
        &["bench", "--quick", "--scenario", "pingpong-spin"],
        &[(
            "RINGPROOF_BENCH_PEERS",
            "/nonexistent/ringproof-bench-peers",
        )],
        &s,
        Duration::from_secs(60),
    );
    // A missing helper is a harness error (exit 2), not a failed measurement.
    assert_eq!(ran.status.code(), Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("cargo build --release -p ringproof-bench-peers"),
        "{}",
        ran.stderr
    );
}

#[test]
fn sigterm_mid_bench_kills_the_sides_removes_the_names_and_writes_the_partial_json() {
    use std::io::{BufRead, BufReader};
    let s = Scratch::new("cli-sigterm");
    let json = s.path("out.json");
    let j = json.display().to_string();
    let mut args: Vec<&str> = vec!["bench"];
    args.extend(TINY);
    args.extend(["--peers", "none", "--json", &j]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ringproof"))
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ringproof bench starts");
    // The plan line comes after the signal handlers are installed: the progress marker.
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("case(s)") {
        line.clear();
        assert!(
            err.read_line(&mut line).expect("stderr") > 0,
            "bench ended before its plan line"
        );
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut err, &mut rest);
    let status = child.wait().expect("bench ends");
    assert_eq!(status.code(), Some(143), "{rest}");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("the partial JSON")).expect("json");
    assert_eq!(
        doc["verdict"]["interrupted"], "SIGTERM",
        "{}",
        doc["verdict"]
    );
    assert!(
        leftovers(child.id()).is_empty(),
        "left behind: {:?}",
        leftovers(child.id())
    );
}
