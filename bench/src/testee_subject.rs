//! Subjects behind the testee protocol: `--impl NAME|PATH` puts any implementation with a
//! conformance testee that offers the `bench` capability (conformance/PROTOCOL.md,
//! "Benchmarks") into the bracketed schedule, next to the built-in subjects.
//!
//! The harness starts one testee process per side, pins it (the process is spawned from a
//! thread pinned to its core, so it inherits the affinity before it runs a single instruction
//! of its own), sends each one `bench` command, and the testee runs the hot loop itself. Its
//! `ok` reply carries what it measured; [`validate`] refuses a report that is malformed or
//! impossible (timestamps outside the run, fewer events than published, payload errors, a
//! histogram that does not hold the round trips it claims), and
//! [`check_plausible`](crate::testee_report::check_plausible) fails a case whose testee claims
//! to beat the raw floor by more than noise. A refused report fails the case; it never becomes
//! a number. This file runs the testees; `testee_registry.rs` knows them, `testee_report.rs`
//! judges what they report.

use crate::measure::PERCENTILES;
use crate::role::Kind;
use crate::run::{RunOutcome, RunSpec};
use crate::shm::UnlinkGuard;
use crate::signals::interrupted;
use crate::testee_registry::{entry, registry, schema, Registered, TesteeKind, JOINS};
use crate::testee_report::{validate, ReportError};
use hdrhistogram::Histogram;
use ringproof_conformance::driver::{Implementation, Testee};
use ringproof_conformance::protocol::{
    Backend, BenchCmd, BenchMode, BenchReport, BenchRole, Command, RingAddr,
};
use ringproof_conformance::testee_bench::{encode_histogram, monotonic_ns, new_histogram};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

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

/// Runs one testee subject run (what [`crate::harness::run_pair`] does for built-in kinds).
pub fn run(spec: &RunSpec, name: &str, t: TesteeKind) -> Result<RunOutcome, String> {
    if interrupted() {
        return Err("interrupted".into());
    }
    let reg = entry(t).ok_or("testee subject without a registered testee")?;
    let dir = std::env::temp_dir().join(name);
    std::fs::create_dir(&dir).map_err(|e| format!("create run dir {}: {e}", dir.display()))?;
    let mut guard = UnlinkGuard::new(Vec::new(), Some(dir));
    let mut sides = sides(spec, name, t);
    let result = drive(reg, spec, &mut sides);
    let leaked = guard.cleanup();
    let (reports, wall, pinned, rt) = result?;
    let (a, b) = shape(reg, t, &sides, &reports, &pinned, &rt);
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

/// Every side of the run and its `bench` command: a producer and one consumer per reader
/// (stream), or an initiator and a responder over two rings (ping-pong, paced).
fn sides(spec: &RunSpec, name: &str, t: TesteeKind) -> Vec<Side> {
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
    sides
}

/// Every side's report shaped as the built-in roles shape theirs: side A, then the B sides.
fn shape(
    reg: &Registered,
    t: TesteeKind,
    sides: &[Side],
    reports: &[(u32, BenchReport, Value)],
    pinned: &[Option<bool>],
    rt: &[Option<bool>],
) -> (Value, Vec<Value>) {
    // Shape the reports as the built-in roles do, so tables, JSON and plots treat them alike.
    let side_json = |i: usize, result: Value| {
        let (s, r, usage) = &reports[i];
        json!({ "cpu": sides[i].cpu, "pinned": pinned[i], "rt": rt[i], "usage": usage, "result": result, "testee": { "impl": reg.imp.name, "role": sides[i].label, "report": r, "pid": s } })
    };
    if t.mode == BenchMode::Stream {
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
    }
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
