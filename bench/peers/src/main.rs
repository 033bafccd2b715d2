//! `ringproof-bench-peers`: the peers of the bench, each doing the same work as the ringproof
//! subject of its scenario (same event size, same TP1 payload `ringproof::kit::payload`, verified
//! by every consumer, errors counted).
//!
//! - `ringproof-bench-peers role ...`: one side of one run; `ringproof-bench` (and
//!   `ringproof bench`) spawn it for peer subjects.
//! - `ringproof-bench-peers bench [options]`: the whole bench (same options as
//!   `ringproof-bench`) with this binary serving every role, peers included.
//!
//! Peers: disruptor-mp 0.1.0-alpha.2 ([`dmp`]), iceoryx2 0.10 ([`iox2`]), a Unix domain socket
//! and a named pipe ([`kernel`]).

mod dmp;
mod iox2;
mod kernel;

use clap::{Parser, Subcommand};
use ringproof_bench::{harness, Kind, Launcher, Opts, RoleArgs};
use serde_json::Value;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "ringproof-bench-peers",
    about = "ringproof-bench's peers: disruptor-mp, iceoryx2, Unix socket, pipe"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// One side of one run (what the orchestrator spawns).
    #[command(hide = true)]
    Role(RoleArgs),
    /// The whole bench, this binary serving every role (peers included). Boxed: the options
    /// are twice the size of a role's.
    Bench(Box<Opts>),
}

/// Runs a peer kind's side.
fn run_peer(a: &RoleArgs) -> Result<Value, String> {
    match a.kind {
        Kind::DmpStream => dmp::stream(a),
        Kind::DmpPing => dmp::ping(a),
        Kind::IoxStream => iox2::stream(a),
        Kind::IoxPing => iox2::ping(a),
        Kind::UdsStream => kernel::uds_stream(a),
        Kind::UdsPingSpin => kernel::uds_ping(a, true),
        Kind::UdsPingBlocking => kernel::uds_ping(a, false),
        Kind::PipeStream => kernel::pipe_stream(a),
        Kind::PipePingSpin => kernel::pipe_ping(a, true),
        Kind::PipePingBlocking => kernel::pipe_ping(a, false),
        k => Err(format!("{} is no peer kind", k.name())),
    }
}

fn main() -> ExitCode {
    match Cli::parse().cmd {
        Cmd::Role(a) => harness::run_role(a, Some(run_peer)),
        Cmd::Bench(o) => match Launcher::this_binary_serves_all("role") {
            Ok(l) => ringproof_bench::orchestrate(*o, l),
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
    }
}
