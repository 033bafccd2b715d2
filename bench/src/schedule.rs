//! Scenarios and the bracket schedule: floor, subject, floor, subject, ..., floor.
//!
//! The two vCPUs are sometimes close and sometimes far, and that changes between runs, so an
//! absolute number means little. Subjects (ringproof, then its peers) take turns between
//! floors: run `k` of the schedule's subjects sits between floors `k` and `k + 1`, its ratio
//! is subject / mean(those floors), and each subject reports the median, the worst and the
//! best of its ratios. Each bracket is classified shared (one core's two hardware threads),
//! close or far from its floors' spin ping-pong one-way p50, "mixed" when its two floors
//! disagree.
//!
//! This file runs the schedule of one case; `scenario.rs` holds what runs, `stats.rs` what the
//! ratios say.

use crate::harness;
use crate::launcher::Launcher;
use crate::plan::{Case, Plan};
use crate::role::Kind;
use crate::run::{RunOutcome, RunSpec};
use crate::scenario::{Metric, Pacing, Scenario};
use crate::signals;
use crate::stats::ScenarioRun;
use indicatif::ProgressBar;
use std::collections::HashMap;

/// Remembers each stream kind's last rate per (size, readers), to size its next run.
pub type Rates = HashMap<(Kind, usize, usize), f64>;

/// Runs `case`'s schedule: for each bracket round, floor, subject 1, floor, subject 2, ...
pub fn run_case(
    case: &Case,
    plan: &Plan,
    launcher: &Launcher,
    rates: &mut Rates,
    next_run: &mut u32,
    bar: &ProgressBar,
) -> Result<ScenarioRun, String> {
    let sc = case.scenario;
    let mut run = ScenarioRun {
        case: case.clone(),
        scenario: sc,
        max_preemptions: plan.max_preemptions,
        floors: Vec::new(),
        subjects: Vec::new(),
    };
    let mut order = vec![sc.floor];
    for _ in 0..plan.brackets {
        for &s in &case.subjects {
            order.extend([s, sc.floor]);
        }
    }
    for (step, &kind) in order.iter().enumerate() {
        let spec = spec_for(case, kind, plan, rates);
        let name = crate::shm::run_name(*next_run);
        *next_run += 1;
        bar.set_message(format!("{} / {}", case.title(), kind.name()));
        let o = run_quietly(&spec, &name, plan, launcher, bar)
            .map_err(|e| format!("{} run {} ({}): {e}", case.title(), step, kind.name()))?;
        bar.inc(1);
        if kind.is_stream() {
            let rate = o.min_rate();
            if rate.is_finite() && rate > 0.0 {
                rates.insert((kind, case.size, case.readers), rate);
            }
        }
        say(
            bar,
            format!(
                "  {:<26} {:<36} {}",
                case.title(),
                kind.name(),
                brief(sc, &o)
            ),
        );
        if step % 2 == 0 {
            run.floors.push(o);
        } else {
            run.subjects.push((kind, o));
        }
    }
    Ok(run)
}

/// A progress line: above the bar on a terminal, plain on stderr otherwise (indicatif drops
/// `println` when the bar is hidden, and logs want the lines).
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

/// One run, on a quiet machine if possible, repeated while it was contended.
fn run_quietly(
    spec: &RunSpec,
    name: &str,
    plan: &Plan,
    launcher: &Launcher,
    bar: &ProgressBar,
) -> Result<RunOutcome, String> {
    let mut attempt = 1;
    loop {
        let (quiet, waited) = harness::wait_for_quiet(plan.quiet_wait);
        let mut o = harness::run_pair(spec, &format!("{name}-{attempt}"), launcher)?;
        if plan.cooldown > 0.0 {
            std::thread::sleep(o.wall.mul_f64(plan.cooldown));
        }
        o.attempts = attempt;
        o.quiet = quiet;
        o.quiet_wait_s = waited.as_secs_f64();
        if o.oversubscribed
            || o.preemptions() <= plan.max_preemptions
            || attempt >= plan.attempts
            || signals::interrupted()
        {
            return Ok(o);
        }
        say(
            bar,
            format!(
                "    (try {attempt}: {} preemptions, {} other tasks runnable; again)",
                o.preemptions(),
                harness::others_running()
            ),
        );
        attempt += 1;
    }
}

fn brief(sc: &Scenario, o: &RunOutcome) -> String {
    let errors = o.errors();
    let m = if sc.is_stream() {
        let r = &o.b[0]["result"];
        let (polls, empty) = (
            r["polls"].as_u64().unwrap_or(0),
            r["empty_polls"].as_u64().unwrap_or(0),
        );
        let per_poll = r["events_per_poll"].as_f64().unwrap_or(0.0);
        let empty_share = if polls + empty > 0 {
            empty as f64 / (polls + empty) as f64
        } else {
            0.0
        };
        format!(
            "{:.2} M/s, {per_poll:.1} events/poll, {:.0}% polls empty",
            o.min_rate() / 1e6,
            empty_share * 100.0
        )
    } else {
        format!(
            "{} {:.0} ns, p99.9 {:.0} ns",
            sc.label(Metric::P50),
            sc.value(Metric::P50, o),
            sc.value(Metric::P999, o)
        )
    };
    let waited = if o.quiet_wait_s >= 0.2 {
        format!(", waited {:.1} s for quiet", o.quiet_wait_s)
    } else {
        String::new()
    };
    let errors = if errors > 0 {
        format!(", {errors} ERRORS")
    } else {
        String::new()
    };
    let errors = if o.dropped() > 0 {
        format!("{errors}, {} events NOT DELIVERED to a reader", o.dropped())
    } else {
        errors
    };
    let over = if o.oversubscribed {
        ", OVERSUBSCRIBED"
    } else {
        ""
    };
    format!(
        "{m}  ({:.2} s, {} preemptions, try {}{waited}{over}{errors})",
        o.wall.as_secs_f64(),
        o.preemptions(),
        o.attempts
    )
}

/// Events of a kind's first run at `size`, before its rate is known: about a second's worth
/// at rates typical of it. Oversubscribed runs (readers time-sharing a core with the
/// producer) move ~100 k events/s whatever the kind.
fn first_events(kind: Kind, size: usize, oversubscribed: bool, scale: f64) -> u64 {
    let n = if oversubscribed {
        100_000
    } else {
        // Peers and testees (any implementation, maybe a slow one) start small.
        let base: u64 = if kind.peer().is_some() || kind.testee().is_some() {
            2_000_000
        } else {
            50_000_000
        };
        (base * 8 / size as u64).max(100_000)
    };
    ((n as f64 * scale) as u64).max(10_000)
}

fn spec_for(case: &Case, kind: Kind, plan: &Plan, rates: &Rates) -> RunSpec {
    let sc = case.scenario;
    let oversubscribed = 1 + case.readers > plan.cpus.len().max(2);
    let (events, warmup) = if kind.is_stream() {
        let min = if oversubscribed {
            plan.min_events.min(20_000)
        } else {
            plan.min_events
        };
        let n = plan
            .events
            .unwrap_or_else(|| match rates.get(&(kind, case.size, case.readers)) {
                Some(r) => ((r * plan.target_secs) as u64).clamp(min, 4_000_000_000),
                None => first_events(kind, case.size, oversubscribed, plan.first_scale),
            });
        (n, (n / 10).max(4 * plan.capacity as u64))
    } else {
        match sc.pacing {
            Pacing::Closed => (plan.rounds, plan.ping_warmup),
            Pacing::Gap => (plan.paced_rounds, plan.paced_warmup),
            Pacing::OpenLoop => (
                plan.open_loop_rounds,
                plan.ping_warmup.min(plan.open_loop_rounds),
            ),
        }
    };
    RunSpec {
        kind,
        events,
        warmup,
        capacity: plan.capacity,
        size: case.size,
        readers: case.readers,
        mmap: sc.mmap,
        batch: plan.batch,
        gap_ns: if sc.pacing == Pacing::Gap {
            plan.gap_ns
        } else {
            0
        },
        interval_ns: if sc.pacing == Pacing::OpenLoop {
            plan.interval_ns
        } else {
            0
        },
        spins: plan.spins,
        ticks_per_ns: plan.ticks_per_ns,
        cpus: plan.cpus.clone(),
        timeout: plan.timeout,
        // SCHED_FIFO spinners sharing a core starve each other (a FIFO task never yields to
        // its peer at the same priority), so an oversubscribed case runs without --rt.
        rt_priority: if oversubscribed {
            None
        } else {
            plan.rt_priority
        },
    }
}
