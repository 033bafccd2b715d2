//! Membership: joining, leaving, closing, parking, takeovers, restarts, eviction and reaping.

use super::model::*;
use super::{check, contiguous, owner};
use loom::sync::Arc;
use loom::thread;
use ringproof::kit::layout::cursor::JOINED;
use ringproof::kit::layout::registry::{SlotState, RING_CLOSED};
use ringproof::kit::protocol;
use ringproof::kit::sync::{AtomicU64, Ordering};

/// A consumer joins while the producer publishes (no consumer before it, so the producer gates
/// only on itself until it sees the join): the joiner reads only events the producer cannot
/// overwrite before it has seen the join, from where its handshake says it starts, to the end.
/// Also caught, and only here: the fence dropped from `membership_generation` (the producer's
/// side of the store-buffering pair: the joiner reads sequence 0 from a slot already
/// rewritten); both of the joiner's fences dropped (`announce`'s and `join_head`'s; either one
/// alone suffices, so dropping one is not a bug). And `commit`, `gate_position`, `within_limit`.
#[test]
fn late_joiner_never_reads_an_overwritten_slot() {
    check(|| {
        let ring = Ring::new(1, 0);
        let joiner = {
            let ring = ring.clone();
            thread::spawn(move || {
                let mut c = Consumer::join(ring, 0);
                let start = c.next;
                c.read_through(3, 1);
                (start, c.seen)
            })
        };
        let mut p = Producer::new(ring);
        for _ in 0..4 {
            p.publish(1);
        }
        let (start, seen) = joiner.join().unwrap();
        assert!((0..=4).contains(&start), "joiner starts at {start}");
        assert_eq!(seen, contiguous(start, 3));
    });
}

/// A consumer reads one event and leaves; the producer, which it gated, then publishes past its
/// cursor (it would wait forever if the leave did not stop the gating).
/// Also caught: `leave` without `announce` (the producer never sees the leave and waits
/// forever: loom reports a deadlock, and aborts the test binary), `commit` Release->Relaxed
/// (the one read races the rewrite), `gate_position`, `within_limit`.
#[test]
fn leaving_consumer_stops_gating() {
    check(|| {
        let ring = Ring::new(1, 1);
        let consumer = {
            let ring = ring.clone();
            thread::spawn(move || {
                let mut c = Consumer::joined_before(ring, 0);
                c.read_through(0, 1);
                c.leave();
                c.seen
            })
        };
        let mut p = Producer::new(ring);
        for _ in 0..4 {
            p.publish(1);
        }
        assert_eq!(consumer.join().unwrap(), vec![0]);
        assert_eq!(p.next, 4);
    });
}

/// Clean shutdown: the producer drains (waits until its consumer consumed everything), then
/// closes; the consumer sees CLOSED only with the right final sequence and after reading all.
/// Also caught: `close` storing the state before the final sequence and `closed` loading the
/// state Relaxed (the consumer sees CLOSED with final sequence -1), `commit`, `gate_position`,
/// `within_limit`.
#[test]
fn drain_then_close_delivers_everything() {
    check(|| {
        let ring = Ring::new(1, 1);
        let consumer = {
            let ring = ring.clone();
            thread::spawn(move || {
                let mut c = Consumer::joined_before(ring, 0);
                let final_sequence = loop {
                    if c.poll(1) == 0 {
                        if let Some(f) = c.finished() {
                            break f;
                        }
                        c.wait();
                    }
                };
                (final_sequence, c.seen)
            })
        };
        let mut p = Producer::new(ring.clone());
        for _ in 0..3 {
            p.publish(1);
        }
        p.drain();
        assert_eq!(
            protocol::gate_position(&ring.cursors[0]),
            2,
            "drain returned before the consumer read everything"
        );
        p.close();
        let (final_sequence, seen) = consumer.join().unwrap();
        assert_eq!(final_sequence, 2);
        assert_eq!(seen, contiguous(0, 2));
    });
}

/// Close without a drain: the consumer still reads everything published before the close, and
/// only then sees CLOSED, with the producer's last sequence as the final one.
/// Also caught: `close` storing the state before the final sequence (the consumer stops at -1),
/// `closed` loading the state Relaxed.
#[test]
fn close_lets_consumers_drain_what_is_left() {
    check(|| {
        let ring = Ring::new(1, 1);
        let consumer = {
            let ring = ring.clone();
            thread::spawn(move || {
                let mut c = Consumer::joined_before(ring, 0);
                let final_sequence = loop {
                    if c.poll(CAPACITY) == 0 {
                        if let Some(f) = c.finished() {
                            break f;
                        }
                        c.wait();
                    }
                };
                (final_sequence, c.seen)
            })
        };
        let mut p = Producer::new(ring);
        p.publish(1);
        p.publish(1);
        p.close();
        let (final_sequence, seen) = consumer.join().unwrap();
        assert_eq!(final_sequence, 1);
        assert_eq!(seen, contiguous(0, 1));
    });
}

/// The blocking pair's Dekker handshake (SPEC.md §8) with the consumers' wake word where R8.c
/// puts it: the registry control block's `consumers_parked`, not the producer cursor's line.
/// The waker stores the cursor and loads the wake word; the waiter increments the wake word,
/// fences and loads the cursor. It never happens that the waiter goes to sleep on the old value
/// while the waker read no parked consumer (a lost wake-up). The waiter's
/// `membarrier(GLOBAL_EXPEDITED)` runs a full barrier on the waker's CPU between its store and
/// its load; loom cannot place an interrupt, so the model puts a SeqCst fence at that point of
/// the waker (where the real code has its compiler barrier) and one after the waiter's
/// increment (the membarrier's own).
/// Caught: the waker's fence removed (loom: "lost wake-up"; the waiter sleeps while the waker
/// saw 0), which is why the real waker may drop it only because the waiter's membarrier puts it
/// back.
#[test]
fn parked_consumer_announced_in_the_registry_is_always_woken() {
    use ringproof::kit::sync::fence;
    check(|| {
        let ring = Ring::new(1, 1);
        let waker = {
            let ring = ring.clone();
            thread::spawn(move || {
                protocol::publish(&ring.producer, 0);
                fence(Ordering::SeqCst);
                ring.control.consumers_parked.load(Ordering::Relaxed) != 0
            })
        };
        ring.control.consumers_parked.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let sleeps = ring.producer.value.load(Ordering::SeqCst) == -1;
        let woke = waker.join().unwrap();
        ring.control.consumers_parked.fetch_sub(1, Ordering::SeqCst);
        assert!(
            !sleeps || woke,
            "lost wake-up: the waiter sleeps on -1 and the waker saw no parked consumer"
        );
    });
}

/// Two consumers race for the ring's one free registry slot (SPEC.md §7.3 step 4; under the
/// join lock only one joiner runs, but the claim must hold without it too: a joiner that
/// ignores the lock, or a slot freed by a reap while a joiner looks): exactly one claims it,
/// and the slot ends ACTIVE with the winner's owner word and id, never a mix.
/// Caught: `claim_free` as a load of FREE followed by a store of CLAIMING instead of one CAS
/// (both joiners win; loom finds the interleaving in which both load FREE).
#[test]
fn two_joiners_race_for_one_free_slot() {
    check(|| {
        let ring = Ring::new(1, 0);
        let joiners: Vec<_> = (0..2)
            .map(|me| {
                let ring = ring.clone();
                thread::spawn(move || {
                    let slot = &ring.members[0];
                    if !protocol::claim_free(slot) {
                        return false;
                    }
                    let id: &[u8] = if me == 0 { b"a" } else { b"bb" };
                    // SAFETY: the claim above won the slot.
                    unsafe { protocol::fill_claimed(slot, id, owner(me), 0, 0, 0) };
                    protocol::activate(slot);
                    protocol::announce(&ring.control);
                    true
                })
            })
            .collect();
        let won: Vec<bool> = joiners.into_iter().map(|j| j.join().unwrap()).collect();
        assert_eq!(won.iter().filter(|&&w| w).count(), 1, "winners: {won:?}");
        let winner = won.iter().position(|&w| w).unwrap();
        let slot = &ring.members[0];
        assert_eq!(protocol::slot_state(slot), Some(SlotState::Active));
        assert_eq!(protocol::owner(slot), owner(winner));
        assert_eq!(protocol::id_len(slot), winner + 1);
        assert_eq!(protocol::incarnation(slot), 1);
    });
}

/// A restarted consumer takes its slot over from a dead incarnation (SPEC.md §7.3 step 5) that
/// may have died anywhere in its handshake: the takeover resumes from the cursor only if the
/// join completed (`joined` = JOINED), and then it sees the position that join committed, never
/// the value the cursor held before.
/// Caught: `mark_joined` Release->Relaxed (the restart reads JOINED and the stale position -1).
#[test]
fn takeover_resumes_only_from_a_completed_join() {
    check(|| {
        let ring = Ring::new(1, 1);
        ring.members[0].owner.store(owner(0), Ordering::Relaxed);
        let first = {
            let ring = ring.clone();
            thread::spawn(move || {
                // The first incarnation's handshake end: commit where it resumes, then JOINED.
                protocol::commit(&ring.cursors[0], 3);
                protocol::mark_joined(&ring.cursors[0]);
            })
        };
        let slot = &ring.members[0];
        protocol::take_owner(slot, owner(0), owner(1)).expect("the dead owner's slot");
        protocol::new_incarnation(slot);
        let cell = &ring.cursors[0];
        if protocol::join_state(cell) == JOINED {
            assert_eq!(
                protocol::position(cell),
                3,
                "a JOINED cursor resumes from what its join committed"
            );
        }
        first.join().unwrap();
    });
}

/// Two processes restart a ring whose producer died after half closing it (SPEC.md §7.9):
/// exactly one takes the ownership over, counts the start and reopens the ring.
/// Caught: `take_over_producer` as a load of the dead owner followed by a store instead of one
/// CAS (both restarts win and the ring counts three starts).
#[test]
fn restarts_race_for_a_dead_producer() {
    check(|| {
        let ring = Ring::new(1, 0);
        let c = &ring.control;
        c.producer_owner.store(owner(9), Ordering::Relaxed);
        c.final_sequence.store(4, Ordering::Relaxed);
        c.ring_state.store(RING_CLOSED, Ordering::Relaxed);
        let restarts: Vec<_> = (0..2)
            .map(|me| {
                let ring = ring.clone();
                thread::spawn(move || {
                    let c = &ring.control;
                    if protocol::take_over_producer(c, owner(9), owner(me)).is_err() {
                        return false;
                    }
                    protocol::record_producer(c, 0, 0, 0);
                    protocol::announce(c);
                    protocol::count_producer_start(c);
                    protocol::reopen(c);
                    true
                })
            })
            .collect();
        let won: Vec<bool> = restarts.into_iter().map(|j| j.join().unwrap()).collect();
        assert_eq!(won.iter().filter(|&&w| w).count(), 1, "winners: {won:?}");
        let winner = won.iter().position(|&w| w).unwrap();
        assert_eq!(protocol::producer_owner(c), owner(winner));
        assert_eq!(c.producer_starts.load(Ordering::Relaxed), 2);
        assert_eq!(protocol::closed(c), None);
    });
}

/// Eviction (SPEC.md §7.10): the producer retires a gating consumer and rewrites a slot it had
/// not consumed; the consumer, reading that slot meanwhile, either sees the old event intact or
/// sees itself evicted when it checks its standing after reading. The slot's two words are
/// relaxed atomics here (the real slot is plain memory the consumer may read while it is
/// rewritten, which loom's cells would report as a race): what is checked is the pairing of the
/// producer's `evictions_before_rewrites` with the consumer's `state_after_read`.
/// Caught: the fence dropped from `state_after_read` (the consumer reads a rewritten word and
/// still sees ACTIVE). Not caught: the fence dropped from `evictions_before_rewrites`, since the
/// `announce` after the retirement (as in `Registry::retire`) ends in a SeqCst fence that
/// releases it too; the named fence stays, so that the pairing does not hang on that.
#[test]
fn evicted_consumer_never_trusts_a_rewritten_slot() {
    check(|| {
        let ring = Ring::new(1, 1);
        ring.members[0].incarnation.store(1, Ordering::Relaxed);
        let words = Arc::new([AtomicU64::new(event(0)[0]), AtomicU64::new(event(0)[1])]);
        let producer = {
            let (ring, words) = (ring.clone(), words.clone());
            thread::spawn(move || {
                // `check_liveness`: the verdict on the incarnation it gated on, then the fence,
                // then the rewrite of the slot (sequence 2 on a ring of two).
                let slot = &ring.members[0];
                if protocol::incarnation(slot) == 1 && protocol::retire(slot, SlotState::Evicted) {
                    protocol::announce(&ring.control);
                    protocol::evictions_before_rewrites();
                    words[0].store(event(2)[0], Ordering::Relaxed);
                    words[1].store(event(2)[1], Ordering::Relaxed);
                }
            })
        };
        let got = [
            words[0].load(Ordering::Relaxed),
            words[1].load(Ordering::Relaxed),
        ];
        match protocol::state_after_read(&ring.members[0]) {
            Some(SlotState::Active) => {
                assert_eq!(got, event(0), "read a rewritten slot and still ACTIVE")
            }
            state => assert_eq!(state, Some(SlotState::Evicted)),
        }
        producer.join().unwrap();
    });
}

/// Closing (SPEC.md §7.6): the closing producer reaps the ACTIVE slot of a consumer whose owner
/// died while a restart of that consumer takes the slot over (`Join::TakeOver`). Exactly one of
/// them gets it: either the slot is FREE with no owner (and the restart looks again), or it is
/// still ACTIVE and the restart's, never freed under the restart. The reaper judges an ACTIVE
/// slot by its owner's liveness, as `Registry::reap_dead` does; here only the dead owner's word
/// is dead.
/// Caught: `reap_claim` as an unconditional store of 0 (both win: the slot ends ACTIVE with no
/// owner under a consumer that believes it gates).
/// Seen, and not modelled as a passing test: `reap_dead` frees a DEAD slot whatever its owner
/// word, so a re-join of a DEAD slot between its owner CAS and its `activate` can be reaped
/// under it (the reaper reads the re-joiner's own word and swaps it out). Only a closing ring is
/// affected, and the re-joiner's standing check then fails (owner word 0 is not its own).
#[test]
fn reap_at_close_races_a_takeover() {
    check(|| {
        let ring = Ring::new(1, 1);
        let slot = &ring.members[0];
        slot.owner.store(owner(0), Ordering::Relaxed);
        let reaper = {
            let ring = ring.clone();
            thread::spawn(move || {
                // `Registry::reap_dead` after `protocol::close`.
                protocol::close(&ring.control, -1);
                let slot = &ring.members[0];
                let was = protocol::owner(slot);
                let dead = was == owner(0);
                if protocol::slot_state(slot) != Some(SlotState::Active)
                    || !dead
                    || !protocol::reap_claim(slot, was)
                {
                    return false;
                }
                protocol::free(slot);
                protocol::announce(&ring.control);
                true
            })
        };
        // `Registry::join`'s takeover of its ACTIVE slot whose owner died.
        let was = protocol::owner(slot);
        let took = protocol::slot_state(slot) == Some(SlotState::Active)
            && was != 0
            && protocol::take_owner(slot, was, owner(1)).is_ok();
        if took {
            protocol::new_incarnation(slot);
            protocol::announce(&ring.control);
        }
        let reaped = reaper.join().unwrap();
        assert!(!(took && reaped), "the slot was both reaped and taken over");
        match (took, protocol::slot_state(slot), protocol::owner(slot)) {
            (true, Some(SlotState::Active), o) => assert_eq!(o, owner(1)),
            (false, Some(SlotState::Free), 0) => assert!(reaped),
            other => panic!("inconsistent slot after reap and takeover: {other:?}"),
        }
    });
}
