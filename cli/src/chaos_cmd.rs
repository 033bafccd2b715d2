//! `ringproof chaos`: a seeded fault campaign against an implementation's testee, with a
//! progress bar, the verdict table, and a report folder on failure.

use crate::roles::stop_signals;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use ringproof_chaos::schedule::FaultFamily;
use ringproof_chaos::shard::{campaign_seed, junit_cases, junit_xml, CampaignResult};
use ringproof_chaos::{campaign, report, Config, RunResult, Shard};
use ringproof_conformance::driver::Implementation;
use ringproof_conformance::protocol::{Backend, LivenessAction};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `--action`: one liveness action for every producer (the actions a campaign can judge:
/// `alert` and `evict`), or `mixed`, drawn per producer from the seed.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum CampaignAction {
    Mixed,
    Alert,
    Evict,
}

impl CampaignAction {
    /// Every producer's action, `None` for `mixed`.
    fn liveness(self) -> Option<LivenessAction> {
        match self {
            CampaignAction::Mixed => None,
            CampaignAction::Alert => Some(LivenessAction::Alert),
            CampaignAction::Evict => Some(LivenessAction::Evict),
        }
    }

    /// The flag's value (`mixed`, `alert`, `evict`), for the replay command.
    fn name(self) -> &'static str {
        self.liveness().map_or("mixed", LivenessAction::as_str)
    }
}

#[derive(Args, Debug)]
pub struct ChaosArgs {
    /// Seed of the fault schedule (default: drawn from the clock, and printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Length of the fault phase: `90s`, `5m`, `1500ms` (a bare number is seconds).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// Fault families, comma-separated: kill, stop, failpoints.
    #[arg(long, default_value = "kill,stop,failpoints", value_delimiter = ',', value_parser = parse_family)]
    faults: Vec<FaultFamily>,
    /// Implementation: `ringproof` (the reference), `disruptor-mp`, or a testee's path.
    #[arg(long = "impl", default_value = "ringproof", value_name = "NAME|PATH")]
    implementation: String,
    /// Number of consumers (c_0 and c_1 are required consumers).
    #[arg(long, default_value_t = 3)]
    consumers: usize,
    /// Backend.
    #[arg(long, default_value = "shm", value_parser = ["shm", "mmap"])]
    backend: String,
    /// The producers' liveness action for the required consumers: `alert` (they must never
    /// miss an event: the checker then refuses any gap of theirs), `evict`, or `mixed` (drawn
    /// per producer from the seed).
    #[arg(long, value_enum, default_value_t = CampaignAction::Mixed)]
    action: CampaignAction,
    /// Mean time between faults, in milliseconds.
    #[arg(long, default_value_t = 100)]
    interval_ms: u64,
    /// How long every consumer has, once faults stop, to reach the final sequence (seconds).
    #[arg(long, default_value_t = 20)]
    heal_bound_s: u64,
    /// Bound on dead-peer detection latency (milliseconds).
    #[arg(long, default_value_t = 2000)]
    detect_bound_ms: u64,
    /// Where a failing campaign writes its report folder (default: a temp directory).
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Write the full result (schedule, history, verdict per campaign) as JSON; `ringproof
    /// merge` combines shards' files. Rewritten after every campaign, so an interrupted run
    /// leaves its partial result.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write the verdict as JUnit XML: one test case per check row and per failing consumer
    /// life, the replay command in the failure text.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Run shard K of N (1-based) of the campaign under `--seed` (the master seed, required
    /// with --shard): its campaigns' seeds are derived from the master seed, the shard and the
    /// campaign's index, so N runners share nothing but the seed (`ringproof merge` joins them).
    #[arg(long, value_name = "K/N", value_parser = parse_shard, requires = "seed")]
    shard: Option<Shard>,
    /// Campaigns to run one after the other (each `--duration` long, each with its own seed
    /// derived from `--seed`): a shard's time budget is campaigns x duration.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    campaigns: u32,
    /// Run nothing: judge a recorded history again (a `--json` result or a report folder's
    /// history.json) with this build's checker.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["seed", "json"])]
    recheck: Option<PathBuf>,
}

/// `--recheck`: the checker over a saved history.
fn recheck(path: &std::path::Path) -> ExitCode {
    let histories = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).map_err(|e| format!("{} is not JSON: {e}", path.display())))
        .and_then(|mut doc| {
            let docs: Vec<serde_json::Value> = match doc.get_mut("campaigns").map(serde_json::Value::take) {
                Some(serde_json::Value::Array(cs)) => cs.into_iter().map(|mut c| c["history"].take()).collect(),
                _ => vec![doc.get_mut("history").map(serde_json::Value::take).unwrap_or(doc)],
            };
            docs.into_iter()
                .map(|h| {
                    serde_json::from_value::<ringproof_chaos::History>(h)
                        .map_err(|e| format!("{} holds no chaos history ({e}): pass a --json result or a report's history.json", path.display()))
                })
                .collect::<Result<Vec<_>, _>>()
        });
    match histories {
        Ok(hs) => {
            let mut passed = true;
            for h in hs {
                let v = ringproof_chaos::check(&h);
                println!("{}", report::verdict_table(&v));
                print!("{}", report::violations(&v, 20));
                passed &= v.passed();
            }
            if passed {
                println!("PASS");
                ExitCode::SUCCESS
            } else {
                println!("FAIL");
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("ringproof chaos: {e}");
            ExitCode::from(2)
        }
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (write 90s, 5m or 1500ms)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {s:?} (use ms, s, m or h)"
            ))
        }
    };
    Ok(Duration::from_secs_f64(secs))
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    Shard::parse(s).map_err(|e| e.to_string())
}

fn parse_family(s: &str) -> Result<FaultFamily, String> {
    FaultFamily::parse(s)
        .ok_or_else(|| format!("unknown fault family {s:?} (use kill, stop, failpoints)"))
}

/// The exit status of a finished (not interrupted) run: 0 every campaign passed, 1 a contract
/// violation was found, 2 only harness problems (the job, not the ring, is broken).
fn verdict_code(campaigns: &[CampaignResult]) -> ExitCode {
    let rows = campaigns
        .iter()
        .flat_map(|c| c.verdict.violations.iter().map(|v| v.row()));
    let (mut contract, mut harness) = (false, false);
    for r in rows {
        if r == "harness" {
            harness = true;
        } else {
            contract = true;
        }
    }
    if contract {
        ExitCode::from(1)
    } else if harness {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// Writes the JSON and JUnit reports of what has run so far.
fn write_reports(a: &ChaosArgs, result: &RunResult) {
    if let Some(p) = &a.json {
        if let Err(e) = std::fs::write(p, serde_json::to_string(result).expect("json")) {
            eprintln!("ringproof chaos: cannot write {}: {e}", p.display());
        }
    }
    if let Some(p) = &a.junit {
        let mut cases: Vec<_> = result
            .campaigns
            .iter()
            .flat_map(|c| c.junit.iter().cloned())
            .collect();
        if let Some(sig) = &result.interrupted {
            cases.push(ringproof_chaos::shard::JunitCase {
                classname: format!("chaos.shard-{}-of-{}", result.shard.index, result.shard.count),
                name: "campaign".into(),
                failure: Some(format!("interrupted by {sig} after {} campaign(s); the reports hold the partial result", result.campaigns.len())),
                skipped: None,
            });
        }
        if let Err(e) = std::fs::write(p, junit_xml("ringproof-chaos", &cases)) {
            eprintln!("ringproof chaos: cannot write {}: {e}", p.display());
        }
    }
}

/// Runs `ringproof chaos`: the campaigns of this shard, one after the other, each with its
/// verdict printed and the reports rewritten; a signal stops after the running campaign.
pub fn run(a: ChaosArgs) -> ExitCode {
    if let Some(p) = &a.recheck {
        return recheck(p);
    }
    let master = a.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64 % 1_000_000_000)
            .unwrap_or(1)
    });
    let shard = a.shard.unwrap_or(Shard::WHOLE);
    let (imp, failpoints) = match testee(&a) {
        Ok(t) => t,
        Err(code) => return code,
    };
    stop_signals::install();
    let interrupt = Arc::new(AtomicBool::new(false));
    stop_signals::forward_to(Arc::clone(&interrupt));
    println!(
        "seed {master}{}",
        if shard == Shard::WHOLE {
            String::new()
        } else {
            format!(" shard {shard}")
        }
    );
    let mut result = RunResult {
        tool: "chaos".into(),
        master_seed: master,
        shard,
        interrupted: None,
        campaigns: Vec::new(),
    };
    let single = shard == Shard::WHOLE && a.campaigns == 1;
    for n in 0..a.campaigns {
        let seed = campaign_seed(master, shard, n);
        let replay = replay_command(&a, seed);
        println!(
            "campaign {}/{} seed {seed}\nreplay: {replay}",
            n + 1,
            a.campaigns
        );
        let mut cfg = Config::new(seed, a.duration, imp.clone());
        configure(&mut cfg, &a, failpoints, single);
        cfg.replay = replay.clone();
        cfg.interrupt = Arc::clone(&interrupt);
        if n == 0 && !cfg.failpoints_supported && cfg.families.contains(&FaultFamily::Failpoints) {
            println!("note: {} does not offer the `failpoints` capability (RINGPROOF_FAILPOINT); failpoint faults are left out", a.implementation);
        }
        let outcome = match run_campaign(&a, n, cfg) {
            Ok(o) => o,
            Err(code) => return code,
        };
        let caught = stop_signals::caught().map(stop_signals::name);
        let classname = if single {
            format!("chaos.seed-{seed}")
        } else {
            format!("chaos.shard-{}-of-{}.seed-{seed}", shard.index, shard.count)
        };
        result
            .campaigns
            .push(judge(outcome, seed, replay, &classname, caught));
        result.interrupted = caught.map(str::to_owned);
        write_reports(&a, &result);
        if caught.is_some() {
            break;
        }
    }
    finish(&a, &result)
}

/// Resolves `--impl` and starts its testee once: the implementation, and whether it honours
/// failpoints. A testee that does not start is the job's problem, not the ring's: exit 2 before
/// any fault.
fn testee(a: &ChaosArgs) -> Result<(Implementation, bool), ExitCode> {
    let imp = crate::conform_cmd::resolve(&a.implementation).map_err(|e| {
        eprintln!("ringproof chaos: {e}");
        ExitCode::from(2)
    })?;
    let schema = Arc::new(ringproof_conformance::schema::Schema::load());
    match ringproof_conformance::runner::probe(&imp, &schema) {
        // PROTOCOL.md: a testee that honours RINGPROOF_FAILPOINT says so with `failpoints`.
        Ok(p) => Ok((imp, p.capabilities.iter().any(|c| c == "failpoints"))),
        Err(e) => {
            eprintln!("ringproof chaos: the testee does not start: {e}");
            Err(ExitCode::from(2))
        }
    }
}

/// The command that replays campaign `seed` alone.
fn replay_command(a: &ChaosArgs, seed: u64) -> String {
    let families: Vec<&str> = a.faults.iter().map(|f| f.as_str()).collect();
    format!(
        "ringproof chaos --seed {seed} --duration {}ms --faults {} --impl {} --consumers {} --backend {} --action {} --interval-ms {} --heal-bound-s {} --detect-bound-ms {}",
        a.duration.as_millis(),
        families.join(","),
        a.implementation,
        a.consumers,
        a.backend,
        a.action.name(),
        a.interval_ms,
        a.heal_bound_s,
        a.detect_bound_ms
    )
}

/// The flags' settings, into `cfg` (its seed's report folder under `--report` when the run
/// has several campaigns).
fn configure(cfg: &mut Config, a: &ChaosArgs, failpoints: bool, single: bool) {
    cfg.families = a.faults.iter().copied().collect();
    cfg.failpoints_supported = failpoints;
    cfg.consumers = a.consumers;
    cfg.backend = if a.backend == "mmap" {
        Backend::Mmap
    } else {
        Backend::Shm
    };
    cfg.mean_interval = Duration::from_millis(a.interval_ms.max(1));
    cfg.heal_bound = Duration::from_secs(a.heal_bound_s);
    cfg.detect_bound = Duration::from_millis(a.detect_bound_ms);
    let seed = cfg.seed;
    cfg.report_dir = a.report.as_ref().map(|d| {
        if single {
            d.clone()
        } else {
            d.join(format!("seed-{seed}"))
        }
    });
    cfg.action = a.action.liveness();
}

/// Runs campaign `n` behind a progress bar (without a terminal, as in CI logs, one line per
/// phase instead); exit 2 if it could not run.
fn run_campaign(a: &ChaosArgs, n: u32, cfg: Config) -> Result<campaign::Outcome, ExitCode> {
    let (seed, log_phases) = (cfg.seed, !std::io::stderr().is_terminal());
    let bar = ProgressBar::new(1);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} faults {elapsed} {msg}")
            .expect("valid template"),
    );
    let last_phase = Mutex::new("");
    let progress = |p: &campaign::Progress| {
        bar.set_length(p.faults_total as u64);
        bar.set_position(p.faults_done as u64);
        bar.set_message(p.phase);
        let mut last = last_phase.lock().expect("phase");
        if log_phases && *last != p.phase {
            *last = p.phase;
            eprintln!(
                "chaos: campaign {}/{} seed {seed}: {} ({}/{} faults)",
                n + 1,
                a.campaigns,
                p.phase,
                p.faults_done,
                p.faults_total
            );
        }
    };
    let outcome = ringproof_chaos::run(cfg, &progress);
    bar.finish_and_clear();
    outcome.map_err(|e| {
        eprintln!("ringproof chaos: {e}");
        ExitCode::from(2)
    })
}

/// Prints a campaign's verdict (and on failure its violations, report folder and replay
/// command) and keeps it for the reports.
fn judge(
    outcome: campaign::Outcome,
    seed: u64,
    replay: String,
    classname: &str,
    caught: Option<&str>,
) -> CampaignResult {
    println!("{}", report::verdict_table(&outcome.verdict));
    let junit = junit_cases(
        classname,
        &outcome.verdict,
        &outcome.history,
        &replay,
        caught,
    );
    if !outcome.verdict.passed() {
        print!("{}", report::violations(&outcome.verdict, 20));
        if let Some(r) = &outcome.report {
            println!("report folder: {}", r.display());
        }
        println!("FAIL (seed {seed}); replay: {replay}");
    } else if caught.is_none() {
        println!("PASS (seed {seed})");
    }
    CampaignResult {
        seed,
        replay,
        ring: outcome.ring,
        report: outcome.report.map(|r| r.display().to_string()),
        verdict: outcome.verdict,
        junit,
        schedule: Some(outcome.schedule),
        history: outcome.history,
    }
}

/// The exit status of the whole run (128 + the signal if one stopped it), with the summary
/// line of a multi-campaign run.
fn finish(a: &ChaosArgs, result: &RunResult) -> ExitCode {
    if let Some(sig) = stop_signals::caught() {
        println!("INTERRUPTED by {} after {} campaign(s): testees stopped, segments removed, partial reports written", stop_signals::name(sig), result.campaigns.len());
        return stop_signals::exit_code(sig);
    }
    let code = verdict_code(&result.campaigns);
    if a.campaigns > 1 {
        let failed = result
            .campaigns
            .iter()
            .filter(|c| !c.verdict.passed())
            .count();
        println!(
            "{} of {} campaigns failed (master seed {}, shard {})",
            failed,
            result.campaigns.len(),
            result.master_seed,
            result.shard
        );
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_families_parse_or_explain() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("12"), Ok(Duration::from_secs(12)));
        assert!(parse_duration("5 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_duration("soon")
            .unwrap_err()
            .contains("not a duration"));
        assert_eq!(parse_family("stop"), Ok(FaultFamily::Stop));
        assert!(parse_family("flood")
            .unwrap_err()
            .contains("kill, stop, failpoints"));
    }
}
