//! `dmp-peer`: runs a genuine disruptor-mp 0.1.0-alpha.2 producer or consumer in its own OS
//! process, so interop tests can pit ringproof against the real thing (and disruptor-mp against
//! itself) over POSIX shm.
//!
//! This is a thin adapter: every ring operation is a call into disruptor-mp's public API. What
//! lives here is only the test payload (`ringproof::kit::payload`), bounded waits so a broken peer
//! makes a test fail instead of hang, and workarounds for disruptor-mp quirks, each marked
//! "Quirk" below.
//!
//! Output contract: exactly one JSON line on stdout; exit status 0 on success, 1 when the
//! consumer saw wrong or missing events, 2 for bad arguments, 3 for a startup timeout, 4 for a
//! timeout after startup, 5 for an error returned by disruptor-mp, 70 for a caught panic.

use std::fs::File;
use std::io::Write;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use disruptor_mp::{build_shared_single_producer, AutoWaitStrategy, SharedProducer};
use ringproof::kit::payload::{fill, verify};
use ringproof_dmp_adapter::{by_size, shm, Ev, StdoutToStderr};
use serde_json::{json, Value};

mod golden;
mod testee;

#[derive(Parser)]
#[command(
    name = "dmp-peer",
    about = "Drive a disruptor-mp producer or consumer over POSIX shm"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create ring N, wait for M consumers named `{P}_{i}`, publish K events, wait until all
    /// are consumed, then tear the ring down.
    Produce(ProduceArgs),
    /// Attach to ring N as consumer ID and consume (and verify) exactly K events.
    Consume(ConsumeArgs),
    /// Conformance testee (conformance/PROTOCOL.md): JSON-lines commands on stdin, replies on
    /// stdout, every ring operation disruptor-mp's own.
    Testee(testee::TesteeArgs),
    /// Write disruptor-mp's golden layouts: create each segment of the golden catalogue with
    /// disruptor-mp, copy its header bytes from /dev/shm into --out, and unlink it.
    Golden(golden::GoldenArgs),
}

#[derive(Args)]
struct ProduceArgs {
    /// Ring base name (shm segments `N`, `N_producer_seq`, `N_cr`).
    #[arg(long)]
    name: String,
    /// Slots in the ring (a power of two).
    #[arg(long)]
    capacity: usize,
    /// Number of events K to publish (sequences 0..K).
    #[arg(long)]
    events: u64,
    /// Event size S in bytes: 8, 16, 24, 64, 128, 256, 1024 or 4096.
    #[arg(long)]
    size: usize,
    /// Consumer ID prefix P: the producer gates on cursors `{N}_{P}_{i}_seq`, i < M.
    #[arg(long)]
    consumer_prefix: String,
    /// Number of consumers M to wait for and gate on.
    #[arg(long)]
    consumers: usize,
    /// How long to wait for all M consumers to appear (exit 3 past it).
    #[arg(long, default_value_t = 10_000)]
    startup_timeout_ms: u64,
    /// How long publishing may make no progress, and how long the final drain may take (exit 4).
    #[arg(long, default_value_t = 30_000)]
    idle_timeout_ms: u64,
}

#[derive(Args)]
struct ConsumeArgs {
    /// Ring base name.
    #[arg(long)]
    name: String,
    /// Consumer ID; this consumer's cursor is the shm segment `{N}_{ID}_seq`.
    #[arg(long)]
    id: String,
    /// Slots in the ring (must match the creator's).
    #[arg(long)]
    capacity: usize,
    /// Number of events K to consume (sequences 0..K).
    #[arg(long)]
    events: u64,
    /// Event size S in bytes (must match the creator's).
    #[arg(long)]
    size: usize,
    /// How long to keep retrying the attach while the ring does not exist yet (exit 3 past it).
    #[arg(long, default_value_t = 10_000)]
    attach_timeout_ms: u64,
    /// How long to wait for the next event before giving up (reported as an error, exit 1).
    #[arg(long, default_value_t = 30_000)]
    idle_timeout_ms: u64,
    /// Leave the cursor segment `{N}_{ID}_seq` in /dev/shm (disruptor-mp's own behaviour).
    #[arg(long)]
    keep_cursor: bool,
}

/// The process's real stdout, kept for our single JSON line while fd 1 points at stderr
/// ([`StdoutToStderr`]: disruptor-mp prints to stdout, even from the producer's gating path).
struct Out(File);

impl Out {
    /// One `write` call per line, so lines from peers sharing a pipe never interleave.
    fn line(&mut self, v: &Value) {
        let _ = self.0.write_all(format!("{v}\n").as_bytes());
    }

    /// Reports an error as `{"error": ...}` and returns the exit code to use.
    fn error(&mut self, code: i32, msg: impl Into<String>) -> i32 {
        self.line(&json!({ "error": msg.into() }));
        code
    }
}

fn main() {
    let cli = Cli::parse(); // usage errors: clap's message on stderr, exit 2
                            // Held for the whole process: `exit` below runs no destructors.
    let quiet = StdoutToStderr::new();
    let Ok(file) = quiet.original() else {
        std::process::exit(70);
    };
    let mut out = Out(file);
    let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli, &mut out))) {
        Ok(code) => code,
        Err(_) => out.error(70, "panic (see stderr)"),
    };
    std::process::exit(code);
}

/// `--size` values `produce` and `consume` take; any other fails with exit 2.
macro_rules! by_arg_size {
    ($size:expr, $out:expr, $f:ident $args:tt) => {
        by_size!(
            $size,
            [8, 16, 24, 64, 128, 256, 1024, 4096],
            $f $args,
            |s, sizes| $out.error(2, format!("unsupported --size {s}: use {sizes}"))
        )
    };
}

fn run(cli: Cli, out: &mut Out) -> i32 {
    match cli.cmd {
        Cmd::Golden(a) => golden::run(&a, out),
        Cmd::Produce(a) => {
            if let Err(e) = check_common(&a.name, a.capacity, a.events)
                .and_then(|()| check_name("--consumer-prefix", &a.consumer_prefix))
                .and_then(|()| positive("--consumers", a.consumers as u64))
                .and_then(|()| positive("--startup-timeout-ms", a.startup_timeout_ms))
            {
                return out.error(2, e);
            }
            by_arg_size!(a.size, out, produce(&a, out))
        }
        Cmd::Consume(a) => {
            if let Err(e) =
                check_common(&a.name, a.capacity, a.events).and_then(|()| check_name("--id", &a.id))
            {
                return out.error(2, e);
            }
            by_arg_size!(a.size, out, consume(&a, out))
        }
        Cmd::Testee(a) => match out.0.try_clone() {
            Ok(file) => testee::run(a, file),
            Err(e) => out.error(70, format!("cannot duplicate stdout: {e}")),
        },
    }
}

/// disruptor-mp asserts (panics) on some bad inputs, so reject them here first.
fn check_common(name: &str, capacity: usize, events: u64) -> Result<(), String> {
    check_name("--name", name)?;
    if !capacity.is_power_of_two() {
        return Err(format!("--capacity {capacity} is not a power of two"));
    }
    if events > i64::MAX as u64 {
        return Err("--events does not fit a disruptor-mp sequence (i64)".into());
    }
    Ok(())
}

fn check_name(flag: &str, v: &str) -> Result<(), String> {
    if v.is_empty() || v.contains('/') || v.contains('\0') {
        return Err(format!("{flag} must be non-empty, without '/' or NUL"));
    }
    Ok(())
}

fn positive(flag: &str, v: u64) -> Result<(), String> {
    if v == 0 {
        return Err(format!("{flag} must be at least 1"));
    }
    Ok(())
}

fn produce<const W: usize>(a: &ProduceArgs, out: &mut Out) -> i32 {
    let startup = Duration::from_millis(a.startup_timeout_ms);
    let idle = Duration::from_millis(a.idle_timeout_ms);
    let deadline = Instant::now() + startup;

    // Prefix discovery gates the producer on cursors `{N}_{P}_{i}_seq`. Note that it is needed
    // for gating at all: with disruptor-mp's default (discovery disabled) the producer gates on
    // nothing and laps its consumers.
    let built = build_shared_single_producer::<Ev<W>>(&a.name, a.capacity)
        .discover_consumer_with_prefix(a.consumers, &a.consumer_prefix)
        .wait_for_consumers(a.consumers as i64, startup)
        .build_producer(Ev::default);
    let mut producer = match built {
        Ok(p) => p,
        Err(e) => return out.error(5, format!("build_producer({}): {e}", a.name)),
    };

    // Everything after the build runs in `drive`, so the producer is dropped before any line is
    // written: it owns (and unlinks on drop) `N`, `N_producer_seq` and `N_cr`, and a test that
    // reads our line may check /dev/shm at once.
    let result = drive(&mut producer, a, deadline, idle);
    drop(producer);
    match result {
        Ok(elapsed_ns) => {
            out.line(&json!({
                "role": "producer", "impl": "disruptor-mp", "published": a.events,
                "size": a.size, "elapsed_ns": elapsed_ns,
            }));
            0
        }
        Err((code, msg)) => out.error(code, msg),
    }
}

/// Waits for the consumers, publishes 0..K and waits for the drain. Returns the nanoseconds
/// from the first publish to the drain, or an exit code and message.
fn drive<const W: usize>(
    producer: &mut SharedProducer<Ev<W>>,
    a: &ProduceArgs,
    deadline: Instant,
    idle: Duration,
) -> Result<u64, (i32, String)> {
    // Quirk: WaitForConsumers only prints a warning when it times out and builds the producer
    // anyway; it also counts attaches (the `N_cr` counter), not distinct consumers. So before
    // publishing, make sure every expected cursor is really discovered. Startup only, hence the
    // sleep.
    let ids: Vec<String> = (0..a.consumers)
        .map(|i| format!("{}_{i}", a.consumer_prefix))
        .collect();
    loop {
        let missing: Vec<&str> = ids
            .iter()
            .filter(|id| !producer.discover_consumer_id(id))
            .map(|id| id.as_str())
            .collect();
        if missing.is_empty() && producer.get_consumer_count() >= a.consumers {
            break;
        }
        if Instant::now() >= deadline {
            let msg = format!("timed out waiting for consumers {missing:?} on {}", a.name);
            return Err((3, msg));
        }
        std::thread::sleep(Duration::from_millis(1));
    }

    let start = Instant::now();
    for seq in 0..a.events {
        // `try_publish` plus a spin is exactly what `publish` does, with one difference: a
        // consumer that died must end this in a timeout, not an endless spin.
        // (`fill` cannot fail: the size is a positive multiple of 8.)
        let mut failures = 0u64;
        let mut stalled_since = None;
        while producer
            .try_publish(|e: &mut Ev<W>| {
                let _ = fill(seq, e.bytes_mut());
            })
            .is_err()
        {
            failures += 1;
            if failures & 4095 == 0
                && stalled_since.get_or_insert_with(Instant::now).elapsed() >= idle
            {
                let min = producer.min_gating_sequence();
                let msg = format!(
                    "publish of sequence {seq} stalled for {idle:?}: min gating sequence {min}"
                );
                return Err((4, msg));
            }
            std::hint::spin_loop();
        }
    }
    let last = a.events as i64 - 1;
    if a.events > 0
        && !producer.wait_until_consumed_with_strategy(
            last,
            idle,
            AutoWaitStrategy::BusySpinWithSpinLoopHint,
        )
    {
        let min = producer.min_gating_sequence();
        let msg = format!(
            "consumers did not drain within {idle:?}: min gating sequence {min}, want {last}"
        );
        return Err((4, msg));
    }
    Ok(start.elapsed().as_nanos() as u64)
}

/// Stop after this many errors: the first tells the story, the rest are noise.
const MAX_ERRORS: u64 = 10;

fn consume<const W: usize>(a: &ConsumeArgs, out: &mut Out) -> i32 {
    let deadline = Instant::now() + Duration::from_millis(a.attach_timeout_ms);
    let idle = Duration::from_millis(a.idle_timeout_ms);
    let cursor_name = format!("{}_{}_seq", a.name, a.id);

    // The ring may not exist yet (the consumer may start first) or may be half-created (the
    // header is written after the segment is sized), so retry every failure until the deadline.
    // A failed attempt creates nothing: the consumer cursor is the last thing built.
    let mut consumer = match shm::attach::<W>(&a.name, a.capacity, &a.id, deadline) {
        Ok(c) => c,
        Err(e) => return out.error(3, format!("timed out attaching to {}: {e}", a.name)),
    };

    let (mut consumed, mut out_of_order, mut checksum_failures) = (0u64, 0u64, 0u64);
    let (mut first_seq, mut last_seq): (Option<i64>, Option<i64>) = (None, None);
    let mut first_error: Option<String> = None;

    // Quirk: a cursor left behind by an earlier run with this name and ID is silently reused,
    // and the consumer resumes from it.
    if consumer.current_sequence() != -1 {
        first_error = Some(format!(
            "cursor {cursor_name} already existed at sequence {} (stale leftover; disruptor-mp resumes from it)",
            consumer.current_sequence()
        ));
    }

    let mut expected: i64 = 0;
    let mut empty_polls = 0u64;
    let mut idle_since = Instant::now();
    let mut last_coord_try = Instant::now();
    let want_last = a.events as i64 - 1;
    while consumed < a.events
        && out_of_order + checksum_failures < MAX_ERRORS
        && last_seq < Some(want_last)
    {
        let Some((seq, ev)) = consumer.try_consume_next() else {
            empty_polls += 1;
            if empty_polls & 1023 == 0 {
                let now = Instant::now();
                if empty_polls == 1024 {
                    idle_since = now;
                } else if now - idle_since >= idle {
                    first_error.get_or_insert(format!(
                        "no event for {idle:?} while waiting for sequence {expected}"
                    ));
                    break;
                }
                // Quirk: the constructor signals readiness (bumps `N_cr`) only if `N_cr` exists
                // at attach time, but a disruptor-mp producer creates `N_cr` after the ring and
                // its cursor; a consumer attaching in that window is never counted and the
                // producer's WaitForConsumers runs to its timeout. Until the first event, retry:
                // `try_attach_coordination` signals exactly once when it attaches. (Calling
                // `signal_readiness` ourselves would count this consumer twice.)
                if consumed == 0
                    && !consumer.has_coordination_support()
                    && now - last_coord_try >= Duration::from_millis(1)
                {
                    last_coord_try = now;
                    consumer.try_attach_coordination(&a.name);
                }
            }
            std::hint::spin_loop();
            continue;
        };
        empty_polls = 0;
        consumed += 1;
        first_seq.get_or_insert(seq);
        last_seq = Some(seq);
        if seq != expected {
            out_of_order += 1;
            first_error.get_or_insert(format!(
                "expected sequence {expected}, the ring returned {seq}"
            ));
        }
        expected = seq + 1;
        if let Err(e) = verify(seq as u64, ev.bytes()) {
            checksum_failures += 1;
            first_error.get_or_insert(format!("sequence {seq}: {e}"));
        }
    }

    drop(consumer);
    // Workaround for disruptor-mp's leak: every run would leave `{N}_{ID}_seq` in /dev/shm.
    if !a.keep_cursor {
        shm::unlink_cursor(&a.name, &a.id);
    }

    let ok = consumed == a.events
        && out_of_order == 0
        && checksum_failures == 0
        && first_error.is_none();
    out.line(&json!({
        "role": "consumer", "impl": "disruptor-mp", "id": a.id, "consumed": consumed,
        "first_seq": first_seq, "last_seq": last_seq, "out_of_order": out_of_order,
        "checksum_failures": checksum_failures, "first_error": first_error,
    }));
    if ok {
        0
    } else {
        1
    }
}
