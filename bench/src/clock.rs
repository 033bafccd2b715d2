//! Cheap timestamps for per-round-trip latency, and CPU pinning.
//!
//! On x86_64 a tick is one TSC cycle (`lfence; rdtsc`: the fence keeps the read after the load
//! that ended the round trip); the orchestrator calibrates ticks per nanosecond once and hands
//! the factor to every child, so every run converts with the same number. Elsewhere a tick is
//! a nanosecond of `Instant`.

use std::time::{Duration, Instant};

/// The current tick count.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn ticks() -> u64 {
    // SAFETY: lfence and rdtsc have no preconditions on x86_64.
    unsafe {
        core::arch::x86_64::_mm_lfence();
        core::arch::x86_64::_rdtsc()
    }
}

/// The current tick count.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
pub fn ticks() -> u64 {
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Ticks per nanosecond, measured against `Instant` over `span`.
pub fn calibrate(span: Duration) -> f64 {
    let (i0, t0) = (Instant::now(), ticks());
    while i0.elapsed() < span {
        std::hint::spin_loop();
    }
    let (t1, ns) = (ticks(), i0.elapsed().as_nanos() as f64);
    (t1 - t0) as f64 / ns
}

/// Busy-waits `n` ticks (the idle gap between paced round trips).
pub fn spin_ticks(n: u64) {
    let start = ticks();
    while ticks().wrapping_sub(start) < n {
        std::hint::spin_loop();
    }
}

/// Pins this process to core `cpu`. Returns whether the kernel accepted it.
pub fn pin(cpu: usize) -> bool {
    core_affinity::set_for_current(core_affinity::CoreId { id: cpu })
}

/// Switches this process to SCHED_FIFO at `priority`. Returns whether the kernel accepted it.
pub fn set_fifo(priority: i32) -> bool {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: plain syscall on this process with a valid parameter block.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) == 0 }
}

/// The CPUs this process may run on.
pub fn allowed_cpus() -> Vec<usize> {
    core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect()
}
