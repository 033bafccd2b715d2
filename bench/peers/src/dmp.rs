//! disruptor-mp 0.1.0-alpha.2, through its public API only: `try_publish` per event (spun on
//! while full, as its own `publish` does), `try_consume_next` on the consumers.
//!
//! Events are `Ev<W>`, `8 * W` bytes of TP1 payload. Consumer ids are `cp_{i}`: its discovery
//! only tracks ids of that form (see `../shared/research/rust-ipc-peers.md` §2.3). The producer
//! is built without `wait_for_consumers` (which would deadlock the two producers of a
//! ping-pong; discovery switches it on by default, so the build asks for `Immediate`) and
//! instead probes `discover_consumer_id` until every consumer gates it.

use disruptor_mp::{
    attach_shared_consumer, build_shared_single_producer, AutoWaitStrategy, CoordinationMode,
    SharedConsumer, SharedProducer,
};
use ringproof::kit::payload::{fill, verify};
use ringproof_bench::clock;
use ringproof_bench::harness::{RoleArgs, Side, DMP_PREFIX};
use ringproof_bench::measure::{stream_result, Backoff, LatencyRecorder, PollStats};
use serde_json::{json, Value};
use std::fs::File;
use std::os::fd::FromRawFd;
use std::time::{Duration, Instant};

const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

/// One event of `8 * W` bytes: `repr(C)` over u64s, every bit pattern valid.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Ev<const W: usize>([u64; W]);

impl<const W: usize> Default for Ev<W> {
    fn default() -> Self {
        Ev([0; W])
    }
}

impl<const W: usize> Ev<W> {
    fn bytes(&self) -> &[u8] {
        // SAFETY: `repr(C)` over `[u64; W]`: 8 * W initialised bytes, no padding.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast::<u8>(), 8 * W) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above; any byte pattern is a valid `[u64; W]`.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast::<u8>(), 8 * W) }
    }
}

/// disruptor-mp prints progress to stdout, where the role's one JSON line goes: while this
/// lives, fd 1 points at stderr.
struct StdoutToStderr(Option<File>);

impl StdoutToStderr {
    fn new() -> Self {
        // SAFETY: plain descriptor calls; the duplicate is owned by the `File`.
        unsafe {
            let saved = libc::dup(1);
            if saved >= 0 && libc::dup2(2, 1) >= 0 {
                return StdoutToStderr(Some(File::from_raw_fd(saved)));
            }
            if saved >= 0 {
                libc::close(saved);
            }
        }
        StdoutToStderr(None)
    }
}

impl Drop for StdoutToStderr {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            use std::os::fd::AsRawFd;
            // SAFETY: restores fd 1 from our duplicate.
            unsafe { libc::dup2(f.as_raw_fd(), 1) };
        }
    }
}

/// Calls `$f::<W>($a)` for the `W` with `8 * W == size`.
macro_rules! by_size {
    ($a:expr, $f:ident) => {
        match $a.size {
            8 => $f::<1>($a),
            64 => $f::<8>($a),
            256 => $f::<32>($a),
            1024 => $f::<128>($a),
            4096 => $f::<512>($a),
            s => Err(format!(
                "disruptor-mp peer: event size {s} unsupported (8, 64, 256, 1024, 4096)"
            )),
        }
    };
}

pub fn stream(a: &RoleArgs) -> Result<Value, String> {
    let _quiet = StdoutToStderr::new();
    by_size!(a, stream_w)
}

pub fn ping(a: &RoleArgs) -> Result<Value, String> {
    let _quiet = StdoutToStderr::new();
    if a.size != 8 {
        return Err("disruptor-mp ping-pong carries 8-byte events".into());
    }
    ping_w(a)
}

fn producer<const W: usize>(
    ring: &str,
    a: &RoleArgs,
    consumers: usize,
) -> Result<SharedProducer<Ev<W>>, String> {
    build_shared_single_producer::<Ev<W>>(ring, a.capacity)
        .discover_consumer_with_prefix(consumers, DMP_PREFIX)
        // Discovery would otherwise switch on its WaitForConsumers, which blocks the build
        // (up to 15 s) and deadlocks the two producers of a ping-pong; `discover` gates.
        .with_coordination(CoordinationMode::Immediate)
        .build_producer(Ev::default)
        .map_err(|e| format!("disruptor-mp build_producer({ring}): {e}"))
}

/// Until every consumer `cp_0..cp_{n-1}` gates `p` (startup only, hence the sleep).
fn discover<const W: usize>(p: &mut SharedProducer<Ev<W>>, consumers: usize) -> Result<(), String> {
    let deadline = Instant::now() + SETUP_TIMEOUT;
    let ids: Vec<String> = (0..consumers)
        .map(|i| format!("{DMP_PREFIX}_{i}"))
        .collect();
    loop {
        let missing = ids.iter().filter(|id| !p.discover_consumer_id(id)).count();
        if missing == 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "disruptor-mp: {missing} consumer(s) never appeared"
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Attaches consumer `cp_{i}` to `ring`, retrying while the ring does not exist yet.
fn consumer<const W: usize>(
    ring: &str,
    a: &RoleArgs,
    i: usize,
) -> Result<SharedConsumer<Ev<W>>, String> {
    let deadline = Instant::now() + SETUP_TIMEOUT;
    loop {
        match attach_shared_consumer::<Ev<W>>(ring, a.capacity)
            .with_consumer_id(&format!("{DMP_PREFIX}_{i}"))
            .build_consumer()
        {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!("disruptor-mp attach {ring}: {e}"))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

/// disruptor-mp never unlinks a consumer's cursor segment (a restart anchor by design).
fn unlink_cursor(ring: &str, i: usize) {
    ringproof_bench::shm::unlink(&format!("{ring}_{DMP_PREFIX}_{i}_seq"));
}

fn publish<const W: usize>(p: &mut SharedProducer<Ev<W>>, seq: u64) {
    let mut b = Backoff::new();
    while p
        .try_publish(|e: &mut Ev<W>| {
            let _ = fill(seq, e.bytes_mut());
        })
        .is_err()
    {
        b.snooze();
    }
}

fn stream_w<const W: usize>(a: &RoleArgs) -> Result<Value, String> {
    let total = a.warmup + a.events;
    let readers = a.readers.max(1);
    match a.side {
        Side::A => {
            let mut p = producer::<W>(&a.name, a, readers)?;
            discover(&mut p, readers)?;
            for s in 0..total {
                publish(&mut p, s);
            }
            let last = total as i64 - 1;
            if !p.wait_until_consumed_with_strategy(
                last,
                SETUP_TIMEOUT,
                AutoWaitStrategy::BusySpinWithSpinLoopHint,
            ) {
                return Err(format!("disruptor-mp: consumers did not drain to {last}"));
            }
            Ok(json!({ "published": total }))
        }
        Side::B => {
            let mut c = consumer::<W>(&a.name, a, a.reader)?;
            let (mut expect, mut errors) = (0u64, 0u64);
            let mut start = None;
            let mut stats = PollStats::default();
            let mut idle = Backoff::new();
            let mut last_coord = Instant::now();
            while expect < total {
                let Some((seq, ev)) = c.try_consume_next() else {
                    stats.empty += 1;
                    // Its readiness counter may not have existed at attach (see dmp-peer).
                    if expect == 0
                        && !c.has_coordination_support()
                        && last_coord.elapsed() >= Duration::from_millis(1)
                    {
                        last_coord = Instant::now();
                        c.try_attach_coordination(&a.name);
                    }
                    idle.snooze();
                    continue;
                };
                idle = Backoff::new();
                stats.polls += 1;
                errors += u64::from(seq as u64 != expect)
                    + u64::from(verify(expect, ev.bytes()).is_err());
                expect += 1;
                if start.is_none() && expect >= a.warmup {
                    start = Some((Instant::now(), expect));
                }
            }
            drop(c);
            unlink_cursor(&a.name, a.reader);
            Ok(stream_result(start, expect, errors, stats))
        }
    }
}

fn ping_w(a: &RoleArgs) -> Result<Value, String> {
    let [ab, ba] = ringproof_bench::subjects::ping_rings(&a.name);
    let (own, other) = match a.side {
        Side::A => (&ab, &ba),
        Side::B => (&ba, &ab),
    };
    let mut p = producer::<1>(own, a, 1)?;
    let mut c = consumer::<1>(other, a, 0)?;
    discover(&mut p, 1)?;
    let total = a.warmup + a.events;
    let mut errors = 0u64;
    let receive = |c: &mut SharedConsumer<Ev<1>>| {
        let mut b = Backoff::new();
        loop {
            if let Some((seq, ev)) = c.try_consume_next() {
                return (seq as u64, ev);
            }
            b.snooze();
        }
    };
    let out = match a.side {
        Side::A => {
            let mut pacer = ringproof_bench::measure::pacer_of(a);
            let mut rec = LatencyRecorder::new();
            for i in 0..total {
                let t0 = pacer.start();
                publish(&mut p, i);
                let (seq, ev) = receive(&mut c);
                let t1 = clock::ticks();
                errors += u64::from(seq != i) + u64::from(verify(i, ev.bytes()).is_err());
                if i >= a.warmup {
                    rec.record(t1 - t0);
                }
            }
            let mut r = rec.finish(a.ticks_per_ns, errors);
            r["late_starts"] = json!(pacer.late);
            r
        }
        Side::B => {
            for i in 0..total {
                let (seq, ev) = receive(&mut c);
                errors += u64::from(seq != i) + u64::from(verify(i, ev.bytes()).is_err());
                publish(&mut p, seq);
            }
            json!({ "rounds": a.events, "errors": errors })
        }
    };
    // The peer may still read our last event: keep our producer until it has.
    if total > 0 {
        p.wait_until_consumed_with_strategy(
            total as i64 - 1,
            SETUP_TIMEOUT,
            AutoWaitStrategy::BusySpinWithSpinLoopHint,
        );
    }
    drop(c);
    unlink_cursor(other, 0);
    Ok(out)
}
