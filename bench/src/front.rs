//! The command-line front shared by `ringproof-bench`, `ringproof bench` and
//! `ringproof-bench-peers bench`: the run over every case, in named steps, and the verdict
//! (its options are in `opts.rs`).

use crate::launcher::Launcher;
use crate::machine::{machine_info, pause_ns};
use crate::opts::{self, Opts};
use crate::plan::{Case, Plan};
use crate::role::Peer;
use crate::scenario::{self, SCENARIOS};
use crate::schedule::{self, Rates};
use crate::signals;
use crate::stats::ScenarioRun;
use crate::testee_registry::{self, Registered};
use crate::{clock, plot, report, shm, testee_report, testee_subject};
use indicatif::{ProgressBar, ProgressStyle};
use ringproof_conformance::protocol::BenchMode;
use serde_json::{json, Value};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Runs the bench as `o` says, spawning roles through `launcher`; prints the table and the
/// verdict. Exit status (as `ringproof --help` documents for every proof-kit command): 0 all
/// verified, 1 a payload or sequence error, a leak or a failed run, 2 a usage or harness error
/// (bad flags, no peers binary), 3 a missed target with --enforce-targets, 128 + the signal
/// when SIGINT/SIGTERM interrupted it (children killed, names unlinked, partial --json written).
pub fn orchestrate(mut o: Opts, launcher: Launcher) -> ExitCode {
    let testees = match register_testees(&o) {
        Ok(t) => t,
        Err(code) => return code,
    };
    if o.list {
        print_list(testees);
        return ExitCode::SUCCESS;
    }
    let auto_scenarios = aim_at_testees(&mut o, testees);
    let peers = match check_usage(&o, &launcher) {
        Ok(p) => p,
        Err(code) => return code,
    };
    signals::install_signal_handlers();
    let swept = shm::sweep_stale();
    if swept > 0 {
        eprintln!(
            "removed {swept} stale {}* names and directories of dead earlier runs",
            shm::PREFIX
        );
    }
    let (cpus, pinning) = match opts::cpus(&o) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let ticks_per_ns = clock::calibrate(Duration::from_millis(50));
    let pause = pause_ns();
    let machine = machine_info(ticks_per_ns, pause, &pinning);
    let plan = opts::plan(&o, cpus, ticks_per_ns);
    let sizes = opts::sizes(&o);
    let (cases, notes) = select_cases(&o, &sizes, &peers, &plan, testees, auto_scenarios);
    let total_runs: usize = cases.iter().map(|c| c.runs(plan.brackets)).sum();
    eprintln!(
        "ringproof-bench{}: {} case(s), {total_runs} runs, {} brackets per subject, sizes {sizes:?}, peers {:?}, capacity {}, batch {}, {pinning}{}; tsc {ticks_per_ns:.3} ticks/ns, pause {pause:.1} ns",
        if o.quick { " --quick" } else { "" },
        cases.len(),
        plan.brackets,
        peers.iter().map(|p| p.name()).collect::<Vec<_>>(),
        plan.capacity,
        plan.batch,
        o.rt.map_or(String::new(), |p| format!(", SCHED_FIFO {p}"))
    );
    for n in &notes {
        eprintln!("note: {n}");
    }

    let ran = run_cases(&cases, &plan, &launcher, o.lie_factor, total_runs);
    let table = report::table(&ran.runs);
    println!();
    print!("{table}");
    println!();
    print!("{}", report::brackets(&ran.runs));
    let v = Verdict::of(&ran, notes);
    v.print(&pinning, &plan, &ran);

    let plotted = o
        .plot
        .as_ref()
        .is_none_or(|dir| write_plots(dir, &ran.runs));
    if let Some(path) = &o.json {
        let settings = settings_json(&o, &plan, &sizes, &peers, testees);
        let doc = report::json_doc(machine, settings, &ran.runs, v.json(&ran, table));
        if let Err(e) = std::fs::write(
            path,
            serde_json::to_string_pretty(&doc).expect("json") + "\n",
        ) {
            eprintln!("write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    let status = if plotted {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    v.exit_status(&o, status)
}

/// `--plot`: writes the SVG plots into `dir` and names them; false if that failed.
fn write_plots(dir: &std::path::Path, runs: &[ScenarioRun]) -> bool {
    match plot::write_all(dir, runs) {
        Ok(files) => {
            println!(
                "plots: {}",
                files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            true
        }
        Err(e) => {
            eprintln!("{e}");
            false
        }
    }
}

/// Starts and registers every `--impl` testee (none without `--impl`); exit 2 if one fails.
fn register_testees(o: &Opts) -> Result<&'static [Registered], ExitCode> {
    if o.impls.is_empty() {
        return Ok(&[]);
    }
    testee_registry::register(&o.impls).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(2)
    })
}

/// `--list`: the scenarios, and what each testee offers and joins.
fn print_list(testees: &[Registered]) {
    for s in SCENARIOS {
        println!("{:<26} {}", s.name, s.about);
    }
    for t in testees {
        println!();
        println!(
            "testee {} ({}: {} {})",
            t.who,
            t.spec,
            t.imp.program.display(),
            t.imp.args.join(" ")
        );
        println!("  capabilities: {}", t.capabilities.join(", "));
        let joins = t.scenarios();
        println!(
            "  bench modes: {}",
            BenchMode::ALL
                .iter()
                .filter(|m| t.has(m.capability()))
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "  joins: {}",
            if joins.is_empty() {
                "nothing (no `bench` mode it can run)".to_owned()
            } else {
                joins.join(", ")
            }
        );
    }
}

/// With testees, a run compares them with the reference and the floors: no peers unless asked,
/// and (without --scenario) only the scenarios a testee joins. Returns whether the scenarios
/// were chosen that way.
fn aim_at_testees(o: &mut Opts, testees: &[Registered]) -> bool {
    let auto_scenarios = !testees.is_empty() && o.scenario.is_empty();
    if !testees.is_empty() {
        // A testee run compares with the reference and the floors; peers only when asked.
        if o.peers.is_empty() {
            o.peers = vec!["none".into()];
        }
        if auto_scenarios {
            o.scenario = testee_registry::JOINS
                .iter()
                .map(|(s, _, _)| s.to_string())
                .collect();
            o.scenario.dedup();
        }
    }
    auto_scenarios
}

/// Checks the ring settings and that the peers binary exists; returns the peers to run, or
/// exit 2.
fn check_usage(o: &Opts, launcher: &Launcher) -> Result<Vec<Peer>, ExitCode> {
    if !o.capacity.is_power_of_two() || o.batch == 0 || o.batch > o.capacity {
        eprintln!("capacity must be a power of two and 1 <= batch <= capacity");
        return Err(ExitCode::from(2));
    }
    let peers = opts::peers(o);
    if !peers.is_empty() {
        if let Err(e) = launcher.check_peers() {
            eprintln!("{e}");
            return Err(ExitCode::from(2));
        }
    }
    Ok(peers)
}

/// The cases to run, with the testee subjects added to the scenarios they join, and the notes
/// on what was left out.
fn select_cases(
    o: &Opts,
    sizes: &[usize],
    peers: &[Peer],
    plan: &Plan,
    testees: &[Registered],
    auto_scenarios: bool,
) -> (Vec<Case>, Vec<String>) {
    let (mut cases, mut notes) = crate::plan::cases(&o.scenario, sizes, peers, plan);
    if !testees.is_empty() {
        for c in &mut cases {
            c.subjects
                .extend(testee_subject::kinds_for(c.scenario.name));
        }
        let mut alone: Vec<&str> = cases
            .iter()
            .filter(|c| c.subjects.iter().all(|k| k.testee().is_none()))
            .map(|c| c.scenario.name)
            .collect();
        alone.dedup();
        if auto_scenarios {
            // Cases no testee joins only repeat the built-in run: drop them.
            cases.retain(|c| c.subjects.iter().any(|k| k.testee().is_some()));
        } else if !alone.is_empty() {
            notes.push(format!(
                "no testee joins {} (see --list): built-in subjects only",
                alone.join(", ")
            ));
        }
    }
    (cases, notes)
}

/// What running every case gave.
struct Ran {
    runs: Vec<ScenarioRun>,
    /// Cases that failed (a peer that broke, a run past its deadline, an impossible testee
    /// result).
    failures: Vec<String>,
    /// Testee brackets whose floors or run were contended: not checked against the floor.
    unjudged: Vec<String>,
    elapsed: Duration,
}

/// Runs every case's schedule behind a progress bar. A case that fails is reported and the
/// others still run; only an interruption stops everything.
fn run_cases(
    cases: &[Case],
    plan: &Plan,
    launcher: &Launcher,
    lie_factor: f64,
    total_runs: usize,
) -> Ran {
    let started = Instant::now();
    let bar = progress_bar(total_runs as u64);
    let mut runs: Vec<ScenarioRun> = Vec::new();
    let mut rates = Rates::new();
    let mut next_run = 0u32;
    let mut failures: Vec<String> = Vec::new();
    let mut unjudged: Vec<String> = Vec::new();
    for case in cases {
        match schedule::run_case(case, plan, launcher, &mut rates, &mut next_run, &bar) {
            Ok(r) => match testee_report::check_plausible(&r, lie_factor) {
                Ok(skipped) => {
                    unjudged.extend(skipped);
                    runs.push(r)
                }
                Err(e) => {
                    bar.suspend(|| eprintln!("FAILED: {e}"));
                    failures.push(e);
                }
            },
            Err(e) => {
                bar.suspend(|| eprintln!("FAILED: {e}"));
                failures.push(e);
                if signals::interrupted() {
                    break;
                }
            }
        }
    }
    bar.finish_and_clear();
    Ran {
        runs,
        failures,
        unjudged,
        elapsed: started.elapsed(),
    }
}

/// The verdict over every case that ran.
struct Verdict {
    failure: Option<String>,
    errors: u64,
    unpinned: usize,
    leaked: Vec<String>,
    contended: usize,
    oversubscribed: Vec<String>,
    missed: Vec<String>,
    verified: u64,
    run_count: usize,
    dropped: Vec<String>,
    notes: Vec<String>,
}

impl Verdict {
    fn of(ran: &Ran, notes: Vec<String>) -> Verdict {
        let runs = &ran.runs;
        Verdict {
            failure: (!ran.failures.is_empty()).then(|| ran.failures.join("; ")),
            errors: runs.iter().map(ScenarioRun::errors).sum(),
            unpinned: runs.iter().map(ScenarioRun::unpinned).sum(),
            leaked: runs.iter().flat_map(ScenarioRun::leaked).collect(),
            contended: runs.iter().map(ScenarioRun::contended).sum(),
            oversubscribed: runs
                .iter()
                .filter(|r| r.oversubscribed())
                .map(|r| r.case.title())
                .collect(),
            missed: runs
                .iter()
                .flat_map(|r| {
                    r.summaries()
                        .into_iter()
                        .filter(|s| s.met == Some(false))
                        .map(move |s| format!("{} {}", r.case.title(), r.scenario.label(s.metric)))
                })
                .collect(),
            verified: runs
                .iter()
                .flat_map(|r| r.floors.iter().chain(r.subjects.iter().map(|(_, o)| o)))
                .map(|o| o.verified())
                .sum(),
            run_count: runs.iter().map(ScenarioRun::run_count).sum(),
            dropped: runs
                .iter()
                .flat_map(|r| {
                    r.dropped()
                        .into_iter()
                        .map(move |(k, n)| format!("{} {}: {n}", r.case.title(), k.who()))
                })
                .collect(),
            notes,
        }
    }

    /// The lines under the tables.
    fn print(&self, pinning: &str, plan: &Plan, ran: &Ran) {
        let (errors, verified, run_count) = (self.errors, self.verified, self.run_count);
        let (unpinned, contended, leaked) = (self.unpinned, self.contended, &self.leaked);
        println!();
        println!("verification: {errors} payload/sequence errors in {verified} verified events and round trips over {run_count} runs");
        println!(
            "pinning: {pinning}{}",
            if unpinned > 0 {
                format!("; {unpinned} runs had a child that FAILED to pin")
            } else {
                String::new()
            }
        );
        if !self.oversubscribed.is_empty() {
            println!(
                "oversubscribed (more spinning processes than cores): {}",
                self.oversubscribed.join(", ")
            );
        }
        for n in &self.notes {
            println!("note: {n}");
        }
        println!(
            "contention: {contended} kept runs had more than {} involuntary context switches{}",
            plan.max_preemptions,
            if contended > 0 {
                " (the machine was busy: treat their numbers with suspicion)"
            } else {
                ""
            }
        );
        if !ran.unjudged.is_empty() {
            println!(
                "not checked against the floor: {} testee brackets whose runs were contended (a loaded floor cannot judge a claim; listed in the JSON verdict)",
                ran.unjudged.len()
            );
        }
        if !leaked.is_empty() {
            println!("leaked shm names (removed by the orchestrator): {leaked:?}");
        }
        println!(
            "targets missed (worst bracket): {}",
            if self.missed.is_empty() {
                "none".to_owned()
            } else {
                self.missed.join(", ")
            }
        );
        println!(
            "total {:.1} s for {run_count} runs",
            ran.elapsed.as_secs_f64()
        );
        for e in &ran.failures {
            println!("FAILED: {e}");
        }
        if !self.dropped.is_empty() {
            println!(
                "not delivered to a reader (peer behaviour, not payload errors): {}",
                self.dropped.join(", ")
            );
        }
    }

    /// The `verdict` object of the JSON file.
    fn json(&self, ran: &Ran, table: String) -> Value {
        let (errors, verified, run_count) = (self.errors, self.verified, self.run_count);
        let (unpinned, contended, leaked) = (self.unpinned, self.contended, &self.leaked);
        let (oversubscribed, dropped, missed) = (&self.oversubscribed, &self.dropped, &self.missed);
        let (failures, unjudged, notes, failure) =
            (&ran.failures, &ran.unjudged, &self.notes, &self.failure);
        json!({
            "errors": errors, "verified": verified, "runs": run_count, "unpinned_runs": unpinned, "contended_runs": contended,
            "oversubscribed": oversubscribed, "leaked": leaked, "dropped": dropped, "failures": failures, "unjudged_testee_brackets": unjudged, "targets_missed": missed, "notes": notes,
            "failure": failure, "elapsed_s": ran.elapsed.as_secs_f64(), "table": table,
            "interrupted": signals::interrupting_signal().map(|s| nix::sys::signal::Signal::try_from(s).map_or("signal", |s| s.as_str())),
        })
    }

    /// The exit status (see [`orchestrate`]); `status` is 1 if the plots failed.
    fn exit_status(&self, o: &Opts, status: ExitCode) -> ExitCode {
        if let Some(sig) = signals::interrupting_signal() {
            // 128 + the signal (130 SIGINT, 143 SIGTERM): the children are killed, the names
            // unlinked, and the partial --json written above.
            return ExitCode::from(128 + sig as u8);
        }
        if self.failure.is_some() || self.errors > 0 || !self.leaked.is_empty() {
            return ExitCode::FAILURE;
        }
        if o.enforce_targets && !o.quick && !self.missed.is_empty() {
            return ExitCode::from(3);
        }
        status
    }
}

/// The `settings` object of the JSON file.
fn settings_json(
    o: &Opts,
    plan: &Plan,
    sizes: &[usize],
    peers: &[Peer],
    testees: &[Registered],
) -> Value {
    let q = o.quick;
    json!({
        "quick": q, "brackets": plan.brackets, "capacity": plan.capacity, "batch": plan.batch, "sizes": sizes,
        "peers": peers.iter().map(|p| p.name()).collect::<Vec<_>>(),
        "events": plan.events, "target_secs": plan.target_secs, "rounds": plan.rounds,
        "ping_warmup": plan.ping_warmup, "paced_rounds": plan.paced_rounds, "paced_warmup": plan.paced_warmup,
        "gap_ns": plan.gap_ns, "open_loop_rounds": plan.open_loop_rounds, "interval_ns": plan.interval_ns,
        "futex_floor_spins": plan.spins, "cpus": plan.cpus,
        "rt_priority": plan.rt_priority, "rt_cooldown": plan.cooldown, "attempts": plan.attempts,
        "max_preemptions": plan.max_preemptions, "quiet_wait_s": plan.quiet_wait.as_secs_f64(),
        "close_one_way_ns": scenario::CLOSE_ONE_WAY_NS, "shared_one_way_ns": scenario::SHARED_ONE_WAY_NS, "lie_factor": o.lie_factor,
        "impls": testees.iter().map(|t| json!({ "spec": t.spec, "who": t.who, "impl": t.imp.name, "program": t.imp.program, "args": t.imp.args, "capabilities": t.capabilities, "joins": t.scenarios() })).collect::<Vec<_>>(),
        "args": std::env::args().collect::<Vec<_>>(),
    })
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} runs  {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
