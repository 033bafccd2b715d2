//! The participant registry (see [`crate::layout::registry`] for its bytes): who takes part
//! in a ring. This file maps the segment and reads it (slots, ids, the gating members);
//! `membership` is joining and leaving (SPEC.md §7.3, §7.5), `verdicts` the judgements on
//! participants: alive or dead, retired, reaped, the producer's ownership (§7.6, §7.9, §7.10).
//! Every ordering on the registry's words is [`crate::protocol`]'s.

mod membership;
mod verdicts;

pub use membership::Join;

use crate::error::{Error, Result};
use crate::layout::image::{registry_image, RegistryInit};
use crate::layout::registry::*;
use crate::layout::{Expect, SegmentKind};
use crate::names::SegmentPath;
use crate::process;
use crate::protocol;
use crate::segment::Segment;
use crate::sync::Ordering;

/// A mapped registry segment.
#[derive(Debug)]
pub struct Registry {
    seg: Segment,
    slots: usize,
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
        let image = registry_image(&init)
            .map_err(|e| Error::InvalidConfig(format!("registry of {slots} slots: {e}")))?;
        let seg = Segment::create(
            path,
            "registry",
            image.header(),
            *image.geometry(),
            |payload| {
                // SAFETY: fresh payload of 128 * (slots + 1) bytes, not yet visible to anyone (the
                // header, magic last, is written after this returns).
                unsafe { image.write_payload(payload) }
            },
        )?;
        let r = Registry { seg, slots };
        if mutant!("registry.generation-starts-1") {
            // Planted defect; the image, not yet visible to anyone, is being finished.
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
        // Relaxed: written once, before the registry was linked into place.
        self.control().epoch.load(Ordering::Relaxed)
    }

    /// Changes on every join, leave or takeover.
    pub fn generation(&self) -> u64 {
        protocol::generation(self.control())
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
        let len = protocol::id_len(s);
        // SAFETY: plain bytes; a concurrent claimer can only make this read stale, and the
        // length was published after the bytes.
        let bytes = unsafe { *s.id.get() };
        let id = std::str::from_utf8(bytes.get(..len)?).ok()?;
        if mutant!("registry.unvalidated-id") {
            return Some(id.to_owned());
        }
        crate::names::validate_consumer_id(id)
            .is_ok()
            .then(|| id.to_owned())
    }

    /// Slot `i`'s id bytes as text, whatever they are: for reports only (`stat`, `rm`); never
    /// build a name from it (use [`slot_id`](Self::slot_id)).
    pub fn slot_id_raw(&self, i: usize) -> String {
        let s = self.slot(i);
        let len = protocol::id_len(s).min(MAX_ID_LEN);
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
                Some(Participant {
                    slot: i,
                    id: self.slot_id(i)?,
                    pid: owner_pid(protocol::owner(s)),
                    // Relaxed: liveness words, for reports.
                    start_time: s.start_time.load(Ordering::Relaxed),
                    heartbeat_ns: s.heartbeat.load(Ordering::Relaxed),
                    incarnation: protocol::incarnation(s),
                })
            })
            .collect()
    }

    /// The state word of slot `i`, as it is on the wire (for tools and tests that show or compare
    /// raw words; [`state`](Self::state) decodes it).
    pub fn slot_state(&self, i: usize) -> u32 {
        protocol::slot_word(self.slot(i))
    }

    /// The state of slot `i`; `None` for a word no participant writes (corrupt or foreign).
    pub fn state(&self, i: usize) -> Option<SlotState> {
        protocol::slot_state(self.slot(i))
    }

    /// Publishes a membership change: the generation bump, then a full fence so that the
    /// joiner's next load of the producer cursor is ordered after it (SPEC.md §7.3).
    fn bump(&self) {
        protocol::announce(self.control());
    }

    /// The underlying segment.
    pub fn segment(&self) -> &Segment {
        &self.seg
    }
}
