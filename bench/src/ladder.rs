//! The ablation ladder of a ring hop (diagnostic): the spin ping-pong carried the way a ring
//! carries it, then with each cost ringproof's hot path adds to a hop, one rung at a time, so
//! that every cost of `pingpong-spin` is a measured row and not a guess (issue 13):
//!
//! | rung | what a hop does |
//! |---|---|
//! | [`Rung::TwoLine`] | A writes the value into a slot, then stores its cursor (release); B polls the cursor (acquire), then reads the slot: two lines move per hop instead of one |
//! | [`Rung::Touch`] | as `TwoLine`, the waiting side also loading the slot it reads next on every spin (a consumer-side idea, not what ringproof does) |
//! | [`Rung::Waiter`] | `TwoLine`, and after each cursor store the writer loads a wake word in a line nobody writes while no one sleeps (SPEC.md §8: the registry's `consumers_parked`) |
//! | [`Rung::Counters`] | `Waiter`, and both sides add to two single-writer counters (relaxed load + store, no lock prefix) in batches, as SPEC.md R12.6.c lets them: the writer once per 64 events, the reader at its first empty poll after reading (in a ping-pong: while it waits for the next event) |
//! | [`Rung::Liveness`] | `Counters`, and the reader loads its standing word (its registry slot's state) after each refresh that found an event, keeps its lag high-water mark (in a local, published with the counters), and loads the ring state on each empty poll (SPEC.md §7.10, §7.6) |
//! | [`Rung::Commit`] | `Liveness`, and the reader commits: a release store of its own cursor (a line only the writer's rescan reads) and the load of that cursor's wake word, as a consumer's commit does (SPEC.md §7.4, §8) |
//!
//! The next row up is `pingpong-spin` itself: the public API (`Producer::publish`,
//! `Consumer::read`) over a real ring.

use crate::clock;
use crate::floors::{rendezvous, ring_bytes, segment_len, Line, PingCtl, SLOTS_OFFSET};
use crate::measure::{Backoff, LatencyRecorder};
use crate::role::{RoleArgs, Side};
use crate::shm::Shm;
use serde_json::{json, Value};
use std::sync::atomic::{compiler_fence, AtomicU32, AtomicU64, Ordering::*};

/// One rung of the ladder; each includes the costs of the ones before it (except `Touch`, a
/// side branch of `TwoLine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rung {
    TwoLine,
    Touch,
    Waiter,
    Counters,
    Liveness,
    Commit,
}

/// This process's single-writer words: counters and the words a liveness look reads, each in
/// its own line (as in the counters and registry segments, which only their writer touches).
struct Private {
    counters: [Line<AtomicU64>; 2],
    lag_max: Line<AtomicU64>,
    standing: Line<AtomicU32>,
}

impl Private {
    fn new() -> Self {
        Private {
            counters: [Line(AtomicU64::new(0)), Line(AtomicU64::new(0))],
            lag_max: Line(AtomicU64::new(0)),
            standing: Line(AtomicU32::new(0)),
        }
    }

    #[inline(always)]
    fn add(&self, i: usize, n: u64) {
        let c = &self.counters[i].0;
        c.store(c.load(Relaxed) + n, Relaxed);
    }
}

/// Where each side's own consumer cursor lives for [`Rung::Commit`]: a 128-byte block of its
/// own in the control page, past the control block.
const COMMIT_LINES: usize = 2048;
const _: () = assert!(std::mem::size_of::<PingCtl>() <= COMMIT_LINES);
const _: () = assert!(COMMIT_LINES + 2 * 128 <= SLOTS_OFFSET);

/// Runs one side of the ring ping-pong at `rung`.
pub fn ring_ping(a: &RoleArgs, rung: Rung) -> Result<Value, String> {
    let seg = Shm::open(&a.name).map_err(|e| format!("open shm {}: {e}", a.name))?;
    if seg.len() < segment_len(false, a.capacity, 8) {
        return Err(format!("shm {} is {} bytes, too small", a.name, seg.len()));
    }
    // SAFETY: the segment holds the control page and two rings (checked above); the control
    // block's words are atomics, the slots plain u64s published through the cursors.
    let ctl = unsafe { &*(seg.ptr() as *const PingCtl) };
    let ab = unsafe { seg.ptr().add(SLOTS_OFFSET) as *mut u64 };
    let ba = unsafe { seg.ptr().add(SLOTS_OFFSET + ring_bytes(a.capacity, 8)) as *mut u64 };
    rendezvous(&ctl.ready.0, a);
    let mask = a.capacity as u64 - 1;
    let total = a.warmup + a.events;
    let own = Private::new();
    // The wake word each side loads after its cursor store: the futex floor's sleeper counts,
    // which nothing writes during this run.
    let (ping_wake, pong_wake) = (&ctl.sleep_ping.0.waiters, &ctl.sleep_pong.0.waiters);
    let ring_state = &ctl.ready.0;
    // SAFETY: both blocks lie in the control page past `PingCtl` (asserted above), 128-byte
    // aligned, and are only ever accessed as these atomics.
    let commit_line = |i: usize| unsafe {
        &*(seg.ptr().add(COMMIT_LINES + 128 * i) as *const (AtomicU64, AtomicU32))
    };
    let (a_commit, b_commit) = (commit_line(0), commit_line(1));
    // Writes `v` into slot `i` of `ring` and publishes it through `cursor`.
    let send = |ring: *mut u64, cursor: &AtomicU64, wake: &AtomicU32, i: u64, v: u64| {
        // SAFETY: masked index; the reader reads slot i only after the release store.
        unsafe { ring.add((i & mask) as usize).write_volatile(v) };
        cursor.store(i, Release);
        if rung >= Rung::Waiter {
            compiler_fence(SeqCst);
            if wake.load(Relaxed) != 0 {
                return Err("a wake word no one writes was set".to_owned());
            }
        }
        if rung >= Rung::Counters && i % 64 == 0 {
            own.add(0, 64);
            own.add(1, 64 * 8);
        }
        Ok(())
    };
    // The reader's events not yet added to its counters, and its lag's high-water mark.
    let (mut uncounted, mut lag_max) = (0u64, 0u64);
    // Waits for `cursor` to reach `i`, then reads slot `i` of `ring` (right away, as
    // `Consumer::read` does, the liveness look after it).
    let mut receive =
        |ring: *mut u64, cursor: &AtomicU64, i: u64, commit: &(AtomicU64, AtomicU32)| {
            // SAFETY: masked index into the mapped ring.
            let slot = unsafe { ring.add((i & mask) as usize) };
            let mut b = Backoff::new();
            let mut seen = cursor.load(Acquire);
            if seen < i && uncounted > 0 {
                // The first empty poll: the counters catch up, and the lag's mark with them.
                own.add(0, uncounted);
                own.add(1, uncounted * 8);
                if lag_max > own.lag_max.0.load(Relaxed) {
                    own.lag_max.0.store(lag_max, Relaxed);
                }
                uncounted = 0;
            }
            while seen < i {
                if rung == Rung::Touch {
                    // SAFETY: as above; the value is discarded, only the line matters.
                    std::hint::black_box(unsafe { slot.read_volatile() });
                }
                if rung >= Rung::Liveness && ring_state.load(Acquire) == u32::MAX {
                    return Err("ring state changed".to_owned());
                }
                b.snooze();
                seen = cursor.load(Acquire);
            }
            // SAFETY: published (acquire above).
            let v = unsafe { slot.read_volatile() };
            if rung >= Rung::Liveness {
                if own.standing.0.load(Acquire) != 0 {
                    return Err("standing changed".to_owned());
                }
                let lag = seen - i + 1;
                lag_max = lag_max.max(lag);
            }
            if rung >= Rung::Counters {
                uncounted += 1;
            }
            if rung >= Rung::Commit {
                let (cursor, waiters) = commit;
                cursor.store(i, Release);
                compiler_fence(SeqCst);
                if waiters.load(Relaxed) != 0 {
                    return Err("a wake word no one writes was set".to_owned());
                }
            }
            Ok(v)
        };
    let (ping, pong) = (&ctl.ping.0, &ctl.pong.0);
    let mut errors = 0;
    match a.side {
        Side::A => {
            let mut rec = LatencyRecorder::new();
            for i in 1..=total {
                let t0 = clock::ticks();
                send(ab, ping, pong_wake, i, i)?;
                let v = receive(ba, pong, i, a_commit)?;
                let t1 = clock::ticks();
                errors += u64::from(v != i);
                if i > a.warmup {
                    rec.record(t1 - t0);
                }
            }
            Ok(rec.finish(a.ticks_per_ns, errors))
        }
        Side::B => {
            for i in 1..=total {
                let v = receive(ab, ping, i, b_commit)?;
                errors += u64::from(v != i);
                send(ba, pong, ping_wake, i, v)?;
            }
            Ok(json!({ "rounds": a.events, "errors": errors }))
        }
    }
}
