//! Verdicts on participants: whether a slot's owner or the producer may still run (pid and
//! start time, or heartbeat across pid namespaces: SPEC.md §7.10), the producer's retirement of
//! dead or evicted consumers, the closing producer's reaping (§7.6), the restart's takeover of
//! the producer's ownership (§7.9), and heartbeats.

use super::Registry;
use crate::error::{Error, Result};
use crate::layout::registry::{owner_pid, owner_word, SlotState};
use crate::process::{self, Liveness};
use crate::protocol;
use crate::sync::Ordering;

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
            (Some(i), Some(id)) => {
                write!(f, "consumer {id:?} (registry slot {i}, pid {})", self.pid)
            }
            (Some(i), None) => write!(f, "registry slot {i} (pid {})", self.pid),
            _ => write!(f, "the producer (pid {})", self.pid),
        }
    }
}

impl Registry {
    /// Moves slot `i` from ACTIVE to `to` (DEAD or EVICTED) if its incarnation is still
    /// `incarnation`; returns whether it did. The producer's verdicts on its consumers.
    pub fn retire(&self, i: usize, incarnation: u64, to: SlotState) -> bool {
        let s = self.slot(i);
        if protocol::incarnation(s) != incarnation {
            return false;
        }
        let done = protocol::retire(s, to);
        if done {
            // A consumer killed while parked never takes its count of `consumers_parked` back:
            // without this, the producer would make a FUTEX_WAKE per publish from now on
            // (SPEC.md §8 {R8.d}).
            self.take_back_parked(i);
            self.bump();
        }
        done
    }

    /// Takes back the count of `consumers_parked` that slot `i`'s mark says its owner holds, if
    /// any, right after this process claimed the slot from that owner (retired, reaped or took
    /// it over: SPEC.md §8 {R8.d}).
    pub(super) fn take_back_parked(&self, i: usize) {
        if !mutant!("registry.parked-count-kept") {
            protocol::take_back_parked(&self.slot(i).parked, &self.control().consumers_parked);
        }
    }

    /// Whether the process owning slot `i` may still run: alive, or not known to be dead (an
    /// unreadable `/proc` entry). What every decision that retires, reaps or takes a slot over
    /// uses: a false "alive" only delays, a false "dead" corrupts (SPEC.md §7.10).
    pub fn slot_owner_alive(&self, i: usize) -> bool {
        self.slot_liveness(i).maybe_alive()
    }

    /// The verdict on slot `i`'s owner: pid and start time, or the heartbeat across pid
    /// namespaces (SPEC.md §7.10).
    pub fn slot_liveness(&self, i: usize) -> Liveness {
        self.slot_liveness_word(i, protocol::owner(self.slot(i)))
    }

    /// Whether `owner`, read from slot `i`, may still run (alive or unknown).
    pub(super) fn slot_alive_word(&self, i: usize, owner: u64) -> bool {
        self.slot_liveness_word(i, owner).maybe_alive()
    }

    fn slot_liveness_word(&self, i: usize, owner: u64) -> Liveness {
        let s = self.slot(i);
        // Relaxed: liveness words, advisory (a false "alive" only delays).
        process::participant_liveness(
            owner,
            s.pid_ns.load(Ordering::Relaxed),
            s.heartbeat.load(Ordering::Relaxed),
        )
    }

    /// Whether the producer that owns the ring may still run (alive or unknown).
    pub fn producer_alive(&self) -> bool {
        self.producer_liveness().maybe_alive()
    }

    /// The verdict on the producer that owns the ring.
    pub fn producer_liveness(&self) -> Liveness {
        self.producer_liveness_word(protocol::producer_owner(self.control()))
    }

    fn producer_alive_word(&self, owner: u64) -> bool {
        self.producer_liveness_word(owner).maybe_alive()
    }

    fn producer_liveness_word(&self, owner: u64) -> Liveness {
        let c = self.control();
        // Relaxed: liveness words, advisory.
        process::participant_liveness(
            owner,
            c.producer_pid_ns.load(Ordering::Relaxed),
            c.producer_heartbeat.load(Ordering::Relaxed),
        )
    }

    /// The producer's pid.
    pub fn producer_pid(&self) -> u32 {
        owner_pid(protocol::producer_owner(self.control()))
    }

    /// Takes the ring over from a dead producer (a restart). Fails if the owner runs. The start
    /// is counted separately, once the restart has validated the ring
    /// ([`count_producer_start`](Self::count_producer_start)): a restart that fails after the
    /// claim is no start.
    pub fn take_over_producer(&self, ring: &str) -> Result<()> {
        let c = self.control();
        let owner = protocol::producer_owner(c);
        if mutant!("producer.restart-refused") || self.producer_alive_word(owner) {
            return Err(Error::ProducerAlive {
                ring: ring.to_owned(),
                pid: owner_pid(owner),
            });
        }
        let start = process::own_start_time();
        let me = owner_word(process::own_pid(), start);
        if let Err(now) = protocol::take_over_producer(c, owner, me) {
            return Err(Error::ProducerAlive {
                ring: ring.to_owned(),
                pid: owner_pid(now),
            });
        }
        protocol::record_producer(c, start, process::boottime_ns(), process::own_pid_ns());
        self.bump();
        Ok(())
    }

    /// Counts a producer start (a restart that succeeded); returns the new count.
    pub fn count_producer_start(&self) -> u64 {
        protocol::count_producer_start(self.control())
    }

    /// A restarted producer reopens a ring its predecessor may have half closed.
    pub fn reopen(&self) {
        protocol::reopen(self.control());
    }

    /// Records a heartbeat of the producer.
    pub fn producer_beat(&self) {
        // Relaxed: a heartbeat word, advisory.
        self.control()
            .producer_heartbeat
            .store(process::boottime_ns(), Ordering::Relaxed);
    }

    /// Records a heartbeat of slot `i`'s owner.
    pub fn slot_beat(&self, i: usize) {
        // Relaxed: a heartbeat word, advisory.
        self.slot(i)
            .heartbeat
            .store(process::boottime_ns(), Ordering::Relaxed);
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
            let state = protocol::slot_state(s);
            let owner = protocol::owner(s);
            let dead = match state {
                Some(SlotState::Dead) => true,
                Some(SlotState::Active | SlotState::Evicted) => !self.slot_alive_word(i, owner),
                _ => false,
            };
            let dead = dead && !mutant!("producer.close-no-reap");
            if dead && protocol::reap_claim(s, owner) {
                self.take_back_parked(i);
                ids.extend(self.slot_id(i));
                protocol::free(s);
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
            out.push(AliveParticipant {
                slot: None,
                id: None,
                pid: self.producer_pid(),
            });
        }
        out.extend(
            (0..self.slots)
                .filter(|&i| {
                    matches!(self.state(i), Some(SlotState::Active | SlotState::Claiming))
                        && self.slot_owner_alive(i)
                })
                .map(|i| AliveParticipant {
                    slot: Some(i),
                    id: Some(self.slot_id_raw(i)),
                    pid: owner_pid(protocol::owner(self.slot(i))),
                }),
        );
        out
    }
}
