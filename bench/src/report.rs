//! The plain-text tables and the JSON document.

use crate::role::Kind;
use crate::scenario::{Metric, Pacing};
use crate::stats::{median, ScenarioRun};
use serde_json::{json, Value};
use std::fmt::Write;

fn value(m: Metric, v: f64) -> String {
    match m {
        Metric::Rate if v >= 1e6 => format!("{:.1} M/s", v / 1e6),
        Metric::Rate => format!("{:.0} k/s", v / 1e3),
        _ if v >= 1e6 => format!("{:.2} ms", v / 1e6),
        _ if v >= 1e4 => format!("{:.1} us", v / 1e3),
        _ => format!("{v:.1} ns"),
    }
}

fn bytes(v: Option<f64>) -> String {
    match v {
        Some(b) if b >= 1e9 => format!("{:.2} GB/s", b / 1e9),
        Some(b) => format!("{:.0} MB/s", b / 1e6),
        None => "-".into(),
    }
}

fn short(p: &str) -> &'static str {
    match p {
        "shared" => "S",
        "close" => "C",
        "far" => "F",
        "n/a" => "-",
        _ => "M",
    }
}

/// How much better ringproof (the case's first subject) does than `peer` on a metric, from
/// their median ratios to the floor: > 1 means ringproof is faster (rates) or lower
/// (latencies). Against its own counters-off variant, it is what the counters cost: 0.97x
/// means 3% slower with counters on.
pub fn advantage(run: &ScenarioRun, peer: Kind, m: Metric) -> Option<f64> {
    let rp = *run.case.subjects.first()?;
    if rp == peer || (peer.peer().is_none() && peer.testee().is_none() && !peer.counters_off()) {
        return None;
    }
    let (r, p) = (
        run.summary(rp, m).ratio_median,
        run.summary(peer, m).ratio_median,
    );
    Some(if m.higher_is_better() { r / p } else { p / r })
}

/// Median CPU time over wall time of side B (the waiter) in `kind`'s runs: about 1 for a
/// spinning waiter, near 0 for one that really sleeps between events.
pub fn waiter_cpu_share(run: &ScenarioRun, kind: Kind) -> f64 {
    let runs: Vec<&crate::run::RunOutcome> = if kind == run.scenario.floor {
        run.floors.iter().collect()
    } else {
        run.subjects
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, o)| o)
            .collect()
    };
    median(
        &runs
            .iter()
            .filter_map(|o| o.b.first()?["usage"]["cpu_share"].as_f64())
            .collect::<Vec<_>>(),
    )
}

/// The summary table: one row per case, subject and metric.
pub fn table(runs: &[ScenarioRun]) -> String {
    let mut out = String::new();
    // Wide enough for testee subjects ("disruptor-mp/testee").
    let w = runs
        .iter()
        .flat_map(|r| r.case.subjects.iter().map(|k| k.who().len()))
        .fold(13, usize::max);
    let _ = writeln!(
        out,
        "{:<24} {:<w$} {:<24} {:>11} {:>11} {:>10} {:>8} {:>8} {:>8} {:>8} {:>4} {:>7}  placement (S shared core, C close, F far, M mixed, - n/a)",
        "case", "subject", "metric", "floor med", "subj med", "bytes/s", "ratio", "worst", "best", "target", "met", "rp adv"
    );
    for r in runs {
        let mut first = true;
        for s in r.summaries() {
            let (target, met) = match (s.target, s.met) {
                (Some(t), Some(m)) => (t.describe(), if m { "yes" } else { "NO" }),
                _ => ("-".into(), "-"),
            };
            let head = s.metric == r.scenario.metrics()[0];
            let places: Vec<&str> = r.placements(s.subject).iter().map(|p| short(p)).collect();
            let adv = advantage(r, s.subject, s.metric).map_or("-".into(), |a| format!("{a:.2}x"));
            let _ = writeln!(
                out,
                "{:<24} {:<w$} {:<24} {:>11} {:>11} {:>10} {:>8.3} {:>8.3} {:>8.3} {:>8} {:>4} {:>7}  {}",
                if first { r.case.title() } else { String::new() },
                if head { s.subject.who() } else { "" },
                r.scenario.label(s.metric),
                value(s.metric, s.floor_median),
                value(s.metric, s.subject_median),
                bytes(s.bytes_per_s),
                s.ratio_median,
                s.worst,
                s.best,
                target,
                met,
                adv,
                if head { places.join(" ") } else { String::new() },
            );
            first = false;
        }
        let headline = r.scenario.metrics()[0];
        if let Some(f) = r.floor_spread(headline) {
            let _ = writeln!(
                out,
                "{:<24} ^ floor A/A ({}, {} floor runs against their neighbours): worst {:.3}, median {:.3}, best {:.3}",
                "",
                r.scenario.label(headline),
                f.ratios.len(),
                f.worst,
                f.median,
                f.best
            );
        }
        if r.scenario.pacing == Pacing::Gap {
            let shares: Vec<String> = std::iter::once(r.scenario.floor)
                .chain(r.case.subjects.iter().copied())
                .map(|k| format!("{} {:.1}%", k.who(), 100.0 * waiter_cpu_share(r, k)))
                .collect();
            let _ = writeln!(
                out,
                "{:<24} ^ CPU share of the parked waiter (B) over its run, median: {}",
                "",
                shares.join(", ")
            );
        }
        for (k, n) in r.dropped() {
            let _ = writeln!(out, "{:<24} ^ {}: {n} events were NOT DELIVERED to a reader (send skipped a full subscriber); its rate counts only the events that arrived", "", k.who());
        }
        if r.oversubscribed() {
            let _ = writeln!(out, "{:<24} ^ OVERSUBSCRIBED: {} readers + 1 producer spin on fewer cores; the numbers measure time-sharing", "", r.case.readers);
        }
    }
    let _ = writeln!(
        out,
        "ratio = subject / mean(adjacent floors), per bracket (median, worst, best); target met when the WORST bracket meets it.\n\
         floor A/A = each floor run / mean(its neighbouring floor runs): what a subject identical to the floor scores in this run; a ratio inside it is not a difference the run can show.\n\
         rp adv = ringproof's median ratio over this peer's (rates) or this peer's over ringproof's (latencies): > 1 means ringproof does better; against \"counters off\", below 1 is what the counters cost.\n\
         latencies: one-way = round trip / 2 in closed-loop ping-pong; whole round trips in wake-up and open-loop (CO-corrected) runs.\n\
         placement from the floors: the floor's spin ping-pong (its own, or the probe a stream or futex floor runs first) has one-way p50 <= {:.0} ns: shared (one core's two hardware threads); <= {:.0} ns: close; far otherwise; mixed if a bracket's two floors disagree.",
        crate::scenario::SHARED_ONE_WAY_NS,
        crate::scenario::CLOSE_ONE_WAY_NS
    );
    out
}

/// Per-bracket detail of each case's headline metrics.
pub fn brackets(runs: &[ScenarioRun]) -> String {
    let mut out = String::new();
    for r in runs {
        let sc = r.scenario;
        let _ = writeln!(
            out,
            "{}: vs {} -- {}",
            r.case.title(),
            sc.floor.name(),
            sc.about
        );
        let headline: &[Metric] = if sc.is_stream() {
            &[Metric::Rate]
        } else {
            &[Metric::P50, Metric::P999]
        };
        for (i, (kind, s)) in r.subjects.iter().enumerate() {
            let mut line = format!("  bracket {i:<2} {:<6} {:<36}", r.placement(i), kind.name());
            for &m in headline {
                let (f0, f1, v) = (
                    sc.value(m, &r.floors[i]),
                    sc.value(m, &r.floors[i + 1]),
                    sc.value(m, s),
                );
                let _ = write!(
                    line,
                    "  {}: floor {} | {} | {} -> {:.3}",
                    m.key(),
                    value(m, f0),
                    value(m, v),
                    value(m, f1),
                    v / ((f0 + f1) / 2.0)
                );
            }
            if s.oversubscribed {
                line.push_str("  (oversubscribed)");
            }
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

/// Everything, for `--json`.
pub fn json_doc(machine: Value, settings: Value, runs: &[ScenarioRun], verdict: Value) -> Value {
    let cases: Vec<Value> = runs
        .iter()
        .map(|r| {
            let summaries: Vec<Value> = r
                .summaries()
                .iter()
                .map(|s| {
                    json!({
                        "subject": s.subject.name(), "who": s.subject.who(),
                        "metric": s.metric.key(), "label": r.scenario.label(s.metric),
                        "floor_median": s.floor_median, "subject_median": s.subject_median, "bytes_per_s": s.bytes_per_s,
                        "ratios": s.ratios, "ratio_median": s.ratio_median,
                        "worst_ratio": s.worst, "best_ratio": s.best,
                        "target": s.target.map(|t| t.describe()), "met": s.met,
                        "ringproof_advantage": advantage(r, s.subject, s.metric),
                        "placements": r.placements(s.subject),
                    })
                })
                .collect();
            json!({
                "name": r.scenario.name, "title": r.case.title(), "about": r.scenario.about, "size": r.case.size,
                "readers": r.case.readers, "mmap": r.scenario.mmap, "oversubscribed": r.oversubscribed(),
                "floor": r.scenario.floor.name(), "subjects": r.case.subjects.iter().map(|k| k.name()).collect::<Vec<_>>(),
                "summary": summaries,
                "floor_spread": r.scenario.metrics().iter().filter_map(|&m| {
                    let f = r.floor_spread(m)?;
                    Some((m.key().to_string(), json!({ "ratios": f.ratios, "median": f.median, "worst": f.worst, "best": f.best })))
                }).collect::<serde_json::Map<String, Value>>(),
                "errors": r.errors(), "dropped": r.dropped().iter().map(|(k, n)| json!({ "subject": k.name(), "events": n })).collect::<Vec<_>>(), "unpinned_runs": r.unpinned(), "contended_runs": r.contended(), "leaked": r.leaked(),
                "runs": r.runs_json(),
            })
        })
        .collect();
    json!({ "machine": machine, "settings": settings, "cases": cases, "verdict": verdict })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Case;
    use crate::run::RunOutcome;
    use crate::scenario::SCENARIOS;
    use serde_json::json;
    use std::time::Duration;

    fn stream_outcome(rates: &[f64]) -> RunOutcome {
        RunOutcome {
            a: json!({ "result": {} }),
            b: rates
                .iter()
                .map(|r| json!({ "result": { "rate": r, "errors": 0 } }))
                .collect(),
            wall: Duration::from_millis(1),
            pinned: Some(true),
            leaked: Vec::new(),
            attempts: 1,
            quiet_wait_s: 0.0,
            quiet: true,
            oversubscribed: false,
        }
    }

    #[test]
    fn each_subject_is_rated_against_its_own_adjacent_floors() {
        let sc = SCENARIOS.iter().find(|s| s.name == "spmc-2").unwrap();
        let case = Case {
            scenario: sc,
            size: 8,
            readers: 2,
            subjects: vec![Kind::RpStreamSingle, Kind::DmpStream],
        };
        // floor 100, rp, floor 300, dmp, floor 100, rp, floor 300, dmp, floor 100
        let run = ScenarioRun {
            case,
            scenario: sc,
            max_preemptions: 0,
            floors: [100.0, 300.0, 100.0, 300.0, 100.0]
                .iter()
                .map(|&f| stream_outcome(&[f, f * 2.0]))
                .collect(),
            subjects: vec![
                (Kind::RpStreamSingle, stream_outcome(&[150.0, 100.0])),
                (Kind::DmpStream, stream_outcome(&[20.0, 40.0])),
                (Kind::RpStreamSingle, stream_outcome(&[200.0, 300.0])),
                (Kind::DmpStream, stream_outcome(&[10.0, 10.0])),
            ],
        };
        // Slowest reader: rp 100 / mean(100, 300) = 0.5, then 200 / 200 = 1.0.
        let rp = run.summary(Kind::RpStreamSingle, Metric::Rate);
        assert_eq!(rp.ratios, vec![0.5, 1.0]);
        assert_eq!(rp.worst, 0.5);
        assert_eq!(
            rp.met,
            Some(true),
            "the target (>= 0.5) is judged on the worst bracket"
        );
        let dmp = run.summary(Kind::DmpStream, Metric::Rate);
        assert_eq!(dmp.ratios, vec![0.1, 0.05]);
        assert_eq!(
            dmp.target.map(|t| t.bound),
            None,
            "targets belong to ringproof only"
        );
        let adv = advantage(&run, Kind::DmpStream, Metric::Rate).unwrap();
        assert!((adv - 0.75 / 0.075).abs() < 1e-9);
        assert_eq!(run.errors(), 0);
    }

    #[test]
    fn the_floor_is_rated_against_its_own_neighbours() {
        let sc = SCENARIOS.iter().find(|s| s.name == "stream-batch").unwrap();
        let case = |n| Case {
            scenario: sc,
            size: 8,
            readers: 1,
            subjects: vec![Kind::RpStreamSingle; n],
        };
        let run = |floors: &[f64]| ScenarioRun {
            case: case(floors.len() - 1),
            scenario: sc,
            max_preemptions: 0,
            floors: floors.iter().map(|&f| stream_outcome(&[f])).collect(),
            subjects: (1..floors.len())
                .map(|_| (Kind::RpStreamSingle, stream_outcome(&[1.0])))
                .collect(),
        };
        // 110 / mean(100, 100), 100 / mean(110, 90), 90 / mean(100, 100).
        let f = run(&[100.0, 110.0, 100.0, 90.0, 100.0])
            .floor_spread(Metric::Rate)
            .unwrap();
        assert_eq!(f.ratios, vec![1.1, 1.0, 0.9]);
        assert_eq!((f.worst, f.median, f.best), (0.9, 1.0, 1.1));
        assert!(
            run(&[100.0, 110.0]).floor_spread(Metric::Rate).is_none(),
            "one bracket: no floor run has two neighbours"
        );
        let table = table(&[run(&[100.0, 110.0, 100.0, 90.0, 100.0])]);
        assert!(
            table.contains("floor A/A (events/s, 3 floor runs against their neighbours): worst 0.900, median 1.000, best 1.100"),
            "{table}"
        );
    }

    #[test]
    fn brackets_are_placed_by_their_floors_probe() {
        let sc = SCENARIOS.iter().find(|s| s.name == "stream-batch").unwrap();
        let probed = |one_way: f64| {
            let mut o = stream_outcome(&[1.0]);
            o.a = json!({ "result": { "probe": { "one_way_ns": { "p50": one_way } } } });
            o
        };
        let classes: Vec<&str> = [30.0, 37.0, 45.1, 120.0, 230.0]
            .iter()
            .map(|&w| crate::scenario::placement(sc, &probed(w)))
            .collect();
        assert_eq!(classes, ["shared", "shared", "close", "close", "far"]);
        let run = ScenarioRun {
            case: Case {
                scenario: sc,
                size: 8,
                readers: 1,
                subjects: vec![Kind::RpStreamSingle; 2],
            },
            scenario: sc,
            max_preemptions: 0,
            floors: vec![probed(30.0), probed(30.0), probed(55.0)],
            subjects: vec![
                (Kind::RpStreamSingle, stream_outcome(&[1.0])),
                (Kind::RpStreamSingle, stream_outcome(&[1.0])),
            ],
        };
        assert_eq!(run.placements(Kind::RpStreamSingle), ["shared", "mixed"]);
        assert!(table(&[run]).contains("  S M"));
    }
}
