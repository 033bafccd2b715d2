//! iceoryx2 0.10 publish-subscribe over `ipc::Service`, each run in its own namespace: the
//! node's config sets `global.prefix` to `{run}-iox2_` (its /dev/shm names) and the root path
//! to the run's private directory, so the orchestrator can remove everything it leaves (it
//! keeps management segments after a clean exit, by design).
//!
//! Streams send `[u8]` slices of the event size (TP1 payload written into the loaned sample)
//! with back-pressure (`enable_safe_overflow(false)`, `RetryUntilDelivered`), so nothing is
//! dropped; ping-pong sends `u64` samples over two services, both sides busy-polling
//! `receive`.

use iceoryx2::port::update_connections::UpdateConnections;
use iceoryx2::prelude::*;
use ringproof::kit::payload::{decode_seq, fill, verify};
use ringproof_bench::clock;
use ringproof_bench::harness::{iox2_prefix, RoleArgs, Side};
use ringproof_bench::measure::{stream_result, Backoff, LatencyRecorder, PollStats};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

fn e<E: std::fmt::Debug>(what: &'static str) -> impl Fn(E) -> String {
    move |err| format!("iceoryx2 {what}: {err:?}")
}

fn node(a: &RoleArgs) -> Result<Node<ipc::Service>, String> {
    set_log_level(LogLevel::Error);
    let dir = a
        .dir
        .as_ref()
        .ok_or("iceoryx2 peer needs --dir")?
        .join("iox2");
    let mut root = dir.display().to_string();
    root.push('/');
    let mut cfg = Config::default();
    cfg.global.prefix = FileName::new(iox2_prefix(&a.name).as_bytes()).map_err(e("prefix"))?;
    cfg.global
        .set_root_path(&Path::new(root.as_bytes()).map_err(e("root path"))?);
    NodeBuilder::new()
        .config(&cfg)
        .create::<ipc::Service>()
        .map_err(e("node"))
}

/// Retries `f` until it works or the setup deadline passes (two processes race to create).
fn retry<T, E: std::fmt::Debug>(
    what: &'static str,
    mut f: impl FnMut() -> Result<T, E>,
) -> Result<T, String> {
    let deadline = Instant::now() + SETUP_TIMEOUT;
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(err) if Instant::now() >= deadline => {
                return Err(format!("iceoryx2 {what}: {err:?}"))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

/// Waits (setup only) until `cond` holds.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + SETUP_TIMEOUT;
    while !cond() {
        if Instant::now() >= deadline {
            return Err(format!("iceoryx2: timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

pub fn stream(a: &RoleArgs) -> Result<Value, String> {
    let node = node(a)?;
    let readers = a.readers.max(1);
    let name: ServiceName = "rpbench/stream".try_into().map_err(e("service name"))?;
    let service = retry("service", || {
        node.service_builder(&name)
            .publish_subscribe::<[u8]>()
            .max_publishers(1)
            .max_subscribers(readers)
            .history_size(0)
            .subscriber_max_buffer_size(a.capacity)
            .enable_safe_overflow(false)
            .open_or_create()
    })?;
    let total = a.warmup + a.events;
    match a.side {
        Side::A => {
            let publisher = service
                .publisher_builder()
                .initial_max_slice_len(a.size)
                .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
                .create()
                .map_err(e("publisher"))?;
            wait_until("subscribers", || {
                service.dynamic_config().number_of_subscribers() >= readers
            })?;
            publisher
                .update_connections()
                .map_err(e("update_connections"))?;
            // `send` reports how many subscribers got the sample: when a subscriber's
            // used-chunk list is full it skips that one silently, even with
            // `RetryUntilDelivered` (iceoryx2 counts that as no failure). A single reader gets
            // the same event again; in a broadcast the event cannot be re-sent to just the
            // reader that missed it, so it is counted (`undelivered`) and the readers report
            // the gap (`dropped`). Trailing sentinel events (sequences `total`, `total + 1`,
            // ...) then end every reader even if it missed the last real one.
            let (mut resent, mut undelivered) = (0u64, 0u64);
            let send = |seq: u64| -> Result<usize, String> {
                let mut b = Backoff::new();
                let mut sample = loop {
                    match publisher.loan_slice(a.size) {
                        Ok(x) => break x,
                        Err(_) => b.snooze(),
                    }
                };
                let _ = fill(seq, sample.payload_mut());
                sample.send().map_err(e("send"))
            };
            for s in 0..total {
                loop {
                    let got = send(s)?;
                    if got >= readers {
                        break;
                    }
                    if readers == 1 {
                        resent += 1;
                        continue;
                    }
                    undelivered += (readers - got) as u64;
                    break;
                }
            }
            let deadline = Instant::now() + SETUP_TIMEOUT;
            let mut sentinel = total;
            while service.dynamic_config().number_of_subscribers() > 0 {
                if Instant::now() >= deadline {
                    return Err("iceoryx2: timed out waiting for the readers to finish".into());
                }
                send(sentinel)?;
                sentinel += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(
                json!({ "published": total, "resent": resent, "undelivered": undelivered, "sentinels": sentinel - total }),
            )
        }
        Side::B => {
            let sub = service
                .subscriber_builder()
                .buffer_size(a.capacity)
                .create()
                .map_err(e("subscriber"))?;
            let (mut expect, mut errors) = (0u64, 0u64);
            let mut start = None;
            let mut stats = PollStats::default();
            let mut idle = Backoff::new();
            // Sequences come in order; a jump is an event iceoryx2 did not deliver to us
            // (counted as dropped, see the producer). Any sequence >= total is a sentinel.
            let (mut dropped, mut received) = (0u64, 0u64);
            while expect < total {
                let Some(sample) = sub.receive().map_err(e("receive"))? else {
                    stats.empty += 1;
                    idle.snooze();
                    continue;
                };
                idle = Backoff::new();
                stats.polls += 1;
                let seq = decode_seq(sample.payload()).map_err(|err| err.to_string())?;
                if seq >= total {
                    dropped += total - expect;
                    break;
                }
                if seq > expect {
                    dropped += seq - expect;
                    expect = seq;
                }
                errors += u64::from(verify(expect, sample.payload()).is_err());
                drop(sample);
                expect += 1;
                received += 1;
                if start.is_none() && expect >= a.warmup {
                    start = Some((Instant::now(), received));
                }
            }
            drop(sub);
            // The rate counts what arrived, not the sequences passed.
            let mut r = stream_result(start, received, errors, stats);
            r["dropped"] = json!(dropped);
            Ok(r)
        }
    }
}

pub fn ping(a: &RoleArgs) -> Result<Value, String> {
    let node = node(a)?;
    let open = |n: &'static str| {
        let name: ServiceName = n.try_into().map_err(e("service name"))?;
        retry("service", || {
            node.service_builder(&name)
                .publish_subscribe::<u64>()
                .max_publishers(1)
                .max_subscribers(1)
                .history_size(0)
                .subscriber_max_buffer_size(4)
                .open_or_create()
        })
    };
    let (ab, ba) = (open("rpbench/ab")?, open("rpbench/ba")?);
    let (tx, rx) = match a.side {
        Side::A => (&ab, &ba),
        Side::B => (&ba, &ab),
    };
    let publisher = tx.publisher_builder().create().map_err(e("publisher"))?;
    let sub = rx.subscriber_builder().create().map_err(e("subscriber"))?;
    wait_until("the peer's subscriber", || {
        tx.dynamic_config().number_of_subscribers() >= 1
    })?;
    publisher
        .update_connections()
        .map_err(e("update_connections"))?;
    let total = a.warmup + a.events;
    let mut errors = 0u64;
    let receive = |sub: &iceoryx2::port::subscriber::Subscriber<ipc::Service, u64, ()>| -> Result<u64, String> {
        let mut b = Backoff::new();
        loop {
            if let Some(s) = sub.receive().map_err(e("receive"))? {
                return Ok(*s.payload());
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
                publisher.send_copy(i).map_err(e("send"))?;
                let v = receive(&sub)?;
                let t1 = clock::ticks();
                errors += u64::from(verify(i, &v.to_le_bytes()).is_err());
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
                let v = receive(&sub)?;
                errors += u64::from(verify(i, &v.to_le_bytes()).is_err());
                publisher.send_copy(v).map_err(e("send"))?;
            }
            json!({ "rounds": a.events, "errors": errors })
        }
    };
    // B's last reply must reach A before B's publisher goes: wait for A to leave.
    if a.side == Side::B {
        wait_until("the peer to finish", || {
            rx.dynamic_config().number_of_publishers() == 0
        })?;
    }
    Ok(out)
}
