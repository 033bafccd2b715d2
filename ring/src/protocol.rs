//! The protocol's memory-ordering core: every load, store, read-modify-write and fence that
//! makes a slot safe to read or to rewrite, or a registry slot safe to take, in small functions
//! over the shared-memory words themselves. Each function says which other function it pairs
//! with; no other file of the crate picks a memory ordering for a protocol word.
//!
//! [`crate::producer`], [`crate::consumer`] and [`crate::registry`] call these functions; the
//! loom tests (`ring/tests/loom_protocol/`, built with `--cfg loom`) call the very same ones,
//! with threads standing in for processes, so the orderings loom checks are the orderings that
//! run. Each function is `#[inline(always)]` and compiles to the single access (or fence) it
//! names: the hot path is unchanged by going through here.
//!
//! What lives elsewhere: how a word is reached (a mapped segment, [`crate::cursor`]), waking
//! sleepers ([`crate::futex`], after [`publish`] and [`commit`]), when a consumer is judged dead
//! or stalled ([`crate::liveness`]). SPEC.md §7 is the contract; its "Model checking"
//! subsection lists what the loom tests verify.
//!
//! Words outside this file's reach, each for a stated reason: heartbeats, start times and pid
//! namespaces (`Relaxed`: advisory, read only to judge liveness, never to hand data over), the
//! epoch (written once, before the segment is linked into place), counters (single-writer
//! statistics), and the images written at creation (invisible until linked).

use crate::layout::cursor::{CursorCell, JOINED};
use crate::layout::registry::{Control, Slot, SlotState, RING_CLOSED, RING_OPEN, ROLE_CONSUMER};
use crate::sync::{fence, AtomicI64, AtomicU32, Ordering};

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
    slot_state(slot) == Some(SlotState::Active)
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
    slot.state
        .store(SlotState::Active.word(), Ordering::Release);
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
    release_owner(slot);
    step_down(slot, control, SlotState::Free);
}

/// A leaver gives its owner word up. Relaxed: the FREE store that follows ([`step_down`]) is
/// the release that publishes it.
#[inline(always)]
pub fn release_owner(slot: &Slot) {
    slot.owner.store(0, Ordering::Relaxed);
}

/// The slot stops gating, ending in `state`, and the change is announced; the same orderings as
/// [`leave`]. Alone (owner word kept), it is how a join refused as lapped or evicted gives the
/// slot back as DEAD or EVICTED (SPEC.md §7.3 step 5): the id keeps its slot, so a retry is
/// refused the same way, and the closing producer reaps the slot with its cursor. Keeping the
/// owner word means a later join's owner CAS can never race the reaper's on the same value.
#[inline(always)]
pub fn step_down(slot: &Slot, control: &Control, state: SlotState) {
    slot.state.store(state.word(), Ordering::Release);
    announce(control);
}

/// The generation as an observer reads it (no fence: not a rescan). Acquire: pairs with
/// [`announce`], so the change it counts is visible.
#[inline(always)]
pub fn generation(control: &Control) -> u64 {
    control.generation.load(Ordering::Acquire)
}

// ---- Registry slots: joining, takeover, retirement, reaping (SPEC.md §7.3, §7.6, §7.10) ----

/// Slot `slot`'s state; `None` for a word no participant writes (corrupt or foreign: it gates
/// nothing and holds no id). Acquire: pairs with every store and read-modify-write of the state
/// ([`activate`], [`step_down`], [`claim_free`], [`retire`], [`free`]), so what its writer did
/// before (the id, the owner word, the cursor) is visible.
#[inline(always)]
pub fn slot_state(slot: &Slot) -> Option<SlotState> {
    SlotState::decode(slot_word(slot))
}

/// Slot `slot`'s state word as it is on the wire (for tools that show raw words); the same
/// acquire load as [`slot_state`].
#[inline(always)]
pub fn slot_word(slot: &Slot) -> u32 {
    slot.state.load(Ordering::Acquire)
}

/// A fresh join's claim of a free slot: FREE -> CLAIMING. Exactly one of any number of
/// joiners racing for the slot wins (the CAS); CLAIMING gives the winner sole ownership of the
/// slot's id bytes until [`activate`]. Acquire on success: pairs with [`free`], so the reaper's
/// last reads of the slot (its id) happen before the winner rewrites it.
#[inline(always)]
pub fn claim_free(slot: &Slot) -> bool {
    slot.state
        .compare_exchange(
            SlotState::Free.word(),
            SlotState::Claiming.word(),
            Ordering::AcqRel,
            Ordering::Relaxed,
        )
        .is_ok()
}

/// Fills in a slot claimed by [`claim_free`] for consumer `id` owned by `owner`: the id bytes,
/// then their length (release: pairs with [`id_len`], so a reader that sees the length sees the
/// bytes), the role and owner, the liveness words, and a new incarnation ([`new_incarnation`]).
/// Nothing here gates yet: the joiner's cursor is written next, and [`activate`] publishes it
/// all.
///
/// # Safety
/// The caller holds the slot in CLAIMING (its [`claim_free`] succeeded): no other process
/// writes the id bytes meanwhile. `id` is at most [`MAX_ID_LEN`](crate::layout::registry::MAX_ID_LEN) bytes.
#[inline]
pub unsafe fn fill_claimed(
    slot: &Slot,
    id: &[u8],
    owner: u64,
    start_time: u64,
    heartbeat: u64,
    pid_ns: u64,
) {
    // SAFETY: CLAIMING gives this process sole ownership of the id bytes (caller's contract).
    let bytes = unsafe { &mut *slot.id.get() };
    bytes.fill(0);
    bytes[..id.len()].copy_from_slice(id);
    slot.id_len.store(id.len() as u32, Ordering::Release);
    slot.role.store(ROLE_CONSUMER, Ordering::Relaxed);
    slot.owner.store(owner, Ordering::Relaxed);
    record_owner(slot, start_time, heartbeat, pid_ns);
    new_incarnation(slot);
}

/// The liveness words of a slot's (new) owner. Relaxed: advisory, read only to judge whether
/// the owner runs, and published with the slot by [`activate`] or the owner CAS.
#[inline(always)]
pub fn record_owner(slot: &Slot, start_time: u64, heartbeat: u64, pid_ns: u64) {
    slot.start_time.store(start_time, Ordering::Relaxed);
    slot.heartbeat.store(heartbeat, Ordering::Relaxed);
    slot.pid_ns.store(pid_ns, Ordering::Relaxed);
}

/// Counts a new incarnation of the slot (a join, a takeover, a re-join). AcqRel: the producer's
/// [`retire`] compares the incarnation it gated on with [`incarnation`], so a verdict on an
/// earlier incarnation never retires this one.
#[inline(always)]
pub fn new_incarnation(slot: &Slot) {
    slot.incarnation.fetch_add(1, Ordering::AcqRel);
}

/// The slot's incarnation. Acquire: pairs with [`new_incarnation`].
#[inline(always)]
pub fn incarnation(slot: &Slot) -> u64 {
    slot.incarnation.load(Ordering::Acquire)
}

/// Length of the slot's id. Acquire: pairs with [`fill_claimed`]'s release store, so the id
/// bytes read after it are the ones stored before it (a concurrent claimer can only make them
/// stale, never torn beyond what the length check rejects).
#[inline(always)]
pub fn id_len(slot: &Slot) -> usize {
    slot.id_len.load(Ordering::Acquire) as usize
}

/// The slot's owner word (pid and start time). Acquire: pairs with [`take_owner`] and
/// [`reap_claim`], so the liveness words the new owner stored are visible.
#[inline(always)]
pub fn owner(slot: &Slot) -> u64 {
    slot.owner.load(Ordering::Acquire)
}

/// Takes slot `slot` from its previous owner `was` (dead, or this very process re-joining):
/// a consumer's takeover or re-join. The CAS decides races with the closing producer's
/// [`reap_claim`] (owner to 0) and with any other joiner: exactly one wins. `Err(now)`: the
/// owner word changed first. AcqRel: acquires what the previous owner published (its cursor's
/// `joined` word, read next by the takeover), releases the liveness words stored before it.
#[inline(always)]
pub fn take_owner(slot: &Slot, was: u64, me: u64) -> Result<(), u64> {
    slot.owner
        .compare_exchange(was, me, Ordering::AcqRel, Ordering::Acquire)
        .map(drop)
}

/// The producer's verdict on a gating consumer: ACTIVE -> `to` (DEAD or EVICTED), only if the
/// slot is still ACTIVE. Returns whether it moved. AcqRel; the producer then [`announce`]s the
/// change and, before rewriting any slot the consumer may not have read, runs
/// [`evictions_before_rewrites`].
#[inline(always)]
pub fn retire(slot: &Slot, to: SlotState) -> bool {
    slot.state
        .compare_exchange(
            SlotState::Active.word(),
            to.word(),
            Ordering::AcqRel,
            Ordering::Relaxed,
        )
        .is_ok()
}

/// The producer's eviction fence, after one or more [`retire`]s and before it rewrites a slot
/// the retired consumer had not consumed. Release: pairs with the consumer's
/// [`state_after_read`], whose acquire fence follows its reads of the slot. A consumer that read
/// a byte this producer wrote after the fence then sees its slot retired, and discards what it
/// read (SPEC.md §7.10).
#[inline(always)]
pub fn evictions_before_rewrites() {
    fence(Ordering::Release);
}

/// The closing producer's claim of a dead consumer's slot for reaping: owner `was` -> 0. The CAS
/// races a restart of that consumer taking its slot over ([`take_owner`]): exactly one wins.
/// AcqRel: acquires the id the slot holds (read next, to remove the cursor).
#[inline(always)]
pub fn reap_claim(slot: &Slot, was: u64) -> bool {
    slot.owner
        .compare_exchange(was, 0, Ordering::AcqRel, Ordering::Relaxed)
        .is_ok()
}

/// Ends a reap: the slot is FREE again. Release: pairs with [`claim_free`]'s acquire, so the
/// reaper's reads of the slot happen before the next joiner rewrites it.
#[inline(always)]
pub fn free(slot: &Slot) {
    slot.state.store(SlotState::Free.word(), Ordering::Release);
}

// ---- The consumer cursor's join handshake (SPEC.md §7.3 steps 3-5) ----

/// The consumer's own cursor value at attach (what it resumes from). Acquire: pairs with
/// [`commit`] and [`reset_stale`] by an earlier incarnation under the same id.
#[inline(always)]
pub fn position(cursor: &CursorCell) -> i64 {
    cursor.value.load(Ordering::Acquire)
}

/// The ring epoch a cursor was written for (0: a disruptor-mp cursor). Acquire: pairs with
/// [`reset_stale`].
#[inline(always)]
pub fn cursor_epoch(cursor: &CursorCell) -> u64 {
    cursor.epoch.load(Ordering::Acquire)
}

/// A cursor left by an earlier ring under this name: its value means nothing here, so it
/// starts at `head` and is marked as this ring's (`epoch`). Release, both: pairs with
/// [`position`] and [`cursor_epoch`].
#[inline(always)]
pub fn reset_stale(cursor: &CursorCell, head: i64, epoch: u64) {
    cursor.value.store(head, Ordering::Release);
    cursor.epoch.store(epoch, Ordering::Release);
}

/// Marks the cursor as joining (`JOINING` or `REJOINING`) once the slot is the joiner's and
/// before it gates. Relaxed: [`activate`] (release) publishes it with the slot.
#[inline(always)]
pub fn mark_joining(cursor: &CursorCell, joining: u32) {
    cursor.joined.store(joining, Ordering::Relaxed);
}

/// The handshake's end, after the joiner [`commit`]ted where it resumes: the cursor is
/// `JOINED`. Release: pairs with [`join_state`], so a later takeover that sees `JOINED` also
/// sees the committed position it resumes from.
#[inline(always)]
pub fn mark_joined(cursor: &CursorCell) {
    cursor.joined.store(JOINED, Ordering::Release);
}

/// Whether the cursor's join completed (`JOINED`), or which one was under way. Read by a
/// takeover, after its [`take_owner`]. Acquire: pairs with [`mark_joined`].
#[inline(always)]
pub fn join_state(cursor: &CursorCell) -> u32 {
    cursor.joined.load(Ordering::Acquire)
}

/// Counts one more ready consumer in a disruptor-mp producer's readiness counter (SPEC.md
/// §10.1). AcqRel: several consumers count at once, and the producer acquires the count.
#[inline(always)]
pub fn count_ready(counter: &CursorCell) {
    counter.value.fetch_add(1, Ordering::AcqRel);
}

// ---- The consumer's standing (SPEC.md §7.10) ----

/// The consumer's check, after reading slots and before committing them, that its registry
/// slot still gates the producer: an acquire fence, then the state. Pairs with the producer's
/// [`evictions_before_rewrites`]: if any byte read before the fence was written after the
/// producer's fence, this load sees the retirement. `Some(Active)`: what was read is intact.
#[inline(always)]
pub fn state_after_read(slot: &Slot) -> Option<SlotState> {
    fence(Ordering::Acquire);
    slot_state(slot)
}

// ---- Waiting (SPEC.md §8) ----

/// Whether a waiter's word still holds `observed`, re-checked right before it parks (a spin
/// hint or futex sleep, not a data hand-off). Acquire: pairs with [`publish`] / [`commit`],
/// like every other read of a cursor.
#[inline(always)]
pub fn still_at(word: &AtomicI64, observed: i64) -> bool {
    word.load(Ordering::Acquire) == observed
}

/// A waiter announces itself in its wake word before it parks (SPEC.md §8 {R8.1}). SeqCst RMW:
/// the first half of the waiter's side of the Dekker pair with the waker's load of the word
/// (the heavy fence follows, in `futex::wait_while_equal`).
#[inline(always)]
pub fn count_waiter(wake_word: &AtomicU32) {
    wake_word.fetch_add(1, Ordering::SeqCst);
}

/// A waiter takes its announcement back ({R8.4}). SeqCst RMW, as [`count_waiter`].
#[inline(always)]
pub fn uncount_waiter(wake_word: &AtomicU32) {
    wake_word.fetch_sub(1, Ordering::SeqCst);
}

/// A consumer with a registry slot, right after [`count_waiter`] on `consumers_parked`, records
/// in its slot's `parked` word that it holds one count ({R8.d}): CAS 0 -> `token` (its
/// [`park_token`](crate::layout::registry::park_token)). `false`: the word holds another
/// owner's mark (this consumer lost its slot meanwhile): it takes its count back itself and
/// sleeps unannounced. Then (after the heavy fence) it looks at its slot's state and owner, and
/// sleeps only if the slot is still ACTIVE and its own. Pairs with [`take_back_parked`]'s swap:
/// the two are read-modify-writes of one word, so one comes first. If the swap does, this CAS
/// reads its 0 and acquires the claim sequenced before it (the look then sees the slot retired,
/// reaped or taken over, and the consumer does not sleep); if this CAS does, the swap finds the
/// mark. Acquire on success is what it needs; SeqCst, like every wake-word RMW of SPEC.md §8.
#[inline(always)]
pub fn mark_parked(mark: &AtomicU32, token: u32) -> bool {
    mark.compare_exchange(0, token, Ordering::SeqCst, Ordering::Relaxed)
        .is_ok()
}

/// Whether a slot holds a park mark: its owner counted itself in `consumers_parked` and has not
/// taken the count back (SPEC.md §8 {R8.d}). Relaxed: only a hint of whom to judge (the producer's
/// look from its wake path); the retirement that follows takes the mark back by its own swap.
#[inline(always)]
pub fn holds_park_mark(slot: &Slot) -> bool {
    slot.parked.load(Ordering::Relaxed) != 0
}

/// The parked consumer, awake again, clears its own mark: CAS `token` -> 0. `true`: the mark was
/// still there, and the consumer takes its count back ([`uncount_waiter`]); `false`: someone who
/// retired, reaped or took over its slot already did ([`take_back_parked`]), and taking it back
/// again would underflow the count. SeqCst, as [`mark_parked`].
#[inline(always)]
pub fn unmark_parked(mark: &AtomicU32, token: u32) -> bool {
    mark.compare_exchange(token, 0, Ordering::SeqCst, Ordering::Relaxed)
        .is_ok()
}

/// Whoever claims a slot from its owner (the producer's [`retire`], the closing producer's
/// [`reap_claim`], a joiner's [`take_owner`] or [`claim_free`]), right after the claim: takes
/// back the count of a consumer that parked in the slot and may never wake to take it back
/// itself (SPEC.md §8 {R8.d}). One swap of the mark to 0: exactly one of this swap and the
/// owner's [`unmark_parked`] finds the mark, and only that one decrements `count`. Release is
/// what the swap needs (a parker whose [`mark_parked`]
/// reads its 0 acquires the claim before it); SeqCst, as [`mark_parked`].
#[inline(always)]
pub fn take_back_parked(mark: &AtomicU32, count: &AtomicU32) {
    if mark.swap(0, Ordering::SeqCst) != 0 {
        uncount_waiter(count);
    }
}

/// A restarted producer (SPEC.md §7.9), having taken the ring over from its dead predecessor,
/// zeroes the wake word of a consumer cursor it gates on: only the ring's one producer parks
/// there, so whatever the word holds is the dead producer's announcement that it will never
/// take back. Relaxed: the consumer's load of the word after each commit is relaxed too, and
/// the worst a stale read costs is one more `FUTEX_WAKE`.
#[inline(always)]
pub fn reset_waiters(cursor: &CursorCell) {
    cursor.waiters.store(0, Ordering::Relaxed);
}

// ---- The producer's ownership (SPEC.md §7.9) ----

/// The producer's owner word. Acquire: pairs with [`take_over_producer`].
#[inline(always)]
pub fn producer_owner(control: &Control) -> u64 {
    control.producer_owner.load(Ordering::Acquire)
}

/// A restart's claim of the ring from its dead producer `was`. Exactly one of several
/// restarters wins (the CAS); `Err(now)` names who did. AcqRel: acquires what the dead producer
/// published; the winner then records its liveness words ([`record_producer`]) and announces.
#[inline(always)]
pub fn take_over_producer(control: &Control, was: u64, me: u64) -> Result<(), u64> {
    control
        .producer_owner
        .compare_exchange(was, me, Ordering::AcqRel, Ordering::Acquire)
        .map(drop)
}

/// The producer's liveness words after a takeover. Relaxed: advisory, as [`record_owner`].
#[inline(always)]
pub fn record_producer(control: &Control, start_time: u64, heartbeat: u64, pid_ns: u64) {
    control
        .producer_start_time
        .store(start_time, Ordering::Relaxed);
    control
        .producer_heartbeat
        .store(heartbeat, Ordering::Relaxed);
    control.producer_pid_ns.store(pid_ns, Ordering::Relaxed);
}

/// Counts a producer start (a restart that got as far as validating the ring); returns the new
/// count. AcqRel: an observer that sees the count sees the restart's stores before it.
#[inline(always)]
pub fn count_producer_start(control: &Control) -> u64 {
    control.producer_starts.fetch_add(1, Ordering::AcqRel) + 1
}

/// A restarted producer reopens a ring its predecessor may have half closed: no final
/// sequence, then OPEN. Release, both: pairs with [`closed`].
#[inline(always)]
pub fn reopen(control: &Control) {
    control.final_sequence.store(-1, Ordering::Release);
    control.ring_state.store(RING_OPEN, Ordering::Release);
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
