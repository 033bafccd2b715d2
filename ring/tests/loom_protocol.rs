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
//! dir; once built, 28 s of wall-clock model checking for the 14 tests at load 5 to 7 (74 s at
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
//! The last five tests model the registry: two joiners racing for a free slot, a takeover
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

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::Notify;
use loom::thread;
use ringproof::kit::layout::cursor::CursorCell;
use ringproof::kit::layout::cursor::{JOINED, JOINING};
use ringproof::kit::layout::registry::{
    Control, Slot, SlotState, MAX_ID_LEN, RING_CLOSED, RING_OPEN, ROLE_CONSUMER,
};
use ringproof::kit::protocol;
use ringproof::kit::sync::{AtomicI64, AtomicU32, AtomicU64, Ordering};

/// Two slots: every test wraps the ring at least once.
const CAPACITY: usize = 2;

/// An event as the producer writes it: its sequence and a checksum of it.
type Event = [u64; 2];

fn event(seq: i64) -> Event {
    [
        seq as u64,
        (seq as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xA5A5_A5A5,
    ]
}

fn cursor_cell(value: i64) -> CursorCell {
    CursorCell {
        value: AtomicI64::new(value),
        waiters: AtomicU32::new(0),
        joined: AtomicU32::new(0),
        epoch: AtomicU64::new(1),
        padding: [0; 40],
    }
}

fn registry_slot(state: SlotState) -> Slot {
    Slot {
        state: AtomicU32::new(state.word()),
        role: AtomicU32::new(ROLE_CONSUMER),
        owner: AtomicU64::new(0),
        start_time: AtomicU64::new(0),
        heartbeat: AtomicU64::new(0),
        incarnation: AtomicU64::new(0),
        id_len: AtomicU32::new(0),
        reserved: 0,
        id: core::cell::UnsafeCell::new([0; MAX_ID_LEN]),
        pid_ns: AtomicU64::new(0),
        padding: [0; 24],
    }
}

/// One ring: registry control block and slots, producer cursor, consumer cursors, event slots.
struct Ring {
    control: Control,
    producer: CursorCell,
    members: Vec<Slot>,
    cursors: Vec<CursorCell>,
    slots: Vec<UnsafeCell<Event>>,
    /// Wake-ups standing in for the futex (SPEC.md §8): index 0 the producer, 1 + i consumer i.
    /// A waiting side blocks instead of spinning, so loom never explores schedules in which a
    /// spinning thread starves the one it waits for.
    wakeups: Vec<Notify>,
}

// SAFETY: the registry slots' id bytes (the only non-atomic registry field, which makes `Slot`
// not `Sync`) are written only by a joiner whose `claim_free` won the slot, and loom runs its
// threads one at a time on one OS thread; the event slots are loom cells whose every access
// loom checks for races.
unsafe impl Sync for Ring {}

impl Ring {
    /// A ring with `consumers` registry slots: the first `active` already joined (cursor -1,
    /// as before the first publish), the others free.
    fn new(consumers: usize, active: usize) -> Arc<Ring> {
        Arc::new(Ring {
            control: Control {
                epoch: AtomicU64::new(1),
                generation: AtomicU64::new(0),
                ring_state: AtomicU32::new(RING_OPEN),
                reserved: 0,
                final_sequence: AtomicI64::new(-1),
                producer_owner: AtomicU64::new(0),
                producer_start_time: AtomicU64::new(0),
                producer_heartbeat: AtomicU64::new(0),
                producer_starts: AtomicU64::new(1),
                producer_pid_ns: AtomicU64::new(0),
                consumers_parked: AtomicU32::new(0),
                padding: [0; 52],
            },
            producer: cursor_cell(-1),
            members: (0..consumers)
                .map(|i| {
                    registry_slot(if i < active {
                        SlotState::Active
                    } else {
                        SlotState::Free
                    })
                })
                .collect(),
            cursors: (0..consumers).map(|_| cursor_cell(-1)).collect(),
            slots: (0..CAPACITY).map(|_| UnsafeCell::new([0, 0])).collect(),
            wakeups: (0..=consumers).map(|_| Notify::new()).collect(),
        })
    }

    /// Wakes the producer (after a commit or a leave: `futex::wake_if_waiting`).
    fn wake_producer(&self) {
        self.wakeups[0].notify();
    }

    /// Wakes every consumer (after a publish or the close).
    fn wake_consumers(&self) {
        self.wakeups[1..].iter().for_each(Notify::notify);
    }

    fn slot(&self, seq: i64) -> &UnsafeCell<Event> {
        &self.slots[(seq as usize) % CAPACITY]
    }
}

/// `RawProducer`'s protocol: a cached limit, rescanned only when a claim passes it.
struct Producer {
    ring: Arc<Ring>,
    next: i64,
    limit: i64,
    seen_generation: u64,
    gates: Vec<usize>,
}

impl Producer {
    fn new(ring: Arc<Ring>) -> Producer {
        // As `RawProducer::assemble`: limit = last published, then one rescan.
        let mut p = Producer {
            ring,
            next: 0,
            limit: -1,
            seen_generation: u64::MAX,
            gates: Vec::new(),
        };
        p.rescan();
        p
    }

    /// `RawProducer::rescan` + `refresh_gates`: fence, generation, membership, minimum.
    fn rescan(&mut self) {
        let generation = protocol::membership_generation(&self.ring.control);
        if generation != self.seen_generation {
            self.gates = (0..self.ring.members.len())
                .filter(|&i| protocol::is_gating(&self.ring.members[i]))
                .collect();
            self.seen_generation = generation;
        }
        let ring = &self.ring;
        self.limit = protocol::limit(
            self.gates
                .iter()
                .map(|&i| protocol::gate_position(&ring.cursors[i])),
            self.next - 1,
            CAPACITY,
        );
    }

    /// `RawProducer::wait_until_limit`.
    fn wait_until(&mut self, target: i64) {
        loop {
            self.rescan();
            if protocol::within_limit(target, self.limit) {
                return;
            }
            self.ring.wakeups[0].wait();
        }
    }

    /// `publish_batch`: check the cached limit, write `n` slots, one release store.
    fn publish(&mut self, n: usize) {
        let last = self.next + n as i64 - 1;
        if !protocol::within_limit(last, self.limit) {
            self.wait_until(last);
        }
        for seq in self.next..=last {
            // SAFETY (model): gating says no consumer reads this slot now; loom checks it.
            self.ring.slot(seq).with_mut(|p| unsafe { *p = event(seq) });
        }
        protocol::publish(&self.ring.producer, last);
        self.ring.wake_consumers();
        self.next = last + 1;
    }

    /// `RawProducer::drain`: until every gate consumed everything published.
    fn drain(&mut self) {
        self.wait_until(self.next - 1 + CAPACITY as i64);
    }

    /// `Drop for RawProducer`: close after the last published sequence.
    fn close(&self) {
        protocol::close(&self.ring.control, self.next - 1);
        self.ring.wake_consumers();
    }
}

/// `RawConsumer`'s protocol.
struct Consumer {
    ring: Arc<Ring>,
    me: usize,
    next: i64,
    available: i64,
    /// Every sequence this consumer read, in order.
    seen: Vec<i64>,
}

impl Consumer {
    /// A consumer whose registry slot was ACTIVE before the producer started.
    fn joined_before(ring: Arc<Ring>, me: usize) -> Consumer {
        Consumer {
            ring,
            me,
            next: 0,
            available: -1,
            seen: Vec::new(),
        }
    }

    /// `RawConsumer::attach` + `Registry::join`, fresh cursor: cursor at the head, claim the free
    /// slot, mark the cursor joining, activate + announce, the handshake load of
    /// the head, commit it, mark the cursor joined, start after it.
    fn join(ring: Arc<Ring>, me: usize) -> Consumer {
        let head = protocol::published(&ring.producer);
        // The new cursor segment's bytes: plain writes, made visible by the slot activation.
        ring.cursors[me].value.store(head, Ordering::Relaxed);
        let slot = &ring.members[me];
        // (`fill_claimed`, the joiner's own bookkeeping, which the rescan does not read, is
        // left out: `two_joiners_race_for_one_free_slot` checks it.)
        assert!(protocol::claim_free(slot), "slot {me} is free");
        protocol::mark_joining(&ring.cursors[me], JOINING);
        protocol::activate(slot);
        protocol::announce(&ring.control);
        let head_now = protocol::join_head(&ring.producer);
        protocol::commit(&ring.cursors[me], head_now);
        protocol::mark_joined(&ring.cursors[me]);
        // `attach` wakes nobody here; a producer parked on this cursor's old value wakes at its
        // futex timeout (SPEC.md §8). The model's wake-up stands in for that timeout.
        ring.wake_producer();
        Consumer {
            ring,
            me,
            next: head_now + 1,
            available: head_now,
            seen: Vec::new(),
        }
    }

    /// `RawConsumer::ready`.
    fn ready(&mut self) -> bool {
        if self.next <= self.available {
            return true;
        }
        self.available = protocol::published(&self.ring.producer);
        self.next <= self.available
    }

    /// Checks the slot of `seq` holds event `seq` (not torn, not another lap).
    fn read(&self, seq: i64) {
        // SAFETY (model): published and not yet committed: the producer does not write it.
        let got = self.ring.slot(seq).with(|p| unsafe { *p });
        assert_eq!(
            got,
            event(seq),
            "consumer {} read a stale or overwritten slot for sequence {seq}",
            self.me
        );
    }

    /// `RawConsumer::runs`: up to `max` published events, one commit. Returns how many.
    fn poll(&mut self, max: usize) -> usize {
        if !self.ready() {
            return 0;
        }
        let first = self.next;
        let last = self.available.min(first + max.min(CAPACITY) as i64 - 1);
        for seq in first..=last {
            self.read(seq);
            self.seen.push(seq);
        }
        protocol::commit(&self.ring.cursors[self.me], last);
        self.ring.wake_producer();
        self.next = last + 1;
        (last - first + 1) as usize
    }

    /// A lease: read the slot in place, let the others run, read it again, then commit.
    fn lease(&mut self) -> bool {
        if !self.ready() {
            return false;
        }
        let seq = self.next;
        self.read(seq);
        thread::yield_now();
        self.read(seq);
        self.seen.push(seq);
        protocol::commit(&self.ring.cursors[self.me], seq);
        self.ring.wake_producer();
        self.next = seq + 1;
        true
    }

    /// Reads (`max` at a time) until it has read `last`.
    fn read_through(&mut self, last: i64, max: usize) {
        while self.next <= last {
            if self.poll(max) == 0 {
                self.wait();
            }
        }
    }

    /// `RawConsumer::check_closed`: `Some(final)` once the ring is closed and all is read.
    fn finished(&self) -> Option<i64> {
        protocol::closed(&self.ring.control).filter(|&f| self.next > f)
    }

    fn leave(&self) {
        protocol::leave(&self.ring.members[self.me], &self.ring.control);
        self.ring.wake_producer();
    }

    /// Blocks until the producer publishes or closes (`RawConsumer::wait_ready`).
    fn wait(&self) {
        self.ring.wakeups[1 + self.me].wait();
    }
}

/// Runs `f` under loom, with at most 2 preemptions unless `LOOM_MAX_PREEMPTIONS` says otherwise.
fn check(f: impl Fn() + Sync + Send + 'static) {
    check_bounded(2, f)
}

/// Runs `f` under loom with at most `preemptions` (or `LOOM_MAX_PREEMPTIONS`, if lower).
fn check_bounded(preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
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

/// SPSC, one event per publish and per read, four events through two slots: every read sees
/// exactly its event, nothing is overwritten before it is read, and the cached limit is only
/// refreshed when exhausted.
/// Also caught: `commit` Release->Relaxed, `gate_position` Acquire->Relaxed, `within_limit` off
/// by one (`last <= limit + 1`: the producer overwrites slot 0 before it is read).
#[test]
fn spsc_wraps_without_torn_stale_or_overwritten_reads() {
    check(|| {
        let ring = Ring::new(1, 1);
        let consumer = {
            let ring = ring.clone();
            thread::spawn(move || {
                let mut c = Consumer::joined_before(ring, 0);
                c.read_through(3, 1);
                c.seen
            })
        };
        let mut p = Producer::new(ring);
        for _ in 0..4 {
            p.publish(1);
        }
        assert_eq!(consumer.join().unwrap(), contiguous(0, 3));
    });
}

/// Batched publish (two slots, one cursor store) and batched reads (one commit per batch).
/// Also caught: `commit` Release->Relaxed, `gate_position` Acquire->Relaxed. (`within_limit` off
/// by one is not: batches of two never leave the consumer one event behind.)
#[test]
fn batched_publish_and_batched_reads() {
    check(|| {
        let ring = Ring::new(1, 1);
        let consumer = {
            let ring = ring.clone();
            thread::spawn(move || {
                let mut c = Consumer::joined_before(ring, 0);
                c.read_through(3, CAPACITY);
                c.seen
            })
        };
        let mut p = Producer::new(ring);
        p.publish(2);
        p.publish(2);
        assert_eq!(consumer.join().unwrap(), contiguous(0, 3));
    });
}

/// A lease holds its slot in place until it commits: the producer, working from its cached
/// limit, never rewrites a leased slot, however the threads interleave between the two reads.
/// Also caught: `commit` Release->Relaxed (the rewrite races the second read), `gate_position`
/// Acquire->Relaxed, `within_limit` off by one (a cache one slot too generous).
#[test]
fn cached_limit_never_overwrites_a_leased_slot() {
    check(|| {
        let ring = Ring::new(1, 1);
        let consumer = {
            let ring = ring.clone();
            thread::spawn(move || {
                let mut c = Consumer::joined_before(ring, 0);
                while c.next <= 2 {
                    if !c.lease() {
                        c.wait();
                    }
                }
                c.seen
            })
        };
        let mut p = Producer::new(ring);
        for _ in 0..3 {
            p.publish(1);
        }
        assert_eq!(consumer.join().unwrap(), contiguous(0, 2));
    });
}

/// Broadcast: two consumers each read every event; the producer gates on the slower one.
/// Three threads: at 2 preemptions loom needs many minutes, so this one runs at 1 (seconds).
/// Also caught: `limit` taking the `max` of the gates instead of the `min` (only this test has
/// two gates), `commit` Release->Relaxed, `gate_position` Acquire->Relaxed, `within_limit` off
/// by one.
#[test]
fn two_consumers_each_see_every_event() {
    check_bounded(1, || {
        let ring = Ring::new(2, 2);
        let consumers: Vec<_> = (0..2)
            .map(|me| {
                let ring = ring.clone();
                thread::spawn(move || {
                    let mut c = Consumer::joined_before(ring, me);
                    c.read_through(2, CAPACITY);
                    c.seen
                })
            })
            .collect();
        let mut p = Producer::new(ring);
        for _ in 0..3 {
            p.publish(1);
        }
        for c in consumers {
            assert_eq!(c.join().unwrap(), contiguous(0, 2));
        }
    });
}

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
