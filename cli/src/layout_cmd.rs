//! `ringproof layout`: look inside segments and keep the golden layouts honest.
//!
//! - `inspect PATH | --shm NAME [--hex] [--json]`: every field with its offset, and a verdict
//!   (LayoutV1 segments, and counters segments, recognised by their "MYC0" magic).
//! - `diff A B [--shm] [--json]`: the fields that differ between two segments.
//! - `audit [DIR] [--json]`: validates every golden under DIR and compares it with what the
//!   current writer produces (drift).
//! - `regen DIR`: writes ringproof's goldens (only the regeneration command in
//!   `golden-layouts/README.md` runs this).
//!
//! Exit codes: 0 fine; 1 a segment is rejected, segments differ, or the audit found a problem;
//! 2 a file could not be read (the message says why and what to do).

mod audit;
mod inspect;
mod load;
mod regen;

use clap::{Args, Subcommand};
use serde_json::json;
use std::process::ExitCode;

#[derive(Args)]
pub struct LayoutArgs {
    #[command(subcommand)]
    cmd: LayoutCmd,
}

#[derive(Subcommand)]
enum LayoutCmd {
    /// Decode a segment file (or a shm segment) into fields, offsets and a verdict.
    Inspect(inspect::InspectArgs),
    /// Show the fields that differ between two segments.
    Diff(inspect::DiffArgs),
    /// Validate every golden layout and report drift against the current writer.
    Audit(audit::AuditArgs),
    /// Write ringproof's golden layouts into DIR/ringproof/v1 (see golden-layouts/README.md).
    Regen(regen::RegenArgs),
}

pub fn run(a: LayoutArgs) -> ringproof::Result<ExitCode> {
    Ok(match a.cmd {
        LayoutCmd::Inspect(a) => inspect::inspect(a),
        LayoutCmd::Diff(a) => inspect::diff_cmd(a),
        LayoutCmd::Audit(a) => audit::audit(a),
        LayoutCmd::Regen(a) => regen::regen(a),
    })
}

/// Prints a read error (as JSON too with `--json`) and returns exit code 2.
fn fail(json: bool, msg: String) -> ExitCode {
    if json {
        println!("{}", json!({ "error": msg }));
    }
    eprintln!("ringproof layout: {msg}");
    ExitCode::from(2)
}
