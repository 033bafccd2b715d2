//! Loom model checks of the ring protocol's memory-ordering core, [`ringproof::kit::protocol`]:
//! threads stand in for processes, `CursorCell`, `Control` and `Slot` are the real shared-memory
//! words (with loom's atomics), and every ordering and fence comes from the same functions the
//! producer, consumer and registry call. Slots are `loom::cell::UnsafeCell`s holding a
//! sequence-tagged, checksummed event, so loom reports any read that races a write (torn), and
//! the tag check catches a read of an older or newer lap (stale or overwritten).
//!
//! Run (what CI runs; its own target dir, since `--cfg loom` rebuilds everything; the profile
//! overrides only make the build faster):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom \
//! CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
//!     cargo test -p ringproof --release --test loom_protocol
//! ```
//!
//! On the project's 2-core machine, busy with other builds: about 6 min from an empty target
//! dir; once built, 28 s of wall-clock model checking for the 18 tests at load 5 to 7 (74 s at
//! load 12; about 20 s of CPU time). Two consumers and the late joiner are most of it; the five
//! registry and eviction models take well under a second each.
//!
//! Without `LOOM_MAX_PREEMPTIONS` the tests bound preemptions at 2 themselves (the three-thread
//! test at 1). Each test names the mutations of `ring/src/protocol.rs` it was seen to catch:
//! each was applied alone, this suite run, the failing tests noted, the code restored. Every
//! test of the event ring (the first nine) catches `publish` Release->Relaxed and `published` Acquire->Relaxed (loom: "Causality
//! violation: Concurrent read and write accesses" on a slot); the lists below name what else
//! each one catches. Seen NOT to be caught: `activate` Release->Relaxed (the announcement's
//! SeqCst increment releases the slot state too, to a producer that acquires the generation);
//! the fence dropped from `evictions_before_rewrites` (every retirement is followed by an
//! announcement, whose SeqCst fence releases it too).
//!
//! The four `parking` tests model a consumer killed while parked (SPEC.md §8 {R8.d}): its
//! count in `consumers_parked` is taken back exactly once, by itself or by whoever claims its
//! slot; each names the planted mistakes it catches.
//!
//! The last five tests of `membership` model the registry: two joiners racing for a free slot, a takeover
//! resuming from its dead incarnation's handshake, two restarts racing for a dead producer,
//! eviction, and the reap at close racing a takeover. The registry and eviction models do not
//! exercise the event slots, so the `publish` / `published` mutations do not apply to them; each
//! names the mutation it was seen to catch.
//!
//! The producer and consumer below are the protocol skeletons of `RawProducer` and
//! `RawConsumer` (SPEC.md §7.1-§7.6): cached limit, rescan, join (claim, handshake), commit,
//! leave, drain and close, in the same order, with everything that is not memory ordering
//! (mapping, futex, liveness, counters) left out.
#![cfg(loom)]

mod data;
mod membership;
mod model;
mod parking;

use loom::model::Builder;

/// Runs `f` under loom, with at most 2 preemptions unless `LOOM_MAX_PREEMPTIONS` says otherwise.
fn check(f: impl Fn() + Sync + Send + 'static) {
    check_bounded(2, f)
}

/// Runs `f` under loom with at most `preemptions` (or `LOOM_MAX_PREEMPTIONS`, if lower).
fn check_bounded(preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = Builder::new();
    builder.preemption_bound = Some(
        builder
            .preemption_bound
            .map_or(preemptions, |b| b.min(preemptions)),
    );
    builder.check(f);
}

fn contiguous(from: i64, to: i64) -> Vec<i64> {
    (from..=to).collect()
}

/// The owner word of model process `i` (any distinct non-zero words do).
fn owner(i: usize) -> u64 {
    0x100 + i as u64
}
