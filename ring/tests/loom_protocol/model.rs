//! The protocol skeletons of `RawProducer` and `RawConsumer` (SPEC.md §7.1-§7.6) over one
//! model ring, with everything that is not memory ordering left out.

#![allow(dead_code)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::Notify;
use loom::thread;
use ringproof::kit::layout::cursor::CursorCell;
use ringproof::kit::layout::cursor::JOINING;
use ringproof::kit::layout::registry::{
    Control, Slot, SlotState, MAX_ID_LEN, RING_OPEN, ROLE_CONSUMER,
};
use ringproof::kit::protocol;
use ringproof::kit::sync::{AtomicI64, AtomicU32, AtomicU64, Ordering};

/// Two slots: every test wraps the ring at least once.
pub(crate) const CAPACITY: usize = 2;

/// An event as the producer writes it: its sequence and a checksum of it.
pub(crate) type Event = [u64; 2];

pub(crate) fn event(seq: i64) -> Event {
    [
        seq as u64,
        (seq as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xA5A5_A5A5,
    ]
}

pub(crate) fn cursor_cell(value: i64) -> CursorCell {
    CursorCell {
        value: AtomicI64::new(value),
        waiters: AtomicU32::new(0),
        joined: AtomicU32::new(0),
        epoch: AtomicU64::new(1),
        padding: [0; 40],
    }
}

pub(crate) fn registry_slot(state: SlotState) -> Slot {
    Slot {
        state: AtomicU32::new(state.word()),
        role: AtomicU32::new(ROLE_CONSUMER),
        owner: AtomicU64::new(0),
        start_time: AtomicU64::new(0),
        heartbeat: AtomicU64::new(0),
        incarnation: AtomicU64::new(0),
        id_len: AtomicU32::new(0),
        parked: AtomicU32::new(0),
        id: core::cell::UnsafeCell::new([0; MAX_ID_LEN]),
        pid_ns: AtomicU64::new(0),
        padding: [0; 24],
    }
}

/// One ring: registry control block and slots, producer cursor, consumer cursors, event slots.
pub(crate) struct Ring {
    pub(crate) control: Control,
    pub(crate) producer: CursorCell,
    pub(crate) members: Vec<Slot>,
    pub(crate) cursors: Vec<CursorCell>,
    pub(crate) slots: Vec<UnsafeCell<Event>>,
    /// Wake-ups standing in for the futex (SPEC.md §8): index 0 the producer, 1 + i consumer i.
    /// A waiting side blocks instead of spinning, so loom never explores schedules in which a
    /// spinning thread starves the one it waits for.
    pub(crate) wakeups: Vec<Notify>,
}

// SAFETY: the registry slots' id bytes (the only non-atomic registry field, which makes `Slot`
// not `Sync`) are written only by a joiner whose `claim_free` won the slot, and loom runs its
// threads one at a time on one OS thread; the event slots are loom cells whose every access
// loom checks for races.
unsafe impl Sync for Ring {}

impl Ring {
    /// A ring with `consumers` registry slots: the first `active` already joined (cursor -1,
    /// as before the first publish), the others free.
    pub(crate) fn new(consumers: usize, active: usize) -> Arc<Ring> {
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
    pub(crate) fn wake_producer(&self) {
        self.wakeups[0].notify();
    }

    /// Wakes every consumer (after a publish or the close).
    pub(crate) fn wake_consumers(&self) {
        self.wakeups[1..].iter().for_each(Notify::notify);
    }

    pub(crate) fn slot(&self, seq: i64) -> &UnsafeCell<Event> {
        &self.slots[(seq as usize) % CAPACITY]
    }
}

/// `RawProducer`'s protocol: a cached limit, rescanned only when a claim passes it.
pub(crate) struct Producer {
    pub(crate) ring: Arc<Ring>,
    pub(crate) next: i64,
    pub(crate) limit: i64,
    pub(crate) seen_generation: u64,
    pub(crate) gates: Vec<usize>,
}

impl Producer {
    pub(crate) fn new(ring: Arc<Ring>) -> Producer {
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
    pub(crate) fn rescan(&mut self) {
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
    pub(crate) fn wait_until(&mut self, target: i64) {
        loop {
            self.rescan();
            if protocol::within_limit(target, self.limit) {
                return;
            }
            self.ring.wakeups[0].wait();
        }
    }

    /// `publish_batch`: check the cached limit, write `n` slots, one release store.
    pub(crate) fn publish(&mut self, n: usize) {
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
    pub(crate) fn drain(&mut self) {
        self.wait_until(self.next - 1 + CAPACITY as i64);
    }

    /// `Drop for RawProducer`: close after the last published sequence.
    pub(crate) fn close(&self) {
        protocol::close(&self.ring.control, self.next - 1);
        self.ring.wake_consumers();
    }
}

/// `RawConsumer`'s protocol.
pub(crate) struct Consumer {
    pub(crate) ring: Arc<Ring>,
    pub(crate) me: usize,
    pub(crate) next: i64,
    pub(crate) available: i64,
    /// Every sequence this consumer read, in order.
    pub(crate) seen: Vec<i64>,
}

impl Consumer {
    /// A consumer whose registry slot was ACTIVE before the producer started.
    pub(crate) fn joined_before(ring: Arc<Ring>, me: usize) -> Consumer {
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
    pub(crate) fn join(ring: Arc<Ring>, me: usize) -> Consumer {
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
    pub(crate) fn ready(&mut self) -> bool {
        if self.next <= self.available {
            return true;
        }
        self.available = protocol::published(&self.ring.producer);
        self.next <= self.available
    }

    /// Checks the slot of `seq` holds event `seq` (not torn, not another lap).
    pub(crate) fn read(&self, seq: i64) {
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
    pub(crate) fn poll(&mut self, max: usize) -> usize {
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
    pub(crate) fn lease(&mut self) -> bool {
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
    pub(crate) fn read_through(&mut self, last: i64, max: usize) {
        while self.next <= last {
            if self.poll(max) == 0 {
                self.wait();
            }
        }
    }

    /// `RawConsumer::idle`: `Some(final)` once the ring is closed and all is read.
    pub(crate) fn finished(&self) -> Option<i64> {
        protocol::closed(&self.ring.control).filter(|&f| self.next > f)
    }

    pub(crate) fn leave(&self) {
        protocol::leave(&self.ring.members[self.me], &self.ring.control);
        self.ring.wake_producer();
    }

    /// Blocks until the producer publishes or closes (`RawConsumer::wait_ready`).
    pub(crate) fn wait(&self) {
        self.ring.wakeups[1 + self.me].wait();
    }
}
