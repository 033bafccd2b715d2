//! Waiting for a condition, never for time: a test polls what it waits for, with a deadline.

use std::time::{Duration, Instant};

/// Polling interval of condition waits.
pub const POLL: Duration = Duration::from_micros(200);

/// Polls `cond` until it holds, panicking with `what` once `timeout` has passed. `cond` may
/// itself panic to fail early (a process it needs has died).
pub fn poll_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(POLL);
    }
}
