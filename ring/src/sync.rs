//! The atomics the protocol uses, in one place, so the protocol core can run under loom.
//!
//! Under `--cfg loom` these are loom's model-checked types (threads stand in for processes);
//! otherwise they are `core`'s. Shared-memory words are the fields of the `#[repr(C)]` views in
//! [`crate::layout::cursor`] and [`crate::layout::registry`] (`CursorCell`, `Control`, `Slot`),
//! which a pointer into a mapping is cast to.
//!
//! No cache-line padding type lives here: the wire layout (SPEC.md) fixes every offset, so the
//! layout pads explicitly.

#[cfg(not(loom))]
pub use core::sync::atomic::{compiler_fence, fence, AtomicI64, AtomicU32, AtomicU64, Ordering};
#[cfg(loom)]
pub use loom::sync::atomic::{fence, AtomicI64, AtomicU32, AtomicU64, Ordering};

/// Under loom there is no separate compiler fence; a full fence is the conservative stand-in.
#[cfg(loom)]
pub fn compiler_fence(order: Ordering) {
    loom::sync::atomic::fence(order)
}

/// Pause hint for spin loops (`pause` on x86, `yield` on arm).
#[inline(always)]
pub fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}
