//! `ringproof conform`: runs the conformance catalogue over the implementation matrix.

use crate::roles::stop_signals;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ringproof_conformance::cases::catalogue;
use ringproof_conformance::driver::Implementation;
use ringproof_conformance::protocol::Backend;
use ringproof_conformance::report::{self, Totals};
use ringproof_conformance::runner::{self, Probed, Status};
use ringproof_conformance::schema::Schema;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct ConformArgs {
    /// Implementation to test: `ringproof` (the built-in reference), `disruptor-mp` (the
    /// adapter `dmp-peer` built next to this binary), or the path of a testee executable.
    /// Repeat to build the interop matrix (every producer x every consumer).
    #[arg(long = "impl", value_name = "NAME|PATH")]
    impls: Vec<String>,
    /// Only cases whose id matches this glob (`*` = anything), e.g. `spsc.*`.
    #[arg(long, value_name = "GLOB")]
    case: Option<String>,
    /// Only this backend (default: both).
    #[arg(long, value_parser = ["shm", "mmap"])]
    backend: Option<String>,
    /// List the cases and exit.
    #[arg(long)]
    list: bool,
    /// Print conformance/COVERAGE.md (every SPEC.md rule id and the cases that check it, or
    /// why none can) and exit; exit 1 if a rule has neither.
    #[arg(long)]
    coverage: bool,
    /// Write results as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write results as JUnit XML.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Directory of expected-failure lists (default: this repository's conformance/expected).
    #[arg(long, value_name = "DIR")]
    expected: Option<PathBuf>,
    /// Run only shard K of N (1-based) of the instances: a stable partition by instance key,
    /// so a CI matrix of N runners covers every instance once (`ringproof merge` joins them).
    #[arg(long, value_name = "K/N", value_parser = |s: &str| ringproof_chaos::Shard::parse(s).map_err(|e| e.to_string()))]
    shard: Option<ringproof_chaos::Shard>,
    #[command(flatten)]
    explore: crate::explore_cmd::ExploreArgs,
    /// Measure the catalogue itself: run every planted defect of the reference (both roles)
    /// through its killer cases and print the mutation score. Needs a CLI built with
    /// `cargo build -p ringproof-cli --features mutants`.
    #[arg(long)]
    mutants: bool,
    /// With --mutants: run the whole catalogue against each mutant, not just its killers.
    #[arg(long, requires = "mutants")]
    all: bool,
}

/// Resolves `--impl` to a testee command line ([`Implementation::resolve`]).
pub(crate) fn resolve(spec: &str) -> Result<Implementation, String> {
    Implementation::resolve(spec)
}

pub fn run(a: ConformArgs) -> ExitCode {
    let cases = catalogue();
    if a.list {
        for c in &cases {
            println!(
                "{:32} {:11} {:5?} {:>4}s  {}  (SPEC {}: {})",
                c.id,
                c.level.as_str(),
                c.roles,
                c.timeout.as_secs(),
                c.rule,
                c.spec,
                c.rules.join(" ")
            );
        }
        return ExitCode::SUCCESS;
    }
    let backends = match a.backend.as_deref() {
        Some("shm") => vec![Backend::Shm],
        Some("mmap") => vec![Backend::Mmap],
        _ => vec![Backend::Shm, Backend::Mmap],
    };
    if a.mutants {
        return run_mutants(&backends, a.all);
    }
    if a.coverage {
        use ringproof_conformance::coverage;
        return match coverage::coverage(coverage::SPEC, &cases, coverage::UNTESTABLE) {
            Ok(cov) => {
                print!("{}", coverage::render(&cov));
                for p in cov.problems() {
                    eprintln!("ringproof conform --coverage: {p}");
                }
                if cov.is_complete() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(e) => {
                eprintln!("ringproof conform --coverage: {e}");
                ExitCode::from(2)
            }
        };
    }
    if a.explore.active() {
        return crate::explore_cmd::run(
            &a.impls,
            a.backend.as_deref(),
            a.expected.clone(),
            &a.explore,
        );
    }
    let specs = if a.impls.is_empty() {
        vec!["ringproof".to_owned()]
    } else {
        a.impls.clone()
    };
    let schema = Arc::new(Schema::load());
    let mut impls: Vec<Probed> = Vec::new();
    for s in &specs {
        match resolve(s).and_then(|imp| runner::probe(&imp, &schema)) {
            Ok(p) => impls.push(p),
            Err(e) => {
                eprintln!("ringproof conform: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let expected_dir = a
        .expected
        .clone()
        .unwrap_or_else(runner::default_expected_dir);
    let expected = match runner::load_expected(&expected_dir, &impls) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("ringproof conform: {e}");
            return ExitCode::from(2);
        }
    };
    let mut plan = runner::plan(&cases, &impls, &backends, a.case.as_deref());
    if let Some(shard) = a.shard {
        plan.retain(|inst| shard.owns(&inst.key));
        println!("shard {shard}: {} instance(s)", plan.len());
    }
    if plan.is_empty() && a.shard.is_some() {
        // A small matrix over many runners: this shard has nothing to do, which is no error.
        println!("0 passed, 0 failed, 0 skipped");
        write_reports(&a, &[], None);
        return ExitCode::SUCCESS;
    }
    if plan.is_empty() {
        eprintln!(
            "ringproof conform: no case matches {:?} (see --list)",
            a.case
        );
        return ExitCode::from(2);
    }
    let bar = ProgressBar::new(plan.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed} {wide_msg}")
            .expect("valid template"),
    );
    // SIGINT/SIGTERM: the instance running finishes (its case stops its testees and removes
    // its segments and directory), the rest are recorded as not run, the reports are written.
    stop_signals::install();
    let mut results = Vec::new();
    for inst in &plan {
        if let Some(sig) = stop_signals::caught() {
            let r = runner::InstanceResult {
                key: inst.key.clone(),
                case_id: cases[inst.case].id,
                rules: cases[inst.case].rules,
                producer: impls[inst.producer].imp.name.clone(),
                consumer: impls[inst.consumer].imp.name.clone(),
                backend: inst.backend,
                status: Status::Skipped,
                detail: format!("interrupted by {}: not run", stop_signals::name(sig)),
                notes: Vec::new(),
                duration: std::time::Duration::ZERO,
            };
            results.push(r);
            continue;
        }
        bar.set_message(inst.key.clone());
        let mut r = runner::run_instance(&cases[inst.case], inst, &impls, &schema, &expected);
        if let Some(sig) = stop_signals::caught() {
            // Its testees may have had the signal too (a process-group signal): not a verdict.
            if r.status != Status::Pass {
                r.status = Status::Error;
                r.detail = format!(
                    "interrupted by {} while running; judged on a partial run:\n{}",
                    stop_signals::name(sig),
                    r.detail
                );
            }
        }
        if r.status.is_bad() {
            bar.println(format!("{:>16}  {}", r.status.as_str(), r.key));
        }
        results.push(r);
        bar.inc(1);
        // Rewritten after every instance: a run killed outright still leaves its partial result.
        write_reports(&a, &results, stop_signals::caught());
    }
    bar.finish_and_clear();
    println!("{}", report::matrix(&results));
    print!("{}", report::details(&results));
    write_reports(&a, &results, stop_signals::caught());
    let totals = Totals::of(&results);
    println!(
        "\n{} pass, {} expected-failure, {} skipped, {} failed ({} instances, {} cases)",
        totals.pass,
        totals.expected_failure,
        totals.skipped,
        totals.bad,
        results.len(),
        cases.len()
    );
    println!("{}", totals.closing_line());
    if let Some(sig) = stop_signals::caught() {
        println!(
            "INTERRUPTED by {}: testees stopped, segments removed, partial reports written",
            stop_signals::name(sig)
        );
        return stop_signals::exit_code(sig);
    }
    if totals.bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Writes `--json` (with the shard and the interrupting signal) and `--junit`.
fn write_reports(a: &ConformArgs, results: &[runner::InstanceResult], signal: Option<i32>) {
    if let Some(p) = &a.json {
        let mut doc = report::to_json(results);
        doc["shard"] = a.shard.map_or(
            serde_json::Value::Null,
            |s| serde_json::json!({ "index": s.index, "count": s.count }),
        );
        doc["interrupted"] =
            signal.map_or(serde_json::Value::Null, |s| stop_signals::name(s).into());
        if let Err(e) = std::fs::write(p, serde_json::to_string_pretty(&doc).expect("json")) {
            eprintln!("ringproof conform: cannot write {}: {e}", p.display());
        }
    }
    if let Some(p) = &a.junit {
        if let Err(e) = std::fs::write(p, report::to_junit(results)) {
            eprintln!("ringproof conform: cannot write {}: {e}", p.display());
        }
    }
}

/// `--mutants`: every planted defect through [`judge`](ringproof_conformance::mutants::judge),
/// a table, and the score. Exit 1 if a mutant survives that `SURVIVORS` does not list.
#[cfg(feature = "mutants")]
fn run_mutants(backends: &[Backend], all: bool) -> ExitCode {
    use ringproof_conformance::mutants::{judge, MUTANTS, SURVIVORS};
    let reference = match resolve("ringproof") {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ringproof conform: {e}");
            return ExitCode::from(2);
        }
    };
    let schema = Arc::new(Schema::load());
    let cases = catalogue();
    let (mut killed, mut unlisted) = (0usize, Vec::new());
    println!("{:40} {:9} {:>8}  killed by", "mutant", "verdict", "time");
    for m in MUTANTS {
        let started = std::time::Instant::now();
        let listed = SURVIVORS.iter().find(|(n, _)| *n == m.name);
        let (verdict, by) = match judge(m, &reference, &cases, &schema, backends, all) {
            Ok(v) => match v.killed_by {
                Some(k) => {
                    killed += 1;
                    ("killed", format!("{} ({})", k.key, k.status.as_str()))
                }
                None if listed.is_some() => (
                    "survived",
                    format!("listed survivor: {}", listed.map_or("", |l| l.1)),
                ),
                None => {
                    unlisted.push(m.name);
                    (
                        "SURVIVED",
                        format!(
                            "none of {:?} ({} instances ran): {}",
                            m.killers,
                            v.ran.len(),
                            m.what
                        ),
                    )
                }
            },
            Err(e) => {
                unlisted.push(m.name);
                ("ERROR", e)
            }
        };
        println!(
            "{:40} {:9} {:>7.1}s  {by}",
            m.name,
            verdict,
            started.elapsed().as_secs_f64()
        );
    }
    println!("\nmutation score: {killed}/{} killed", MUTANTS.len());
    if unlisted.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("survivors not listed in SURVIVORS: {}", unlisted.join(", "));
        ExitCode::from(1)
    }
}

#[cfg(not(feature = "mutants"))]
fn run_mutants(_backends: &[Backend], _all: bool) -> ExitCode {
    eprintln!("ringproof conform --mutants: this ringproof has no planted defects (a normal build carries none); build one with `cargo build -p ringproof-cli --features mutants`");
    ExitCode::from(2)
}
