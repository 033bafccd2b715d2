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
                let cursor = std::path::Path::new("/dev/shm").join(format!("{name}_producer_seq"));
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

// ---------------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------------

/// Case 1: disruptor-mp producer -> ringproof consumer: 1,000,000 events of 64 bytes through 1024
/// slots (the ring wraps ~976 times).
#[test]
fn dmp_producer_to_ringproof_consumer_1m() {
    dmp_to_rp(
        "d2r1m",
        64,
        1024,
        1_000_000,
        "batch",
        Order::ProducerFirst,
        LIMIT_1M,
    );
}

/// Case 2: ringproof producer -> disruptor-mp consumer: 1,000,000 events of 64 bytes, 1024 slots.
/// The disruptor-mp consumer starts first (its attach retries until the ring exists).
#[test]
fn ringproof_producer_to_dmp_consumer_1m() {
    rp_to_dmp(
        "r2d1m",
        64,
        1024,
        1_000_000,
        Order::ConsumersFirst,
        LIMIT_1M,
    );
}

/// Case 3: Mixed broadcast: one ringproof producer; a registered ringproof consumer and a
/// discovered disruptor-mp consumer both see every event.
#[test]
fn mixed_ringproof_producer_to_ringproof_and_dmp_consumers() {
    let events = 200_000;
    let (p, cs) = Scenario {
        tag: "mixr",
        size: 64,
        capacity: 256,
        events,
        order: Order::ConsumersFirst,
        limit: LIMIT,
        producer: Prod::Rp {
            prefix: "dmp".into(),
            discover_max: 2,
            min: 2,
        },
        consumers: vec![
            Cons::Rp {
                id: "rpc".into(),
                mode: "lease",
            },
            Cons::Dmp { id: "dmp_0".into() },
        ],
    }
    .run();
    assert_producer(&p, events);
    let mut gating: Vec<String> =
        serde_json::from_value(p.field("gating_at_start").clone()).unwrap();
    gating.sort();
    assert_eq!(gating, ["dmp_0", "rpc"], "{p}");
    for c in &cs {
        assert_clean(c, events);
    }
}

/// Case 4: disruptor-mp producer gating on a disruptor-mp consumer (`mx_0`) and a ringproof
/// consumer (`mx_1`) at once.
#[test]
fn mixed_dmp_producer_to_dmp_and_ringproof_consumers() {
    let events = 200_000;
    let (p, cs) = Scenario {
        tag: "mixd",
        size: 64,
        capacity: 256,
        events,
        order: Order::ProducerFirst,
        limit: LIMIT,
        producer: Prod::Dmp {
            prefix: "mx".into(),
            consumers: 2,
        },
        consumers: vec![
            Cons::Dmp { id: "mx_0".into() },
            Cons::Rp {
                id: "mx_1".into(),
                mode: "copy",
            },
        ],
    }
    .run();
    assert_producer(&p, events);
    for c in &cs {
        assert_clean(c, events);
    }
}

/// Case 5a: 8-byte events (sequence only, no checksum), disruptor-mp -> ringproof.
#[test]
fn dmp_producer_to_ringproof_consumer_size8() {
    dmp_to_rp(
        "d2r8",
        8,
        1024,
        200_000,
        "copy",
        Order::ProducerFirst,
        LIMIT,
    );
}

/// Case 5b: 8-byte events, ringproof -> disruptor-mp.
#[test]
fn ringproof_producer_to_dmp_consumer_size8() {
    rp_to_dmp("r2d8", 8, 1024, 200_000, Order::ProducerFirst, LIMIT);
}

/// Case 5c: 4096-byte events through 64 slots, disruptor-mp -> ringproof.
#[test]
fn dmp_producer_to_ringproof_consumer_size4096() {
    dmp_to_rp(
        "d2r4k",
        4096,
        64,
        20_000,
        "lease",
        Order::ProducerFirst,
        LIMIT,
    );
}

/// Case 5d: 4096-byte events through 64 slots, ringproof -> disruptor-mp.
#[test]
fn ringproof_producer_to_dmp_consumer_size4096() {
    rp_to_dmp("r2d4k", 4096, 64, 20_000, Order::ConsumersFirst, LIMIT);
}

/// The harness itself: a peer that never finishes (a disruptor-mp producer waiting for a
/// consumer nobody starts) is killed at the hard deadline, the test fails rather than hangs,
/// and the guard removes the segments the killed peer left in /dev/shm.
#[test]
fn harness_kills_children_and_cleans_up_at_the_hard_deadline() {
    let mut name = String::new();
    let mut armed: Option<Instant> = None;
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut s = Session::new("hang", Duration::from_secs(30));
        let t0 = Instant::now();
        name = s.name.clone();
        s.spawn_dmp(
            "disruptor-mp producer without consumers",
            &strings(&[
                "produce",
                "--name",
                &s.name.clone(),
                "--capacity",
                "64",
                "--events",
                "10",
                "--size",
                "64",
                "--consumer-prefix",
                "nobody",
                "--consumers",
                "1",
                "--startup-timeout-ms",
                "60000",
            ]),
        );
        // Let it create its segments first (slow on a loaded machine), then start the clock.
        let cursor = std::path::Path::new("/dev/shm").join(format!("{}_producer_seq", s.name));
        while !cursor.exists() && t0.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            cursor.exists(),
            "the producer should have created its segments"
        );
        armed = Some(Instant::now());
        s.set_deadline(Duration::from_millis(500));
        s.wait_all();
    }));
    let msg = r.expect_err("wait_all must fail at the deadline");
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.starts_with("hard timeout"), "{msg}");
    let waited = armed.expect("deadline armed").elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "killed {waited:?} after a 500 ms deadline"
    );
    assert_eq!(
        common::shm_leftovers(&name),
        Vec::<String>::new(),
        "the guard must remove leftovers"
    );
}

// ---------------------------------------------------------------------------------------------
// Regression, found by these tests: a ringproof consumer started before a disruptor-mp
// producer failed to attach. disruptor-mp's `build_producer` creates the ring segment `N` first
// and the producer cursor `N_producer_seq` after it (with the slot factory loop in between), and
// `RawConsumer::attach` used to wait only for the ring. It now waits for the producer cursor
// with the same deadline (SPEC.md §7.3 step 1).

/// 64-byte event for in-process disruptor-mp calls.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Ev64([u64; 8]);

/// Regression (found by this suite), deterministic: genuine disruptor-mp calls, in `build_producer`'s order, with a
/// pause between the ring and the producer cursor. A consumer with `attach_timeout(5 s)` must
/// wait for the cursor, not fail.
#[test]
fn ringproof_attach_waits_for_dmp_producer_cursor_created_after_the_ring() {
    let s = Session::new("order", LIMIT);
    let name = s.name.clone();
    let config = disruptor_mp::SharedMemoryConfig {
        name: name.clone(),
        buffer_size: 1024,
        element_size: std::mem::size_of::<Ev64>(),
        create: true,
    };
    let ring =
        disruptor_mp::SharedRingBuffer::<Ev64>::new(config, Ev64::default).expect("dmp ring");
    let cursor_name = format!("{name}_producer_seq");
    let creator = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        disruptor_mp::SharedCursor::new(&cursor_name, -1).expect("dmp producer cursor")
    });
    let attached = ConsumerBuilder::new(RingName::shm(&name).unwrap(), "rp_0")
        .attach_timeout(Duration::from_secs(5))
        .attach_raw(64);
    let producer_cursor = creator.join().expect("creator thread");
    let result = attached
        .as_ref()
        .map(|c| c.next_sequence())
        .map_err(|e| e.to_string());
    drop(attached); // unlinks `N_rp_0_seq` if it attached
    drop(producer_cursor); // disruptor-mp owners unlink on drop
    drop(ring);
    assert_eq!(
        result,
        Ok(0),
        "a ringproof consumer must wait (attach_timeout) for the producer cursor of a \
         disruptor-mp ring, which is created after the ring"
    );
    s.finish();
}

/// Regression (found by this suite), end to end: ringproof consumer process started before the disruptor-mp producer
/// process, 5 times. 65,536 slots make disruptor-mp's slot-initialisation loop between the ring
/// and the producer cursor last a few milliseconds, so the consumer's 0.5 ms attach poll lands in
/// the window nearly every time (with 1024 slots: about 5-35% of attempts, depending on load).
#[test]
fn ringproof_consumer_started_before_dmp_producer() {
    const ATTEMPTS: usize = 5;
    let mut failures = Vec::new();
    for i in 0..ATTEMPTS {
        let r = std::panic::catch_unwind(|| {
            dmp_to_rp(
                "cfirst",
                64,
                1 << 16,
                2_000,
                "batch",
                Order::ConsumersFirst,
                Duration::from_secs(60),
            )
        });
        if let Err(e) = r {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let why = msg
                .lines()
                .find(|l| l.contains("\"error\""))
                .unwrap_or("(see output)")
                .to_owned();
            failures.push(format!("attempt {i}: {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {ATTEMPTS} consumer-first runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// disruptor-mp's producer creates its readiness counter `N_cr` just after `N_producer_seq`
/// (producer.rs:124-150, `SharedProducer::new_with_coordination_and_discovery`) and then spins
/// until `N_cr` reaches the consumer count. A ringproof consumer that attaches in between must
/// still be counted (SPEC.md §10.1: it keeps trying to open `N_cr` for a while), else the
/// disruptor-mp producer waits out its whole coordination timeout (15 s by default for one
/// consumer) before it publishes. Genuine disruptor-mp calls, in-process, deterministic order.
#[test]
fn ringproof_consumer_signals_a_dmp_readiness_counter_created_during_attach() {
    let s = Session::new("ready", LIMIT);
    let name = s.name.clone();
    let config = disruptor_mp::SharedMemoryConfig {
        name: name.clone(),
        buffer_size: 64,
        element_size: std::mem::size_of::<Ev64>(),
        create: true,
    };
    let ring =
        disruptor_mp::SharedRingBuffer::<Ev64>::new(config, Ev64::default).expect("dmp ring");
    let producer_cursor =
        disruptor_mp::SharedCursor::new(&format!("{name}_producer_seq"), -1).expect("dmp cursor");
    let ready_name = format!("{name}_cr");
    let creator = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        disruptor_mp::SharedCursor::new(&ready_name, 0).expect("dmp readiness counter")
    });
    let consumer = ConsumerBuilder::new(RingName::shm(&name).unwrap(), "rp_0")
        .attach_timeout(Duration::from_secs(5))
        .attach_raw(64);
    let ready = creator.join().expect("creator thread");
    let count = ready.load(std::sync::atomic::Ordering::Acquire);
    let attached = consumer.as_ref().map(|_| ()).map_err(|e| e.to_string());
    drop(consumer);
    drop(ready);
    drop(producer_cursor);
    drop(ring);
    assert_eq!(attached, Ok(()));
    assert_eq!(
        count, 1,
        "a ringproof consumer must signal disruptor-mp's readiness counter that appears just \
         after it attached (else the producer waits out its coordination timeout)"
    );
    s.finish();
}
