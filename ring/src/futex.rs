//! Sleeping on a shared cursor word, and the asymmetric fence that makes it safe and cheap.
//!
//! A waiter announces itself in a wake word, re-checks the cursor, and sleeps in `FUTEX_WAIT`
//! on the cursor's low 32 bits. The writer, after its release store of the cursor, reads the
//! wake word and calls `FUTEX_WAKE` only when it is non-zero. The wake word is the cursor
//! cell's `waiters`, except on the producer cursor of a ring with a registry, where it is the
//! registry's `consumers_parked`: a line nobody writes while no one parks, so the producer's
//! load after each store hits its own cache instead of the cursor line the spinning consumers
//! keep pulling away (SPEC.md §8 {R8.c}).
//!
//! That is Dekker's pattern (store one word, load the other on both sides), which needs a full
//! fence on both sides. The writer is the hot path, so it only has a compiler fence; the waiter
//! pays for both with `membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)`, which runs a full barrier
//! on every CPU running a process that registered for it (every ringproof process does, once).
//! Where membarrier is unavailable, or a peer did not register (disruptor-mp never wakes
//! anyone), the futex timeout bounds the cost of a missed wake-up (SPEC.md §8).
//!
//! The syscalls go through `rustix` (`futex::wait`/`wake` on a shared futex,
//! `membarrier`): the same calls with the same arguments as raw `syscall(2)`, without `unsafe`.

use crate::protocol;
use crate::sync::{AtomicI64, AtomicU32, Ordering};
use rustix::thread::futex;
use rustix::thread::{membarrier, membarrier_query, MembarrierCommand};
use std::sync::OnceLock;
use std::time::Duration;

/// Registers this process for expedited global membarriers (idempotent). Returns whether the
/// kernel supports them.
pub fn register_membarrier() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        membarrier_query().contains_command(MembarrierCommand::GlobalExpedited)
            && membarrier(MembarrierCommand::RegisterGlobalExpedited).is_ok()
    })
}

/// The waiter's heavy half of the asymmetric fence.
fn heavy_fence() {
    if !register_membarrier() || membarrier(MembarrierCommand::GlobalExpedited).is_err() {
        crate::sync::fence(Ordering::SeqCst);
    }
}

/// The writer's light half: keeps the compiler from moving the wake-word load above the
/// cursor store. Costs nothing at run time.
#[inline(always)]
pub fn light_fence() {
    crate::sync::compiler_fence(Ordering::SeqCst);
}

/// The low 32 bits of a cursor (what the futex compares).
fn low_word(cursor: &AtomicI64) -> &AtomicU32 {
    // SAFETY: little-endian: the low half of the i64 is at its address, 8-aligned, and lives
    // as long as the cursor; it is only ever read through this view (by the kernel).
    unsafe { &*(cursor as *const AtomicI64 as *const AtomicU32) }
}

/// Sleeps until `cursor` no longer equals `observed`, a wake, or `timeout`, whichever first,
/// announced in the wake word `waiters` (the one the writer of `cursor` reads).
/// Spurious returns are allowed; the caller re-checks.
///
/// `mark`: for a consumer with a registry slot, its slot's `parked` word and its park token
/// (SPEC.md §8 {R8.d}). The consumer marks the slot right after counting itself, and on waking
/// takes its count back only if its mark is still there: a producer that retired the slot as
/// dead meanwhile (or a reap, or a takeover) took it back already. `still_blocked` then
/// includes the look at the slot's state and owner that pairs with that take-back.
pub fn wait_while_equal(
    cursor: &AtomicI64,
    waiters: &AtomicU32,
    mark: Option<(&AtomicU32, u32)>,
    observed: i64,
    timeout: Duration,
    still_blocked: impl Fn() -> bool,
) {
    let mut counted = !mutant!("consumer.no-waiters-announce");
    if counted {
        protocol::count_waiter(waiters);
        // Count first, then mark: a death between the two leaks one count (a few instructions
        // of window, not the whole sleep); the other order would let a take-back find a mark
        // whose count was never added, and underflow the word.
        if let Some((word, token)) = mark {
            if !protocol::mark_parked(word, token) {
                // Another owner's mark: this consumer lost its slot. Sleep unannounced (the
                // backstop bounds it; `still_blocked` sends it back at once anyway).
                protocol::uncount_waiter(waiters);
                counted = false;
            }
        }
    }
    heavy_fence();
    if cursor.load(Ordering::SeqCst) == observed && still_blocked() {
        let ts = futex::Timespec {
            tv_sec: timeout.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        // Shared, not FUTEX_PRIVATE_FLAG: the waker is another process. Any outcome (woken,
        // the value already changed, timed out, interrupted) sends the caller to re-check.
        let _ = futex::wait(
            low_word(cursor),
            futex::Flags::empty(),
            observed as u32,
            Some(&ts),
        );
    }
    if counted {
        match mark {
            // Whoever swapped the mark out took the count back: exactly once.
            Some((word, token)) => {
                if protocol::unmark_parked(word, token) {
                    protocol::uncount_waiter(waiters);
                }
            }
            None => protocol::uncount_waiter(waiters),
        }
    }
}

/// Called by a writer right after its release store of `cursor`: wakes sleepers if any said so
/// in the wake word `waiters`. Returns whether it woke anyone (the word was non-zero).
#[inline(always)]
pub fn wake_if_waiting(cursor: &AtomicI64, waiters: &AtomicU32) -> bool {
    light_fence();
    if waiters.load(Ordering::Relaxed) != 0 {
        wake_all(cursor);
        return true;
    }
    false
}

/// Wakes every sleeper on `cursor` unconditionally (for events that do not move the cursor,
/// such as the ring closing).
#[cold]
#[inline(never)]
pub fn wake_all(cursor: &AtomicI64) {
    // Shared futex, as in `wait_while_equal`.
    let _ = futex::wake(low_word(cursor), futex::Flags::empty(), i32::MAX as u32);
}
