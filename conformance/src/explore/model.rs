//! The reference model of the ring: what the producer and each consumer id must be doing,
//! and how much room a publish has, as simply as it can be said.

use super::{CAPACITY, CONSUMERS};
use crate::ctx::consumer_id;
use std::fmt;

/// The reference model of the producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProducerState {
    Running,
    Crashed,
    Closed,
}

/// The reference model of one consumer id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ConsumerState {
    /// Never joined, or left: not gating.
    Absent,
    /// Attached; `next` is the next sequence it receives (all before it are committed).
    Live { next: i64 },
    /// Killed: its slot and cursor still gate the producer at `next - 1`.
    Crashed { next: i64 },
    /// Killed, and then retired by a producer it held up (slot DEAD): no longer gating; its
    /// cursor, at `next - 1`, stays behind until the close. A restart is refused (*lapped*)
    /// and leaves the slot DEAD, so every later attach under this id is refused too.
    Retired { next: i64 },
}

/// What the ring must do, as simply as it can be said.
#[derive(Debug, Clone)]
pub(super) struct Model {
    /// Last published sequence.
    pub(super) published: i64,
    pub(super) producer: ProducerState,
    pub(super) consumers: [ConsumerState; CONSUMERS],
    /// A gate the model does not know of, at this cursor: set where a listed (expected)
    /// `publish.room` deviation stopped the producer short (full), so the model does not send
    /// a waiting publish that would never end; cleared when the producer gets more in than the
    /// model allowed.
    pub(super) phantom: Option<i64>,
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "published through {}, producer {:?}",
            self.published, self.producer
        )?;
        if let Some(p) = self.phantom {
            write!(f, ", an unexplained gate at {p}")?;
        }
        for (c, s) in self.consumers.iter().enumerate() {
            match s {
                ConsumerState::Absent => {}
                ConsumerState::Live { next } => {
                    write!(f, ", {} live (next {next})", consumer_id(c))?
                }
                ConsumerState::Crashed { next } => {
                    write!(f, ", {} crashed (committed {})", consumer_id(c), next - 1)?
                }
                ConsumerState::Retired { next } => {
                    write!(f, ", {} retired (committed {})", consumer_id(c), next - 1)?
                }
            }
        }
        Ok(())
    }
}

impl Model {
    /// Events a publish can get in: the slowest gating consumer (live or crashed) holds the
    /// ring at `capacity` past its cursor; with no gate the producer gates only on itself.
    pub(super) fn room(&self) -> u64 {
        self.room_among(|c| {
            matches!(
                c,
                ConsumerState::Live { .. } | ConsumerState::Crashed { .. }
            )
        })
    }

    /// Room left by the live consumers alone: what a waiting publish gets once the producer
    /// retired every dead consumer that held it up.
    pub(super) fn live_room(&self) -> u64 {
        self.room_among(|c| matches!(c, ConsumerState::Live { .. }))
    }

    pub(super) fn room_among(&self, gating: impl Fn(&ConsumerState) -> bool) -> u64 {
        let slowest = self
            .consumers
            .iter()
            .filter(|c| gating(c))
            .filter_map(|c| match c {
                ConsumerState::Live { next }
                | ConsumerState::Crashed { next }
                | ConsumerState::Retired { next } => Some(next - 1),
                ConsumerState::Absent => None,
            })
            .chain(self.phantom)
            .min();
        // Saturating: after a tolerated deviation a gate may lag by more than the ring.
        slowest.map_or(u64::MAX, |s| {
            CAPACITY.saturating_sub((self.published - s).max(0) as u64)
        })
    }
}
