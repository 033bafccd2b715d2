//! `ringproof-bench`: ringproof's cross-process speed, bracketed by raw shared-memory floors.
//!
//! Each scenario runs floor, subject, floor, subject, ..., floor (two processes per run, each
//! pinned to its own core) and reports subject / mean(adjacent floors) per bracket: only ratios
//! measured side by side mean anything on a machine whose two vCPUs are sometimes close and
//! sometimes far. See `bracket.rs` for the schedule, `floors.rs` and `subjects.rs` for what
//! runs, `harness.rs` for the processes.
//!
//! ```text
//! ringproof-bench                       # everything, 5 brackets per scenario
//! ringproof-bench --quick               # CI smoke: tiny counts, verifies payloads, exit 0
//! ringproof-bench --scenario pingpong-spin --json out.json
//! ringproof-bench --rt 10 --json out.json   # shared machine: SCHED_FIFO children
//! ```
//!
//! On a machine other work shares, a spinning side that loses its core for a moment ruins a
//! run. Every child reports its involuntary context switches; a run with more than
//! `--max-preemptions` is repeated (`--attempts`), and without `--rt` each try first waits for
//! the machine to go quiet. `--rt` runs both sides under SCHED_FIFO instead (root or
//! CAP_SYS_NICE), idling `--rt-cooldown` times each run's length afterwards so other work still
//! gets the CPUs.

mod bracket;
mod clock;
mod floors;
mod harness;
mod measure;
mod report;
mod shm;
mod subjects;

use bracket::{Plan, ScenarioRun, SCENARIOS};
use clap::{builder::PossibleValuesParser, Args, Parser, Subcommand};
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(name = "ringproof-bench", about = "Cross-process ringproof benchmark, bracketed by raw shm floors", args_conflicts_with_subcommands = true)]
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
    Role(harness::RoleArgs),
}

#[derive(Args, Debug)]
struct Opts {
    /// CI smoke run: tiny counts, two brackets, a few seconds; verifies every payload and
    /// exits 0 unless something is wrong (targets are reported, never enforced).
    #[arg(long)]
    quick: bool,
    /// Run only this scenario (repeatable).
    #[arg(long, value_parser = PossibleValuesParser::new(SCENARIOS.iter().map(|s| s.name)))]
    scenario: Vec<String>,
    /// Also write everything (every run's raw report) to this JSON file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Brackets per scenario (default 5; 2 with --quick).
    #[arg(long)]
    brackets: Option<usize>,
    /// Ring capacity in slots, for floors and subjects alike.
    #[arg(long, default_value_t = 1024)]
    capacity: usize,
    /// Events per floor cursor store and per publish_batch.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Fixed measured events per stream run (default: sized to --target-secs).
    #[arg(long)]
    events: Option<u64>,
    /// Wanted duration of one stream run, in seconds.
    #[arg(long, default_value_t = 0.5)]
    target_secs: f64,
    /// Measured round trips per ping-pong run (default 200000; 5000 with --quick).
    #[arg(long)]
    rounds: Option<u64>,
    /// Measured round trips per paced (wake-up) run (default 5000; 200 with --quick).
    #[arg(long)]
    paced_rounds: Option<u64>,
    /// Idle gap before each paced round trip, in microseconds (default 200; 50 with --quick).
    #[arg(long)]
    gap_us: Option<u64>,
    /// Cores for side A and side B, e.g. "0,1" (default: the first two this process may use).
    #[arg(long)]
    cores: Option<String>,
    /// Do not pin.
    #[arg(long)]
    no_pin: bool,
    /// Exit 2 when a target is missed (never with --quick).
    #[arg(long)]
    enforce_targets: bool,
    /// Tries per run while a try is contended (default 4; 1 with --quick).
    #[arg(long)]
    attempts: Option<u32>,
    /// Involuntary context switches (both sides together) above which a try counts as
    /// contended: the machine is shared, and a preempted spinning side ruins the numbers.
    #[arg(long, default_value_t = 20)]
    max_preemptions: i64,
    /// Seconds to wait before each try for other runnable tasks to go away (default 60; 0 with --quick).
    #[arg(long)]
    quiet_wait_s: Option<f64>,
    /// Run both sides under SCHED_FIFO at this priority (1-99; needs CAP_SYS_NICE), so other
    /// tasks on a shared machine cannot preempt them; the runs then leave the CPUs idle for
    /// --rt-cooldown times their duration after each run.
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=99))]
    rt: Option<i32>,
    /// Idle time after each run under --rt, as a fraction of the run's wall time.
    #[arg(long, default_value_t = 1.0)]
    rt_cooldown: f64,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Some(Cmd::Role(args)) => harness::run_role(args),
        None => orchestrate(cli.opts),
    }
}

fn cpus(o: &Opts) -> Result<([Option<usize>; 2], String), String> {
    if o.no_pin {
        return Ok(([None, None], "not pinned (--no-pin)".into()));
    }
    let chosen: Vec<usize> = match &o.cores {
        Some(s) => s.split(',').map(|c| c.trim().parse::<usize>().map_err(|e| format!("--cores {s:?}: {e}"))).collect::<Result<_, _>>()?,
        None => clock::allowed_cpus(),
    };
    match chosen.as_slice() {
        [a, b, ..] if a != b => Ok(([Some(*a), Some(*b)], format!("A on cpu {a}, B on cpu {b}"))),
        _ => Ok(([None, None], format!("PINNING FAILED: need two distinct cpus, have {chosen:?}; running unpinned"))),
    }
}

fn machine_info(ticks_per_ns: f64, pause_ns: f64, pinning: &str) -> serde_json::Value {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|m| m.trim().to_owned()));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|s| s.trim().to_owned());
    json!({
        "cpu_model": model, "kernel": kernel, "allowed_cpus": clock::allowed_cpus(),
        "ticks_per_ns": ticks_per_ns, "pause_ns": pause_ns, "pinning": pinning,
        "membarrier": ringproof::futex::register_membarrier(),
    })
}

/// Nanoseconds one spin hint (`pause`) takes here: what a `blocking()` spin phase lasts.
/// The best of five tries, so a preemption does not count.
fn pause_ns() -> f64 {
    let n = 100_000;
    (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                std::hint::spin_loop();
            }
            t.elapsed().as_nanos() as f64 / n as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn orchestrate(o: Opts) -> ExitCode {
    if o.list {
        for s in SCENARIOS {
            println!("{:<18} {}", s.name, s.about);
        }
        return ExitCode::SUCCESS;
    }
    if !o.capacity.is_power_of_two() || o.batch == 0 || o.batch > o.capacity {
        eprintln!("capacity must be a power of two and 1 <= batch <= capacity");
        return ExitCode::FAILURE;
    }
    harness::install_signal_handlers();
    let swept = shm::sweep_stale();
    if swept > 0 {
        eprintln!("removed {swept} stale /dev/shm/{}* names of dead earlier runs", shm::PREFIX);
    }
    let (cpus, pinning) = match cpus(&o) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let ticks_per_ns = clock::calibrate(Duration::from_millis(50));
    let pause = pause_ns();
    let machine = machine_info(ticks_per_ns, pause, &pinning);
    let q = o.quick;
    let plan = Plan {
        brackets: o.brackets.unwrap_or(if q { 2 } else { 5 }).max(1),
        capacity: o.capacity,
        batch: o.batch,
        events: o.events.or(q.then_some(1_000_000)),
        first_events: 50_000_000,
        min_events: 1_000_000,
        target_secs: o.target_secs,
        rounds: o.rounds.unwrap_or(if q { 5_000 } else { 200_000 }),
        ping_warmup: if q { 500 } else { 20_000 },
        paced_rounds: o.paced_rounds.unwrap_or(if q { 200 } else { 5_000 }),
        paced_warmup: if q { 20 } else { 500 },
        gap_ns: o.gap_us.unwrap_or(if q { 50 } else { 200 }) * 1000,
        spins: 1000,
        ticks_per_ns,
        cpus,
        timeout: Duration::from_secs(if q { 60 } else { 300 }),
        attempts: o.attempts.unwrap_or(if q { 1 } else { 4 }).max(1),
        max_preemptions: o.max_preemptions,
        quiet_wait: Duration::from_secs_f64(o.quiet_wait_s.unwrap_or(if q || o.rt.is_some() { 0.0 } else { 60.0 })),
        rt_priority: o.rt,
        cooldown: if o.rt.is_some() { o.rt_cooldown.max(0.0) } else { 0.0 },
    };
    let chosen: Vec<_> = SCENARIOS.iter().filter(|s| o.scenario.is_empty() || o.scenario.iter().any(|n| n == s.name)).collect();
    eprintln!(
        "ringproof-bench{}: {} scenario(s), {} brackets, capacity {}, batch {}, {pinning}{}; tsc {ticks_per_ns:.3} ticks/ns, pause {pause:.1} ns",
        if q { " --quick" } else { "" },
        chosen.len(),
        plan.brackets,
        plan.capacity,
        plan.batch,
        o.rt.map_or(String::new(), |p| format!(", SCHED_FIFO {p}"))
    );

    let started = Instant::now();
    let mut runs: Vec<ScenarioRun> = Vec::new();
    let mut rates = HashMap::new();
    let mut next_run = 0u32;
    let mut failure = None;
    for sc in chosen {
        match bracket::run_scenario(sc, &plan, &mut rates, &mut next_run, true) {
            Ok(r) => runs.push(r),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }

    let table = report::table(&runs);
    println!();
    print!("{table}");
    println!();
    print!("{}", report::brackets(&runs));
    let errors: u64 = runs.iter().map(ScenarioRun::errors).sum();
    let unpinned: usize = runs.iter().map(ScenarioRun::unpinned).sum();
    let leaked: Vec<String> = runs.iter().flat_map(ScenarioRun::leaked).collect();
    let contended: usize = runs.iter().map(ScenarioRun::contended).sum();
    let missed: Vec<String> = runs
        .iter()
        .flat_map(|r| r.summaries().into_iter().filter(|s| s.met == Some(false)).map(move |s| format!("{} {}", r.scenario.name, r.scenario.label(s.metric))))
        .collect();
    println!();
    println!("verification: {} payload/sequence errors over {} runs", errors, runs.iter().map(|r| r.floors.len() + r.subjects.len()).sum::<usize>());
    println!("pinning: {pinning}{}", if unpinned > 0 { format!("; {unpinned} runs had a child that FAILED to pin") } else { String::new() });
    println!(
        "contention: {contended} kept runs had more than {} involuntary context switches{}",
        plan.max_preemptions,
        if contended > 0 { " (the machine was busy: treat their numbers with suspicion)" } else { "" }
    );
    if !leaked.is_empty() {
        println!("leaked shm names (removed by the orchestrator): {leaked:?}");
    }
    println!("targets missed: {}", if missed.is_empty() { "none".to_owned() } else { missed.join(", ") });
    println!("total {:.1} s", started.elapsed().as_secs_f64());
    if let Some(e) = &failure {
        println!("FAILED: {e}");
    }

    if let Some(path) = &o.json {
        let settings = json!({
            "quick": q, "brackets": plan.brackets, "capacity": plan.capacity, "batch": plan.batch,
            "events": plan.events, "target_secs": plan.target_secs, "rounds": plan.rounds,
            "ping_warmup": plan.ping_warmup, "paced_rounds": plan.paced_rounds, "paced_warmup": plan.paced_warmup,
            "gap_ns": plan.gap_ns, "futex_floor_spins": plan.spins, "cpus": plan.cpus,
            "rt_priority": plan.rt_priority, "rt_cooldown": plan.cooldown, "attempts": plan.attempts,
            "max_preemptions": plan.max_preemptions, "quiet_wait_s": plan.quiet_wait.as_secs_f64(),
            "close_stream_rate": bracket::CLOSE_STREAM_RATE, "close_one_way_ns": bracket::CLOSE_ONE_WAY_NS,
            "args": std::env::args().collect::<Vec<_>>(),
        });
        let verdict = json!({
            "errors": errors, "unpinned_runs": unpinned, "contended_runs": contended, "leaked": leaked, "targets_missed": missed,
            "failure": failure, "table": table,
        });
        let doc = report::json_doc(machine, settings, &runs, verdict);
        if let Err(e) = std::fs::write(path, serde_json::to_string_pretty(&doc).expect("json") + "\n") {
            eprintln!("write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }

    if harness::interrupted() {
        return ExitCode::from(130);
    }
    if failure.is_some() || errors > 0 {
        return ExitCode::FAILURE;
    }
    if o.enforce_targets && !q && !missed.is_empty() {
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}
