//! Subjects behind the testee protocol: `--impl NAME|PATH` puts any implementation with a
//! conformance testee that offers the `bench` capability (conformance/PROTOCOL.md,
//! "Benchmarks") into the bracketed schedule, next to the built-in subjects.
//!
//! The harness starts one testee process per side, pins it (the process is spawned from a
//! thread pinned to its core, so it inherits the affinity before it runs a single instruction
//! of its own), sends each one `bench` command, and the testee runs the hot loop itself. Its
//! `ok` reply carries what it measured; [`validate`] refuses a report that is malformed or
//! impossible (timestamps outside the run, fewer events than published, payload errors, a
//! histogram that does not hold the round trips it claims), and [`check_plausible`] fails a
//! case whose testee claims to beat the raw floor by more than noise. A refused report fails
//! the case; it never becomes a number.

use crate::bracket::{Metric, ScenarioRun};
use crate::harness::{self, Kind, RunOutcome, RunSpec};
use crate::measure::PERCENTILES;
use crate::shm::UnlinkGuard;
use hdrhistogram::Histogram;
use ringproof_conformance::driver::{Implementation, Testee};
use ringproof_conformance::protocol::{
    Backend, BenchCmd, BenchMode, BenchReport, BenchRole, Command, RingAddr,
};
use ringproof_conformance::schema::Schema;
use ringproof_conformance::testee_bench::{
    decode_histogram, encode_histogram, monotonic_ns, new_histogram,
};
use serde_json::{json, Value};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A subject that runs through the protocol: which `--impl`, and which of its benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TesteeKind {
    /// Index into the registered testees (the order of `--impl`).
    pub slot: u8,
    pub mode: BenchMode,
    /// Stream: publish in batches of `--batch` (the `stream-batch` scenario).
    pub batch: bool,
}

/// A testee the run uses, as its hello described it.
#[derive(Debug, Clone)]
pub struct Registered {
    pub imp: Implementation,
    /// What `--impl` said.
    pub spec: String,
    /// `who` in tables: the hello's `impl` and `/testee` (made unique).
    pub who: &'static str,
    pub capabilities: Vec<String>,
    /// Subject names per (mode, batch).
    names: [&'static str; 4],
}

impl Registered {
    pub fn has(&self, c: &str) -> bool {
        self.capabilities.iter().any(|x| x == c)
    }

    /// Whether it can run `k`'s benchmark.
    pub fn offers(&self, mode: BenchMode, batch: bool) -> bool {
        self.has(mode.capability()) && (!batch || self.has("batch"))
    }

    /// The scenarios it joins.
    pub fn scenarios(&self) -> Vec<&'static str> {
        JOINS
            .iter()
            .filter(|(_, m, b)| self.offers(*m, *b))
            .map(|(s, _, _)| *s)
            .collect()
    }
}

/// Which scenario a testee benchmark joins: (scenario, mode, batched).
pub const JOINS: &[(&str, BenchMode, bool)] = &[
    ("stream-single", BenchMode::Stream, false),
    ("stream-batch", BenchMode::Stream, true),
    ("spmc-2", BenchMode::Stream, false),
    ("spmc-n", BenchMode::Stream, false),
    ("pingpong-spin", BenchMode::Pingpong, false),
    ("paced-spin", BenchMode::Paced, false),
];

static REGISTRY: OnceLock<Vec<Registered>> = OnceLock::new();

fn registry() -> &'static [Registered] {
    REGISTRY.get().map_or(&[], Vec::as_slice)
}

/// The testees of this run (empty before [`register`]).
pub fn registered() -> &'static [Registered] {
    registry()
}

fn entry(t: TesteeKind) -> Option<&'static Registered> {
    registry().get(t.slot as usize)
}

/// The subject's name in tables and plots.
pub fn name(t: TesteeKind) -> &'static str {
    let i = match (t.mode, t.batch) {
        (BenchMode::Stream, false) => 0,
        (BenchMode::Stream, true) => 1,
        (BenchMode::Pingpong, _) => 2,
        (BenchMode::Paced, _) => 3,
    };
    entry(t).map_or("testee", |r| r.names[i])
}

/// The short name ("disruptor-mp/testee").
pub fn who(t: TesteeKind) -> &'static str {
    entry(t).map_or("testee", |r| r.who)
}

fn schema() -> Arc<Schema> {
    static SCHEMA: OnceLock<Arc<Schema>> = OnceLock::new();
    Arc::clone(SCHEMA.get_or_init(|| Arc::new(Schema::load())))
}

/// Resolves and starts each `--impl` once (hello: name, version, capabilities) and registers
/// them for the run. A testee without the `bench` capability is refused.
pub fn register(specs: &[String]) -> Result<&'static [Registered], String> {
    let mut out: Vec<Registered> = Vec::new();
    for spec in specs {
        let imp = Implementation::resolve(spec)?;
        let t = Testee::spawn(&imp, "probe", schema(), Duration::from_secs(10))
            .map_err(|e| format!("--impl {spec}: {e}"))?;
        let (name, caps) = (t.implementation.clone(), t.capabilities.clone());
        let _ = t.exit(Instant::now() + Duration::from_secs(5));
        if !caps.iter().any(|c| c == "bench") {
            return Err(format!("--impl {spec}: testee {name} does not offer the `bench` capability (it offers {caps:?}; see conformance/PROTOCOL.md, \"Benchmarks\")"));
        }
        let mut who = format!("{name}/testee");
        let mut n = 2;
        while out.iter().any(|r| r.who == who) {
            who = format!("{name}#{n}/testee");
            n += 1;
        }
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let base = who.trim_end_matches("/testee").to_owned();
        let names = [
            leak(format!("{base} via testee, stream")),
            leak(format!("{base} via testee, stream batch")),
            leak(format!("{base} via testee, pingpong")),
            leak(format!("{base} via testee, paced")),
        ];
        out.push(Registered {
            imp: Implementation {
                name: name.clone(),
                ..imp
            },
            spec: spec.clone(),
            who: leak(who),
            capabilities: caps,
            names,
        });
    }
    if REGISTRY.set(out).is_err() {
        return Err("testees were registered twice in one process".into());
    }
    Ok(registry())
}

/// The testee subjects that join scenario `scenario`.
pub fn kinds_for(scenario: &str) -> Vec<Kind> {
    let mut v = Vec::new();
    for &(s, mode, batch) in JOINS.iter().filter(|(s, _, _)| *s == scenario) {
        let _ = s;
        for (i, r) in registry().iter().enumerate() {
            if r.offers(mode, batch) {
                v.push(Kind::Testee(TesteeKind {
                    slot: i as u8,
                    mode,
                    batch,
                }));
            }
        }
    }
    v
}

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

/// One side of a testee run.
struct Side {
    label: String,
    cmd: BenchCmd,
    cpu: Option<usize>,
}

/// /proc/PID/status context switch counts (the testee's main thread).
fn switches(pid: u32) -> (i64, i64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let get = |k: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap_or(0)
    };
    (
        get("nonvoluntary_ctxt_switches:"),
        get("voluntary_ctxt_switches:"),
    )
}

fn spawn_pinned(
    imp: &Implementation,
    label: &str,
    cpu: Option<usize>,
    timeout: Duration,
) -> Result<(Testee, Option<bool>), String> {
    // A child inherits the affinity of the thread that forks it: spawn from a thread pinned to
    // the side's core, so the testee is pinned before it runs (whatever its language).
    std::thread::scope(|s| {
        s.spawn(|| {
            let pinned = cpu.map(crate::clock::pin);
            Testee::spawn(imp, label, schema(), timeout)
                .map(|t| (t, pinned))
                .map_err(|e| e.to_string())
        })
        .join()
        .unwrap_or_else(|_| Err("spawning thread panicked".into()))
    })
}

fn ring(name: &str) -> RingAddr {
    RingAddr {
        backend: Backend::Shm,
        name: name.to_owned(),
        root: None,
    }
}

/// Runs one testee subject run (what [`harness::run_pair`] does for built-in kinds).
pub fn run(spec: &RunSpec, name: &str, t: TesteeKind) -> Result<RunOutcome, String> {
    if harness::interrupted() {
        return Err("interrupted".into());
    }
    let reg = entry(t).ok_or("testee subject without a registered testee")?;
    let dir = std::env::temp_dir().join(name);
    std::fs::create_dir(&dir).map_err(|e| format!("create run dir {}: {e}", dir.display()))?;
    let mut guard = UnlinkGuard::new(Vec::new(), Some(dir));
    let timeout_ms = spec.timeout.as_millis() as u64;
    let base = |role: BenchRole, ring_name: &str, cpu: Option<usize>| BenchCmd {
        id: 0,
        mode: t.mode,
        role,
        ring: ring(ring_name),
        peer_ring: None,
        capacity: spec.capacity as u64,
        event_size: spec.size as u64,
        events: spec.events,
        warmup: spec.warmup,
        batch: if t.batch { spec.batch as u64 } else { 1 },
        consumers: 1,
        consumer_id: None,
        interval_ns: (t.mode == BenchMode::Paced).then_some(spec.interval_ns.max(1)),
        cpu: cpu.map(|c| c as u64),
        timeout_ms: timeout_ms.min(30_000),
    };
    let mut sides: Vec<Side> = Vec::new();
    if t.mode == BenchMode::Stream {
        let readers = spec.readers.max(1);
        let cpu = spec.cpu_of(None);
        sides.push(Side {
            label: "producer".into(),
            cmd: BenchCmd {
                consumers: readers as u64,
                ..base(BenchRole::Producer, name, cpu)
            },
            cpu,
        });
        for i in 0..readers {
            let cpu = spec.cpu_of(Some(i));
            let cmd = BenchCmd {
                consumers: readers as u64,
                consumer_id: Some(format!("c_{i}")),
                ..base(BenchRole::Consumer, name, cpu)
            };
            sides.push(Side {
                label: format!("consumer c_{i}"),
                cmd,
                cpu,
            });
        }
    } else {
        let (ab, ba) = (format!("{name}-ab"), format!("{name}-ba"));
        let (ca, cb) = (spec.cpu_of(None), spec.cpu_of(Some(0)));
        let a = BenchCmd {
            peer_ring: Some(ring(&ba)),
            consumer_id: Some("c_0".into()),
            ..base(BenchRole::Initiator, &ab, ca)
        };
        let b = BenchCmd {
            peer_ring: Some(ring(&ab)),
            consumer_id: Some("c_0".into()),
            ..base(BenchRole::Responder, &ba, cb)
        };
        sides.push(Side {
            label: "initiator".into(),
            cmd: a,
            cpu: ca,
        });
        sides.push(Side {
            label: "responder".into(),
            cmd: b,
            cpu: cb,
        });
    }
    let result = drive(reg, spec, &mut sides);
    let leaked = guard.cleanup();
    let (reports, wall, pinned, rt) = result?;
    // Shape the reports as the built-in roles do, so tables, JSON and plots treat them alike.
    let side_json = |i: usize, result: Value| {
        let (s, r, usage) = &reports[i];
        json!({ "cpu": sides[i].cpu, "pinned": pinned[i], "rt": rt[i], "usage": usage, "result": result, "testee": { "impl": reg.imp.name, "role": sides[i].label, "report": r, "pid": s } })
    };
    let (a, b) = if t.mode == BenchMode::Stream {
        let a = side_json(
            0,
            json!({ "published": reports[0].1.events, "errors": reports[0].1.errors }),
        );
        let b = (1..sides.len())
            .map(|i| {
                let r = &reports[i].1;
                let secs = (r.end_ns - r.start_ns) as f64 / 1e9;
                let timed = r.timed_events.unwrap_or(0);
                side_json(i, json!({ "consumed": r.events, "timed_events": timed, "secs": secs, "rate": if secs > 0.0 { timed as f64 / secs } else { 0.0 }, "errors": r.errors }))
            })
            .collect();
        (a, b)
    } else {
        let r = &reports[0].1;
        let hist = validate(&sides[0].cmd, r, 0, u64::MAX)
            .ok()
            .flatten()
            .unwrap_or_else(new_histogram);
        let mut res = latency_json(&hist, r.errors);
        if let Some(late) = r.late {
            res["late_starts"] = json!(late);
        }
        (
            side_json(0, res),
            vec![side_json(
                1,
                json!({ "rounds": reports[1].1.events, "errors": reports[1].1.errors }),
            )],
        )
    };
    let pinned = if spec.cpus.is_empty() {
        None
    } else {
        Some(pinned.iter().all(|p| *p == Some(true)))
    };
    Ok(RunOutcome {
        a,
        b,
        wall,
        pinned,
        leaked,
        attempts: 1,
        quiet_wait_s: 0.0,
        quiet: true,
        oversubscribed: spec.oversubscribed(),
    })
}

type Driven = (
    Vec<(u32, BenchReport, Value)>,
    Duration,
    Vec<Option<bool>>,
    Vec<Option<bool>>,
);

/// Starts every side, sends the commands, collects and validates the reports.
fn drive(reg: &Registered, spec: &RunSpec, sides: &mut [Side]) -> Result<Driven, String> {
    let who = reg.who;
    let mut testees: Vec<Testee> = Vec::new();
    let mut pinned = Vec::new();
    let mut rt = Vec::new();
    for s in sides.iter() {
        let (t, p) = spawn_pinned(&reg.imp, &s.label, s.cpu, Duration::from_secs(10))
            .map_err(|e| format!("{who} {}: {e}", s.label))?;
        rt.push(spec.rt_priority.map(|prio| {
            let param = libc::sched_param {
                sched_priority: prio,
            };
            // SAFETY: plain syscall on a child of ours with a valid parameter block.
            unsafe {
                libc::sched_setscheduler(t.pid() as libc::pid_t, libc::SCHED_FIFO, &param) == 0
            }
        }));
        testees.push(t);
        pinned.push(p);
    }
    if spec.rt_priority.is_some() && rt.iter().any(|r| *r != Some(true)) {
        return Err(
            "a testee could not switch to SCHED_FIFO (needs CAP_SYS_NICE); run without --rt".into(),
        );
    }
    let before: Vec<(i64, i64)> = testees.iter().map(|t| switches(t.pid())).collect();
    let lo = monotonic_ns();
    let start = Instant::now();
    let deadline = start + spec.timeout;
    let mut ids = Vec::new();
    for (t, s) in testees.iter_mut().zip(sides.iter_mut()) {
        let cmd = s.cmd.clone();
        let id = t
            .send(|id| Command::Bench(Box::new(BenchCmd { id, ..cmd })))
            .map_err(|e| format!("{who} {}: {e}", s.label))?;
        s.cmd.id = id;
        ids.push(id);
    }
    let mut replies = Vec::new();
    for (i, t) in testees.iter_mut().enumerate() {
        let label = &sides[i].label;
        let reply = t
            .wait(ids[i], deadline)
            .map_err(|e| format!("{who} {label}: {e}\n{}", t.transcript()))?;
        match reply.result {
            Ok(f) => replies.push((f.bench, switches(t.pid()))),
            Err((kind, msg)) => {
                return Err(format!("{who} {label} answered error {kind:?}: {msg}"))
            }
        }
    }
    let hi = monotonic_ns();
    let wall = start.elapsed();
    let mut out = Vec::new();
    for (i, (t, (report, after))) in testees.into_iter().zip(replies).enumerate() {
        let pid = t.pid();
        let label = &sides[i].label;
        let report = report.ok_or_else(|| {
            format!(
                "testee {who} {label} sent a bad report: {}",
                ReportError::Missing
            )
        })?;
        validate(&sides[i].cmd, &report, lo, hi)
            .map_err(|e| format!("testee {who} {label} sent a bad report, refused: {e}"))?;
        let code = t
            .exit(Instant::now() + Duration::from_secs(10))
            .map_err(|e| format!("{who} {label}: {e}"))?;
        if code != 0 {
            return Err(format!("{who} {label} exited with {code} after exit"));
        }
        let usage = json!({ "involuntary_switches": after.0 - before[i].0, "voluntary_switches": after.1 - before[i].1 });
        out.push((pid, report, usage));
    }
    Ok((out, wall, pinned, rt))
}

/// A round-trip histogram (ns) as the built-in timing sides report it.
fn latency_json(h: &Histogram<u64>, errors: u64) -> Value {
    let pct = |div: f64| {
        let mut m = serde_json::Map::new();
        for (k, q) in PERCENTILES {
            m.insert(k.into(), json!(h.value_at_quantile(q) as f64 / div));
        }
        m.insert("max".into(), json!(h.max() as f64 / div));
        m.insert("min".into(), json!(h.min() as f64 / div));
        m.insert("mean".into(), json!(h.mean() / div));
        Value::Object(m)
    };
    json!({ "rounds": h.len(), "errors": errors, "rtt_ns": pct(1.0), "one_way_ns": pct(2.0), "rtt_hist_ns_v2z": encode_histogram(h) })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let sc = crate::bracket::SCENARIOS
            .iter()
            .find(|s| s.name == "stream-single")
            .unwrap();
        let t = Kind::Testee(TesteeKind {
            slot: 0,
            mode: BenchMode::Stream,
            batch: false,
        });
        let run = |floors: &[f64], testee: f64| ScenarioRun {
            case: crate::bracket::Case {
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
