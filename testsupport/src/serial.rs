//! One test at a time within a test binary.
//!
//! The multi-process tests each run two to four busy processes; a 2-core CI machine running
//! several of them at once turns spin/yield hand-offs into scheduler round trips. The lock is
//! a static of this crate, so there is one per test process.

use std::sync::{Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::new(());

/// Takes this test's turn. A test that failed while holding the lock poisons it; the turn is
/// taken anyway (the failed test's guards have cleaned up).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}
