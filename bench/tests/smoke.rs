//! CI smoke pass of `ringproof-bench` without peers: every scenario (the 1 -> N broadcast
//! forced to 3 readers) at two event sizes with tiny counts; each case's subject and floor
//! complete and verify their payloads, plots and JSON are written, and nothing is left behind.
//! The peers have their own smoke test (`bench/peers/tests/smoke.rs`).

mod common;

use common::*;
use std::time::Duration;

#[test]
fn every_scenario_completes_and_verifies() {
    let s = Scratch::new("core");
    let json = s.path("out.json");
    let plots = s.path("plots");
    let mut args: Vec<&str> = TINY.to_vec();
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
        env!("CARGO_BIN_EXE_ringproof-bench"),
        &args,
        &[],
        &s,
        Duration::from_secs(300),
    );
    let doc = check_run(&ran, &json, &expected(false));
    assert_eq!(
        doc["cases"].as_array().map(Vec::len),
        Some(expected(false).len()),
        "unexpected extra cases"
    );
    check_plots(&plots);
    assert!(
        ran.stdout
            .contains("verification: 0 payload/sequence errors"),
        "{}",
        ran.stdout
    );
}

#[test]
fn missing_peer_binary_is_a_clear_error() {
    let s = Scratch::new("nopeers");
    let ran = run(
        env!("CARGO_BIN_EXE_ringproof-bench"),
        &["--quick", "--scenario", "stream-single"],
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
    assert!(ran.stderr.contains("--peers none"), "{}", ran.stderr);
}
