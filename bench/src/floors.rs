//! The raw floors: what two processes get from one shm segment with no library at all.
//!
//! - stream: a ring of u64 slots; the producer publishes a count with one release store per
//!   batch of up to `batch` events (fewer when the ring is about to be full) and rereads the
//!   consumer's count only when its cached window is used up; the consumer polls the count
//!   (acquire), reads everything available, and stores its own count (release) once per batch.
//! - ping: A stores `i` into `ping`, B spins until it sees `i` and stores it into `pong`.
//! - futex (`floor_futex.rs`): the same round trip, paced by an idle gap, B waiting with a Dekker-style sleep:
//!   spin `spins` times, then announce in `waiters`, re-check, `FUTEX_WAIT`; the writer stores
//!   with a full fence and wakes only if someone announced. A spins. It is the textbook version of what ringproof's `Blocking` strategy does
//!   (ringproof moves the fence from writer to waiter with membarrier).
//! - stream per event (diagnostic): the stream with `batch` = 1, one release store per event.
//! - ring ping and its ablation ladder (diagnostic, `ladder.rs`): the spin ping-pong carried
//!   the way a ring carries it, then with each of ringproof's per-hop costs added in turn.
//!
//! Every hot word lives in its own 128-byte block (a cache line and its adjacent-line-prefetch
//! partner). Slots are walked as contiguous runs split at the wrap (no per-event masking), the
//! way a raw loop would, so the compiler can vectorise them. Event payloads are verified as
//! cheaply as the subjects verify theirs: one compare per event.

use crate::clock;
use crate::measure::{Backoff, LatencyRecorder, Pacer, PollStats};
use crate::role::{RoleArgs, Side};
use crate::shm::Shm;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::time::Instant;

/// One hot word, alone in 128 bytes.
#[repr(C, align(128))]
pub struct Line<T>(pub T);

/// Readers a broadcast floor supports.
pub const MAX_READERS: usize = 16;

/// Control block of a stream floor segment; the slots start at [`SLOTS_OFFSET`].
#[repr(C)]
struct StreamCtl {
    ready: Line<AtomicU32>,
    /// Events published so far.
    produced: Line<AtomicU64>,
    /// Events consumed so far, per reader.
    consumed: [Line<AtomicU64>; MAX_READERS],
    /// The placement probe's spin ping-pong between A and reader 0.
    ping: Line<AtomicU64>,
    pong: Line<AtomicU64>,
}

pub(crate) const SLOTS_OFFSET: usize = 4096;

/// Control block of a ping or futex floor segment.
#[repr(C)]
pub(crate) struct PingCtl {
    pub(crate) ready: Line<AtomicU32>,
    /// Spin ping-pong (and the futex floor's placement probe).
    pub(crate) ping: Line<AtomicU64>,
    pub(crate) pong: Line<AtomicU64>,
    /// Futex ping-pong.
    pub(crate) sleep_ping: Line<FutexWord>,
    pub(crate) sleep_pong: Line<FutexWord>,
}

/// A 32-bit word a futex can sleep on, and its sleeper count (as in a ringproof cursor cell).
#[repr(C)]
pub(crate) struct FutexWord {
    pub(crate) value: AtomicU32,
    pub(crate) waiters: AtomicU32,
}

/// Bytes of one ring of `capacity` slots of `size` bytes, rounded to whole pages.
pub(crate) fn ring_bytes(capacity: usize, size: usize) -> usize {
    (capacity * size).div_ceil(4096) * 4096
}

/// Bytes a floor segment needs: the control page, then (stream) one ring of slots or (ping)
/// two rings of u64 slots, one per direction, for the ring ping-pong.
pub fn segment_len(stream: bool, capacity: usize, size: usize) -> usize {
    if stream {
        SLOTS_OFFSET + ring_bytes(capacity, size)
    } else {
        SLOTS_OFFSET + 2 * ring_bytes(capacity, 8)
    }
}

/// Every side maps the segment, then they meet here; reader 0 then unlinks the name (all have
/// it mapped, so nothing is left behind even if the orchestrator dies).
pub(crate) fn rendezvous(ready: &AtomicU32, a: &RoleArgs) {
    let parties = 1 + if a.kind.is_stream() {
        a.readers.max(1)
    } else {
        1
    } as u32;
    ready.fetch_add(1, AcqRel);
    let mut b = Backoff::new();
    while ready.load(Acquire) < parties {
        b.snooze();
    }
    if a.side == Side::B && a.reader == 0 {
        crate::shm::unlink(&a.name);
    }
}

/// Raw stream (a broadcast to every reader when `readers` > 1), either side. u64 events carry
/// their sequence (checked with one compare); larger events carry the full TP1 payload
/// (`ringproof::kit::payload::fill` / `verify`), the same work every subject and peer does.
pub fn stream(a: &RoleArgs) -> Result<Value, String> {
    let seg = Shm::open(&a.name).map_err(|e| format!("open shm {}: {e}", a.name))?;
    if seg.len() < segment_len(true, a.capacity, a.size) {
        return Err(format!("shm {} is {} bytes, too small", a.name, seg.len()));
    }
    let readers = a.readers.max(1);
    if readers > MAX_READERS || a.reader >= readers {
        return Err(format!(
            "reader {} of {readers}: the raw broadcast supports 1..={MAX_READERS} readers",
            a.reader
        ));
    }
    // SAFETY: the segment is at least 4096 + capacity * size bytes, page-aligned, zeroed by
    // its creator; StreamCtl is atomics only and fits the first page.
    let ctl = unsafe { &*(seg.ptr() as *const StreamCtl) };
    let base = unsafe { seg.ptr().add(SLOTS_OFFSET) };
    rendezvous(&ctl.ready.0, a);
    // Where the two vCPUs sit this run (close or far), from a short spin ping-pong between A
    // and reader 0 before the stream: the stream's own rate says it only for u64 SPSC.
    let probe = match (a.side, a.reader) {
        (Side::A, _) => Some(
            spin_pingpong_a(
                &ctl.ping.0,
                &ctl.pong.0,
                PROBE_ROUNDS / 10,
                PROBE_ROUNDS,
                &mut Pacer::new(0, 0, 0),
            )
            .0
            .finish(a.ticks_per_ns, 0),
        ),
        (Side::B, 0) => {
            spin_pingpong_b(&ctl.ping.0, &ctl.pong.0, PROBE_ROUNDS / 10 + PROBE_ROUNDS);
            None
        }
        _ => None,
    };
    let total = a.warmup + a.events;
    let cap = a.capacity as u64;
    let size = a.size;
    let words = size / 8;
    match a.side {
        Side::A => {
            let batch = a.batch.max(1) as u64;
            let slowest = || {
                ctl.consumed[..readers]
                    .iter()
                    .map(|c| c.0.load(Acquire))
                    .min()
                    .unwrap_or(0)
            };
            let (mut next, mut limit) = (0u64, cap);
            while next < total {
                if next == limit {
                    let mut b = Backoff::new();
                    loop {
                        limit = slowest() + cap;
                        if next < limit {
                            break;
                        }
                        b.snooze();
                    }
                }
                let end = (next + batch).min(total).min(limit);
                for (index, len, seq) in runs(next, end, cap) {
                    // SAFETY: within the ring; readers read these slots only after the
                    // release store below, and we reuse them only after all consumed them.
                    let run = unsafe {
                        std::slice::from_raw_parts_mut(
                            (base as *mut u64).add(index * words),
                            len * words,
                        )
                    };
                    if words == 1 {
                        for (slot, s) in run.iter_mut().zip(seq..) {
                            *slot = s;
                        }
                    } else {
                        for (slot, s) in run.chunks_exact_mut(words).zip(seq..) {
                            let _ = ringproof::kit::payload::fill(s, bytemuck_bytes_mut(slot));
                        }
                    }
                }
                ctl.produced.0.store(end, Release);
                next = end;
            }
            Ok(json!({ "published": total, "probe": probe }))
        }
        Side::B => {
            let mine = &ctl.consumed[a.reader].0;
            let (mut next, mut errors) = (0u64, 0u64);
            let mut start: Option<(Instant, u64)> = None;
            let mut idle = Backoff::new();
            let mut stats = PollStats::default();
            while next < total {
                let avail = ctl.produced.0.load(Acquire);
                if avail == next {
                    stats.empty += 1;
                    idle.snooze();
                    continue;
                }
                stats.polls += 1;
                idle = Backoff::new();
                for (index, len, seq) in runs(next, avail, cap) {
                    // SAFETY: published (acquire above) and not reusable until we store below.
                    let run = unsafe {
                        std::slice::from_raw_parts(
                            (base as *const u64).add(index * words),
                            len * words,
                        )
                    };
                    if words == 1 {
                        errors += run
                            .iter()
                            .zip(seq..)
                            .map(|(v, s)| u64::from(*v != s))
                            .sum::<u64>();
                    } else {
                        for (slot, s) in run.chunks_exact(words).zip(seq..) {
                            errors += u64::from(
                                ringproof::kit::payload::verify(s, bytemuck_bytes(slot)).is_err(),
                            );
                        }
                    }
                }
                mine.store(avail, Release);
                next = avail;
                if start.is_none() && next >= a.warmup {
                    start = Some((Instant::now(), next));
                }
            }
            Ok(crate::measure::stream_result(start, next, errors, stats))
        }
    }
}

fn bytemuck_bytes(words: &[u64]) -> &[u8] {
    // SAFETY: u64s are plain bytes; the length is exact.
    unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), words.len() * 8) }
}

fn bytemuck_bytes_mut(words: &mut [u64]) -> &mut [u8] {
    // SAFETY: as above; any byte pattern is a valid u64.
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), words.len() * 8) }
}

/// The slots of sequences `from..to` (at most a ring's worth) as contiguous runs
/// `(first index, length, first sequence)`, split where the ring wraps (the second run may be
/// empty): a raw loop walks them without masking every index, and the compiler vectorises it.
fn runs(from: u64, to: u64, cap: u64) -> [(usize, usize, u64); 2] {
    let start = from % cap;
    let first = (to - from).min(cap - start);
    [
        (start as usize, first as usize, from),
        (0, (to - from - first) as usize, from + first),
    ]
}

/// Raw spin ping-pong over `ping`/`pong`, A timing each round trip.
pub fn ping(a: &RoleArgs) -> Result<Value, String> {
    let seg = Shm::open(&a.name).map_err(|e| format!("open shm {}: {e}", a.name))?;
    // SAFETY: 4096 zeroed bytes, PingCtl is atomics only and smaller.
    let ctl = unsafe { &*(seg.ptr() as *const PingCtl) };
    rendezvous(&ctl.ready.0, a);
    let (rounds, warmup) = (a.events, a.warmup);
    match a.side {
        Side::A => {
            let mut pacer = crate::measure::pacer_of(a);
            let (rec, errors) =
                spin_pingpong_a(&ctl.ping.0, &ctl.pong.0, warmup, rounds, &mut pacer);
            let mut out = rec.finish(a.ticks_per_ns, errors);
            out["late_starts"] = json!(pacer.late);
            Ok(out)
        }
        Side::B => Ok(
            json!({ "rounds": rounds, "errors": spin_pingpong_b(&ctl.ping.0, &ctl.pong.0, warmup + rounds) }),
        ),
    }
}

pub(crate) fn spin_pingpong_a(
    ping: &AtomicU64,
    pong: &AtomicU64,
    warmup: u64,
    rounds: u64,
    pacer: &mut Pacer,
) -> (LatencyRecorder, u64) {
    let mut rec = LatencyRecorder::new();
    let mut errors = 0;
    for i in 1..=warmup + rounds {
        let t0 = pacer.start();
        ping.store(i, Release);
        let mut b = Backoff::new();
        let mut v = pong.load(Acquire);
        while v < i {
            b.snooze();
            v = pong.load(Acquire);
        }
        let t1 = clock::ticks();
        errors += u64::from(v != i);
        if i > warmup {
            rec.record(t1 - t0);
        }
    }
    (rec, errors)
}

pub(crate) fn spin_pingpong_b(ping: &AtomicU64, pong: &AtomicU64, total: u64) -> u64 {
    let mut errors = 0;
    for i in 1..=total {
        let mut b = Backoff::new();
        let mut v = ping.load(Acquire);
        while v < i {
            b.snooze();
            v = ping.load(Acquire);
        }
        errors += u64::from(v != i);
        pong.store(v, Release);
    }
    errors
}

/// Round trips of the placement probe the futex floor runs first (its own latency says
/// nothing about whether the two vCPUs are close).
pub(crate) const PROBE_ROUNDS: u64 = 20_000;
