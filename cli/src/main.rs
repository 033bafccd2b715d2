//! `ringproof`: one binary in front of the whole kit.

mod bench_cmd;
mod chaos_cmd;
mod conform_cmd;
mod explore_cmd;
mod layout_cmd;
mod merge_cmd;
mod roles;
mod stat_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// `ringproof --version`: the crate version, the SPEC revision it implements and the testee
/// protocol version it speaks (a test checks both against SPEC.md and the protocol module).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (SPEC LayoutV1, ringproof extensions revision 1; conformance protocol 1)"
);

/// Exit statuses, documented once for every proof-kit command.
const EXIT_CODES: &str =
    "Exit status of conform, chaos, bench and merge: 0 pass; 1 a contract violation was found \
(your ring is broken); 2 a harness or usage error (a bad flag, a testee that does not start, an \
incomplete merge: the job is misconfigured); 128+N interrupted by signal N (130 SIGINT, 143 \
SIGTERM) after stopping the testees, removing every segment and temp directory, and writing \
the partial --json/--junit reports. bench --enforce-targets exits 3 on a missed target.";

#[derive(Parser)]
#[command(name = "ringproof", version = VERSION, about = "Cross-process Disruptor ring over shm/mmap, and its proof kit", after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a ring and publish test-payload events into it.
    Produce(roles::ProduceArgs),
    /// Attach to a ring and consume (and verify) test-payload events.
    Consume(roles::ConsumeArgs),
    /// Inspect, diff and audit segment layouts (and the golden layouts).
    Layout(layout_cmd::LayoutArgs),
    /// Check ring implementations against SPEC.md (the reference by default).
    Conform(conform_cmd::ConformArgs),
    /// Run a seeded chaos campaign: kill, stop and crash participants, then check the histories.
    Chaos(chaos_cmd::ChaosArgs),
    /// Combine the `--json` results of sharded `chaos`/`conform` runs into one verdict, one
    /// JSON and one JUnit file.
    Merge(merge_cmd::MergeArgs),
    /// Serve the conformance protocol on stdin/stdout with the reference implementation.
    Testee,
    /// Remove a ring nobody uses any more (refused while a participant is alive; --force
    /// overrides and says what it overrode).
    Rm(roles::RmArgs),
    /// Show a ring's cursors, participants and counters (--watch, --json, --prometheus).
    Stat(stat_cmd::StatArgs),
    /// Cross-process benchmarks bracketed by raw shm floors, peers side by side (--quick,
    /// --scenario, --size, --json FILE, --plot DIR).
    Bench(ringproof_bench::Opts),
    /// One side of one benchmark run (spawned by `ringproof bench`).
    #[command(hide = true)]
    BenchRole(ringproof_bench::RoleArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Produce(a) => roles::produce(a),
        Command::Consume(a) => roles::consume(a),
        Command::Layout(a) => layout_cmd::run(a),
        Command::Rm(a) => roles::rm(a),
        Command::Stat(a) => stat_cmd::run(a),
        Command::Conform(a) => return conform_cmd::run(a),
        Command::Chaos(a) => return chaos_cmd::run(a),
        Command::Merge(a) => return merge_cmd::run(a),
        Command::Bench(o) => return bench_cmd::run(o),
        Command::BenchRole(a) => return bench_cmd::role(a),
        Command::Testee => {
            let code = ringproof_conformance::testee_ref::serve(
                std::io::stdin().lock(),
                std::io::stdout().lock(),
            );
            return ExitCode::from(code as u8);
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            println!("{}", serde_json::json!({ "error": e.to_string() }));
            eprintln!("ringproof: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_names_the_spec_revision_and_protocol_version_in_use() {
        let spec = include_str!("../../SPEC.md");
        let status = spec
            .lines()
            .find(|l| l.starts_with("Status:"))
            .expect("SPEC.md status line");
        assert!(
            status.contains("**LayoutV1**, ringproof extensions revision 1"),
            "SPEC.md moved on ({status}): update VERSION"
        );
        let protocol = format!(
            "conformance protocol {})",
            ringproof_conformance::protocol::PROTOCOL_VERSION
        );
        assert!(
            super::VERSION.ends_with(&protocol),
            "{} does not say {protocol}",
            super::VERSION
        );
    }
}
