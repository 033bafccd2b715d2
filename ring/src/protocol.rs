//! The protocol's memory-ordering core: every load, store and fence that makes a slot safe to
//! read or to rewrite, in small functions over the shared-memory words themselves.
//!
//! [`crate::producer`], [`crate::consumer`] and [`crate::registry`] call these functions; the
//! loom tests (`ring/tests/loom_protocol.rs`, built with `--cfg loom`) call the very same ones,
//! with threads standing in for processes, so the orderings loom checks are the orderings that
//! run. Each function is `#[inline(always)]` and compiles to the single access (or fence) it
//! names: the hot path is unchanged by going through here.
//!
//! What lives elsewhere: how a word is reached (a mapped segment, [`crate::cursor`]), waking
//! sleepers ([`crate::futex`], after [`publish`] and [`commit`]), liveness and eviction
//! ([`crate::liveness`]). SPEC.md §7 is the contract; its "Model checking" subsection lists
//! what the loom tests verify.

use crate::layout::cursor::CursorCell;
use crate::layout::registry::{Control, Slot, RING_CLOSED, SLOT_ACTIVE, SLOT_FREE};
use crate::sync::{fence, Ordering};

// ---- Producer (SPEC.md §7.1, §7.2) ----

/// Whether a claim ending at `last` fits under the producer's cached `limit` (the highest
/// sequence it may write without looking at any consumer). `false` means: rescan, and only if
/// it still does not fit, wait or report *full*. This is what keeps the steady state free of
/// consumer cache-line reads.
#[inline(always)]
pub fn within_limit(last: i64, limit: i64) -> bool {
    last <= limit
}

/// The cached limit after a rescan: `min(gating positions) + capacity`, or, with no gate,
/// `published + capacity` (the producer gates only on itself). The producer may write the slot
/// of `s` only once every gate has consumed `s - capacity`.
///
/// Gate positions come from shared memory: each counts as at most `published` (no consumer
/// can have consumed more; a larger value is a foreign or corrupt cursor) and the sum
/// saturates, so no value a peer writes makes the limit wrap (SPEC.md §7.2). Once per rescan,
/// never per event.
#[inline(always)]
pub fn limit(gates: impl Iterator<Item = i64>, published: i64, capacity: usize) -> i64 {
    gates
        .map(|g| g.min(published))
        .min()
        .unwrap_or(published)
        .saturating_add(capacity as i64)
}

/// A gating consumer's position, as the producer reads it in a rescan. Acquire: pairs with
/// the consumer's [`commit`], so the consumer's reads of the slots it committed happen before
/// the producer rewrites them.
#[inline(always)]
pub fn gate_position(cursor: &CursorCell) -> i64 {
    cursor.value.load(Ordering::Acquire)
}

/// Step 1 of a rescan: a full fence, then the registry generation. Pairs with the joiner's
/// [`announce`] + [`join_head`] (SPEC.md §7.3): either this load sees the join, or the joiner's
/// head is at least the producer cursor stored before this fence.
#[inline(always)]
pub fn membership_generation(control: &Control) -> u64 {
    fence(Ordering::SeqCst);
    control.generation.load(Ordering::Acquire)
}

/// Whether registry slot `slot` gates the producer (its consumer's cursor must be respected).
/// Acquire: pairs with [`activate`], so the joiner's cursor (written before) is visible.
#[inline(always)]
pub fn is_gating(slot: &Slot) -> bool {
    slot.state.load(Ordering::Acquire) == SLOT_ACTIVE
}

/// Publishes every slot up to `last`: one release store of the producer cursor, after the
/// slots were written with plain stores. Whatever `n` slots a call wrote, one store.
#[inline(always)]
pub fn publish(cursor: &CursorCell, last: i64) {
    cursor.value.store(last, Ordering::Release);
}

// ---- Consumer (SPEC.md §7.4) ----

/// The highest sequence the producer published. Acquire: pairs with [`publish`], so the slots
/// up to it are fully written when the consumer reads them.
#[inline(always)]
pub fn published(producer: &CursorCell) -> i64 {
    producer.value.load(Ordering::Acquire)
}

/// Commits the consumer's cursor at `seq` after reading the slots up to it. Release: the reads
/// happen before the producer, acquiring this value in [`gate_position`], rewrites those slots.
#[inline(always)]
pub fn commit(cursor: &CursorCell, seq: i64) {
    cursor.value.store(seq, Ordering::Release);
}

// ---- Membership (SPEC.md §7.3, §7.5) ----

/// Makes registry slot `slot` gate the producer. Release: the joiner's cursor, written before,
/// is visible to a producer that sees the slot ACTIVE ([`is_gating`]).
#[inline(always)]
pub fn activate(slot: &Slot) {
    slot.state.store(SLOT_ACTIVE, Ordering::Release);
}

/// Announces a membership change (join, leave, takeover, close): the generation increment,
/// then a full fence, so that whatever this process loads next (a joiner: [`join_head`]) is
/// ordered after it. The producer's [`membership_generation`] is the other half.
#[inline(always)]
pub fn announce(control: &Control) {
    control.generation.fetch_add(1, Ordering::SeqCst);
    fence(Ordering::SeqCst);
}

/// The joiner's half of the handshake, after [`activate`] and [`announce`]: the producer
/// cursor, loaded after a full fence. Every slot after it is one the producer will not rewrite
/// before it has seen the join and this consumer's cursor.
#[inline(always)]
pub fn join_head(producer: &CursorCell) -> i64 {
    fence(Ordering::SeqCst);
    producer.value.load(Ordering::SeqCst)
}

/// A clean leave: the slot stops gating (release: after every read this consumer made), then
/// the change is announced so the producer's next rescan drops the gate.
#[inline(always)]
pub fn leave(slot: &Slot, control: &Control) {
    slot.owner.store(0, Ordering::Relaxed);
    step_down(slot, control, SLOT_FREE);
}

/// The slot stops gating, ending in `state`, and the change is announced; the same orderings as
/// [`leave`]. Alone (owner word kept), it is how a join refused as lapped or evicted gives the
/// slot back as DEAD or EVICTED (SPEC.md §7.3 step 5): the id keeps its slot, so a retry is
/// refused the same way, and the closing producer reaps the slot with its cursor. Keeping the
/// owner word means a later join's owner CAS can never race the reaper's on the same value.
#[inline(always)]
pub fn step_down(slot: &Slot, control: &Control, state: u32) {
    slot.state.store(state, Ordering::Release);
    announce(control);
}

// ---- Closing (SPEC.md §7.6) ----

/// The producer's clean shutdown after publishing up to `final_sequence` (its cursor already
/// stored): the final sequence, then the CLOSED state, both release, then the announcement.
#[inline(always)]
pub fn close(control: &Control, final_sequence: i64) {
    control
        .final_sequence
        .store(final_sequence, Ordering::Release);
    control.ring_state.store(RING_CLOSED, Ordering::Release);
    announce(control);
}

/// `Some(final_sequence)` once the ring is CLOSED. Acquire on the state, so the final sequence
/// read after it is the one stored before it (and every publish before that).
#[inline(always)]
pub fn closed(control: &Control) -> Option<i64> {
    (control.ring_state.load(Ordering::Acquire) == RING_CLOSED)
        .then(|| control.final_sequence.load(Ordering::Acquire))
}
