//! A ring's state as an observer sees it: [`RingStat::read`] maps the ring's segments, copies
//! out what they say (cursors, registry, counters) and modifies nothing. `ringproof stat`
//! renders it as a table, JSON or Prometheus text.
//!
//! The reading is a racy snapshot by design: each word is loaded once (acquire), so values
//! taken a few nanoseconds apart may disagree slightly (a lag computed from a producer cursor
//! read before the consumer's, for instance).

use crate::counters::{CounterValue, Counters};
use crate::cursor::Cursor;
use crate::error::{Error, Result};
use crate::layout::registry::{owner_pid, SlotState, RING_CLOSED, RING_OPEN, ROLE_CONSUMER};
use crate::layout::{Expect, SegmentKind};
use crate::names::{Location, RingName};
use crate::process;
use crate::registry::Registry;
use crate::segment::Segment;
use crate::sync::Ordering;

/// Whether the producer is still publishing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingState {
    /// OPEN: the producer is (or was, if it crashed) publishing.
    Open,
    /// CLOSED: the producer shut down cleanly after `final_sequence`.
    Closed { final_sequence: i64 },
    /// A `ring_state` word this build does not know.
    Unknown(u32),
}

impl RingState {
    /// "open", "closed", "unknown(n)".
    pub fn name(&self) -> String {
        match self {
            RingState::Open => "open".into(),
            RingState::Closed { .. } => "closed".into(),
            RingState::Unknown(n) => format!("unknown({n})"),
        }
    }
}

/// A participant's condition, from its registry slot state and its process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParticipantState {
    /// ACTIVE and its process runs.
    Alive,
    /// ACTIVE but its process is gone (it still gates the producer until it is taken over or
    /// evicted), or declared DEAD.
    Dead,
    /// EVICTED: the producer stopped waiting for it.
    Evicted,
    /// CLAIMING: joining right now.
    Claiming,
    /// A state word this build does not know.
    Unknown(u32),
}

impl ParticipantState {
    /// "alive", "dead", "evicted", "claiming", "unknown(n)".
    pub fn name(&self) -> String {
        match self {
            ParticipantState::Alive => "alive".into(),
            ParticipantState::Dead => "dead".into(),
            ParticipantState::Evicted => "evicted".into(),
            ParticipantState::Claiming => "claiming".into(),
            ParticipantState::Unknown(n) => format!("unknown({n})"),
        }
    }

    /// Whether the participant is alive.
    pub fn is_up(&self) -> bool {
        matches!(self, ParticipantState::Alive)
    }
}

/// The producer, as its registry control block records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerStat {
    pub pid: u32,
    /// Whether that process (pid and start time) still runs.
    pub alive: bool,
    /// Nanoseconds since its last heartbeat (`CLOCK_BOOTTIME`); `None` if it never beat.
    pub heartbeat_age_ns: Option<u64>,
    /// 1 at creation, +1 per restart.
    pub starts: u64,
}

/// One non-FREE registry slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantStat {
    /// Registry slot index.
    pub slot: usize,
    pub id: String,
    /// "consumer", or "role(n)" for a role this build does not know.
    pub role: String,
    pub pid: u32,
    pub state: ParticipantState,
    /// The raw slot state word.
    pub raw_state: u32,
    pub heartbeat_age_ns: Option<u64>,
    /// +1 per join or takeover.
    pub incarnation: u64,
    /// Its cursor's value; `None` when its cursor segment is missing or invalid.
    pub cursor: Option<i64>,
    /// Producer cursor minus its cursor (how many published events it has not consumed).
    pub lag: Option<i64>,
}

/// A ring, as [`RingStat::read`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingStat {
    pub ring: String,
    /// "shm" or "dir".
    pub backend: &'static str,
    /// The directory of a file-backed ring.
    pub dir: Option<std::path::PathBuf>,
    /// Slots in the ring.
    pub capacity: u64,
    /// Bytes per event.
    pub element_size: u64,
    /// Last published sequence (-1: none).
    pub producer_cursor: i64,
    /// `None` without a registry (a disruptor-mp ring).
    pub state: Option<RingState>,
    /// `None` without a registry.
    pub producer: Option<ProducerStat>,
    /// Registry epoch (`None` without a registry).
    pub epoch: Option<u64>,
    /// Every registry slot whose state is not FREE, in slot order.
    pub participants: Vec<ParticipantStat>,
    /// The counters segment's published counters; `None` when there is none (or it cannot
    /// be read: then a note says why).
    pub counters: Option<Vec<CounterValue>>,
    /// What the reader could not see, and why.
    pub notes: Vec<String>,
}

fn age(now: u64, beat: u64) -> Option<u64> {
    (beat != 0).then(|| now.saturating_sub(beat))
}

impl RingStat {
    /// Reads ring `name`: the ring header and producer cursor (both required: a ring missing
    /// either is reported as [`Error::NotFound`] or the validation error), the registry and
    /// the consumer cursors it names, and the counters segment if there is one. Writes nothing.
    pub fn read(name: &RingName) -> Result<RingStat> {
        let ring = Segment::open(&name.ring(), "ring", &Expect::kind(SegmentKind::Ring))?;
        let geometry = *ring.geometry();
        drop(ring);
        let producer_cursor = Cursor::open(&name.producer_cursor(), "producer cursor")?.load();
        let (backend, dir) = match name.location() {
            Location::Shm => ("shm", None),
            Location::Dir(d) => ("dir", Some(d.clone())),
        };
        let mut stat = RingStat {
            ring: name.name().to_owned(),
            backend,
            dir,
            capacity: geometry.capacity,
            element_size: geometry.element_size,
            producer_cursor,
            state: None,
            producer: None,
            epoch: None,
            participants: Vec::new(),
            counters: None,
            notes: Vec::new(),
        };
        match Registry::open(&name.registry()) {
            Ok(reg) => stat.read_registry(name, &reg),
            Err(Error::NotFound { .. }) => stat.notes.push(
                "no registry: a disruptor-mp producer (which has none), or a ringproof producer that already closed; participants are not listed"
                    .into(),
            ),
            Err(e) => stat.notes.push(format!("registry unreadable, participants not listed: {e}")),
        }
        match Counters::open(&name.counters()) {
            Ok(c) => stat.counters = Some(c.snapshot()),
            Err(e) if e.is_not_found() => {}
            Err(e) => stat.notes.push(format!("counters unreadable: {e}")),
        }
        Ok(stat)
    }

    fn read_registry(&mut self, name: &RingName, reg: &Registry) {
        let control = reg.control();
        let now = process::boottime_ns();
        self.epoch = Some(control.epoch.load(Ordering::Relaxed));
        self.state = Some(match control.ring_state.load(Ordering::Acquire) {
            RING_OPEN => RingState::Open,
            RING_CLOSED => RingState::Closed {
                final_sequence: control.final_sequence.load(Ordering::Acquire),
            },
            n => RingState::Unknown(n),
        });
        self.producer = Some(ProducerStat {
            pid: reg.producer_pid(),
            alive: reg.producer_alive(),
            heartbeat_age_ns: age(now, control.producer_heartbeat.load(Ordering::Relaxed)),
            starts: control.producer_starts.load(Ordering::Relaxed),
        });
        for i in 0..reg.slots() {
            let s = reg.slot(i);
            let raw_state = s.state.load(Ordering::Acquire);
            let pid = owner_pid(s.owner.load(Ordering::Acquire));
            let state = match SlotState::decode(raw_state) {
                Some(SlotState::Free) => continue,
                Some(SlotState::Active) if reg.slot_owner_alive(i) => ParticipantState::Alive,
                Some(SlotState::Active | SlotState::Dead) => ParticipantState::Dead,
                Some(SlotState::Evicted) => ParticipantState::Evicted,
                Some(SlotState::Claiming) => ParticipantState::Claiming,
                None => ParticipantState::Unknown(raw_state),
            };
            let id = reg.slot_id_raw(i);
            let role = match s.role.load(Ordering::Relaxed) {
                ROLE_CONSUMER => "consumer".to_owned(),
                n => format!("role({n})"),
            };
            let cursor = if let Some(valid) = reg.slot_id(i) {
                match Cursor::open(&name.consumer_cursor(&valid), "consumer cursor") {
                    Ok(c) => Some(c.load()),
                    Err(Error::NotFound { .. }) => None,
                    Err(e) => {
                        self.notes.push(format!("cursor of {id:?} unreadable: {e}"));
                        None
                    }
                }
            } else {
                self.notes
                    .push(format!("registry slot {i} holds an invalid id {id:?}"));
                None
            };
            self.participants.push(ParticipantStat {
                slot: i,
                id,
                role,
                pid,
                state,
                raw_state,
                heartbeat_age_ns: age(now, s.heartbeat.load(Ordering::Relaxed)),
                incarnation: s.incarnation.load(Ordering::Relaxed),
                cursor,
                lag: cursor.map(|c| self.producer_cursor.saturating_sub(c)),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names() {
        assert_eq!(ParticipantState::Unknown(9).name(), "unknown(9)");
        assert_eq!(RingState::Closed { final_sequence: 3 }.name(), "closed");
        assert_eq!(age(10, 0), None);
        assert_eq!(age(10, 4), Some(6));
        assert_eq!(age(3, 4), Some(0));
    }
}
