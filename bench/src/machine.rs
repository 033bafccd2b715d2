//! The machine the bench runs on, as the JSON file records it: CPU model, kernel, cores, the
//! tick rate, what one spin hint costs, and whether membarrier is available.

use crate::clock;
use serde_json::json;
use std::time::Instant;

/// What the JSON file records about the machine the bench ran on.
pub fn machine_info(ticks_per_ns: f64, pause_ns: f64, pinning: &str) -> serde_json::Value {
    let model = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|m| m.trim().to_owned())
    });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_owned());
    json!({
        "pid": std::process::id(), "cpu_model": model, "kernel": kernel, "allowed_cpus": clock::allowed_cpus(),
        "online_cpus": std::thread::available_parallelism().map(|n| n.get()).ok(),
        "ticks_per_ns": ticks_per_ns, "pause_ns": pause_ns, "pinning": pinning,
        "membarrier": ringproof::kit::futex::register_membarrier(),
    })
}

/// Nanoseconds one spin hint (`pause`) takes here: what a `blocking()` spin phase lasts.
/// The best of five tries, so a preemption does not count.
pub fn pause_ns() -> f64 {
    let n = 100_000;
    (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                std::hint::spin_loop();
            }
            t.elapsed().as_nanos() as f64 / n as f64
        })
        .fold(f64::INFINITY, f64::min)
}
