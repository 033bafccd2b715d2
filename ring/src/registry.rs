//! The participant registry (see [`crate::layout::registry`] for its bytes): joining, leaving,
//! and listing who gates the producer.

use crate::error::{Error, Result};
use crate::layout::registry::*;
use crate::layout::image::{registry_image, RegistryInit};
use crate::layout::{Expect, SegmentKind};
use crate::names::SegmentPath;
use crate::process::{self, Liveness};
use crate::protocol;
use crate::segment::Segment;
use crate::sync::Ordering;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::time::{Duration, Instant};

/// How often [`Registry::join`] looks again after losing a CAS to the producer's retire or reap.
const JOIN_ATTEMPTS: usize = 16;

/// The ring's join lock (see [`Registry::lock_joins`]); released on drop.
pub struct JoinLock {
    _lock: Option<Flock<File>>,
}

impl std::fmt::Debug for JoinLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JoinLock")
    }
}

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

/// A participant the registry names whose process runs ([`Registry::alive_participants`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliveParticipant {
    /// `None`: the producer.
    pub slot: Option<usize>,
    /// The slot's id bytes as text (for reports; may be invalid).
    pub id: Option<String>,
    pub pid: u32,
}

impl std::fmt::Display for AliveParticipant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.slot, &self.id) {
            (Some(i), Some(id)) => write!(f, "consumer {id:?} (registry slot {i}, pid {})", self.pid),
            (Some(i), None) => write!(f, "registry slot {i} (pid {})", self.pid),
            _ => write!(f, "the producer (pid {})", self.pid),
        }
    }
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
        let r = Registry { seg, slots };
        if mutant!("registry.generation-starts-1") {
            r.control().generation.store(1, Ordering::Relaxed);
        }
        Ok(r)
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

    /// The id stored in slot `i`, only if it is a valid consumer id
    /// ([`validate_consumer_id`](crate::names::validate_consumer_id)): the bytes come from
    /// shared memory, and a path or shm name is built from the id (`../../x` or `/etc/x` would
    /// name a file anywhere). `None` for anything else; callers skip such a slot.
    pub fn slot_id(&self, i: usize) -> Option<String> {
        let s = self.slot(i);
        let len = s.id_len.load(Ordering::Acquire) as usize;
        // SAFETY: plain bytes; a concurrent claimer can only make this read stale, and the
        // length was published after the bytes.
        let bytes = unsafe { *s.id.get() };
        let id = std::str::from_utf8(bytes.get(..len)?).ok()?;
        if mutant!("registry.unvalidated-id") {
            return Some(id.to_owned());
        }
        crate::names::validate_consumer_id(id).is_ok().then(|| id.to_owned())
    }

    /// Slot `i`'s id bytes as text, whatever they are: for reports only (`stat`, `rm`); never
    /// build a name from it (use [`slot_id`](Self::slot_id)).
    pub fn slot_id_raw(&self, i: usize) -> String {
        let s = self.slot(i);
        let len = (s.id_len.load(Ordering::Acquire) as usize).min(MAX_ID_LEN);
        // SAFETY: as in `slot_id`.
        let bytes = unsafe { *s.id.get() };
        String::from_utf8_lossy(&bytes[..len]).into_owned()
    }

    /// Every active consumer with a valid id (a slot holding anything else was not written
    /// by a consumer and names no cursor: it is skipped).
    pub fn active(&self) -> Vec<Participant> {
        (0..self.slots)
            .filter(|&i| protocol::is_gating(self.slot(i)))
            .filter_map(|i| {
                let s = self.slot(i);
                let owner = s.owner.load(Ordering::Acquire);
                Some(Participant {
                    slot: i,
                    id: self.slot_id(i)?,
                    pid: owner_pid(owner),
                    start_time: s.start_time.load(Ordering::Relaxed),
                    heartbeat_ns: s.heartbeat.load(Ordering::Relaxed),
                    incarnation: s.incarnation.load(Ordering::Acquire),
                })
            })
            .collect()
    }

    /// Takes the ring's join lock: an exclusive `flock(2)` on the registry object, which every
    /// consumer holds from its id lookup to the end of its join handshake, and while it leaves
    /// (SPEC.md §7.3, §7.5). Joins and leaves of one ring thus happen one at a time, so "is the id
    /// taken?" and "take a slot" are one step for every other joiner. The kernel releases the
    /// lock when its holder dies, so there is no dead holder to detect; a live holder that keeps
    /// it (a stopped process) makes this fail with [`Error::JoinLockTimeout`] at `deadline`.
    /// Fails with [`Error::NotFound`] if the registry's name no longer refers to this registry.
    pub fn lock_joins(&self, ring: &str, deadline: Instant) -> Result<JoinLock> {
        let started = Instant::now();
        let mut file = self.seg.reopen("registry")?;
        loop {
            if mutant!("registry.no-join-lock") {
                return Ok(JoinLock { _lock: None });
            }
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => return Ok(JoinLock { _lock: Some(lock) }),
                Err((f, Errno::EWOULDBLOCK | Errno::EINTR)) => file = f,
                Err((_, e)) => return Err(Error::Io { op: "flock", name: self.seg.path().to_string(), source: e.into() }),
            }
            if Instant::now() >= deadline {
                return Err(Error::JoinLockTimeout { ring: ring.to_owned(), waited: started.elapsed() });
            }
            // A join holds the lock for microseconds: a back-off, not data synchronisation.
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Fails with [`Error::ConsumerIdInUse`] if an ACTIVE slot holds `id` for a live process.
    /// Called under the join lock, before the joiner creates or opens its cursor: a refused
    /// joiner touches nothing (SPEC.md §7.3 step 2).
    pub fn check_id(&self, id: &str) -> Result<()> {
        let me = owner_word(process::own_pid(), process::own_start_time());
        for i in 0..self.slots {
            let s = self.slot(i);
            let state = s.state.load(Ordering::Acquire);
            if matches!(state, SLOT_ACTIVE | SLOT_DEAD | SLOT_EVICTED) && self.slot_id(i).as_deref() == Some(id) {
                let owner = s.owner.load(Ordering::Acquire);
                if self.holds_id(i, state, owner, me) {
                    return Err(Error::ConsumerIdInUse { id: id.to_owned(), pid: owner_pid(owner) });
                }
            }
        }
        Ok(())
    }

    /// Whether slot `i` (in `state`, owned by `owner`) keeps its id from a joiner `me`: an
    /// ACTIVE slot whose owner may be alive, or a DEAD or EVICTED one whose owner may be alive
    /// and is another process. The producer retires a slot it judges dead, and a judgement by
    /// heartbeat (another pid namespace) can be wrong: that owner still runs, learns it was
    /// retired on its next read (§7.10), and until it leaves, its id is not free. The process
    /// that was refused or retired may re-join its own slot (a resync, §7.3 step 5).
    fn holds_id(&self, i: usize, state: u32, owner: u64, me: u64) -> bool {
        if mutant!("consumer.duplicate-id-allowed") && owner != me {
            return false;
        }
        match state {
            SLOT_ACTIVE => mutant!("consumer.no-takeover") || self.slot_alive_word(i, owner),
            _ => owner != me && self.slot_alive_word(i, owner),
        }
    }

    /// Joins as consumer `id`: takes over its slot if its previous owner died while the slot
    /// still gated the producer, re-joins a slot the producer marked dead or evicted, or claims
    /// a free slot. For a re-join or a fresh join, `before_gating` runs once the slot is ours and
    /// before it gates (the consumer marks its cursor as joining there, SPEC.md §7.3 step 4).
    ///
    /// The caller holds the join lock ([`lock_joins`](Self::lock_joins)), so no other joiner
    /// runs; the producer may still retire or reap a slot meanwhile. Each claim is a CAS, and
    /// one lost to the producer makes the join look again rather than fail.
    pub fn join(&self, id: &str, ring: &str, before_gating: impl FnOnce()) -> Result<(usize, Join)> {
        let pid = process::own_pid();
        let start = process::own_start_time();
        let me = owner_word(pid, start);
        let mut lost = None;
        'retry: for attempt in 0..JOIN_ATTEMPTS {
            for i in 0..self.slots {
                let s = self.slot(i);
                let state = s.state.load(Ordering::Acquire);
                if !matches!(state, SLOT_ACTIVE | SLOT_DEAD | SLOT_EVICTED) || self.slot_id(i).as_deref() != Some(id) {
                    continue;
                }
                let owner = s.owner.load(Ordering::Acquire);
                if self.holds_id(i, state, owner, me) {
                    return Err(Error::ConsumerIdInUse { id: id.to_owned(), pid: owner_pid(owner) });
                }
                if owner == 0 && attempt + 1 < JOIN_ATTEMPTS {
                    // A reap (§7.6) between its owner CAS and its FREE store: claiming the slot
                    // now could see it freed under us. Let it finish (a reaper that died there
                    // left the slot to whoever comes: the last attempt takes it).
                    std::thread::yield_now();
                    continue 'retry;
                }
                // Whoever swaps the dead owner out wins the slot; a reap (owner to 0) that got
                // there first freed it, so look again.
                if let Err(now) = s.owner.compare_exchange(owner, me, Ordering::AcqRel, Ordering::Acquire) {
                    lost = Some(now);
                    continue 'retry;
                }
                s.start_time.store(start, Ordering::Relaxed);
                s.heartbeat.store(process::boottime_ns(), Ordering::Relaxed);
                s.pid_ns.store(process::own_pid_ns(), Ordering::Relaxed);
                s.incarnation.fetch_add(1, Ordering::AcqRel);
                // The producer may have retired the dead owner's ACTIVE slot while we took it
                // over: it stopped gating, so this is a re-join after all.
                let state = if state == SLOT_ACTIVE { s.state.load(Ordering::Acquire) } else { state };
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
                let overwrite = mutant!("registry.full-overwrites") && i + 1 == self.slots;
                if s.state.compare_exchange(SLOT_FREE, SLOT_CLAIMING, Ordering::AcqRel, Ordering::Relaxed).is_ok() || overwrite {
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
                    if !mutant!("consumer.join-no-generation") {
                        self.bump();
                    }
                    return Ok((i, Join::Fresh));
                }
            }
            return Err(Error::RegistryFull { ring: ring.to_owned(), slots: self.slots });
        }
        // Only a participant that ignores the join lock can keep winning our CASes.
        Err(Error::ConsumerIdInUse { id: id.to_owned(), pid: lost.map_or(0, owner_pid) })
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

    /// Whether the process owning slot `i` may still run: alive, or not known to be dead (an
    /// unreadable `/proc` entry). What every decision that retires, reaps or takes a slot over
    /// uses: a false "alive" only delays, a false "dead" corrupts (SPEC.md §6.2).
    pub fn slot_owner_alive(&self, i: usize) -> bool {
        self.slot_liveness(i).maybe_alive()
    }

    /// The verdict on slot `i`'s owner: pid and start time, or the heartbeat across pid
    /// namespaces (SPEC.md §6.2).
    pub fn slot_liveness(&self, i: usize) -> Liveness {
        self.slot_liveness_word(i, self.slot(i).owner.load(Ordering::Acquire))
    }

    /// Whether `owner`, read from slot `i`, may still run (alive or unknown).
    fn slot_alive_word(&self, i: usize, owner: u64) -> bool {
        self.slot_liveness_word(i, owner).maybe_alive()
    }

    fn slot_liveness_word(&self, i: usize, owner: u64) -> Liveness {
        let s = self.slot(i);
        process::participant_liveness(owner, s.pid_ns.load(Ordering::Relaxed), s.heartbeat.load(Ordering::Relaxed))
    }

    /// Whether the producer that owns the ring may still run (alive or unknown).
    pub fn producer_alive(&self) -> bool {
        self.producer_liveness().maybe_alive()
    }

    /// The verdict on the producer that owns the ring.
    pub fn producer_liveness(&self) -> Liveness {
        self.producer_liveness_word(self.control().producer_owner.load(Ordering::Acquire))
    }

    fn producer_alive_word(&self, owner: u64) -> bool {
        self.producer_liveness_word(owner).maybe_alive()
    }

    fn producer_liveness_word(&self, owner: u64) -> Liveness {
        let c = self.control();
        process::participant_liveness(owner, c.producer_pid_ns.load(Ordering::Relaxed), c.producer_heartbeat.load(Ordering::Relaxed))
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
        if mutant!("producer.restart-refused") || self.producer_alive_word(owner) {
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
    /// cleanly. A freed slot whose id is not valid ([`slot_id`](Self::slot_id)) yields no id:
    /// no cursor name is built from it.
    pub fn reap_dead(&self) -> Vec<String> {
        let mut freed = false;
        let mut ids = Vec::new();
        for i in 0..self.slots {
            let s = self.slot(i);
            let state = s.state.load(Ordering::Acquire);
            let owner = s.owner.load(Ordering::Acquire);
            let dead = state == SLOT_DEAD || (matches!(state, SLOT_ACTIVE | SLOT_EVICTED) && !self.slot_alive_word(i, owner));
            let dead = dead && !mutant!("producer.close-no-reap");
            if dead && s.owner.compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                ids.extend(self.slot_id(i));
                s.state.store(SLOT_FREE, Ordering::Release);
                freed = true;
            }
        }
        if freed {
            self.bump();
        }
        ids
    }

    /// Whether any participant (producer or consumer slot owner) may still run (alive, or not
    /// known to be dead): the first one.
    pub fn anyone_alive(&self) -> Option<u32> {
        self.alive_participants().first().map(|a| a.pid)
    }

    /// Every participant that the registry names and that runs, as the registry says (pid and
    /// start time, or heartbeat): the producer first, then consumer slots. The words are
    /// hostile input: a forged slot can name any live process (pid 1 with its start time), so
    /// a tool that overrides this verdict says which entry it overrides.
    pub fn alive_participants(&self) -> Vec<AliveParticipant> {
        let mut out = Vec::new();
        if self.producer_alive() {
            out.push(AliveParticipant { slot: None, id: None, pid: self.producer_pid() });
        }
        out.extend(
            (0..self.slots)
                .filter(|&i| matches!(self.slot_state(i), SLOT_ACTIVE | SLOT_CLAIMING) && self.slot_owner_alive(i))
                .map(|i| AliveParticipant { slot: Some(i), id: Some(self.slot_id_raw(i)), pid: owner_pid(self.slot(i).owner.load(Ordering::Acquire)) }),
        );
        out
    }

    /// Refuses a join that took slot `i` (its cursor was lapped, or it was evicted): the slot
    /// stops gating and goes back to DEAD (EVICTED if `evicted`), so a retry is refused the same
    /// way and the closing producer frees it and removes its cursor once the refused process is
    /// gone (SPEC.md §7.3 step 5, §7.6).
    pub fn refuse(&self, i: usize, evicted: bool) {
        protocol::step_down(self.slot(i), self.control(), if evicted { SLOT_EVICTED } else { SLOT_DEAD });
    }

    /// Leaves slot `i` if its owner word is still `me` (the word [`join`](Self::join) stored):
    /// the consumer stops gating. Returns whether the slot was
    /// ours or nobody's; a slot another process took over (this one was judged dead and a
    /// restart under its id took the slot and its cursor) is left alone, and so is the cursor
    /// (SPEC.md §7.5).
    pub fn leave(&self, i: usize, me: u64) -> bool {
        let s = self.slot(i);
        match s.owner.load(Ordering::Acquire) {
            owner if owner == me && mutant!("consumer.leave-no-generation") => {
                s.owner.store(0, Ordering::Relaxed);
                s.state.store(SLOT_FREE, Ordering::Release);
                true
            }
            owner if owner == me && mutant!("consumer.leave-keeps-active") => {
                s.owner.store(0, Ordering::Relaxed);
                protocol::announce(self.control());
                true
            }
            owner if owner == me => {
                protocol::leave(s, self.control());
                true
            }
            0 => true,
            _ => false,
        }
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
