//! The atomics the protocol uses, in one place, so the protocol core can run under loom.
//!
//! Under `--cfg loom` these are loom's model-checked types (threads stand in for processes);
//! otherwise they are `core`'s. Shared-memory words are reached through [`atomic_at`], which
//! turns a pointer into a mapping into a reference to an atomic living there.

#[cfg(not(loom))]
pub use core::sync::atomic::{compiler_fence, fence, AtomicI64, AtomicU32, AtomicU64, Ordering};
#[cfg(loom)]
pub use loom::sync::atomic::{fence, AtomicI64, AtomicU32, AtomicU64, Ordering};

/// Under loom there is no separate compiler fence; a full fence is the conservative stand-in.
#[cfg(loom)]
pub fn compiler_fence(order: Ordering) {
    loom::sync::atomic::fence(order)
}

pub use crossbeam_utils::CachePadded;

/// Pause hint for spin loops (`pause` on x86, `yield` on arm).
#[inline(always)]
pub fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}
