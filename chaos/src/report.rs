//! What a campaign shows: the verdict table, and on failure a report folder with everything
//! needed to understand and replay it.

use crate::config::Config;
use crate::history::History;
use crate::schedule::Schedule;
use crate::verdict::{Latency, Verdict, ROWS};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The verdict table (plain text, one row per rule, then the counts and latencies).
pub fn verdict_table(v: &Verdict) -> String {
    let counts = v.counts();
    let s = &v.stats;
    let mut out = String::new();
    let _ = writeln!(out, "{:<16} {:>10}  verdict", "check", "violations");
    for row in ROWS {
        let n = counts.get(row).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "{row:<16} {n:>10}  {}",
            if n == 0 { "ok" } else { "FAIL" }
        );
    }
    let injected: Vec<String> = s.injected.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let _ = writeln!(
        out,
        "\nfaults injected: {} ({}), failpoints fired {}, skipped {}",
        s.injected_total(),
        injected.join(", "),
        s.failpoints_fired,
        s.faults_skipped
    );
    let _ = writeln!(
        out,
        "lives: producer {}, consumers {}",
        s.producer_lives, s.consumer_lives
    );
    let _ = writeln!(
        out,
        "events delivered {}: lost {}, duplicated {}, torn runs {}; re-delivered in uncommitted windows {}; declared gaps {} events",
        s.events_delivered, s.lost_events, s.duplicated_events, s.torn_runs, s.redelivered_allowed, s.declared_gap_events
    );
    let _ = writeln!(
        out,
        "dead producer seen by consumers:  {}",
        latency_line(&s.detect_producer)
    );
    let _ = writeln!(
        out,
        "dead consumer seen by producer:   {}",
        latency_line(&s.detect_consumer)
    );
    out
}

fn latency_line(l: &Latency) -> String {
    if l.samples == 0 {
        return format!("no samples ({} unobserved)", l.unobserved);
    }
    format!(
        "{} samples, p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} unobserved)",
        l.samples, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.unobserved
    )
}

/// The violations, one per line (the first `limit`).
pub fn violations(v: &Verdict, limit: usize) -> String {
    let mut out = String::new();
    for x in v.violations.iter().take(limit) {
        let _ = writeln!(
            out,
            "  {}: {}",
            x.row(),
            serde_json::to_string(x).unwrap_or_default()
        );
    }
    if v.violations.len() > limit {
        let _ = writeln!(
            out,
            "  ... and {} more (see the report folder)",
            v.violations.len() - limit
        );
    }
    out
}

/// Writes the failure report folder: seed and replay command, schedule, history, verdict,
/// the kept transcripts, and the copied segments. Returns its path.
pub fn write_folder(
    cfg: &Config,
    schedule: &Schedule,
    history: &History,
    verdict: &Verdict,
    transcripts: &[(String, String)],
    segments: &[&Path],
) -> std::io::Result<PathBuf> {
    let dir = cfg.report_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "ringproof-chaos-report-{}-{}",
            cfg.seed,
            std::process::id()
        ))
    });
    std::fs::create_dir_all(dir.join("transcripts"))?;
    std::fs::create_dir_all(dir.join("segments"))?;
    std::fs::write(
        dir.join("seed.txt"),
        format!("seed {}\nreplay: {}\n", cfg.seed, cfg.replay),
    )?;
    std::fs::write(
        dir.join("schedule.json"),
        serde_json::to_string_pretty(schedule).unwrap_or_default(),
    )?;
    std::fs::write(
        dir.join("history.json"),
        serde_json::to_string(history).unwrap_or_default(),
    )?;
    std::fs::write(
        dir.join("verdict.json"),
        serde_json::to_string_pretty(verdict).unwrap_or_default(),
    )?;
    std::fs::write(
        dir.join("verdict.txt"),
        format!(
            "{}\n{}",
            verdict_table(verdict),
            violations(verdict, usize::MAX)
        ),
    )?;
    for (name, text) in transcripts {
        std::fs::write(dir.join("transcripts").join(format!("{name}.txt")), text)?;
    }
    for src in segments {
        if let Ok(rd) = std::fs::read_dir(src) {
            let sub = dir
                .join("segments")
                .join(src.file_name().unwrap_or_default());
            std::fs::create_dir_all(&sub)?;
            for e in rd.flatten() {
                std::fs::copy(e.path(), sub.join(e.file_name()))?;
            }
        }
    }
    Ok(dir)
}
