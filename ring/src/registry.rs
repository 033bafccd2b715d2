//! The participant registry (see [`crate::layout::registry`] for its bytes): joining, leaving,
//! and listing who gates the producer.

use crate::error::{Error, Result};
use crate::layout::registry::*;
use crate::layout::image::{registry_image, RegistryInit};
use crate::layout::{Expect, SegmentKind};
use crate::names::SegmentPath;
use crate::{process, protocol};
use crate::segment::Segment;
use crate::sync::Ordering;

/// A mapped registry segment.
#[derive(Debug)]
pub struct Registry {
    seg: Segment,
    slots: usize,
}

/// How [`Registry::join`] got its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// A free slot: a new consumer.
    Fresh,
    /// The id's ACTIVE slot whose owner died: it gated the producer all along.
    TakeOver,
    /// The id's slot the producer had marked dead (or evicted): it stopped gating.
    Rejoin { evicted: bool },
}

/// One consumer as listed in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    pub slot: usize,
    pub id: String,
    pub pid: u32,
    pub start_time: u64,
    pub heartbeat_ns: u64,
    pub incarnation: u64,
}

impl Registry {
    /// Creates the registry of a new ring: `slots` free consumer slots, ring open, this
    /// process as producer. Fails if it exists (the registry is the producer's ownership claim).
    pub fn create(path: &SegmentPath, slots: usize, epoch: u64) -> Result<Registry> {
        let start = process::own_start_time();
        let init = RegistryInit {
            slots,
            epoch,
            producer_pid: process::own_pid(),
            producer_start_time: start,
            producer_heartbeat_ns: process::boottime_ns(),
            producer_pid_ns: process::own_pid_ns(),
        };
        // The bytes come from the same builder the golden layouts are checked against.
        let image = registry_image(&init).map_err(|e| Error::InvalidConfig(format!("registry of {slots} slots: {e}")))?;
        let seg = Segment::create(path, "registry", image.header(), *image.geometry(), |payload| {
            // SAFETY: fresh payload of 128 * (slots + 1) bytes, not yet visible to anyone (the
            // header, magic last, is written after this returns).
            unsafe { image.write_payload(payload) }
        })?;
        Ok(Registry { seg, slots })
    }

    /// Opens an existing registry.
    pub fn open(path: &SegmentPath) -> Result<Registry> {
        let seg = Segment::open(path, "registry", &Expect::kind(SegmentKind::Registry))?;
        let slots = seg.geometry().capacity as usize;
        Ok(Registry { seg, slots })
    }

    /// Ring-wide state.
    pub fn control(&self) -> &Control {
        // SAFETY: validated registry: the control block starts the payload.
        unsafe { &*(self.seg.payload() as *const Control) }
    }

    /// Consumer slot `i` (< `slots()`).
    pub fn slot(&self, i: usize) -> &Slot {
        assert!(i < self.slots);
        // SAFETY: validated: payload holds slots + 1 blocks of SLOT_SIZE.
        unsafe { &*(self.seg.payload().add(SLOT_SIZE * (i + 1)) as *const Slot) }
    }

    /// Number of consumer slots.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// The ring incarnation this registry belongs to.
    pub fn epoch(&self) -> u64 {
        self.control().epoch.load(Ordering::Relaxed)
    }

    /// Changes on every join, leave or takeover.
    pub fn generation(&self) -> u64 {
        self.control().generation.load(Ordering::Acquire)
    }

    /// `Some(final_sequence)` once the producer closed the ring cleanly.
    pub fn closed(&self) -> Option<i64> {
        protocol::closed(self.control())
    }

    /// Marks the ring closed after `final_sequence` (the producer's clean shutdown).
    pub fn close(&self, final_sequence: i64) {
        protocol::close(self.control(), final_sequence);
    }

    /// The id stored in slot `i`.
    pub fn slot_id(&self, i: usize) -> String {
        let s = self.slot(i);
        let len = (s.id_len.load(Ordering::Acquire) as usize).min(MAX_ID_LEN);
        // SAFETY: plain bytes; a concurrent claimer can only make this read stale, and the
        // length was published after the bytes.
        let bytes = unsafe { *s.id.get() };
        String::from_utf8_lossy(&bytes[..len]).into_owned()
    }

    /// Every active consumer.
    pub fn active(&self) -> Vec<Participant> {
        (0..self.slots)
            .filter(|&i| protocol::is_gating(self.slot(i)))
            .map(|i| {
                let s = self.slot(i);
                let owner = s.owner.load(Ordering::Acquire);
                Participant {
                    slot: i,
                    id: self.slot_id(i),
                    pid: owner_pid(owner),
                    start_time: s.start_time.load(Ordering::Relaxed),
                    heartbeat_ns: s.heartbeat.load(Ordering::Relaxed),
                    incarnation: s.incarnation.load(Ordering::Acquire),
                }
            })
            .collect()
    }

    /// Joins as consumer `id`: takes over its slot if its previous owner died while the slot
    /// still gated the producer, re-joins a slot the producer marked dead or evicted, or claims
    /// a free slot. For a re-join or a fresh join, `before_gating` runs once the slot is ours and
    /// before it gates (the consumer marks its cursor as joining there, SPEC.md §7.3 step 4).
    pub fn join(&self, id: &str, ring: &str, before_gating: impl FnOnce()) -> Result<(usize, Join)> {
        let pid = process::own_pid();
        let start = process::own_start_time();
        let me = owner_word(pid, start);
        for i in 0..self.slots {
            let s = self.slot(i);
            let state = s.state.load(Ordering::Acquire);
            if !matches!(state, SLOT_ACTIVE | SLOT_DEAD | SLOT_EVICTED) || self.slot_id(i) != id {
                continue;
            }
            let owner = s.owner.load(Ordering::Acquire);
            if state == SLOT_ACTIVE && self.slot_alive_word(i, owner) {
                return Err(Error::ConsumerIdInUse { id: id.to_owned(), pid: owner_pid(owner) });
            }
            // Whoever swaps the dead owner out wins the slot.
            if s.owner.compare_exchange(owner, me, Ordering::AcqRel, Ordering::Acquire).is_err() {
                return Err(Error::ConsumerIdInUse { id: id.to_owned(), pid: owner_pid(s.owner.load(Ordering::Acquire)) });
            }
            s.start_time.store(start, Ordering::Relaxed);
            s.heartbeat.store(process::boottime_ns(), Ordering::Relaxed);
            s.pid_ns.store(process::own_pid_ns(), Ordering::Relaxed);
            s.incarnation.fetch_add(1, Ordering::AcqRel);
            if state != SLOT_ACTIVE {
                before_gating();
                protocol::activate(s);
            }
            self.bump();
            return Ok((i, match state {
                SLOT_ACTIVE => Join::TakeOver,
                SLOT_EVICTED => Join::Rejoin { evicted: true },
                _ => Join::Rejoin { evicted: false },
            }));
        }
        for i in 0..self.slots {
            let s = self.slot(i);
            if s.state.compare_exchange(SLOT_FREE, SLOT_CLAIMING, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                // SAFETY: CLAIMING gives this process sole ownership of the id bytes.
                let id_bytes = unsafe { &mut *s.id.get() };
                id_bytes.fill(0);
                id_bytes[..id.len()].copy_from_slice(id.as_bytes());
                s.id_len.store(id.len() as u32, Ordering::Release);
                s.role.store(ROLE_CONSUMER, Ordering::Relaxed);
                s.owner.store(me, Ordering::Relaxed);
                s.start_time.store(start, Ordering::Relaxed);
                s.heartbeat.store(process::boottime_ns(), Ordering::Relaxed);
                s.pid_ns.store(process::own_pid_ns(), Ordering::Relaxed);
                s.incarnation.fetch_add(1, Ordering::AcqRel);
                before_gating();
                protocol::activate(s);
                self.bump();
                return Ok((i, Join::Fresh));
            }
        }
        Err(Error::RegistryFull { ring: ring.to_owned(), slots: self.slots })
    }

    /// Moves slot `i` from ACTIVE to `to` (DEAD or EVICTED) if its incarnation is still
    /// `incarnation`; returns whether it did. The producer's verdicts on its consumers.
    pub fn retire(&self, i: usize, incarnation: u64, to: u32) -> bool {
        let s = self.slot(i);
        if s.incarnation.load(Ordering::Acquire) != incarnation {
            return false;
        }
        let done = s.state.compare_exchange(SLOT_ACTIVE, to, Ordering::AcqRel, Ordering::Relaxed).is_ok();
        if done {
            self.bump();
        }
        done
    }

    /// The state word of slot `i`.
    pub fn slot_state(&self, i: usize) -> u32 {
        self.slot(i).state.load(Ordering::Acquire)
    }

    /// Whether the process owning slot `i` runs (pid and start time, or the heartbeat across
    /// pid namespaces).
    pub fn slot_owner_alive(&self, i: usize) -> bool {
        self.slot_alive_word(i, self.slot(i).owner.load(Ordering::Acquire))
    }

    fn slot_alive_word(&self, i: usize, owner: u64) -> bool {
        let s = self.slot(i);
        process::participant_alive(owner, s.pid_ns.load(Ordering::Relaxed), s.heartbeat.load(Ordering::Relaxed))
    }

    /// Whether the producer that owns the ring runs.
    pub fn producer_alive(&self) -> bool {
        self.producer_alive_word(self.control().producer_owner.load(Ordering::Acquire))
    }

    fn producer_alive_word(&self, owner: u64) -> bool {
        let c = self.control();
        process::participant_alive(owner, c.producer_pid_ns.load(Ordering::Relaxed), c.producer_heartbeat.load(Ordering::Relaxed))
    }

    /// The producer's pid.
    pub fn producer_pid(&self) -> u32 {
        owner_pid(self.control().producer_owner.load(Ordering::Acquire))
    }

    /// Takes the ring over from a dead producer (a restart). Fails if the owner runs. The start
    /// is counted separately, once the restart has validated the ring
    /// ([`count_producer_start`](Self::count_producer_start)): a restart that fails after the
    /// claim is no start.
    pub fn take_over_producer(&self, ring: &str) -> Result<()> {
        let c = self.control();
        let owner = c.producer_owner.load(Ordering::Acquire);
        if self.producer_alive_word(owner) {
            return Err(Error::ProducerAlive { ring: ring.to_owned(), pid: owner_pid(owner) });
        }
        let start = process::own_start_time();
        let me = owner_word(process::own_pid(), start);
        if c.producer_owner.compare_exchange(owner, me, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return Err(Error::ProducerAlive { ring: ring.to_owned(), pid: owner_pid(c.producer_owner.load(Ordering::Acquire)) });
        }
        c.producer_start_time.store(start, Ordering::Relaxed);
        c.producer_heartbeat.store(process::boottime_ns(), Ordering::Relaxed);
        c.producer_pid_ns.store(process::own_pid_ns(), Ordering::Relaxed);
        self.bump();
        Ok(())
    }

    /// Counts a producer start (a restart that succeeded); returns the new count.
    pub fn count_producer_start(&self) -> u64 {
        self.control().producer_starts.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// A restarted producer reopens a ring its predecessor may have half closed.
    pub fn reopen(&self) {
        self.control().final_sequence.store(-1, Ordering::Release);
        self.control().ring_state.store(RING_OPEN, Ordering::Release);
    }

    /// Records a heartbeat of the producer.
    pub fn producer_beat(&self) {
        self.control().producer_heartbeat.store(process::boottime_ns(), Ordering::Relaxed);
    }

    /// Records a heartbeat of slot `i`'s owner.
    pub fn slot_beat(&self, i: usize) {
        self.slot(i).heartbeat.store(process::boottime_ns(), Ordering::Relaxed);
    }

    /// Frees every slot whose consumer died (DEAD, or ACTIVE or EVICTED with a dead owner) and returns
    /// their ids, so a closing producer can remove their cursors. Each slot is claimed by a CAS
    /// of its owner word, so a restart taking the slot over at the same moment wins or loses
    /// cleanly.
    pub fn reap_dead(&self) -> Vec<String> {
        let mut ids = Vec::new();
        for i in 0..self.slots {
            let s = self.slot(i);
            let state = s.state.load(Ordering::Acquire);
            let owner = s.owner.load(Ordering::Acquire);
            let dead = state == SLOT_DEAD || (matches!(state, SLOT_ACTIVE | SLOT_EVICTED) && !self.slot_alive_word(i, owner));
            if dead && s.owner.compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                ids.push(self.slot_id(i));
                s.state.store(SLOT_FREE, Ordering::Release);
            }
        }
        if !ids.is_empty() {
            self.bump();
        }
        ids
    }

    /// Whether any participant (producer or consumer slot owner) still runs.
    pub fn anyone_alive(&self) -> Option<u32> {
        if self.producer_alive() {
            return Some(self.producer_pid());
        }
        (0..self.slots)
            .filter(|&i| matches!(self.slot_state(i), SLOT_ACTIVE | SLOT_CLAIMING))
            .find(|&i| self.slot_owner_alive(i))
            .map(|i| owner_pid(self.slot(i).owner.load(Ordering::Acquire)))
    }

    /// Refuses a join that took slot `i` (its cursor was lapped, or it was evicted): the slot
    /// stops gating and goes back to DEAD (EVICTED if `evicted`), so a retry is refused the same
    /// way and the closing producer frees it and removes its cursor once the refused process is
    /// gone (SPEC.md §7.3 step 5, §7.6).
    pub fn refuse(&self, i: usize, evicted: bool) {
        protocol::step_down(self.slot(i), self.control(), if evicted { SLOT_EVICTED } else { SLOT_DEAD });
    }

    /// Leaves slot `i`: the consumer stops gating.
    pub fn leave(&self, i: usize) {
        protocol::leave(self.slot(i), self.control());
    }

    /// Publishes a membership change: the generation bump, then a full fence so that the
    /// joiner's next load of the producer cursor is ordered after it (SPEC.md §6.2).
    fn bump(&self) {
        protocol::announce(self.control());
    }

    /// The underlying segment.
    pub fn segment(&self) -> &Segment {
        &self.seg
    }
}
