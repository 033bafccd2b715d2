//! `publish` and `consume` over disruptor-mp: its own `try_*` calls in a loop that streams
//! `progress` and `events` to the harness and gives up after a bounded stall.

use std::io::Write;
use std::time::{Duration, Instant};

use clap::Args;
use ringproof_conformance::protocol::{ErrorKind, Message, Mode, OkFields};
use ringproof_conformance::testee_io::{
    EventsReporter, TesteeIo, PROGRESS_EVERY, PROGRESS_MAX_AGE,
};

use super::role::{back_off, check_assigned, fail, Res, Role};

/// How long `publish` may stall (`dmp-peer testee` options).
#[derive(Args, Debug, Clone)]
pub struct TesteeArgs {
    /// `publish` gives up with `error` kind `timeout` after this long without a free slot
    /// (disruptor-mp's own `publish` would spin forever; 0 = spin forever as it does).
    #[arg(long, default_value_t = 30_000)]
    pub publish_stall_ms: u64,
    /// The same bound for a batch larger than the ring, which disruptor-mp can never publish.
    #[arg(long, default_value_t = 2_000)]
    pub oversized_batch_stall_ms: u64,
}

/// `publish`: `count` events in calls of `batch`, `progress` on the way (PROTOCOL.md cadence).
pub(super) fn publish<W: Write>(
    role: &mut Option<Role>,
    args: &TesteeArgs,
    id: u64,
    count: u64,
    batch: u64,
    io: &mut TesteeIo<W>,
) -> Res<OkFields> {
    let Some(Role::Producer {
        p,
        next,
        capacity,
        wait,
    }) = role
    else {
        return fail(
            ErrorKind::Other,
            "publish needs a producer (create_producer first)",
        );
    };
    let (capacity, wait) = (*capacity, *wait);
    let batch = batch.max(1);
    let stall_for = |n: u64| {
        let ms = if n > capacity {
            args.oversized_batch_stall_ms
        } else {
            args.publish_stall_ms
        };
        (ms > 0).then(|| Duration::from_millis(ms))
    };
    let first = *next;
    let mut remaining = count;
    let mut since_progress = 0u64;
    let mut last_progress = Instant::now();
    let mut stalled_since: Option<Instant> = None;
    let mut tick = 0u32;
    while remaining > 0 {
        let n = batch.min(remaining);
        let r = if batch == 1 {
            p.try_publish(*next).ok_or(1)
        } else {
            p.try_batch(*next, n as usize)
        };
        tick = tick.wrapping_add(1);
        match r {
            Ok(last) => {
                check_assigned(last, *next + n as i64 - 1)?;
                *next += n as i64;
                remaining -= n;
                since_progress += n;
                stalled_since = None;
            }
            Err(_) => {
                back_off(wait);
                if tick & 255 == 0 {
                    if let Some(limit) = stall_for(n) {
                        let now = Instant::now();
                        if now.duration_since(*stalled_since.get_or_insert(now)) >= limit {
                            let published = *next - first;
                            let min = p.min_gating();
                            let msg = if n > capacity {
                                format!(
                                    "a batch of {n} can never fit a ring of {capacity} slots: try_batch_publish \
                                     returned MissingFreeSlots for {limit:?} ({published} events published before)"
                                )
                            } else {
                                format!(
                                    "publish stalled for {limit:?} at sequence {} (batch {n}): no free slot; \
                                     min gating sequence {min}; {published} of {count} events published",
                                    *next
                                )
                            };
                            return fail(ErrorKind::Timeout, msg);
                        }
                    }
                }
            }
        }
        if since_progress >= PROGRESS_EVERY
            || (tick & 63 == 0 && last_progress.elapsed() >= PROGRESS_MAX_AGE)
        {
            let m = Message::Progress {
                id,
                published_through: *next - 1,
            };
            let _ = io.send(&m);
            since_progress = 0;
            last_progress = Instant::now();
        }
    }
    Ok(OkFields {
        first_seq: Some(first),
        last_seq: Some(*next - 1),
        ..OkFields::default()
    })
}

/// `consume`: up to `count` events in `mode`, reported as `events` runs; ends early after
/// `timeout_ms` without an event.
pub(super) fn consume<W: Write>(
    role: &mut Option<Role>,
    id: u64,
    count: u64,
    mode: Mode,
    timeout_ms: u64,
    io: &mut TesteeIo<W>,
) -> Res<OkFields> {
    let Some(Role::Consumer { c, wait }) = role else {
        return fail(
            ErrorKind::Other,
            "consume needs a consumer (attach_consumer first)",
        );
    };
    let wait = *wait;
    let timeout = Duration::from_millis(timeout_ms);
    let mut reporter = EventsReporter::new(id);
    let mut consumed = 0u64;
    let mut pending = false;
    let mut last_sent = Instant::now();
    let mut empty_polls = 0u64;
    let mut idle_since = Instant::now();
    while consumed < count {
        let n = c.poll(mode, &mut |seq, bytes| {
            consumed += 1;
            pending = true;
            if let Some(m) = reporter.record(seq, bytes) {
                let _ = io.send(&m);
                last_sent = Instant::now();
            }
        });
        if n > 0 {
            empty_polls = 0;
            continue;
        }
        empty_polls += 1;
        if empty_polls & 255 == 1 {
            let now = Instant::now();
            if empty_polls == 1 {
                idle_since = now;
            } else if now.duration_since(idle_since) >= timeout {
                break;
            }
            // An idle stream still reports its last run within about 50 ms.
            if pending && now.duration_since(last_sent) >= PROGRESS_MAX_AGE {
                if let Some(m) = reporter.flush() {
                    let _ = io.send(&m);
                }
                pending = false;
                last_sent = now;
            }
        }
        back_off(wait);
    }
    if let Some(m) = reporter.flush() {
        let _ = io.send(&m);
    }
    // No end-of-stream in disruptor-mp: closed_at is always absent.
    Ok(OkFields {
        consumed: Some(consumed),
        ..OkFields::default()
    })
}
