//! CI smoke pass with every peer: `ringproof-bench-peers bench` (this binary serving every
//! role) runs every scenario (the 1 -> N broadcast forced to 3 readers) at two event sizes
//! with tiny counts; disruptor-mp, iceoryx2, the Unix socket and the pipe each complete and
//! verify every payload wherever their scenario has them, and no shm name, socket, FIFO or
//! iceoryx2 file of the run is left behind.

#[path = "../../tests/common/mod.rs"]
mod common;

use common::*;
use std::time::Duration;

#[test]
fn every_scenario_and_peer_completes_and_verifies() {
    let s = Scratch::new("peers");
    let json = s.path("out.json");
    let plots = s.path("plots");
    let mut args: Vec<&str> = vec!["bench"];
    args.extend(TINY);
    let (j, p) = (json.display().to_string(), plots.display().to_string());
    args.extend(["--readers", "3", "--json", &j, "--plot", &p]);
    let ran = run(
        env!("CARGO_BIN_EXE_ringproof-bench-peers"),
        &args,
        &[],
        &s,
        Duration::from_secs(300),
    );
    let doc = check_run(&ran, &json, &expected(true));
    assert_eq!(doc["settings"]["peers"].as_array().map(Vec::len), Some(4));
    check_plots(&plots);
}

#[test]
fn a_peer_role_with_bad_input_fails_cleanly() {
    // An unsupported event size for disruptor-mp's const-generic events: a message, exit 1.
    let s = Scratch::new("badsize");
    let ran = run(
        env!("CARGO_BIN_EXE_ringproof-bench-peers"),
        &[
            "role",
            "--kind",
            "dmp-stream",
            "--side",
            "a",
            "--name",
            "rpbench-test-badsize",
            "--size",
            "24",
            "--events",
            "10",
        ],
        &[],
        &s,
        Duration::from_secs(60),
    );
    assert_eq!(ran.status.code(), Some(1), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("event size 24 unsupported"),
        "{}",
        ran.stderr
    );
    assert!(!std::path::Path::new("/dev/shm/rpbench-test-badsize").exists());
}
