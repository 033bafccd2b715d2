//! Judging what a testee reports: [`validate`] refuses a report that is malformed or
//! impossible (timestamps outside the run, fewer events than published, payload errors, a
//! histogram that does not hold the round trips it claims), and [`check_plausible`] fails a
//! case whose testee claims to beat the raw floor by more than noise.

use crate::role::Kind;
use crate::run::RunOutcome;
use crate::scenario::Metric;
use crate::stats::ScenarioRun;
use crate::testee_registry::who;
use hdrhistogram::Histogram;
use ringproof_conformance::protocol::{BenchCmd, BenchMode, BenchReport, BenchRole};
use ringproof_conformance::testee_bench::{decode_histogram, new_histogram};

/// Why a testee's report was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReportError {
    #[error("the ok reply carries no `bench` report")]
    Missing,
    #[error("end_ns {end} is before start_ns {start}")]
    Backwards { start: u64, end: u64 },
    #[error("{what} {at} ns is outside the run ({lo}..{hi} ns on the harness's CLOCK_MONOTONIC): not CLOCK_MONOTONIC nanoseconds?")]
    OutsideRun {
        what: &'static str,
        at: u64,
        lo: u64,
        hi: u64,
    },
    #[error("{0} events failed verification (TP1 payload or sequence)")]
    PayloadErrors(u64),
    #[error("saw {got} events, but {want} were published")]
    FewerEvents { got: u64, want: u64 },
    #[error("reports {got} events, more than the {want} there were")]
    MoreEvents { got: u64, want: u64 },
    #[error("a stream consumer must report timed_events")]
    NoTimedEvents,
    #[error("timed_events {timed} is impossible: it read {events} events with a warm-up of {warmup} and a ring of {capacity}")]
    TimedEvents {
        timed: u64,
        events: u64,
        warmup: u64,
        capacity: u64,
    },
    #[error("{events} events in {ns} ns is faster than 10 per nanosecond")]
    ImpossibleRate { events: u64, ns: u64 },
    #[error("the initiator reports neither rtt_hist_ns_v2z nor rtt_samples_ns")]
    NoLatencies,
    #[error("rtt_hist_ns_v2z: {0}")]
    BadHistogram(String),
    #[error("the round trips hold {got} samples, the report says {want} measured round trips")]
    SampleCount { got: u64, want: u64 },
    #[error("{rounds} round trips of at least {min_ns} ns each cannot fit in the {span_ns} ns between start_ns and end_ns")]
    LongerThanRun {
        rounds: u64,
        min_ns: u64,
        span_ns: u64,
    },
}

/// Checks one side's report against what it was asked to do and the harness's own clock
/// (`lo`..`hi`: just before the commands went out and just after the last reply came back).
/// Returns the round-trip histogram (ns) of an initiator.
pub fn validate(
    cmd: &BenchCmd,
    r: &BenchReport,
    lo: u64,
    hi: u64,
) -> Result<Option<Histogram<u64>>, ReportError> {
    if r.end_ns < r.start_ns {
        return Err(ReportError::Backwards {
            start: r.start_ns,
            end: r.end_ns,
        });
    }
    for (what, at) in [("start_ns", r.start_ns), ("end_ns", r.end_ns)] {
        if at < lo || at > hi {
            return Err(ReportError::OutsideRun { what, at, lo, hi });
        }
    }
    if r.errors > 0 {
        return Err(ReportError::PayloadErrors(r.errors));
    }
    let total = cmd.warmup + cmd.events;
    let span = r.end_ns - r.start_ns;
    match cmd.role {
        BenchRole::Producer | BenchRole::Consumer | BenchRole::Responder => {
            if r.events < total {
                return Err(ReportError::FewerEvents {
                    got: r.events,
                    want: total,
                });
            }
            if r.events > total {
                return Err(ReportError::MoreEvents {
                    got: r.events,
                    want: total,
                });
            }
            if cmd.role == BenchRole::Consumer {
                let timed = r.timed_events.ok_or(ReportError::NoTimedEvents)?;
                // Reading starts counting at the first read that reaches the warm-up; one
                // read takes at most a ring's worth.
                let least = cmd.events.saturating_sub(cmd.capacity);
                if timed > r.events || timed < least.min(cmd.events) {
                    return Err(ReportError::TimedEvents {
                        timed,
                        events: r.events,
                        warmup: cmd.warmup,
                        capacity: cmd.capacity,
                    });
                }
                if timed > 10 * span.max(1) {
                    return Err(ReportError::ImpossibleRate {
                        events: timed,
                        ns: span,
                    });
                }
            }
            Ok(None)
        }
        BenchRole::Initiator => {
            if r.events != cmd.events {
                return Err(if r.events < cmd.events {
                    ReportError::FewerEvents {
                        got: r.events,
                        want: cmd.events,
                    }
                } else {
                    ReportError::MoreEvents {
                        got: r.events,
                        want: cmd.events,
                    }
                });
            }
            let hist = match (&r.rtt_hist_ns_v2z, &r.rtt_samples_ns) {
                (Some(b64), _) => decode_histogram(b64).map_err(ReportError::BadHistogram)?,
                (None, Some(samples)) => {
                    let mut h = new_histogram();
                    for &s in samples {
                        h.record(s.clamp(1, h.high()))
                            .map_err(|e| ReportError::BadHistogram(format!("{e:?}")))?;
                    }
                    h
                }
                (None, None) => return Err(ReportError::NoLatencies),
            };
            if hist.len() != cmd.events {
                return Err(ReportError::SampleCount {
                    got: hist.len(),
                    want: cmd.events,
                });
            }
            // Closed loop: the round trips happen one after another inside the run.
            if cmd.mode == BenchMode::Pingpong && !hist.is_empty() {
                let min = hist.lowest_equivalent(hist.min());
                if hist.len().saturating_mul(min) > span.saturating_add(span / 20) {
                    return Err(ReportError::LongerThanRun {
                        rounds: hist.len(),
                        min_ns: min,
                        span_ns: span,
                    });
                }
            }
            Ok(Some(hist))
        }
    }
}

/// How far above the raw floor (rates), or below it (latencies), a testee may land before its
/// report counts as a lie rather than noise, at the least: the floor is the same work with
/// nothing left out. On a noisy machine the allowance grows to the floors' own spread within
/// the case (their largest over their smallest value).
pub const LIE_FACTOR: f64 = 1.5;

/// Fails a finished case in which a testee subject beat the floors by more than the noise: a
/// rate above `lie_factor` ([`LIE_FACTOR`] by default; or the floors' spread, if larger) times the case's best floor,
/// or a p50 latency below the best floor divided by it.
///
/// Only uncontended runs take part (at most `--max-preemptions` involuntary switches): a floor
/// that lost its core measures the machine's load, not the hardware, and says nothing about
/// what is possible. Returns the brackets it could not judge for that reason.
pub fn check_plausible(run: &ScenarioRun, lie_factor: f64) -> Result<Vec<String>, String> {
    let sc = run.scenario;
    let m = if sc.is_stream() {
        Metric::Rate
    } else {
        Metric::P50
    };
    let calm = |o: &RunOutcome| o.preemptions() <= run.max_preemptions;
    let floors: Vec<f64> = run
        .floors
        .iter()
        .filter(|o| calm(o))
        .map(|o| sc.value(m, o))
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let (lo, hi) = floors.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &v| {
        (lo.min(v), hi.max(v))
    });
    let allowance = lie_factor.max(hi / lo);
    let mut unjudged = Vec::new();
    for (i, (kind, o)) in run.subjects.iter().enumerate() {
        let Kind::Testee(t) = kind else { continue };
        // This subject's own bracket number (the schedule interleaves the subjects).
        let b = run.subjects[..i].iter().filter(|(k, _)| k == kind).count();
        if floors.is_empty() || !calm(o) || !calm(&run.floors[i]) || !calm(&run.floors[i + 1]) {
            unjudged.push(format!("{} {} bracket {b}", run.case.title(), who(*t)));
            continue;
        }
        let v = sc.value(m, o);
        let bad = if sc.is_stream() {
            (v > hi * allowance).then(|| {
                format!(
                    "{:.2} M events/s, more than {allowance:.2} x the best raw floor's {:.2} M/s",
                    v / 1e6,
                    hi / 1e6
                )
            })
        } else {
            (v * allowance < lo).then(|| {
                format!(
                    "{} {v:.0} ns, less than 1/{allowance:.2} of the best raw floor's {lo:.0} ns",
                    sc.label(m)
                )
            })
        };
        if let Some(why) = bad {
            return Err(format!("{}: testee {} reports an impossible result in bracket {b}: {why}; refused (not a number)", run.case.title(), who(*t)));
        }
    }
    Ok(unjudged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testee_registry::TesteeKind;
    use ringproof_conformance::protocol::{Backend, RingAddr};
    use ringproof_conformance::testee_bench::encode_histogram;
    use serde_json::json;
    use std::time::Duration;

    fn ring(name: &str) -> RingAddr {
        RingAddr {
            backend: Backend::Shm,
            name: name.to_owned(),
            root: None,
        }
    }

    fn cmd(mode: BenchMode, role: BenchRole) -> BenchCmd {
        BenchCmd {
            id: 1,
            mode,
            role,
            ring: ring("x"),
            peer_ring: None,
            capacity: 64,
            event_size: 8,
            events: 1000,
            warmup: 100,
            batch: 1,
            consumers: 1,
            consumer_id: Some("c_0".into()),
            interval_ns: None,
            cpu: None,
            timeout_ms: 1000,
        }
    }

    #[test]
    fn impossible_reports_are_refused_with_what_is_wrong() {
        let c = cmd(BenchMode::Stream, BenchRole::Consumer);
        let ok = BenchReport {
            start_ns: 2_000,
            end_ns: 1_000_000,
            events: 1100,
            timed_events: Some(1000),
            ..Default::default()
        };
        assert_eq!(validate(&c, &ok, 1_000, 2_000_000), Ok(None));
        let v = |r: BenchReport| validate(&c, &r, 1_000, 2_000_000).unwrap_err();
        assert!(matches!(
            v(BenchReport {
                end_ns: 1_500,
                ..ok.clone()
            }),
            ReportError::Backwards { .. }
        ));
        assert!(matches!(
            v(BenchReport {
                end_ns: 9_000_000,
                ..ok.clone()
            }),
            ReportError::OutsideRun { .. }
        ));
        assert_eq!(
            v(BenchReport {
                events: 1099,
                ..ok.clone()
            }),
            ReportError::FewerEvents {
                got: 1099,
                want: 1100
            }
        );
        assert_eq!(
            v(BenchReport {
                errors: 3,
                ..ok.clone()
            }),
            ReportError::PayloadErrors(3)
        );
        assert_eq!(
            v(BenchReport {
                timed_events: None,
                ..ok.clone()
            }),
            ReportError::NoTimedEvents
        );
        assert!(matches!(
            v(BenchReport {
                timed_events: Some(5),
                ..ok.clone()
            }),
            ReportError::TimedEvents { .. }
        ));
        assert!(matches!(
            v(BenchReport {
                start_ns: 999_990,
                ..ok.clone()
            }),
            ReportError::ImpossibleRate { .. }
        ));
        assert!(v(BenchReport { events: 1099, ..ok })
            .to_string()
            .contains("saw 1099 events, but 1100 were published"));
    }

    #[test]
    fn round_trips_must_match_the_count_and_fit_the_run() {
        let c = cmd(BenchMode::Pingpong, BenchRole::Initiator);
        let samples: Vec<u64> = (0..1000).map(|i| 500 + i).collect();
        let ok = BenchReport {
            start_ns: 10,
            end_ns: 2_000_000,
            events: 1000,
            rtt_samples_ns: Some(samples.clone()),
            ..Default::default()
        };
        let h = validate(&c, &ok, 0, 3_000_000).unwrap().unwrap();
        assert_eq!(h.len(), 1000);
        let mut hist = new_histogram();
        samples.iter().for_each(|&s| hist.record(s).unwrap());
        let enc = BenchReport {
            rtt_samples_ns: None,
            rtt_hist_ns_v2z: Some(encode_histogram(&hist)),
            ..ok.clone()
        };
        assert_eq!(
            validate(&c, &enc, 0, 3_000_000).unwrap().unwrap().len(),
            1000
        );
        let v = |r: BenchReport| validate(&c, &r, 0, 3_000_000).unwrap_err();
        assert_eq!(
            v(BenchReport {
                rtt_samples_ns: None,
                ..ok.clone()
            }),
            ReportError::NoLatencies
        );
        assert_eq!(
            v(BenchReport {
                rtt_samples_ns: Some(samples[..10].to_vec()),
                ..ok.clone()
            }),
            ReportError::SampleCount {
                got: 10,
                want: 1000
            }
        );
        assert!(matches!(
            v(BenchReport {
                rtt_samples_ns: None,
                rtt_hist_ns_v2z: Some("AAAA".into()),
                ..ok.clone()
            }),
            ReportError::BadHistogram(_)
        ));
        assert!(matches!(
            v(BenchReport {
                end_ns: 100_000,
                ..ok
            }),
            ReportError::LongerThanRun { .. }
        ));
    }

    fn stream(rate: f64) -> RunOutcome {
        RunOutcome {
            a: json!({ "result": {} }),
            b: vec![json!({ "result": { "rate": rate, "errors": 0 } })],
            wall: Duration::from_millis(1),
            pinned: None,
            leaked: Vec::new(),
            attempts: 1,
            quiet_wait_s: 0.0,
            quiet: true,
            oversubscribed: false,
        }
    }

    #[test]
    fn a_testee_faster_than_the_floor_by_more_than_the_noise_fails_its_case() {
        let sc = crate::scenario::SCENARIOS
            .iter()
            .find(|s| s.name == "stream-single")
            .unwrap();
        let t = Kind::Testee(TesteeKind {
            slot: 0,
            mode: BenchMode::Stream,
            batch: false,
        });
        let run = |floors: &[f64], testee: f64| ScenarioRun {
            case: crate::plan::Case {
                scenario: sc,
                size: 8,
                readers: 1,
                subjects: vec![Kind::RpStreamSingle, t],
            },
            scenario: sc,
            max_preemptions: 0,
            floors: floors.iter().map(|&f| stream(f)).collect(),
            subjects: vec![(Kind::RpStreamSingle, stream(5.0)), (t, stream(testee))],
        };
        assert_eq!(
            check_plausible(&run(&[10.0, 12.0, 11.0], 12.5), LIE_FACTOR),
            Ok(Vec::new()),
            "near the floor is noise"
        );
        let e = check_plausible(&run(&[10.0, 12.0, 11.0], 40.0), LIE_FACTOR).unwrap_err();
        assert!(
            e.contains("impossible result in bracket 0") && e.contains("refused"),
            "{e}"
        );
        assert!(
            check_plausible(&run(&[5.0, 20.0, 10.0], 70.0), LIE_FACTOR).is_ok(),
            "a noisy case allows the floors' own spread (4x)"
        );
        let mut busy = run(&[10.0, 12.0, 11.0], 40.0);
        busy.floors[1].a = json!({ "result": {}, "usage": { "involuntary_switches": 5 } });
        assert_eq!(
            check_plausible(&busy, LIE_FACTOR),
            Ok(vec!["stream-single 8B testee bracket 0".to_owned()]),
            "a contended floor judges nothing"
        );
    }
}
