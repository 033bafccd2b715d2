//! The registry segment (kind 3, a ringproof extension): who takes part in a ring.
//!
//! ```text
//!  0                     56   64                    192                   320
//! +---------------------+----+---------------------+---------------------+-- ... --+
//! | LayoutV1 header,    |zero| Control (128 bytes) | Slot 0 (128 bytes)  | Slot 1  |
//! | kind 3, align 64,   |    | epoch, generation,  | one consumer        |         |
//! | elem 128, cap N     |    | ring state, producer|                     |         |
//! +---------------------+----+---------------------+---------------------+-- ... --+
//!                             payload_size = 128 * (N + 1)
//!
//! Control:                                   Slot:
//!   0 epoch           u64 (fixed, non-zero)    0 state        u32  FREE/CLAIMING/ACTIVE/DEAD/EVICTED
//!   8 generation      u64 (+1 per change)      4 role         u32  2 = consumer
//!  16 ring_state      u32 OPEN/CLOSED          8 owner        u64  pid | start_lo << 32
//!  20 reserved        u32                     16 start_time   u64  /proc/PID/stat field 22
//!  24 final_sequence  i64 (valid when CLOSED) 24 heartbeat    u64  CLOCK_BOOTTIME ns
//!  32 producer_owner  u64 pid | start_lo<<32  32 incarnation  u64  +1 per (re)join
//!  40 producer_start  u64                     40 id_len       u32
//!  48 producer_beat   u64 CLOCK_BOOTTIME ns   44 parked       u32  0, or the park token of an
//!                                                  owner counted in consumers_parked (SPEC.md §8 R8.d)
//!  56 producer_starts u64 (+1 per start)      48 id           [u8; 48] UTF-8, NUL-padded
//!  64 producer_pid_ns u64 pid namespace inode 96 pid_ns       u64  pid namespace inode
//!  72 consumers_parked u32 (SPEC.md §8)      104..128 zero
//!  76..128 zero
//! ```
//!
//! The control block's two cache lines: 0..64 is written on membership changes, heartbeats and
//! close; 64..128 only at creation or restart (`producer_pid_ns`) and by a consumer around a
//! park in `FUTEX_WAIT` (`consumers_parked`). The producer reads `consumers_parked` after every
//! cursor store, so that line must stay quiet in steady state: a load from it hits the
//! producer's cache, where the producer cursor cell's own `waiters` word would sit in the line
//! a spinning consumer keeps pulling away.

use crate::sync::{AtomicI64, AtomicU32, AtomicU64};

/// Bytes per registry slot (and of the control block).
pub const SLOT_SIZE: usize = 128;
/// Alignment recorded in a registry header.
pub const REGISTRY_ALIGNMENT: usize = 64;
/// Offset of the control block.
pub const CONTROL_OFFSET: usize = 64;
/// Default number of consumer slots.
pub const DEFAULT_SLOTS: usize = 64;
/// Longest consumer id, in bytes.
pub const MAX_ID_LEN: usize = 48;

/// `ring_state`: the producer is (or was, if it crashed) publishing.
pub const RING_OPEN: u32 = 1;
/// `ring_state`: the producer shut down cleanly after publishing `final_sequence`.
pub const RING_CLOSED: u32 = 2;

/// Slot `state`: unused.
pub const SLOT_FREE: u32 = 0;
/// Slot `state`: a process is filling the slot in; not yet gating.
pub const SLOT_CLAIMING: u32 = 1;
/// Slot `state`: the consumer gates the producer.
pub const SLOT_ACTIVE: u32 = 2;
/// Slot `state`: the producer found the owner dead; no longer gating. The id and cursor stay.
pub const SLOT_DEAD: u32 = 3;
/// Slot `state`: the producer evicted this required consumer (liveness action); not gating.
pub const SLOT_EVICTED: u32 = 4;

/// A slot's `state` word, decoded. The wire values are the `SLOT_*` constants above; every
/// decision the protocol takes on a slot's state goes through [`SlotState::decode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum SlotState {
    /// [`SLOT_FREE`]: unused.
    Free = SLOT_FREE,
    /// [`SLOT_CLAIMING`]: a joiner is filling the slot in; not yet gating.
    Claiming = SLOT_CLAIMING,
    /// [`SLOT_ACTIVE`]: the consumer gates the producer.
    Active = SLOT_ACTIVE,
    /// [`SLOT_DEAD`]: retired as dead (or a refused join); not gating, id and cursor kept.
    Dead = SLOT_DEAD,
    /// [`SLOT_EVICTED`]: a required consumer the producer evicted; not gating.
    Evicted = SLOT_EVICTED,
}

impl SlotState {
    /// The state a wire word encodes; `None` for a word no participant writes (the slot is
    /// corrupt or was written by a foreign process: it neither gates nor holds an id).
    #[inline(always)]
    pub const fn decode(word: u32) -> Option<SlotState> {
        match word {
            SLOT_FREE => Some(SlotState::Free),
            SLOT_CLAIMING => Some(SlotState::Claiming),
            SLOT_ACTIVE => Some(SlotState::Active),
            SLOT_DEAD => Some(SlotState::Dead),
            SLOT_EVICTED => Some(SlotState::Evicted),
            _ => None,
        }
    }

    /// The wire word.
    #[inline(always)]
    pub const fn word(self) -> u32 {
        self as u32
    }

    /// Whether the slot holds a consumer id that a joiner under that id must reckon with
    /// (ACTIVE, DEAD or EVICTED: a slot of that id, gating or retired).
    pub const fn holds_id(self) -> bool {
        matches!(
            self,
            SlotState::Active | SlotState::Dead | SlotState::Evicted
        )
    }

    /// The state's name as SPEC.md writes it.
    pub const fn name(self) -> &'static str {
        match self {
            SlotState::Free => "FREE",
            SlotState::Claiming => "CLAIMING",
            SlotState::Active => "ACTIVE",
            SlotState::Dead => "DEAD",
            SlotState::Evicted => "EVICTED",
        }
    }
}

/// Slot `role`: a consumer.
pub const ROLE_CONSUMER: u32 = 2;

/// Ring-wide state, right after the header.
#[repr(C, align(64))]
pub struct Control {
    pub epoch: AtomicU64,
    pub generation: AtomicU64,
    pub ring_state: AtomicU32,
    pub reserved: u32,
    pub final_sequence: AtomicI64,
    pub producer_owner: AtomicU64,
    pub producer_start_time: AtomicU64,
    pub producer_heartbeat: AtomicU64,
    pub producer_starts: AtomicU64,
    /// Inode of the producer's pid namespace (`/proc/self/ns/pid`); 0 = unknown.
    pub producer_pid_ns: AtomicU64,
    /// Consumers sleeping, or about to sleep, in `FUTEX_WAIT` on the producer cursor: the
    /// producer's wake word (SPEC.md §8), off the producer cursor's cache line. 0 initially.
    pub consumers_parked: AtomicU32,
    pub padding: [u8; 52],
}

/// One participant.
#[repr(C, align(64))]
pub struct Slot {
    pub state: AtomicU32,
    pub role: AtomicU32,
    pub owner: AtomicU64,
    pub start_time: AtomicU64,
    pub heartbeat: AtomicU64,
    pub incarnation: AtomicU64,
    pub id_len: AtomicU32,
    /// 0, or the [`park_token`] of a consumer that counted itself in the control block's
    /// `consumers_parked` and has not taken that count back yet (SPEC.md §8 {R8.d}): whoever
    /// swaps the token out (the consumer on waking, or whoever retires, reaps or takes the slot
    /// over) takes the count back, so each count is taken back exactly once.
    pub parked: AtomicU32,
    /// Written only by the process that holds the slot in CLAIMING.
    pub id: core::cell::UnsafeCell<[u8; MAX_ID_LEN]>,
    /// Inode of the owner's pid namespace; 0 = unknown.
    pub pid_ns: AtomicU64,
    pub padding: [u8; 24],
}

/// Packs a pid and the low 32 bits of its start time into one word, so that "who owns this
/// slot" changes with a single atomic store and cannot be read half-updated.
pub fn owner_word(pid: u32, start_time: u64) -> u64 {
    u64::from(pid) | (start_time & 0xFFFF_FFFF) << 32
}

/// The pid in an owner word.
pub fn owner_pid(owner: u64) -> u32 {
    owner as u32
}

/// The token a consumer owning a slot with `owner` stores in the slot's `parked` word while it
/// is counted in `consumers_parked` (SPEC.md §8 {R8.d}): the owner word's low 32 bits (its pid),
/// never 0. It keeps an earlier owner of the slot, waking after the slot was taken over, from
/// taking back the count of the new owner's park.
pub fn park_token(owner: u64) -> u32 {
    owner_pid(owner).max(1)
}

/// Total registry segment size for `slots` consumer slots.
pub const fn segment_size(slots: usize) -> usize {
    CONTROL_OFFSET + SLOT_SIZE * (slots + 1)
}

#[cfg(not(loom))]
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<Control>() == SLOT_SIZE);
    assert!(size_of::<Slot>() == SLOT_SIZE);
    assert!(offset_of!(Control, generation) == 8);
    assert!(offset_of!(Control, ring_state) == 16);
    assert!(offset_of!(Control, final_sequence) == 24);
    assert!(offset_of!(Control, producer_owner) == 32);
    assert!(offset_of!(Control, producer_starts) == 56);
    assert!(offset_of!(Control, producer_pid_ns) == 64);
    assert!(offset_of!(Control, consumers_parked) == 72);
    assert!(offset_of!(Slot, pid_ns) == 96);
    assert!(offset_of!(Slot, owner) == 8);
    assert!(offset_of!(Slot, heartbeat) == 24);
    assert!(offset_of!(Slot, incarnation) == 32);
    assert!(offset_of!(Slot, id_len) == 40);
    assert!(offset_of!(Slot, parked) == 44);
    assert!(offset_of!(Slot, id) == 48);
    assert!(super::header::payload_offset(REGISTRY_ALIGNMENT) == CONTROL_OFFSET);
};
