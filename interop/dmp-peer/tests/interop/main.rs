//! Interop over POSIX shm between ringproof and a genuine disruptor-mp 0.1.0-alpha.2, every side
//! in its own OS process, in both directions and mixed.
//!
//! - disruptor-mp side: the `dmp-peer` binary (`dmp-peer produce|consume ...`, one JSON line).
//! - ringproof side: this test binary re-executed as `ringproof_role` (see `common`), which
//!   runs `ringproof::kit::testkit::{produce, consume}` and prints `ROLE_RESULT {json}`.
//!
//! Every event carries the TP1 test payload (`ringproof::kit::payload`): each consumer checks that it
//! sees every sequence once, in order, with an intact checksum. Every test has a hard deadline
//! (children are killed, the test fails) and ends by checking that /dev/shm holds nothing of
//! its ring.
//!
//! Gating across implementations:
//! - a disruptor-mp producer finds consumer cursors by prefix probing (`{N}_{P}_{i}_seq`), so a
//!   ringproof consumer of a disruptor-mp ring must use the id `{P}_{i}`;
//! - a ringproof producer finds disruptor-mp consumers the same way (`discover_prefix`) and
//!   waits for them (`Coordination::WaitForConsumers`) before publishing. disruptor-mp
//!   consumers do not know the registry's closed state, so the ringproof producer keeps the
//!   ring until they consumed everything.

mod pairs;
mod regressions;

#[path = "../common/mod.rs"]
mod common;

use common::{Outcome, Session, MARKER, ROLE_ENV};
use ringproof::kit::testkit::{self, ReadMode};
use ringproof::{ConsumerBuilder, Coordination, ProducerBuilder, RingName};
use serde_json::{json, Value};
use std::io::Write;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// The ringproof child process.
// ---------------------------------------------------------------------------------------------

/// Child entry point: does nothing unless [`ROLE_ENV`] is set (i.e. in a normal test run).
#[test]
fn ringproof_role() {
    let Ok(role) = std::env::var(ROLE_ENV) else {
        return;
    };
    let result = match role.as_str() {
        "producer" => role_producer(),
        "consumer" => role_consumer(),
        other => Err(format!("unknown role {other:?}")),
    };
    match result {
        Ok((v, ok)) => {
            print_result(&v);
            assert!(ok, "ringproof {role} did not succeed: {v}");
        }
        Err(e) => {
            print_result(&json!({ "role": role, "impl": "ringproof", "error": e }));
            panic!("ringproof {role}: {e}");
        }
    }
}

fn print_result(v: &Value) {
    // One write, on a line of its own (libtest may have printed "test ... " without a newline).
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(format!("\n{MARKER}{v}\n").as_bytes());
    let _ = out.flush();
}

fn env_str(key: &str) -> Result<String, String> {
    std::env::var(key).map_err(|_| format!("{key} is not set"))
}

fn env_num<T: std::str::FromStr>(key: &str, default: Option<T>) -> Result<T, String> {
    match (std::env::var(key), default) {
        (Ok(v), _) => v
            .parse()
            .map_err(|_| format!("{key}={v:?} is not a number")),
        (Err(_), Some(d)) => Ok(d),
        (Err(_), None) => Err(format!("{key} is not set")),
    }
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Creates the ring, waits for `RP_MIN_CONSUMERS` gating consumers, publishes `RP_EVENTS`
/// events, then keeps the ring until every gating consumer consumed the last one.
fn role_producer() -> Result<(Value, bool), String> {
    let name = RingName::shm(&env_str("RP_NAME")?).map_err(text)?;
    let size: usize = env_num("RP_SIZE", None)?;
    let capacity: usize = env_num("RP_CAPACITY", None)?;
    let events: u64 = env_num("RP_EVENTS", None)?;
    let batch: usize = env_num("RP_BATCH", Some(1))?;
    let min: usize = env_num("RP_MIN_CONSUMERS", Some(0))?;
    let discover_max: usize = env_num("RP_DISCOVER_MAX", Some(4))?;
    let timeout = Duration::from_millis(env_num("RP_TIMEOUT_MS", Some(30_000))?);

    let mut b = ProducerBuilder::new(name).capacity(capacity);
    if let Ok(prefix) = std::env::var("RP_PREFIX") {
        b = b.discover_prefix(&prefix, discover_max);
    }
    if min > 0 {
        b = b.coordination(Coordination::WaitForConsumers { min, timeout });
    }
    let t0 = Instant::now();
    let mut p = b.create_raw(size).map_err(text)?;
    let startup = t0.elapsed();
    let gating_at_start = p.gating_ids();

    let t1 = Instant::now();
    let report = testkit::produce(&mut p, events, batch, |_| {}).map_err(text)?;
    let publish = t1.elapsed();

    // disruptor-mp consumers cannot see the closed state: stay until all consumed everything.
    let deadline = Instant::now() + timeout;
    let mut drained = true;
    while p.min_gating_sequence() < report.last_sequence {
        if Instant::now() >= deadline {
            drained = false;
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let min_gating = p.min_gating_sequence();
    let gating = p.gating_ids();
    drop(p); // unlinks the ring's segments before the result line, like dmp-peer
    let ok = drained && report.published == events;
    Ok((
        json!({
            "role": "producer", "impl": "ringproof", "published": report.published,
            "first_seq": report.first_sequence, "last_seq": report.last_sequence,
            "drained": drained, "min_gating": min_gating, "gating": gating,
            "gating_at_start": gating_at_start, "startup_ms": startup.as_millis() as u64,
            "publish_ms": publish.as_millis() as u64,
        }),
        ok,
    ))
}

/// Attaches as `RP_ID` and consumes (and verifies) exactly `RP_EVENTS` events from sequence 0.
fn role_consumer() -> Result<(Value, bool), String> {
    let name = RingName::shm(&env_str("RP_NAME")?).map_err(text)?;
    let id = env_str("RP_ID")?;
    let size: usize = env_num("RP_SIZE", None)?;
    let events: u64 = env_num("RP_EVENTS", None)?;
    let mode: ReadMode = std::env::var("RP_MODE")
        .unwrap_or_else(|_| "batch".into())
        .parse()?;
    let attach = Duration::from_millis(env_num("RP_ATTACH_TIMEOUT_MS", Some(30_000))?);

    let mut c = ConsumerBuilder::new(name, &id)
        .attach_timeout(attach)
        .attach_raw(size)
        .map_err(text)?;
    let start_seq = c.next_sequence();
    let t0 = Instant::now();
    let r = testkit::consume(&mut c, events, mode, |_| {}).map_err(text)?;
    let elapsed = t0.elapsed();
    drop(c); // removes our cursor
    let ok = r.is_clean()
        && r.consumed == events
        && r.first_sequence == Some(0)
        && r.last_sequence == Some(events as i64 - 1);
    Ok((
        json!({
            "role": "consumer", "impl": "ringproof", "id": id, "start_seq": start_seq,
            "consumed": r.consumed, "first_seq": r.first_sequence, "last_seq": r.last_sequence,
            "out_of_order": r.out_of_order, "payload_errors": r.payload_errors,
            "errors": r.errors, "closed_at": r.closed_at, "elapsed_ms": elapsed.as_millis() as u64,
        }),
        ok,
    ))
}

// ---------------------------------------------------------------------------------------------
// Scenario plumbing.
// ---------------------------------------------------------------------------------------------

/// Which side starts first; the other follows after [`GAP`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    ProducerFirst,
    ConsumersFirst,
}

const GAP: Duration = Duration::from_millis(150);

/// A consumer in a scenario.
enum Cons {
    /// A ringproof consumer with this id and read mode.
    Rp { id: String, mode: &'static str },
    /// A disruptor-mp consumer with this id.
    Dmp { id: String },
}

/// The producer in a scenario.
enum Prod {
    /// A ringproof producer discovering `{prefix}_{k}` (k < discover_max), waiting for `min`.
    Rp {
        prefix: String,
        discover_max: usize,
        min: usize,
    },
    /// A disruptor-mp producer gating on `{prefix}_{i}`, i < consumers.
    Dmp { prefix: String, consumers: usize },
}

struct Scenario {
    tag: &'static str,
    size: usize,
    capacity: usize,
    events: u64,
    order: Order,
    limit: Duration,
    producer: Prod,
    consumers: Vec<Cons>,
}

impl Scenario {
    /// Runs every peer to completion; returns (producer outcome, consumer outcomes) after
    /// checking exit statuses and /dev/shm.
    fn run(self) -> (Outcome, Vec<Outcome>) {
        let mut s = Session::new(self.tag, self.limit);
        let name = s.name.clone();
        let n_cons = self.consumers.len();
        let spawn_producer = |s: &mut Session| match &self.producer {
            Prod::Rp {
                prefix,
                discover_max,
                min,
            } => s.spawn_rp(
                "ringproof producer",
                "producer",
                &[
                    ("RP_NAME", name.clone()),
                    ("RP_SIZE", self.size.to_string()),
                    ("RP_CAPACITY", self.capacity.to_string()),
                    ("RP_EVENTS", self.events.to_string()),
                    ("RP_PREFIX", prefix.clone()),
                    ("RP_DISCOVER_MAX", discover_max.to_string()),
                    ("RP_MIN_CONSUMERS", min.to_string()),
                    ("RP_TIMEOUT_MS", "60000".into()),
                ],
            ),
            Prod::Dmp { prefix, consumers } => s.spawn_dmp(
                "disruptor-mp producer",
                &strings(&[
                    "produce",
                    "--name",
                    &name,
                    "--capacity",
                    &self.capacity.to_string(),
                    "--events",
                    &self.events.to_string(),
                    "--size",
                    &self.size.to_string(),
                    "--consumer-prefix",
                    prefix,
                    "--consumers",
                    &consumers.to_string(),
                    "--startup-timeout-ms",
                    "30000",
                    "--idle-timeout-ms",
                    "60000",
                ]),
            ),
        };
        let spawn_consumers = |s: &mut Session| {
            for c in &self.consumers {
                match c {
                    Cons::Rp { id, mode } => s.spawn_rp(
                        &format!("ringproof consumer {id}"),
                        "consumer",
                        &[
                            ("RP_NAME", name.clone()),
                            ("RP_ID", id.clone()),
                            ("RP_SIZE", self.size.to_string()),
                            ("RP_EVENTS", self.events.to_string()),
                            ("RP_MODE", (*mode).into()),
                            ("RP_ATTACH_TIMEOUT_MS", "30000".into()),
                        ],
                    ),
                    Cons::Dmp { id } => s.spawn_dmp(
                        &format!("disruptor-mp consumer {id}"),
                        &strings(&[
                            "consume",
                            "--name",
                            &name,
                            "--id",
                            id,
                            "--capacity",
                            &self.capacity.to_string(),
                            "--events",
                            &self.events.to_string(),
                            "--size",
                            &self.size.to_string(),
                            "--attach-timeout-ms",
                            "30000",
                            "--idle-timeout-ms",
                            "60000",
                        ]),
                    ),
                }
            }
        };
        match self.order {
            Order::ProducerFirst => {
                spawn_producer(&mut s);
                std::thread::sleep(GAP);
                // Producer first means: its segments exist before any consumer starts. The
                // consumer-first order (and the window between disruptor-mp's ring and its
                // producer cursor) has its own tests below.
                let cursor = ringproof_testsupport::shm_path(format!("{name}_producer_seq"));
                let until = Instant::now() + Duration::from_secs(30);
                while !cursor.exists() && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(1));
                }
                spawn_consumers(&mut s);
            }
            Order::ConsumersFirst => {
                spawn_consumers(&mut s);
                std::thread::sleep(GAP);
                spawn_producer(&mut s);
            }
        }
        let mut outcomes = s.wait_all();
        let wall = s.finish();
        // Spawn order -> (producer, consumers).
        let producer = match self.order {
            Order::ProducerFirst => outcomes.remove(0),
            Order::ConsumersFirst => outcomes.remove(n_cons),
        };
        let mut line = format!(
            "TIMING {} {:.2}s (producer {:.2}s",
            self.tag,
            wall.as_secs_f64(),
            producer.wall.as_secs_f64()
        );
        for c in &outcomes {
            line += &format!(", {} {:.2}s", c.label, c.wall.as_secs_f64());
        }
        eprintln!("{line})");
        for o in std::iter::once(&producer).chain(&outcomes) {
            eprintln!(
                "  {}: {}",
                o.label,
                o.json.as_ref().map_or("<none>".into(), |j| j.to_string())
            );
        }
        (producer, outcomes)
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A consumer outcome shows exactly `events` events, 0..events, nothing torn, stale or missing.
fn assert_clean(o: &Outcome, events: u64) {
    assert!(o.success(), "{o}");
    assert!(
        o.json.as_ref().is_some_and(|j| j.get("error").is_none()),
        "{o}"
    );
    assert_eq!(o.u64("consumed"), events, "{o}");
    assert_eq!(o.i64("first_seq"), 0, "{o}");
    assert_eq!(o.i64("last_seq"), events as i64 - 1, "{o}");
    assert_eq!(o.u64("out_of_order"), 0, "{o}");
    match o.field("impl").as_str() {
        Some("ringproof") => {
            assert_eq!(o.u64("payload_errors"), 0, "{o}");
            assert_eq!(o.field("errors"), &json!([]), "{o}");
        }
        Some("disruptor-mp") => {
            assert_eq!(o.u64("checksum_failures"), 0, "{o}");
            assert!(o.field("first_error").is_null(), "{o}");
        }
        other => panic!("unknown impl {other:?}\n{o}"),
    }
}

fn assert_producer(o: &Outcome, events: u64) {
    assert!(o.success(), "{o}");
    assert_eq!(o.u64("published"), events, "{o}");
    if o.field("impl").as_str() == Some("ringproof") {
        assert_eq!(o.i64("first_seq"), 0, "{o}");
        assert_eq!(o.i64("last_seq"), events as i64 - 1, "{o}");
        assert_eq!(o.field("drained"), &json!(true), "{o}");
        assert!(o.i64("min_gating") >= events as i64 - 1, "{o}");
    }
}

/// disruptor-mp producer -> one ringproof consumer (id `{prefix}_0`, which the producer's
/// prefix discovery finds and gates on).
fn dmp_to_rp(
    tag: &'static str,
    size: usize,
    capacity: usize,
    events: u64,
    mode: &'static str,
    order: Order,
    limit: Duration,
) {
    let (p, cs) = Scenario {
        tag,
        size,
        capacity,
        events,
        order,
        limit,
        producer: Prod::Dmp {
            prefix: "rp".into(),
            consumers: 1,
        },
        consumers: vec![Cons::Rp {
            id: "rp_0".into(),
            mode,
        }],
    }
    .run();
    assert_producer(&p, events);
    assert_eq!(p.field("impl"), "disruptor-mp", "{p}");
    assert_clean(&cs[0], events);
    assert_eq!(cs[0].field("impl"), "ringproof");
    // No registry on a disruptor-mp ring: the consumer starts at the head (-1 + 1) and never
    // sees a closed state.
    assert_eq!(cs[0].i64("start_seq"), 0, "{}", cs[0]);
    assert!(cs[0].field("closed_at").is_null(), "{}", cs[0]);
}

/// ringproof producer (discovering `dmp_k`, waiting for one) -> one disruptor-mp consumer.
fn rp_to_dmp(
    tag: &'static str,
    size: usize,
    capacity: usize,
    events: u64,
    order: Order,
    limit: Duration,
) {
    let (p, cs) = Scenario {
        tag,
        size,
        capacity,
        events,
        order,
        limit,
        producer: Prod::Rp {
            prefix: "dmp".into(),
            discover_max: 4,
            min: 1,
        },
        consumers: vec![Cons::Dmp { id: "dmp_0".into() }],
    }
    .run();
    assert_producer(&p, events);
    assert_eq!(p.field("impl"), "ringproof", "{p}");
    assert_eq!(p.field("gating_at_start"), &json!(["dmp_0"]), "{p}");
    assert_clean(&cs[0], events);
    assert_eq!(cs[0].field("impl"), "disruptor-mp");
}

const LIMIT_1M: Duration = Duration::from_secs(240);
const LIMIT: Duration = Duration::from_secs(120);
