//! `ringproof produce` and `ringproof consume`: the quick start, and the processes the
//! multi-process tests spawn. Each prints one JSON line with what it did.

use clap::{Args, ValueEnum};
use ringproof::kit::testkit::{self, ReadMode};
use ringproof::{
    ConsumerBuilder, OnLapped, ProducerBuilder, RequiredConsumers, RingName, WaitStrategy,
};
use ringproof_conformance::protocol::LivenessAction;
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
    #[arg(long, value_enum, default_value_t = LivenessAction::Shutdown)]
    action: LivenessAction,
    /// Exit right after publishing instead of waiting until every gating consumer has
    /// consumed everything (ringproof consumers drain a closed ring anyway; disruptor-mp ones
    /// need the ring to stay).
    #[arg(long)]
    no_drain: bool,
}

pub fn produce(a: ProduceArgs) -> ringproof::Result<ExitCode> {
    if a.size == 0 || a.size % 8 != 0 {
        return Err(ringproof::Error::InvalidConfig(format!(
            "--size {} is not a positive multiple of 8 bytes, which the test payload needs",
            a.size
        )));
    }
    let timeout = Duration::from_millis(a.timeout_ms);
    let mut b = ProducerBuilder::new(a.ring.name()?)
        .capacity(a.capacity)
        .wait(a.wait.into());
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
                .with_action(a.action.into())
                .with_alert_hook(move |alert| {
                    sink.lock().expect("alerts").push(json!({
                        "consumer": alert.consumer_id, "last_sequence": alert.last_sequence,
                        "stalled_ms": alert.stalled_for.as_millis() as u64, "dead": alert.dead,
                    }))
                }),
        );
    }
    // SIGINT/SIGTERM end the run like its last event: the ring is closed (consumers drain it
    // and see *closed*) and the summary says so. Caught from before creation (a signal never
    // leaves a half-made ring), looked at while waiting for consumers and once per chunk of
    // 1024 publish calls, never per event; a publish blocked on a full ring notices it once
    // room appears (or its liveness verdicts end the wait).
    stop_signals::install();
    let mut p = b.create_raw(a.size)?;
    // Waited for here, in short slices, rather than by the builder, so that a signal ends it.
    let deadline = Instant::now() + timeout;
    while a.wait_consumers > 0 && stop_signals::caught().is_none() {
        match p.wait_for_consumers(a.wait_consumers, Duration::from_millis(20)) {
            Ok(()) => break,
            Err(ringproof::Error::ConsumersMissing { found, .. }) if Instant::now() >= deadline => {
                return Err(ringproof::Error::ConsumersMissing {
                    min: a.wait_consumers,
                    found,
                    timeout,
                });
            }
            Err(ringproof::Error::ConsumersMissing { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let start = Instant::now();
    let first_seq = p.last_published() + 1;
    // A liveness verdict (graceful shutdown) ends the run with exit 3 and says how far it got.
    let verdict =
        |p: &ringproof::RawProducer, e: ringproof::Error| -> ringproof::Result<ExitCode> {
            if !matches!(e, ringproof::Error::GracefulShutdown { .. }) {
                return Err(e);
            }
            println!(
                "{}",
                json!({
                    "role": "producer", "impl": "ringproof", "error": e.to_string(),
                    "first_seq": first_seq, "last_seq": p.last_published(),
                    "alerts": *alerts.lock().expect("alerts"),
                })
            );
            Ok(ExitCode::from(3))
        };
    let chunk = (a.batch.max(1) as u64).saturating_mul(1024);
    let mut left = a.events;
    while left > 0 && stop_signals::caught().is_none() {
        let n = chunk.min(left);
        if let Err(e) = testkit::produce(&mut p, n, a.batch, |_| {}) {
            return verdict(&p, e);
        }
        left -= n;
    }
    let report = testkit::ProduceReport {
        first_sequence: first_seq,
        last_sequence: p.last_published(),
        published: a.events - left,
    };
    let publish_ns = start.elapsed().as_nanos() as u64;
    // The one summary line, whether the run ended normally or by a signal.
    let summary = |p: &ringproof::RawProducer, drained: bool, interrupted: Option<&str>| {
        json!({
            "role": "producer", "impl": "ringproof", "published": report.published,
            "first_seq": report.first_sequence, "last_seq": report.last_sequence,
            "size": a.size, "publish_ns": publish_ns, "drained": drained,
            "gating": p.gating_ids(), "alerts": *alerts.lock().expect("alerts"),
            "interrupted": interrupted,
        })
    };
    if let Some(sig) = stop_signals::caught() {
        println!("{}", summary(&p, false, Some(stop_signals::name(sig))));
        // Dropping the producer closes the ring.
        return Ok(ExitCode::from(128 + sig as u8));
    }
    let drained = match if a.no_drain {
        Ok(true)
    } else {
        p.drain(timeout)
    } {
        Ok(d) => d,
        Err(e) => return verdict(&p, e),
    };
    println!("{}", summary(&p, drained, None));
    Ok(if drained {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(4)
    })
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
    /// Leave cleanly (exit 0 if everything read was intact) once the producer has been gone
    /// (its process died, nobody restarted it) for this many milliseconds with every event
    /// consumed. Without it the consumer waits for a restart forever.
    #[arg(long, value_name = "MS")]
    exit_after_gone_ms: Option<u64>,
    /// Leave cleanly once nothing could be read for this many milliseconds, whatever the
    /// reason (a gone producer, an idle one, a disruptor-mp ring that never closes).
    #[arg(long, value_name = "MS")]
    exit_after_idle_ms: Option<u64>,
}

pub fn consume(a: ConsumeArgs) -> ringproof::Result<ExitCode> {
    let b = ConsumerBuilder::new(a.ring.name()?, &a.id)
        .wait(a.wait.into())
        .attach_timeout(Duration::from_millis(a.attach_timeout_ms))
        .on_lapped(if a.resync {
            OnLapped::Resync
        } else {
            OnLapped::Fail
        });
    let mut c = match a.size {
        Some(size) => b.attach_raw(size)?,
        None => b.attach_any()?,
    };
    let start_seq = c.next_sequence();
    let start = Instant::now();
    // SIGINT/SIGTERM (installed once attached: before, the default action ends a process that
    // holds nothing) leave the ring cleanly, as --exit-after-*-ms do.
    stop_signals::install();
    let gone_after = a.exit_after_gone_ms.map(Duration::from_millis);
    let idle_after = a.exit_after_idle_ms.map(Duration::from_millis);
    let mut exit_reason = None;
    let (r, _) = testkit::consume_until(
        &mut c,
        a.events,
        a.mode,
        |_| {},
        |idle| {
            let gone = gone_after
                .zip(idle.and_then(|i| i.gone_for))
                .is_some_and(|(limit, d)| d >= limit);
            let idle = idle_after
                .zip(idle.map(|i| i.idle_for))
                .is_some_and(|(limit, d)| d >= limit);
            exit_reason = if stop_signals::caught().is_some() {
                Some("signal")
            } else if gone {
                Some("producer_gone")
            } else if idle {
                Some("idle")
            } else {
                None
            };
            exit_reason.is_some()
        },
    )?;
    let elapsed_ns = start.elapsed().as_nanos() as u64;
    let interrupted = stop_signals::caught();
    let complete = a.events == u64::MAX || r.consumed == a.events;
    println!(
        "{}",
        json!({
            "role": "consumer", "impl": "ringproof", "id": a.id, "start_seq": start_seq,
            "consumed": r.consumed, "first_seq": r.first_sequence, "last_seq": r.last_sequence,
            "out_of_order": r.out_of_order, "payload_errors": r.payload_errors,
            "errors": r.errors, "closed_at": r.closed_at, "producer_gone_at": r.producer_gone_at,
            "elapsed_ns": elapsed_ns, "exit_reason": exit_reason,
            "interrupted": interrupted.map(stop_signals::name),
        })
    );
    // `c` is dropped on return: the consumer leaves (its cursor is removed).
    Ok(match interrupted {
        Some(sig) => ExitCode::from(128 + sig as u8),
        None if r.is_clean() && complete => ExitCode::SUCCESS,
        None => ExitCode::from(1),
    })
}

#[derive(Args, Debug)]
pub struct RmArgs {
    #[command(flatten)]
    ring: RingArgs,
    /// Remove even when the participants cannot be checked (no or an unreadable registry: a
    /// disruptor-mp ring), when the registry names a live process (a recycled pid, a forged
    /// entry: the overridden entries are printed), or when only a crashed participant's
    /// leftovers remain. Stop the ring's processes first.
    #[arg(long)]
    force: bool,
}

pub fn rm(a: RmArgs) -> ringproof::Result<ExitCode> {
    let r = ringproof::kit::cleanup::remove_ring(&a.ring.name()?, a.force)?;
    for o in &r.overridden {
        eprintln!("ringproof rm: --force overrides: {o}");
    }
    for k in &r.kept {
        eprintln!("ringproof rm: kept {k}");
    }
    println!(
        "{}",
        json!({ "removed": r.removed.iter().map(ToString::to_string).collect::<Vec<_>>(), "kept": r.kept, "overridden": r.overridden })
    );
    Ok(ExitCode::SUCCESS)
}

/// SIGINT and SIGTERM (Ctrl-C, and what systemd and docker send) set a flag that the produce
/// and consume loops look at on their slow paths, so that they close or leave the ring
/// cleanly and print their summary instead of dying with the ring open. `conform` and `chaos`
/// use the same handler: they stop their testees, clean up, write their partial reports and
/// exit with [`exit_code`](stop_signals::exit_code) (128 + the signal, as a shell reports it).
pub(crate) mod stop_signals {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    use std::sync::atomic::{AtomicI32, Ordering};

    static CAUGHT: AtomicI32 = AtomicI32::new(0);

    extern "C" fn on_signal(sig: nix::libc::c_int) {
        // Async-signal-safe: an atomic swap, and for a second signal signal(2) and raise(3).
        if CAUGHT.swap(sig, Ordering::Relaxed) != 0 {
            // The second one is the way out of a run stuck where the flag is not looked at (a
            // publish blocked on a full ring): the default action, as if no handler existed.
            // SAFETY: both are async-signal-safe.
            unsafe {
                nix::libc::signal(sig, nix::libc::SIG_DFL);
                nix::libc::raise(sig);
            }
        }
    }

    /// Installs the handler for SIGINT and SIGTERM: the first one sets the flag, a second one
    /// ends the process with the default action.
    pub fn install() {
        let act = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        for sig in [Signal::SIGINT, Signal::SIGTERM] {
            // SAFETY: the handler only stores to an atomic.
            let _ = unsafe { sigaction(sig, &act) };
        }
    }

    /// The signal caught, if any.
    pub fn caught() -> Option<i32> {
        Some(CAUGHT.load(Ordering::Relaxed)).filter(|&s| s != 0)
    }

    /// "SIGINT", "SIGTERM".
    pub fn name(sig: i32) -> &'static str {
        Signal::try_from(sig)
            .map(|s| s.as_str())
            .unwrap_or("signal")
    }

    /// The documented exit status of a run ended by `sig`: 128 + its number (130, 143).
    pub fn exit_code(sig: i32) -> std::process::ExitCode {
        std::process::ExitCode::from(128u8.wrapping_add(sig as u8))
    }

    /// Sets `flag` once a signal is caught (polled every 10 ms by a detached thread), for
    /// library code that takes a stop flag rather than looking at this module.
    pub fn forward_to(flag: std::sync::Arc<std::sync::atomic::AtomicBool>) {
        std::thread::spawn(move || loop {
            if caught().is_some() {
                flag.store(true, Ordering::SeqCst);
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        });
    }
}
