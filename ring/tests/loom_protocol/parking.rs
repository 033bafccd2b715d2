//! A consumer killed while parked (SPEC.md §8 {R8.d}): its count in `consumers_parked` is taken
//! back exactly once, by itself on waking or by whoever claims its slot (here: the producer's
//! retirement, and a takeover), so the count ends at 0 and never wraps.
//!
//! Each test names the planted mistakes it was seen to catch (applied alone, these four tests
//! run, the code restored). Seen NOT to be caught: the marking CAS and the take-back's swap both
//! weakened to Relaxed (what orders the retirement before the parker's look is the swap's
//! release read by the CAS's acquire; loom, whose SeqCst fence stands in for the parker's
//! membarrier, finds no schedule that shows it), so they keep SeqCst as SPEC.md says.

use super::model::*;
use super::{check, owner};
use loom::thread;
use ringproof::kit::layout::registry::{park_token, SlotState};
use ringproof::kit::protocol;
use ringproof::kit::sync::{fence, Ordering};

/// How a model consumer's park ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Park {
    /// Its look found its slot ACTIVE and its own: it slept, then woke (or was killed asleep).
    Slept,
    /// Its look found its slot retired, reaped or taken over: it did not sleep.
    Refused,
}

/// `futex::wait_while_equal` as `RawConsumer::pause` calls it, for the consumer owning registry
/// slot `i` as `me`: count, mark, the heavy fence (a SeqCst fence here: the membarrier acts as
/// one on every CPU), the look at the slot (`still_blocked`), then, unless `killed_asleep` and it
/// slept, its own take-back. The sleep itself is not modelled (wake-ups always arrive).
/// Returns how it ended, whether it marked its slot, and whether its mark was still there when it
/// woke (so that it took its count back itself).
fn park(ring: &Ring, i: usize, me: u64, killed_asleep: bool) -> (Park, bool, bool) {
    let slot = &ring.members[i];
    let count = &ring.control.consumers_parked;
    let token = park_token(me);
    protocol::count_waiter(count);
    let marked = protocol::mark_parked(&slot.parked, token);
    if !marked {
        protocol::uncount_waiter(count);
    }
    fence(Ordering::SeqCst);
    let park =
        if protocol::slot_state(slot) == Some(SlotState::Active) && protocol::owner(slot) == me {
            Park::Slept
        } else {
            Park::Refused
        };
    if killed_asleep && park == Park::Slept {
        return (park, marked, false);
    }
    let own = marked && protocol::unmark_parked(&slot.parked, token);
    if own {
        protocol::uncount_waiter(count);
    }
    (park, marked, own)
}

/// `Registry::retire` of slot `i` (the verdict handed in): the state CAS, the take-back, the
/// announcement.
fn retire(ring: &Ring, i: usize) -> bool {
    let slot = &ring.members[i];
    if !protocol::retire(slot, SlotState::Dead) {
        return false;
    }
    protocol::take_back_parked(&slot.parked, &ring.control.consumers_parked);
    protocol::announce(&ring.control);
    true
}

fn assert_uncounted(ring: &Ring) {
    let count = ring.control.consumers_parked.load(Ordering::SeqCst);
    assert_ne!(count, u32::MAX, "consumers_parked wrapped below 0");
    assert_eq!(count, 0, "consumers_parked still counts a consumer");
    let marks: Vec<u32> = ring
        .members
        .iter()
        .map(|s| s.parked.load(Ordering::SeqCst))
        .collect();
    assert!(marks.iter().all(|&m| m == 0), "marks left: {marks:?}");
}

/// A consumer is killed in its sleep (its thread stops after counting, marking and looking)
/// while the producer retires its slot: if it slept, its look found the slot ACTIVE, and the
/// retirement's take-back finds its mark (the fence before the swap and the parker's heavy
/// fence form a store-buffering pair); if the retirement came first, its look refused to sleep
/// and it took its count back itself. Either way the count ends at 0.
/// Caught: the parker's look at its slot dropped (it sleeps whatever it sees: the retirement's
/// take-back ran before the mark, and the count stays 1); the owner's take-back as a store of 0
/// and an unconditional decrement instead of the CAS of its own mark (the count wraps to
/// `u32::MAX`).
#[test]
fn consumer_killed_asleep_is_uncounted_by_its_retirement() {
    check(|| {
        let ring = Ring::new(1, 1);
        ring.members[0].owner.store(owner(0), Ordering::Relaxed);
        let consumer = {
            let ring = ring.clone();
            thread::spawn(move || park(&ring, 0, owner(0), true))
        };
        assert!(retire(&ring, 0));
        consumer.join().unwrap();
        assert_uncounted(&ring);
    });
}

/// A consumer dies parked (counted and marked), and the producer, seeing it dead, retires it
/// while a second consumer parks and wakes on its own slot: the dead one's count is taken back
/// by the retirement, the live one's by itself, and neither twice.
#[test]
fn dead_parked_consumer_retired_while_another_parks() {
    check(|| {
        let ring = Ring::new(2, 2);
        ring.members[0].owner.store(owner(0), Ordering::Relaxed);
        ring.members[1].owner.store(owner(1), Ordering::Relaxed);
        let dead = {
            let ring = ring.clone();
            thread::spawn(move || park(&ring, 0, owner(0), true))
        };
        let live = {
            let ring = ring.clone();
            thread::spawn(move || park(&ring, 1, owner(1), false))
        };
        // The verdict: the dead consumer's process is gone (its thread ended).
        assert_eq!(dead.join().unwrap(), (Park::Slept, true, false));
        assert!(retire(&ring, 0));
        assert_eq!(live.join().unwrap(), (Park::Slept, true, true));
        assert_uncounted(&ring);
    });
}

/// A consumer that only looked dead (stopped past the heartbeat timeout) wakes while the
/// producer retires it: exactly one of its own take-back and the retirement's finds the mark,
/// so the count ends at 0 and never wraps to `u32::MAX` (a wake per publish again).
/// Caught: the owner's take-back as a store of 0 and an unconditional decrement instead of the
/// CAS of its own mark ("both sides decrement": the count wraps to `u32::MAX`).
#[test]
fn waking_consumer_races_its_retirement() {
    check(|| {
        let ring = Ring::new(1, 1);
        ring.members[0].owner.store(owner(0), Ordering::Relaxed);
        let consumer = {
            let ring = ring.clone();
            thread::spawn(move || park(&ring, 0, owner(0), false))
        };
        assert!(retire(&ring, 0));
        consumer.join().unwrap();
        assert_uncounted(&ring);
    });
}

/// A consumer that only looked dead wakes after a restart under its id took its ACTIVE slot
/// over (SPEC.md §7.3) and parks itself: the old owner never clears the new owner's mark (the
/// token differs), so the new owner, asleep with its mark, takes its own count back (had the old
/// owner cleared it, the new owner would sleep uncounted: no wake from the producer), and the
/// count ends at 0.
/// Caught: every owner marking with the same token (`park_token` returning 1): the old owner's
/// take-back clears the new owner's mark, and the new owner sleeps uncounted.
#[test]
fn old_owner_never_takes_back_the_new_owners_count() {
    check(|| {
        let ring = Ring::new(1, 1);
        ring.members[0].owner.store(owner(0), Ordering::Relaxed);
        let new = {
            let ring = ring.clone();
            thread::spawn(move || {
                // `Registry::join`'s takeover: the owner CAS, the take-back, a new incarnation.
                let slot = &ring.members[0];
                protocol::take_owner(slot, owner(0), owner(1)).expect("the dead owner's slot");
                protocol::take_back_parked(&slot.parked, &ring.control.consumers_parked);
                protocol::new_incarnation(slot);
                protocol::announce(&ring.control);
                park(&ring, 0, owner(1), false)
            })
        };
        park(&ring, 0, owner(0), false);
        let (park, marked, own) = new.join().unwrap();
        // (Not marked: the old owner marked first, after the takeover's take-back; the new
        // owner sleeps unannounced, and the old one, refused by its look, clears its mark.)
        if park == Park::Slept && marked {
            assert!(
                own,
                "the new owner slept counted and marked, and lost its mark"
            );
        }
        assert_uncounted(&ring);
    });
}
