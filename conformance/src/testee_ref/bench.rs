//! The reference testee's `bench` command: ringproof's hot loops, which mirror the bench's
//! built-in ringproof subjects (`bench/src/subjects.rs`) so the protocol adds nothing to what
//! is measured.

use super::errors::{kind_of, ring_name};
use crate::protocol::{BenchCmd, BenchMode, BenchReport, BenchRole, ErrorKind, RingAddr};
use crate::serve::Failure;
use crate::testee_bench::{
    encode_histogram, monotonic_ns, new_histogram, ringproof_initiator, ringproof_responder, Pacer,
    TickRate,
};
use ringproof::kit::payload::{fill, verify};
use ringproof::{ConsumerBuilder, Coordination, ProducerBuilder, WaitStrategy};
use std::time::Duration;

type Res<T> = Result<T, Failure>;

fn bad(msg: impl Into<String>) -> Failure {
    Failure::other(msg)
}

/// Runs one `bench` command with ringproof (the reference testee).
pub(super) fn run(cmd: &BenchCmd) -> Res<BenchReport> {
    if cmd.event_size == 0 || cmd.event_size & 7 != 0 {
        return Err(Failure::new(
            ErrorKind::ElementSize,
            format!(
                "event_size {} is not a positive multiple of 8",
                cmd.event_size
            ),
        ));
    }
    match (cmd.mode, cmd.role) {
        (BenchMode::Stream, BenchRole::Producer) => stream_producer(cmd),
        (BenchMode::Stream, BenchRole::Consumer) => stream_consumer(cmd),
        (BenchMode::Pingpong | BenchMode::Paced, BenchRole::Initiator | BenchRole::Responder) => {
            ping(cmd)
        }
        (m, r) => Err(bad(format!(
            "role {r:?} does not exist in mode {}",
            m.as_str()
        ))),
    }
}

fn timeout(cmd: &BenchCmd) -> Duration {
    Duration::from_millis(cmd.timeout_ms)
}

fn stream_producer(cmd: &BenchCmd) -> Res<BenchReport> {
    let total = cmd.warmup + cmd.events;
    let size = cmd.event_size as usize;
    let batch = cmd.batch.max(1);
    let builder = ProducerBuilder::new(ring_name(&cmd.ring)?)
        .capacity(cmd.capacity as usize)
        .wait(WaitStrategy::BusySpin)
        .coordination(Coordination::WaitForConsumers {
            min: cmd.consumers.max(1) as usize,
            timeout: timeout(cmd),
        });
    let publish_err = |e| kind_of(e);
    let start_ns;
    if size == 8 {
        let mut p = builder.create::<u64>().map_err(kind_of)?;
        start_ns = monotonic_ns();
        if batch > 1 {
            let mut s = 0u64;
            while s < total {
                let n = batch.min(total - s);
                p.publish_batch(n as usize, |i, e| *e = s + i as u64)
                    .map_err(publish_err)?;
                s += n;
            }
        } else {
            for s in 0..total {
                p.publish(&s).map_err(publish_err)?;
            }
            p.flush();
        }
    } else {
        let mut p = builder.create_raw(size).map_err(kind_of)?;
        start_ns = monotonic_ns();
        if batch > 1 {
            let mut s = 0u64;
            while s < total {
                let n = batch.min(total - s);
                p.publish_batch(n as usize, |i, e| {
                    let _ = fill(s + i as u64, e);
                })
                .map_err(publish_err)?;
                s += n;
            }
        } else {
            for s in 0..total {
                p.publish_with(|e| {
                    let _ = fill(s, e);
                })
                .map_err(publish_err)?;
            }
            p.flush();
        }
    }
    Ok(BenchReport {
        start_ns,
        end_ns: monotonic_ns(),
        events: total,
        errors: 0,
        ..Default::default()
    })
}

fn stream_consumer(cmd: &BenchCmd) -> Res<BenchReport> {
    let id = cmd
        .consumer_id
        .as_deref()
        .ok_or_else(|| bad("a stream consumer needs consumer_id"))?;
    let total = cmd.warmup + cmd.events;
    let size = cmd.event_size as usize;
    let mut c = ConsumerBuilder::new(ring_name(&cmd.ring)?, id)
        .wait(WaitStrategy::BusySpin)
        .attach_timeout(timeout(cmd))
        .attach_raw(size)
        .map_err(kind_of)?;
    let max = c.capacity();
    let (mut expect, mut errors) = (0u64, 0u64);
    let mut start: Option<(u64, u64)> = None;
    let mut spins = 0u32;
    while expect < total {
        let mut first = None;
        let n = if size == 8 {
            c.poll_batch(max, |seq, v, _| {
                first.get_or_insert(seq);
                errors +=
                    u64::from(u64::from_le_bytes(v.try_into().unwrap_or([0xff; 8])) != seq as u64);
            })
        } else {
            c.poll_batch(max, |seq, v, _| {
                first.get_or_insert(seq);
                errors += u64::from(verify(seq as u64, v).is_err());
            })
        }
        .map_err(kind_of)?;
        errors += u64::from(first.is_some_and(|f| f as u64 != expect));
        expect += n as u64;
        if n == 0 {
            // As the bench's own consumers: spin, and yield after a million empty polls so an
            // oversubscribed machine costs milliseconds, not a timeslice per poll.
            std::hint::spin_loop();
            spins += 1;
            if spins >= 1 << 20 {
                spins = 0;
                std::thread::yield_now();
            }
            continue;
        }
        spins = 0;
        if start.is_none() && expect >= cmd.warmup {
            start = Some((monotonic_ns(), expect));
        }
    }
    let end_ns = monotonic_ns();
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

fn peer_ring(cmd: &BenchCmd) -> Res<&RingAddr> {
    cmd.peer_ring
        .as_ref()
        .ok_or_else(|| bad("ping-pong needs peer_ring"))
}

/// Ping-pong (closed loop) and paced (open loop) over `ring` (ours) and `peer_ring`, busy-spin.
fn ping(cmd: &BenchCmd) -> Res<BenchReport> {
    if cmd.event_size != 8 {
        return Err(Failure::new(
            ErrorKind::Unsupported,
            "ping-pong carries 8-byte events",
        ));
    }
    let id = cmd.consumer_id.as_deref().unwrap_or("c_0");
    let mut p = ProducerBuilder::new(ring_name(&cmd.ring)?)
        .capacity(cmd.capacity as usize)
        .wait(WaitStrategy::BusySpin)
        .create::<u64>()
        .map_err(kind_of)?;
    let mut c = ConsumerBuilder::new(ring_name(peer_ring(cmd)?)?, id)
        .wait(WaitStrategy::BusySpin)
        .attach_timeout(timeout(cmd))
        .attach::<u64>()
        .map_err(kind_of)?;
    // Nothing is published before the other side's consumer gates our ring.
    p.raw()
        .wait_for_consumers(1, timeout(cmd))
        .map_err(kind_of)?;
    let total = cmd.warmup + cmd.events;
    if cmd.role == BenchRole::Responder {
        let start_ns = monotonic_ns();
        let errors = ringproof_responder(&mut p, &mut c, total).map_err(kind_of)?;
        return Ok(BenchReport {
            start_ns,
            end_ns: monotonic_ns(),
            events: total,
            errors,
            ..Default::default()
        });
    }
    let rate = TickRate::calibrate(Duration::from_millis(5));
    let interval = match cmd.mode {
        BenchMode::Paced => rate
            .ticks(
                cmd.interval_ns
                    .ok_or_else(|| bad("paced needs interval_ns"))?
                    .max(1),
            )
            .max(1),
        _ => 0,
    };
    // Ticks go in as measured and become nanoseconds once, at the end (as the bench's own
    // recorder does): nothing but a histogram increment per round trip.
    let mut hist = new_histogram();
    let mut pacer = Pacer::new(0, interval, cmd.warmup);
    let start_ns = monotonic_ns();
    let errors = ringproof_initiator(&mut p, &mut c, total, cmd.warmup, &mut pacer, &mut hist)
        .map_err(kind_of)?;
    let end_ns = monotonic_ns();
    let mut ns = new_histogram();
    for v in hist.iter_recorded() {
        let _ = ns.record_n(rate.ns(v.value_iterated_to()).max(1), v.count_at_value());
    }
    Ok(BenchReport {
        start_ns,
        end_ns,
        events: ns.len(),
        errors,
        rtt_hist_ns_v2z: Some(encode_histogram(&ns)),
        late: (cmd.mode == BenchMode::Paced).then_some(pacer.late),
        ..Default::default()
    })
}
