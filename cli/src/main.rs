//! `ringproof`: one binary in front of the whole kit.

mod roles;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "ringproof", version, about = "Cross-process Disruptor ring over shm/mmap, and its proof kit")]
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Produce(a) => roles::produce(a),
        Command::Consume(a) => roles::consume(a),
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
