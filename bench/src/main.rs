//! `ringproof-bench`: the bench's own binary (see the library's docs). Peer subjects run in
//! `ringproof-bench-peers`, found next to this binary or through `$RINGPROOF_BENCH_PEERS`.

use clap::{Parser, Subcommand};
use ringproof_bench::{run_role, Launcher, Opts, RoleArgs};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "ringproof-bench",
    about = "Cross-process ringproof benchmark, bracketed by raw shm floors, peers side by side",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    opts: Opts,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// One side of one run (what the orchestrator spawns).
    #[command(hide = true)]
    Role(RoleArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Some(Cmd::Role(args)) => run_role(args, None),
        None => match Launcher::with_peer_binary("role") {
            Ok(l) => ringproof_bench::orchestrate(cli.opts, l),
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
    }
}
