//! The command-line front shared by `ringproof-bench`, `ringproof bench` and
//! `ringproof-bench-peers bench`: options, the run over every case, the verdict.

use crate::bracket::{self, Case, Plan, Rates, ScenarioRun, SCENARIOS};
use crate::harness::{self, Launcher, Peer};
use crate::{clock, plot, report, shm, testee_subject};
use clap::{builder::PossibleValuesParser, Args};
use indicatif::{ProgressBar, ProgressStyle};
use ringproof_conformance::protocol::BenchMode;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Event sizes of the default run.
pub const DEFAULT_SIZES: [usize; 5] = [8, 64, 256, 1024, 4096];

#[derive(Args, Debug, Clone)]
pub struct Opts {
    /// Short run (about a minute): runs of ~0.1 s, two brackets, sizes 8 and 1024; verifies
    /// every payload and exits 0 unless something is wrong (targets are reported, never
    /// enforced).
    #[arg(long)]
    pub quick: bool,
    /// Run only this scenario (repeatable; see --list).
    #[arg(long, value_parser = PossibleValuesParser::new(SCENARIOS.iter().map(|s| s.name)))]
    pub scenario: Vec<String>,
    /// Event size in bytes for the sized stream scenarios (repeatable; a multiple of 8;
    /// default 8, 64, 256, 1024, 4096; with --quick 8 and 1024).
    #[arg(long, value_parser = parse_size)]
    pub size: Vec<usize>,
    /// Peers to run next to ringproof (repeatable or comma-separated; default all; `none`
    /// for ringproof against the floors only).
    #[arg(long, value_delimiter = ',', value_parser = PossibleValuesParser::new(["dmp", "iox2", "uds", "pipe", "none"]))]
    pub peers: Vec<String>,
    /// Readers of the 1 -> N broadcast (default: one per core besides the producer's; the
    /// scenario is skipped below 4 cores unless this is given).
    #[arg(long)]
    pub readers: Option<usize>,
    /// Also write everything (every run's raw report, serialised histograms) to this JSON file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write SVG plots here (latency percentile curves per subject, throughput against size).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Brackets per subject (default 3; 2 with --quick).
    #[arg(long)]
    pub brackets: Option<usize>,
    /// Ring capacity in slots, for floors, subjects and peers alike.
    #[arg(long, default_value_t = 1024)]
    pub capacity: usize,
    /// Events per floor cursor store and per publish_batch.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Fixed measured events per stream run, the same for every subject (default: each
    /// subject sized to --target-secs).
    #[arg(long)]
    pub events: Option<u64>,
    /// Wanted duration of one stream run, in seconds.
    #[arg(long, default_value_t = 0.4)]
    pub target_secs: f64,
    /// Measured round trips per closed-loop ping-pong run (default 100000; 5000 with --quick).
    #[arg(long)]
    pub rounds: Option<u64>,
    /// Measured round trips per wake-up run (default 3000; 200 with --quick).
    #[arg(long)]
    pub paced_rounds: Option<u64>,
    /// Idle gap before each wake-up round trip, in microseconds (default 200; 50 with --quick).
    #[arg(long)]
    pub gap_us: Option<u64>,
    /// Round trips per open-loop (paced-spin) run (default 20000; 2000 with --quick).
    #[arg(long)]
    pub open_loop_rounds: Option<u64>,
    /// Open-loop schedule: one round trip due every this many microseconds.
    #[arg(long, default_value_t = 20)]
    pub interval_us: u64,
    /// Cores to use, e.g. "0,1" (A on the first, readers on the rest; default: every core
    /// this process may use).
    #[arg(long)]
    pub cores: Option<String>,
    /// Do not pin.
    #[arg(long)]
    pub no_pin: bool,
    /// Exit 3 when a target is missed (never with --quick).
    #[arg(long)]
    pub enforce_targets: bool,
    /// Tries per run while a try is contended (default 3; 1 with --quick).
    #[arg(long)]
    pub attempts: Option<u32>,
    /// Involuntary context switches (all sides together) above which a try counts as
    /// contended: the machine is shared, and a preempted spinning side ruins the numbers.
    #[arg(long, default_value_t = 20)]
    pub max_preemptions: i64,
    /// Seconds to wait before each try for other runnable tasks to go away (default 10; 0 with --quick).
    #[arg(long)]
    pub quiet_wait_s: Option<f64>,
    /// Run every side under SCHED_FIFO at this priority (1-99; needs CAP_SYS_NICE), so other
    /// tasks on a shared machine cannot preempt them; the runs then leave the CPUs idle for
    /// --rt-cooldown times their duration after each run.
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=99))]
    pub rt: Option<i32>,
    /// Idle time after each run under --rt, as a fraction of the run's wall time.
    #[arg(long, default_value_t = 1.0)]
    pub rt_cooldown: f64,
    /// Run timeout in seconds (default 120; 60 with --quick).
    #[arg(long)]
    pub timeout_s: Option<u64>,
    /// List the scenarios and exit (with --impl: also what each testee offers and which
    /// scenarios it joins).
    #[arg(long)]
    pub list: bool,
    /// Also benchmark this implementation through its conformance testee's `bench` capability
    /// (conformance/PROTOCOL.md): `ringproof` (the reference testee), `disruptor-mp`, or the
    /// path of a testee executable. Repeatable. Its rows join stream-single, stream-batch,
    /// spmc-2, spmc-n, pingpong-spin and paced-spin (as it offers them) next to the built-in
    /// subjects; without --scenario only those run, and without --peers no built-in peers.
    #[arg(long = "impl", value_name = "NAME|PATH")]
    pub impls: Vec<String>,
    /// A testee result beating the case's best uncontended floor by more than this factor (or
    /// the floors' own spread, if larger) is refused as impossible.
    #[arg(long, default_value_t = testee_subject::LIE_FACTOR)]
    pub lie_factor: f64,
}

fn parse_size(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|e| format!("{s:?}: {e}"))?;
    if n == 0 || (n / 8) * 8 != n || n > 1 << 20 {
        return Err(format!(
            "event size {n} must be a positive multiple of 8, at most 1 MiB"
        ));
    }
    Ok(n)
}

fn peers(o: &Opts) -> Vec<Peer> {
    if o.peers.is_empty() {
        return Peer::ALL.to_vec();
    }
    let mut v: Vec<Peer> = o
        .peers
        .iter()
        .filter_map(|p| match p.as_str() {
            "dmp" => Some(Peer::Dmp),
            "iox2" => Some(Peer::Iox2),
            "uds" => Some(Peer::Uds),
            "pipe" => Some(Peer::Pipe),
            _ => None,
        })
        .collect();
    v.dedup();
    v
}

fn cpus(o: &Opts) -> Result<(Vec<usize>, String), String> {
    if o.no_pin {
        return Ok((Vec::new(), "not pinned (--no-pin)".into()));
    }
    let chosen: Vec<usize> = match &o.cores {
        Some(s) => s
            .split(',')
            .map(|c| {
                c.trim()
                    .parse::<usize>()
                    .map_err(|e| format!("--cores {s:?}: {e}"))
            })
            .collect::<Result<_, _>>()?,
        None => clock::allowed_cpus(),
    };
    let mut distinct = chosen.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 2 || distinct.len() != chosen.len() {
        return Ok((
            Vec::new(),
            format!(
                "PINNING FAILED: need two or more distinct cpus, have {chosen:?}; running unpinned"
            ),
        ));
    }
    Ok((
        chosen.clone(),
        format!(
            "A on cpu {}, B (readers) on cpus {:?} (reader i on the (1+i)-th, wrapping)",
            chosen[0],
            &chosen[1..]
        ),
    ))
}

fn machine_info(ticks_per_ns: f64, pause_ns: f64, pinning: &str) -> serde_json::Value {
    let model = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|m| m.trim().to_owned())
    });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_owned());
    json!({
        "pid": std::process::id(), "cpu_model": model, "kernel": kernel, "allowed_cpus": clock::allowed_cpus(),
        "online_cpus": std::thread::available_parallelism().map(|n| n.get()).ok(),
        "ticks_per_ns": ticks_per_ns, "pause_ns": pause_ns, "pinning": pinning,
        "membarrier": ringproof::kit::futex::register_membarrier(),
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

fn plan(o: &Opts, cpus: Vec<usize>, ticks_per_ns: f64) -> Plan {
    let q = o.quick;
    Plan {
        brackets: o.brackets.unwrap_or(if q { 2 } else { 3 }).max(1),
        capacity: o.capacity,
        batch: o.batch,
        events: o.events,
        min_events: if q { 10_000 } else { 200_000 },
        first_scale: if q { 0.1 } else { 1.0 },
        target_secs: if q {
            o.target_secs.min(0.1)
        } else {
            o.target_secs
        },
        rounds: o.rounds.unwrap_or(if q { 5_000 } else { 100_000 }),
        ping_warmup: if q { 500 } else { 10_000 },
        paced_rounds: o.paced_rounds.unwrap_or(if q { 200 } else { 3_000 }),
        paced_warmup: if q { 20 } else { 300 },
        gap_ns: o.gap_us.unwrap_or(if q { 50 } else { 200 }) * 1000,
        open_loop_rounds: o.open_loop_rounds.unwrap_or(if q { 2_000 } else { 20_000 }),
        interval_ns: o.interval_us.max(1) * 1000,
        spins: 1000,
        ticks_per_ns,
        cpus,
        timeout: Duration::from_secs(o.timeout_s.unwrap_or(if q { 60 } else { 120 })),
        attempts: o.attempts.unwrap_or(if q { 1 } else { 3 }).max(1),
        max_preemptions: o.max_preemptions,
        quiet_wait: Duration::from_secs_f64(o.quiet_wait_s.unwrap_or(if q || o.rt.is_some() {
            0.0
        } else {
            10.0
        })),
        rt_priority: o.rt,
        cooldown: if o.rt.is_some() {
            o.rt_cooldown.max(0.0)
        } else {
            0.0
        },
        many_readers: o.readers,
    }
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

/// Runs the bench as `o` says, spawning roles through `launcher`; prints the table and the
/// verdict. Exit status (as `ringproof --help` documents for every proof-kit command): 0 all
/// verified, 1 a payload or sequence error, a leak or a failed run, 2 a usage or harness error
/// (bad flags, no peers binary), 3 a missed target with --enforce-targets, 128 + the signal
/// when SIGINT/SIGTERM interrupted it (children killed, names unlinked, partial --json written).
pub fn orchestrate(mut o: Opts, launcher: Launcher) -> ExitCode {
    let testees = if o.impls.is_empty() {
        &[]
    } else {
        match testee_subject::register(&o.impls) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    };
    if o.list {
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
        return ExitCode::SUCCESS;
    }
    let auto_scenarios = !testees.is_empty() && o.scenario.is_empty();
    if !testees.is_empty() {
        // A testee run compares with the reference and the floors; peers only when asked.
        if o.peers.is_empty() {
            o.peers = vec!["none".into()];
        }
        if auto_scenarios {
            o.scenario = testee_subject::JOINS
                .iter()
                .map(|(s, _, _)| s.to_string())
                .collect();
            o.scenario.dedup();
        }
    }
    if !o.capacity.is_power_of_two() || o.batch == 0 || o.batch > o.capacity {
        eprintln!("capacity must be a power of two and 1 <= batch <= capacity");
        return ExitCode::from(2);
    }
    let peers = peers(&o);
    if !peers.is_empty() {
        if let Err(e) = launcher.check_peers() {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    }
    harness::install_signal_handlers();
    let swept = shm::sweep_stale();
    if swept > 0 {
        eprintln!(
            "removed {swept} stale {}* names and directories of dead earlier runs",
            shm::PREFIX
        );
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
    let plan = plan(&o, cpus, ticks_per_ns);
    let sizes: Vec<usize> = if !o.size.is_empty() {
        o.size.clone()
    } else if q {
        vec![8, 1024]
    } else {
        DEFAULT_SIZES.to_vec()
    };
    let (mut cases, mut notes) = bracket::cases(&o.scenario, &sizes, &peers, &plan);
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
    let total_runs: usize = cases.iter().map(|c| c.runs(plan.brackets)).sum();
    eprintln!(
        "ringproof-bench{}: {} case(s), {total_runs} runs, {} brackets per subject, sizes {sizes:?}, peers {:?}, capacity {}, batch {}, {pinning}{}; tsc {ticks_per_ns:.3} ticks/ns, pause {pause:.1} ns",
        if q { " --quick" } else { "" },
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

    let started = Instant::now();
    let bar = progress_bar(total_runs as u64);
    let mut runs: Vec<ScenarioRun> = Vec::new();
    let mut rates = Rates::new();
    let mut next_run = 0u32;
    // A case that fails (a peer that breaks, a run past its deadline) is reported and the
    // others still run; only an interruption stops everything.
    let mut failures: Vec<String> = Vec::new();
    // Testee brackets whose floors or run were contended: not checked against the floor.
    let mut unjudged: Vec<String> = Vec::new();
    for case in &cases {
        match bracket::run_case(case, &plan, &launcher, &mut rates, &mut next_run, &bar) {
            Ok(r) => match testee_subject::check_plausible(&r, o.lie_factor) {
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
                if harness::interrupted() {
                    break;
                }
            }
        }
    }
    let failure = (!failures.is_empty()).then(|| failures.join("; "));
    bar.finish_and_clear();
    let elapsed = started.elapsed();

    let table = report::table(&runs);
    println!();
    print!("{table}");
    println!();
    print!("{}", report::brackets(&runs));
    let errors: u64 = runs.iter().map(ScenarioRun::errors).sum();
    let unpinned: usize = runs.iter().map(ScenarioRun::unpinned).sum();
    let leaked: Vec<String> = runs.iter().flat_map(ScenarioRun::leaked).collect();
    let contended: usize = runs.iter().map(ScenarioRun::contended).sum();
    let oversubscribed: Vec<String> = runs
        .iter()
        .filter(|r| r.oversubscribed())
        .map(|r| r.case.title())
        .collect();
    let missed: Vec<String> = runs
        .iter()
        .flat_map(|r| {
            r.summaries()
                .into_iter()
                .filter(|s| s.met == Some(false))
                .map(move |s| format!("{} {}", r.case.title(), r.scenario.label(s.metric)))
        })
        .collect();
    let verified: u64 = runs
        .iter()
        .flat_map(|r| r.floors.iter().chain(r.subjects.iter().map(|(_, o)| o)))
        .map(|o| o.verified())
        .sum();
    let run_count: usize = runs.iter().map(ScenarioRun::run_count).sum();
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
    if !oversubscribed.is_empty() {
        println!(
            "oversubscribed (more spinning processes than cores): {}",
            oversubscribed.join(", ")
        );
    }
    for n in &notes {
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
    if !unjudged.is_empty() {
        println!(
            "not checked against the floor: {} testee brackets whose runs were contended (a loaded floor cannot judge a claim; listed in the JSON verdict)",
            unjudged.len()
        );
    }
    if !leaked.is_empty() {
        println!("leaked shm names (removed by the orchestrator): {leaked:?}");
    }
    println!(
        "targets missed (worst bracket): {}",
        if missed.is_empty() {
            "none".to_owned()
        } else {
            missed.join(", ")
        }
    );
    println!("total {:.1} s for {run_count} runs", elapsed.as_secs_f64());
    for e in &failures {
        println!("FAILED: {e}");
    }
    let dropped: Vec<String> = runs
        .iter()
        .flat_map(|r| {
            r.dropped()
                .into_iter()
                .map(move |(k, n)| format!("{} {}: {n}", r.case.title(), k.who()))
        })
        .collect();
    if !dropped.is_empty() {
        println!(
            "not delivered to a reader (peer behaviour, not payload errors): {}",
            dropped.join(", ")
        );
    }

    let mut status = ExitCode::SUCCESS;
    if let Some(dir) = &o.plot {
        match plot::write_all(dir, &runs) {
            Ok(files) => println!(
                "plots: {}",
                files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Err(e) => {
                eprintln!("{e}");
                status = ExitCode::FAILURE;
            }
        }
    }
    if let Some(path) = &o.json {
        let settings = json!({
            "quick": q, "brackets": plan.brackets, "capacity": plan.capacity, "batch": plan.batch, "sizes": sizes,
            "peers": peers.iter().map(|p| p.name()).collect::<Vec<_>>(),
            "events": plan.events, "target_secs": plan.target_secs, "rounds": plan.rounds,
            "ping_warmup": plan.ping_warmup, "paced_rounds": plan.paced_rounds, "paced_warmup": plan.paced_warmup,
            "gap_ns": plan.gap_ns, "open_loop_rounds": plan.open_loop_rounds, "interval_ns": plan.interval_ns,
            "futex_floor_spins": plan.spins, "cpus": plan.cpus,
            "rt_priority": plan.rt_priority, "rt_cooldown": plan.cooldown, "attempts": plan.attempts,
            "max_preemptions": plan.max_preemptions, "quiet_wait_s": plan.quiet_wait.as_secs_f64(),
            "close_one_way_ns": bracket::CLOSE_ONE_WAY_NS, "lie_factor": o.lie_factor,
            "impls": testees.iter().map(|t| json!({ "spec": t.spec, "who": t.who, "impl": t.imp.name, "program": t.imp.program, "args": t.imp.args, "capabilities": t.capabilities, "joins": t.scenarios() })).collect::<Vec<_>>(),
            "args": std::env::args().collect::<Vec<_>>(),
        });
        let verdict = json!({
            "errors": errors, "verified": verified, "runs": run_count, "unpinned_runs": unpinned, "contended_runs": contended,
            "oversubscribed": oversubscribed, "leaked": leaked, "dropped": dropped, "failures": failures, "unjudged_testee_brackets": unjudged, "targets_missed": missed, "notes": notes,
            "failure": failure, "elapsed_s": elapsed.as_secs_f64(), "table": table,
            "interrupted": harness::interrupting_signal().map(|s| nix::sys::signal::Signal::try_from(s).map_or("signal", |s| s.as_str())),
        });
        let doc = report::json_doc(machine, settings, &runs, verdict);
        if let Err(e) = std::fs::write(
            path,
            serde_json::to_string_pretty(&doc).expect("json") + "\n",
        ) {
            eprintln!("write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }

    if let Some(sig) = harness::interrupting_signal() {
        // 128 + the signal (130 SIGINT, 143 SIGTERM): the children are killed, the names
        // unlinked, and the partial --json written above.
        return ExitCode::from(128 + sig as u8);
    }
    if failure.is_some() || errors > 0 || !leaked.is_empty() {
        return ExitCode::FAILURE;
    }
    if o.enforce_targets && !q && !missed.is_empty() {
        return ExitCode::from(3);
    }
    status
}

/// The cases a run with these options would do, and their run count (for `--list`-like
/// planning and tests).
pub fn planned_cases(o: &Opts) -> Vec<Case> {
    let plan = plan(o, clock::allowed_cpus(), 1.0);
    let sizes = if o.size.is_empty() {
        DEFAULT_SIZES.to_vec()
    } else {
        o.size.clone()
    };
    bracket::cases(&o.scenario, &sizes, &peers(o), &plan).0
}
