//! The testee's `bench` capability (conformance/PROTOCOL.md, "Benchmarks") over disruptor-mp
//! 0.1.0-alpha.2, shm only: the same loops as the bench's built-in disruptor-mp peer
//! (`bench/peers/src/dmp.rs`, both over `ringproof-dmp-adapter`), so `ringproof bench --impl disruptor-mp` measures what
//! `--peers dmp` measures. `try_publish` per event (spun on while full) or `try_batch_publish`,
//! `try_consume_next` on the consumers; round trips are reported as raw samples (the form for
//! testees without an hdrhistogram library), collected into a buffer sized before the run.

use std::time::{Duration, Instant};

use disruptor_mp::{SharedConsumer, SharedProducer};
use ringproof::kit::payload::verify;
use ringproof_conformance::protocol::{
    Backend, BenchCmd, BenchMode, BenchReport, BenchRole, ErrorKind, RingAddr,
};
use ringproof_conformance::testee_bench::{monotonic_ns, ticks, Pacer, TickRate};
use ringproof_dmp_adapter::shm::{self, publish, receive, Backoff, CoordinationRetry};
use ringproof_dmp_adapter::{by_size, Ev};

/// Capabilities this testee adds for benchmarks.
pub const CAPABILITIES: &[&str] = &["bench", "bench-pingpong", "bench-paced"];

type Res<T> = Result<T, (ErrorKind, String)>;

/// Consumer ids the producer discovers: `c_0`, `c_1`, ... (PROTOCOL.md).
const PREFIX: &str = "c";

fn other(msg: impl Into<String>) -> (ErrorKind, String) {
    (ErrorKind::Other, msg.into())
}

/// Runs one `bench` command.
pub fn run(cmd: &BenchCmd) -> Res<BenchReport> {
    if cmd.ring.backend != Backend::Shm
        || cmd
            .peer_ring
            .as_ref()
            .is_some_and(|r| r.backend != Backend::Shm)
    {
        return Err((
            ErrorKind::Unsupported,
            "bench runs over shm only in this testee".into(),
        ));
    }
    let deadline = Instant::now() + Duration::from_millis(cmd.timeout_ms);
    match (cmd.mode, cmd.role) {
        (BenchMode::Stream, BenchRole::Producer | BenchRole::Consumer) => by_size!(
            cmd.event_size,
            [8, 64, 256, 1024, 4096],
            stream(cmd, deadline),
            |s, sizes| Err((
                ErrorKind::Unsupported,
                format!("bench event_size {s}: this testee supports {sizes}"),
            ))
        ),
        (BenchMode::Pingpong | BenchMode::Paced, BenchRole::Initiator | BenchRole::Responder) => {
            if cmd.event_size != 8 {
                return Err((
                    ErrorKind::Unsupported,
                    "ping-pong carries 8-byte events".into(),
                ));
            }
            ping(cmd, deadline)
        }
        (m, r) => Err(other(format!(
            "role {r:?} does not exist in mode {}",
            m.as_str()
        ))),
    }
}

fn producer<const W: usize>(
    ring: &RingAddr,
    capacity: u64,
    consumers: u64,
) -> Res<SharedProducer<Ev<W>>> {
    shm::producer::<W>(&ring.name, capacity as usize, PREFIX, consumers as usize)
        .map_err(|e| other(format!("build_producer({}): {e}", ring.name)))
}

/// Until every consumer `c_0..c_{n-1}` gates `p`.
fn discover<const W: usize>(
    p: &mut SharedProducer<Ev<W>>,
    consumers: u64,
    deadline: Instant,
) -> Res<()> {
    shm::discover(p, PREFIX, consumers as usize, deadline).map_err(|missing| {
        (
            ErrorKind::ConsumersMissing,
            format!("{missing} consumer(s) never appeared"),
        )
    })
}

fn consumer<const W: usize>(
    ring: &RingAddr,
    capacity: u64,
    id: &str,
    deadline: Instant,
) -> Res<SharedConsumer<Ev<W>>> {
    shm::attach::<W>(&ring.name, capacity as usize, id, deadline).map_err(|e| {
        (
            ErrorKind::NotFound,
            format!("attach {} as {id}: {e}", ring.name),
        )
    })
}

fn stream<const W: usize>(cmd: &BenchCmd, deadline: Instant) -> Res<BenchReport> {
    let total = cmd.warmup + cmd.events;
    if cmd.role == BenchRole::Producer {
        let mut p = producer::<W>(&cmd.ring, cmd.capacity, cmd.consumers.max(1))?;
        discover(&mut p, cmd.consumers.max(1), deadline)?;
        let start_ns = monotonic_ns();
        let batch = cmd.batch.max(1);
        if batch > 1 {
            let mut s = 0u64;
            while s < total {
                let n = batch.min(total - s);
                shm::publish_batch(&mut p, s, n as usize);
                s += n;
            }
        } else {
            for s in 0..total {
                publish(&mut p, s);
            }
        }
        let end_ns = monotonic_ns();
        // Keep the ring until the consumers have read everything (dropping unlinks it).
        if total > 0
            && !shm::drained(
                &mut p,
                total as i64 - 1,
                Duration::from_millis(cmd.timeout_ms.max(1000)),
            )
        {
            return Err((
                ErrorKind::Timeout,
                format!("consumers did not drain to {}", total as i64 - 1),
            ));
        }
        return Ok(BenchReport {
            start_ns,
            end_ns,
            events: total,
            ..Default::default()
        });
    }
    let id = cmd
        .consumer_id
        .as_deref()
        .ok_or_else(|| other("a stream consumer needs consumer_id"))?;
    let mut c = consumer::<W>(&cmd.ring, cmd.capacity, id, deadline)?;
    let (mut expect, mut errors) = (0u64, 0u64);
    let mut start: Option<(u64, u64)> = None;
    let mut idle = Backoff::new();
    let mut coordination = CoordinationRetry::new();
    while expect < total {
        let Some((seq, ev)) = c.try_consume_next() else {
            if expect == 0 {
                coordination.poll(&mut c, &cmd.ring.name);
            }
            idle.snooze();
            continue;
        };
        idle = Backoff::new();
        errors += u64::from(seq as u64 != expect) + u64::from(verify(expect, ev.bytes()).is_err());
        expect += 1;
        if start.is_none() && expect >= cmd.warmup {
            start = Some((monotonic_ns(), expect));
        }
    }
    let end_ns = monotonic_ns();
    drop(c);
    shm::unlink_cursor(&cmd.ring.name, id);
    let (start_ns, n0) = start.unwrap_or((end_ns, expect));
    Ok(BenchReport {
        start_ns,
        end_ns,
        events: expect,
        timed_events: Some(expect - n0),
        errors,
        ..Default::default()
    })
}

fn ping(cmd: &BenchCmd, deadline: Instant) -> Res<BenchReport> {
    let peer_ring = cmd
        .peer_ring
        .as_ref()
        .ok_or_else(|| other("ping-pong needs peer_ring"))?;
    let id = cmd.consumer_id.as_deref().unwrap_or("c_0");
    let mut p = producer::<1>(&cmd.ring, cmd.capacity, 1)?;
    let mut c = consumer::<1>(peer_ring, cmd.capacity, id, deadline)?;
    discover(&mut p, 1, deadline)?;
    let total = cmd.warmup + cmd.events;
    let mut errors = 0u64;
    let report = if cmd.role == BenchRole::Responder {
        let start_ns = monotonic_ns();
        for i in 0..total {
            let (seq, ev) = receive(&mut c);
            errors += u64::from(seq != i) + u64::from(verify(i, ev.bytes()).is_err());
            publish(&mut p, seq);
        }
        BenchReport {
            start_ns,
            end_ns: monotonic_ns(),
            events: total,
            errors,
            ..Default::default()
        }
    } else {
        let rate = TickRate::calibrate(Duration::from_millis(5));
        let interval = match (cmd.mode, cmd.interval_ns) {
            (BenchMode::Paced, Some(ns)) => rate.ticks(ns).max(1),
            (BenchMode::Paced, None) => return Err(other("paced needs interval_ns")),
            _ => 0,
        };
        // Raw tick samples, sized before the run: no allocation per round trip.
        let mut samples: Vec<u64> = Vec::with_capacity(cmd.events as usize);
        let mut pacer = Pacer::new(0, interval, cmd.warmup);
        let mut start_ns = monotonic_ns();
        for i in 0..total {
            if i == cmd.warmup {
                start_ns = monotonic_ns();
            }
            let t0 = pacer.start();
            publish(&mut p, i);
            let (seq, ev) = receive(&mut c);
            let t1 = ticks();
            errors += u64::from(seq != i) + u64::from(verify(i, ev.bytes()).is_err());
            if i >= cmd.warmup {
                samples.push(t1.saturating_sub(t0));
            }
        }
        let end_ns = monotonic_ns();
        for s in &mut samples {
            *s = rate.ns(*s).max(1);
        }
        BenchReport {
            start_ns,
            end_ns,
            events: samples.len() as u64,
            errors,
            rtt_samples_ns: Some(samples),
            late: (cmd.mode == BenchMode::Paced).then_some(pacer.late),
            ..Default::default()
        }
    };
    // The other side may still read our last event: keep our producer until it has.
    if total > 0 {
        shm::drained(
            &mut p,
            total as i64 - 1,
            Duration::from_millis(cmd.timeout_ms.max(1000)),
        );
    }
    drop(c);
    shm::unlink_cursor(&peer_ring.name, id);
    Ok(report)
}
