//! `ringproof chaos`: a seeded fault campaign against an implementation's testee, with a
//! progress bar, the verdict table, and a report folder on failure.

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ringproof_chaos::schedule::FaultFamily;
use ringproof_chaos::{campaign, report, Config};
use ringproof_conformance::protocol::Backend;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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
    #[arg(long, default_value = "mixed", value_parser = ["mixed", "alert", "evict"])]
    action: String,
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
    /// Write the full result (schedule, history, verdict) as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Run nothing: judge a recorded history again (a `--json` result or a report folder's
    /// history.json) with this build's checker.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["seed", "json"])]
    recheck: Option<PathBuf>,
}

/// `--recheck`: the checker over a saved history.
fn recheck(path: &std::path::Path) -> ExitCode {
    let history = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).map_err(|e| format!("{} is not JSON: {e}", path.display())))
        .and_then(|mut doc| {
            let h = doc.get_mut("history").map(serde_json::Value::take).unwrap_or(doc);
            serde_json::from_value::<ringproof_chaos::History>(h)
                .map_err(|e| format!("{} holds no chaos history ({e}): pass a --json result or a report's history.json", path.display()))
        });
    match history {
        Ok(h) => {
            let v = ringproof_chaos::check(&h);
            println!("{}", report::verdict_table(&v));
            print!("{}", report::violations(&v, 20));
            if v.passed() {
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
    let n: f64 = num.parse().map_err(|_| format!("{s:?} is not a duration (write 90s, 5m or 1500ms)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("unknown unit {unit:?} in {s:?} (use ms, s, m or h)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn parse_family(s: &str) -> Result<FaultFamily, String> {
    FaultFamily::parse(s).ok_or_else(|| format!("unknown fault family {s:?} (use kill, stop, failpoints)"))
}

pub fn run(a: ChaosArgs) -> ExitCode {
    if let Some(p) = &a.recheck {
        return recheck(p);
    }
    let seed = a.seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64 % 1_000_000_000).unwrap_or(1)
    });
    let imp = match crate::conform_cmd::resolve(&a.implementation) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("ringproof chaos: {e}");
            return ExitCode::from(2);
        }
    };
    let families: Vec<&str> = a.faults.iter().map(|f| f.as_str()).collect();
    let replay = format!(
        "ringproof chaos --seed {seed} --duration {}ms --faults {} --impl {} --consumers {} --backend {} --action {} --interval-ms {} --heal-bound-s {} --detect-bound-ms {}",
        a.duration.as_millis(),
        families.join(","),
        a.implementation,
        a.consumers,
        a.backend,
        a.action,
        a.interval_ms,
        a.heal_bound_s,
        a.detect_bound_ms
    );
    println!("seed {seed}\nreplay: {replay}");
    let mut cfg = Config::new(seed, a.duration, imp);
    cfg.families = a.faults.iter().copied().collect();
    cfg.consumers = a.consumers;
    cfg.backend = if a.backend == "mmap" { Backend::Mmap } else { Backend::Shm };
    cfg.mean_interval = Duration::from_millis(a.interval_ms.max(1));
    cfg.heal_bound = Duration::from_secs(a.heal_bound_s);
    cfg.detect_bound = Duration::from_millis(a.detect_bound_ms);
    cfg.report_dir = a.report.clone();
    cfg.action = (a.action != "mixed").then(|| a.action.clone());
    cfg.replay = replay.clone();
    if !cfg.failpoints_supported && cfg.families.contains(&FaultFamily::Failpoints) {
        println!("note: {} does not honour RINGPROOF_FAILPOINT; failpoint faults are left out", a.implementation);
    }
    let bar = ProgressBar::new(1);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} faults {elapsed} {msg}").expect("valid template"));
    let progress = |p: &campaign::Progress| {
        bar.set_length(p.faults_total as u64);
        bar.set_position(p.faults_done as u64);
        bar.set_message(p.phase);
    };
    let outcome = match ringproof_chaos::run(cfg, &progress) {
        Ok(o) => o,
        Err(e) => {
            bar.finish_and_clear();
            eprintln!("ringproof chaos: {e}");
            return ExitCode::from(2);
        }
    };
    bar.finish_and_clear();
    println!("{}", report::verdict_table(&outcome.verdict));
    if let Some(p) = &a.json {
        let doc = serde_json::json!({
            "seed": seed,
            "replay": replay,
            "ring": outcome.ring,
            "schedule": outcome.schedule,
            "verdict": outcome.verdict,
            "history": outcome.history,
        });
        if let Err(e) = std::fs::write(p, serde_json::to_string(&doc).expect("json")) {
            eprintln!("ringproof chaos: cannot write {}: {e}", p.display());
        }
    }
    if outcome.verdict.passed() {
        println!("PASS (seed {seed})");
        ExitCode::SUCCESS
    } else {
        print!("{}", report::violations(&outcome.verdict, 20));
        if let Some(r) = &outcome.report {
            println!("report folder: {}", r.display());
        }
        println!("FAIL (seed {seed}); replay: {replay}");
        ExitCode::from(1)
    }
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
        assert!(parse_duration("5 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("soon").unwrap_err().contains("not a duration"));
        assert_eq!(parse_family("stop"), Ok(FaultFamily::Stop));
        assert!(parse_family("flood").unwrap_err().contains("kill, stop, failpoints"));
    }
}
