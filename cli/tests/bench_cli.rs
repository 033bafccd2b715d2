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
    args.extend(["--peers", "none", "--readers", "3", "--json", &j, "--plot", &p]);
    let ran = run(env!("CARGO_BIN_EXE_ringproof"), &args, &[], &s, Duration::from_secs(300));
    let doc = check_run(&ran, &json, &expected(false));
    assert!(doc["settings"]["args"].as_array().is_some_and(|a| a.iter().any(|x| x == "bench")));
    check_plots(&plots);
    assert!(ran.stdout.contains("rp adv"), "the table has the peer-ratio column: {}", ran.stdout);
}

#[test]
fn ringproof_bench_names_the_peer_build_when_the_peers_are_missing() {
    let s = Scratch::new("cli-nopeers");
    let ran = run(
        env!("CARGO_BIN_EXE_ringproof"),
        &["bench", "--quick", "--scenario", "pingpong-spin"],
        &[("RINGPROOF_BENCH_PEERS", "/nonexistent/ringproof-bench-peers")],
        &s,
        Duration::from_secs(60),
    );
    assert_eq!(ran.status.code(), Some(1), "{}", ran.stderr);
    assert!(ran.stderr.contains("cargo build --release -p ringproof-bench-peers"), "{}", ran.stderr);
}
