//! `ringproof bench`: the front of `ringproof-bench` (bracketed cross-process benchmarks, peers
//! side by side). The ringproof and floor sides run as this binary's hidden `bench-role`
//! subcommand; the peers (disruptor-mp, iceoryx2, Unix socket, pipe) run in
//! `ringproof-bench-peers`, found next to this binary or through `$RINGPROOF_BENCH_PEERS`
//! (`--peers none` runs without it).

use ringproof_bench::{Launcher, Opts, RoleArgs};
use std::process::ExitCode;

/// The hidden subcommand the orchestrator spawns for each side.
pub const ROLE_SUBCOMMAND: &str = "bench-role";

pub fn run(opts: Opts) -> ExitCode {
    match Launcher::with_peer_binary(ROLE_SUBCOMMAND) {
        Ok(l) => ringproof_bench::orchestrate(opts, l),
        Err(e) => {
            // The job is misconfigured (no peers binary, ...): a harness error.
            eprintln!("ringproof bench: {e}");
            ExitCode::from(2)
        }
    }
}

pub fn role(args: RoleArgs) -> ExitCode {
    ringproof_bench::run_role(args, None)
}
