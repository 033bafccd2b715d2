//! The raw futex floor: the spin ping-pong's round trip paced by an idle gap, B waiting with
//! a Dekker-style sleep (spin, announce in `waiters`, re-check, `FUTEX_WAIT`), the writer
//! storing with a full fence and waking only if someone announced; a short spin ping-pong
//! first is its placement probe. The segment layout is the ping floor's (`floors.rs`).

use crate::clock;
use crate::floors::{
    rendezvous, spin_pingpong_a, spin_pingpong_b, FutexWord, PingCtl, PROBE_ROUNDS,
};
use crate::measure::{Backoff, LatencyRecorder, Pacer};
use crate::role::{RoleArgs, Side};
use crate::shm::Shm;
use serde_json::{json, Value};
use std::sync::atomic::Ordering::*;
use std::time::Duration;

/// Raw futex ping-pong: B spins then sleeps, paced by A's idle gap so it really sleeps; A
/// spins. Runs a short spin ping-pong first as the placement probe.
pub fn futex(a: &RoleArgs) -> Result<Value, String> {
    let seg = Shm::open(&a.name).map_err(|e| format!("open shm {}: {e}", a.name))?;
    // SAFETY: as in `ping`.
    let ctl = unsafe { &*(seg.ptr() as *const PingCtl) };
    rendezvous(&ctl.ready.0, a);
    let (ping, pong) = (&ctl.sleep_ping.0, &ctl.sleep_pong.0);
    let (rounds, warmup) = (a.events, a.warmup);
    match a.side {
        Side::A => {
            let (probe, _) = spin_pingpong_a(
                &ctl.ping.0,
                &ctl.pong.0,
                PROBE_ROUNDS / 10,
                PROBE_ROUNDS,
                &mut Pacer::new(0, 0, 0),
            );
            let probe = probe.finish(a.ticks_per_ns, 0);
            let mut rec = LatencyRecorder::new();
            let mut errors = 0;
            for i in 1..=(warmup + rounds) as u32 {
                clock::spin_ticks(a.gap_ticks());
                let t0 = clock::ticks();
                signal(ping, i);
                // A times, so it spins (never parks): one wake-up, B's, per round trip.
                let mut b = Backoff::new();
                let mut v = pong.value.load(Acquire);
                while v < i {
                    b.snooze();
                    v = pong.value.load(Acquire);
                }
                let t1 = clock::ticks();
                errors += u64::from(v != i);
                if u64::from(i) > warmup {
                    rec.record(t1 - t0);
                }
            }
            let mut out = rec.finish(a.ticks_per_ns, errors);
            out["probe"] = probe;
            Ok(out)
        }
        Side::B => {
            let probe_errors =
                spin_pingpong_b(&ctl.ping.0, &ctl.pong.0, PROBE_ROUNDS / 10 + PROBE_ROUNDS);
            let mut errors = probe_errors;
            for i in 1..=(warmup + rounds) as u32 {
                let v = wait(ping, i, a.spins);
                errors += u64::from(v != i);
                signal(pong, v);
            }
            Ok(json!({ "rounds": rounds, "errors": errors }))
        }
    }
}

/// The writer's half: store with a full fence, then wake if anyone announced a sleep.
fn signal(w: &FutexWord, v: u32) {
    w.value.swap(v, SeqCst);
    if w.waiters.load(SeqCst) != 0 {
        // SAFETY: a live, aligned u32 in a shared mapping; FUTEX_WAKE (not PRIVATE): the
        // sleeper is another process.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                w.value.as_ptr(),
                libc::FUTEX_WAKE,
                i32::MAX,
            )
        };
    }
}

/// The waiter's half: spin `spins` times, then sleep until `value` reaches `want` (with the
/// same 10 ms backstop as ringproof's `blocking()`). Returns the value seen.
fn wait(w: &FutexWord, want: u32, spins: u32) -> u32 {
    for _ in 0..spins {
        let v = w.value.load(Acquire);
        if v >= want {
            return v;
        }
        std::hint::spin_loop();
    }
    let backstop = Duration::from_millis(10);
    let ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: backstop.as_nanos() as libc::c_long,
    };
    loop {
        let v = w.value.load(Acquire);
        if v >= want {
            return v;
        }
        w.waiters.fetch_add(1, SeqCst);
        if w.value.load(SeqCst) == v {
            // SAFETY: as in `signal`; the kernel re-checks `value == v` atomically.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    w.value.as_ptr(),
                    libc::FUTEX_WAIT,
                    v,
                    &ts as *const libc::timespec,
                )
            };
        }
        w.waiters.fetch_sub(1, SeqCst);
    }
}
