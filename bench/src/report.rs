//! The plain-text table and the JSON document.

use crate::bracket::{Metric, ScenarioRun};
use serde_json::{json, Value};
use std::fmt::Write;

fn value(m: Metric, v: f64) -> String {
    match m {
        Metric::Rate => format!("{:.1} M/s", v / 1e6),
        _ => format!("{v:.1} ns"),
    }
}

fn short(p: &str) -> &'static str {
    match p {
        "close" => "C",
        "far" => "F",
        _ => "M",
    }
}

/// The summary table: one row per scenario and metric.
pub fn table(runs: &[ScenarioRun]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<18} {:<14} {:>13} {:>13} {:>9} {:>7} {:>7} {:>8} {:>4}  placement (C close, F far, M mixed)",
        "scenario", "metric", "floor med", "subject med", "ratio med", "worst", "best", "target", "met"
    );
    for r in runs {
        let placements = r.placements();
        let places: Vec<&str> = placements.iter().map(|p| short(p)).collect();
        for (i, s) in r.summaries().iter().enumerate() {
            let (target, met) = match (s.target, s.met) {
                (Some(t), Some(m)) => (t.describe(), if m { "yes" } else { "NO" }),
                _ => ("-".into(), "-"),
            };
            let _ = writeln!(
                out,
                "{:<18} {:<14} {:>13} {:>13} {:>9.3} {:>7.3} {:>7.3} {:>8} {:>4}  {}",
                if i == 0 { r.scenario.name } else { "" },
                r.scenario.label(s.metric),
                value(s.metric, s.floor_median),
                value(s.metric, s.subject_median),
                s.ratio_median,
                s.worst,
                s.best,
                target,
                met,
                if i == 0 { places.join(" ") } else { String::new() },
            );
        }
    }
    let _ = writeln!(
        out,
        "ratio = subject / mean(adjacent floors), per bracket; worst = lowest rate or highest latency ratio. \
         latencies are one-way = round trip / 2, except in paced (wake-up) scenarios: round trip.\nplacement from the floors: close if raw stream >= {:.0} M/s or \
         spin ping-pong one-way p50 <= {:.0} ns; far otherwise; mixed if a bracket's two floors disagree.",
        crate::bracket::CLOSE_STREAM_RATE / 1e6,
        crate::bracket::CLOSE_ONE_WAY_NS
    );
    out
}

/// Per-bracket detail of each scenario's headline metrics.
pub fn brackets(runs: &[ScenarioRun]) -> String {
    let mut out = String::new();
    for r in runs {
        let sc = r.scenario;
        let _ = writeln!(out, "{}: {} vs {} -- {}", sc.name, sc.subject.name(), sc.floor.name(), sc.about);
        let headline: &[Metric] = if sc.floor.is_stream() { &[Metric::Rate] } else { &[Metric::P50, Metric::P999] };
        let placements = r.placements();
        for (i, (s, place)) in r.subjects.iter().zip(&placements).enumerate() {
            let mut line = format!("  bracket {i} {:<5}", place);
            for &m in headline {
                let (f0, f1, v) = (sc.value(m, &r.floors[i]), sc.value(m, &r.floors[i + 1]), sc.value(m, s));
                let _ = write!(line, "  {}: floor {} | {} | {} -> ratio {:.3}", m.key(), value(m, f0), value(m, v), value(m, f1), v / ((f0 + f1) / 2.0));
            }
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

/// Everything, for `--json`.
pub fn json_doc(machine: Value, settings: Value, runs: &[ScenarioRun], verdict: Value) -> Value {
    let scenarios: Vec<Value> = runs
        .iter()
        .map(|r| {
            let summaries: Vec<Value> = r
                .summaries()
                .iter()
                .map(|s| {
                    json!({
                        "metric": s.metric.key(), "label": r.scenario.label(s.metric),
                        "floor_median": s.floor_median, "subject_median": s.subject_median,
                        "ratios": s.ratios, "ratio_median": s.ratio_median,
                        "worst_ratio": s.worst, "best_ratio": s.best,
                        "target": s.target.map(|t| t.describe()), "met": s.met,
                    })
                })
                .collect();
            json!({
                "name": r.scenario.name, "about": r.scenario.about,
                "floor": r.scenario.floor.name(), "subject": r.scenario.subject.name(),
                "placements": r.placements(), "summary": summaries,
                "errors": r.errors(), "unpinned_runs": r.unpinned(), "contended_runs": r.contended(), "leaked": r.leaked(),
                "runs": r.runs_json(),
            })
        })
        .collect();
    json!({ "machine": machine, "settings": settings, "scenarios": scenarios, "verdict": verdict })
}
