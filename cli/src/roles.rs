//! `ringproof produce` and `ringproof consume`: the quick start, and the processes the
//! multi-process tests spawn. Each prints one JSON line with what it did.

use clap::{Args, ValueEnum};
use ringproof::testkit::{self, ReadMode};
use ringproof::{ConsumerBuilder, Coordination, LivenessAction, OnLapped, ProducerBuilder, RequiredConsumers, RingName, WaitStrategy};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Which ring: a shm name, or a name under a directory.
#[derive(Args, Debug, Clone)]
pub struct RingArgs {
    /// Ring name (`[A-Za-z0-9_-]`).
    #[arg(long)]
    ring: String,
    /// Use memory-mapped files under this directory instead of shared memory.
    #[arg(long)]
    dir: Option<PathBuf>,
}

impl RingArgs {
    fn name(&self) -> ringproof::Result<RingName> {
        match &self.dir {
            Some(d) => RingName::dir(d, &self.ring),
            None => RingName::shm(&self.ring),
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum Wait {
    Spin,
    /// Spin, looking at the other side's cursor once per microsecond (throughput).
    Backoff,
    Yield,
    Sleep,
    Block,
}

impl From<Wait> for WaitStrategy {
    fn from(w: Wait) -> Self {
        match w {
            Wait::Spin => WaitStrategy::BusySpin,
            Wait::Backoff => WaitStrategy::backoff(),
            Wait::Yield => WaitStrategy::SpinThenYield { spins: 10_000 },
            Wait::Sleep => WaitStrategy::Sleep(Duration::from_micros(50)),
            Wait::Block => WaitStrategy::blocking(),
        }
    }
}

#[derive(Args, Debug)]
pub struct ProduceArgs {
    #[command(flatten)]
    ring: RingArgs,
    /// Slots in the ring (a power of two).
    #[arg(long, default_value_t = 1024)]
    capacity: usize,
    /// Event size in bytes (a multiple of 8).
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Events to publish.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Events per publish call (1 = single-event publish).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Wait for this many consumers before publishing.
    #[arg(long, default_value_t = 0)]
    wait_consumers: usize,
    /// Also gate on disruptor-mp consumers named PREFIX_k.
    #[arg(long)]
    discover_prefix: Option<String>,
    /// How many PREFIX_k ids to probe.
    #[arg(long, default_value_t = 4)]
    discover_max: usize,
    /// How to wait when the ring is full.
    #[arg(long, value_enum, default_value = "yield")]
    wait: Wait,
    /// Startup and drain timeout, milliseconds.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    /// Required consumers (comma-separated ids): waited for at startup and watched while they
    /// gate the producer.
    #[arg(long, value_delimiter = ',')]
    required: Vec<String>,
    /// Required-consumer progress timeout, milliseconds.
    #[arg(long, default_value_t = 250)]
    progress_timeout_ms: u64,
    /// Grace period after a stall alert, milliseconds.
    #[arg(long, default_value_t = 1000)]
    grace_ms: u64,
    /// What a stalled or dead required consumer causes: shutdown (the producer fails), alert
    /// (it keeps waiting), or evict (the consumer stops gating).
    #[arg(long, value_parser = ["shutdown", "alert", "evict"], default_value = "shutdown")]
    action: String,
    /// Exit right after publishing instead of waiting until every gating consumer has
    /// consumed everything (ringproof consumers drain a closed ring anyway; disruptor-mp ones
    /// need the ring to stay).
    #[arg(long)]
    no_drain: bool,
}

pub fn produce(a: ProduceArgs) -> ringproof::Result<ExitCode> {
    if a.size == 0 || a.size % 8 != 0 {
        return Err(ringproof::Error::InvalidConfig(format!("--size {} is not a positive multiple of 8 bytes, which the test payload needs", a.size)));
    }
    let timeout = Duration::from_millis(a.timeout_ms);
    let mut b = ProducerBuilder::new(a.ring.name()?).capacity(a.capacity).wait(a.wait.into());
    if a.wait_consumers > 0 {
        b = b.coordination(Coordination::WaitForConsumers { min: a.wait_consumers, timeout });
    }
    if let Some(prefix) = &a.discover_prefix {
        b = b.discover_prefix(prefix, a.discover_max);
    }
    let alerts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    if !a.required.is_empty() {
        let sink = std::sync::Arc::clone(&alerts);
        b = b.required_consumers(
            RequiredConsumers::new(a.required.clone())
                .with_startup_wait_timeout(timeout)
                .with_progress_timeout(Duration::from_millis(a.progress_timeout_ms))
                .with_shutdown_grace_period(Duration::from_millis(a.grace_ms))
                .with_action(match a.action.as_str() {
                    "alert" => LivenessAction::AlertOnly,
                    "evict" => LivenessAction::Evict,
                    _ => LivenessAction::GracefulShutdown,
                })
                .with_alert_hook(move |alert| {
                    sink.lock().expect("alerts").push(json!({
                        "consumer": alert.consumer_id, "last_sequence": alert.last_sequence,
                        "stalled_ms": alert.stalled_for.as_millis() as u64, "dead": alert.dead,
                    }))
                }),
        );
    }
    let mut p = b.create_raw(a.size)?;
    let start = Instant::now();
    let first_seq = p.last_published() + 1;
    // A liveness verdict (graceful shutdown) ends the run with exit 3 and says how far it got.
    let verdict = |p: &ringproof::RawProducer, e: ringproof::Error| -> ringproof::Result<ExitCode> {
        if !matches!(e, ringproof::Error::GracefulShutdown { .. }) {
            return Err(e);
        }
        println!("{}", json!({
            "role": "producer", "impl": "ringproof", "error": e.to_string(),
            "first_seq": first_seq, "last_seq": p.last_published(),
            "alerts": *alerts.lock().expect("alerts"),
        }));
        Ok(ExitCode::from(3))
    };
    let report = match testkit::produce(&mut p, a.events, a.batch, |_| {}) {
        Ok(r) => r,
        Err(e) => return verdict(&p, e),
    };
    let publish_ns = start.elapsed().as_nanos() as u64;
    let drained = match if a.no_drain { Ok(true) } else { p.drain(timeout) } {
        Ok(d) => d,
        Err(e) => return verdict(&p, e),
    };
    println!(
        "{}",
        json!({
            "role": "producer", "impl": "ringproof", "published": report.published,
            "first_seq": report.first_sequence, "last_seq": report.last_sequence,
            "size": a.size, "publish_ns": publish_ns, "drained": drained,
            "gating": p.gating_ids(), "alerts": *alerts.lock().expect("alerts"),
        })
    );
    Ok(if drained { ExitCode::SUCCESS } else { ExitCode::from(4) })
}

#[derive(Args, Debug)]
pub struct ConsumeArgs {
    #[command(flatten)]
    ring: RingArgs,
    /// Consumer id (`[A-Za-z0-9_-]`, at most 48 bytes).
    #[arg(long)]
    id: String,
    /// Expected event size in bytes (omit to accept the ring's).
    #[arg(long)]
    size: Option<usize>,
    /// Events to consume (stops early if the producer closes the ring).
    #[arg(long, default_value_t = u64::MAX)]
    events: u64,
    /// copy, lease or batch.
    #[arg(long, default_value = "batch")]
    mode: ReadMode,
    /// How to wait for events.
    #[arg(long, value_enum, default_value = "yield")]
    wait: Wait,
    /// How long to wait for the ring to appear, milliseconds.
    #[arg(long, default_value_t = 10_000)]
    attach_timeout_ms: u64,
    /// If this id's cursor fell behind while it was not gating, continue at the head instead
    /// of failing with the missed range.
    #[arg(long)]
    resync: bool,
}

pub fn consume(a: ConsumeArgs) -> ringproof::Result<ExitCode> {
    let b = ConsumerBuilder::new(a.ring.name()?, &a.id)
        .wait(a.wait.into())
        .attach_timeout(Duration::from_millis(a.attach_timeout_ms))
        .on_lapped(if a.resync { OnLapped::Resync } else { OnLapped::Fail });
    let mut c = match a.size {
        Some(size) => b.attach_raw(size)?,
        None => b.attach_any()?,
    };
    let start_seq = c.next_sequence();
    let start = Instant::now();
    let r = testkit::consume(&mut c, a.events, a.mode, |_| {})?;
    let elapsed_ns = start.elapsed().as_nanos() as u64;
    let complete = a.events == u64::MAX || r.consumed == a.events;
    println!(
        "{}",
        json!({
            "role": "consumer", "impl": "ringproof", "id": a.id, "start_seq": start_seq,
            "consumed": r.consumed, "first_seq": r.first_sequence, "last_seq": r.last_sequence,
            "out_of_order": r.out_of_order, "payload_errors": r.payload_errors,
            "errors": r.errors, "closed_at": r.closed_at, "producer_gone_at": r.producer_gone_at,
            "elapsed_ns": elapsed_ns,
        })
    );
    Ok(if r.is_clean() && complete { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

#[derive(Args, Debug)]
pub struct RmArgs {
    #[command(flatten)]
    ring: RingArgs,
    /// Remove even without a registry to check (a disruptor-mp ring): stop its processes first.
    #[arg(long)]
    force: bool,
}

pub fn rm(a: RmArgs) -> ringproof::Result<ExitCode> {
    let removed = ringproof::cleanup::remove_ring(&a.ring.name()?, a.force)?;
    println!("{}", json!({ "removed": removed.iter().map(ToString::to_string).collect::<Vec<_>>() }));
    Ok(ExitCode::SUCCESS)
}
