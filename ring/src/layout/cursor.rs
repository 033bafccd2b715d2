//! The cursor segment: one sequence, padded to its own cache line.
//!
//! ```text
//!  0                          56     64       72       76       80       88            128
//! +--------------------------+------+--------+--------+--------+--------+-------------+
//! | LayoutV1 header, kind 2   | zero | value  |waiters | joined | epoch  | zero        |
//! | align 64, elem 64, cap 1  |      | i64    | u32    | u32    | u64    |             |
//! +--------------------------+------+--------+--------+--------+--------+-------------+
//!                                   '---------------- CursorCell (64 bytes) ----------'
//! ```
//!
//! `value` is all disruptor-mp knows about (it writes zeros elsewhere). ringproof adds, inside
//! the same cache line so that checking them costs the writer nothing extra:
//! - `waiters`: how many processes are about to sleep, or sleep, in `FUTEX_WAIT` on the low 32
//!   bits of `value`; whoever stores `value` wakes them when it is non-zero (SPEC.md §5).
//! - `joined`: 1 once the consumer that owns the cursor completed its join handshake (SPEC.md
//!   §7.3), 0 or 2 while a fresh join or a re-join is under way. A consumer restarted after a crash takes its slot over
//!   and resumes exactly only from a joined cursor: a slot whose join never completed may not
//!   have gated the producer.
//! - `epoch`: the registry epoch the value was written for, so a cursor left over from an
//!   earlier incarnation of the ring is recognised instead of gating or skipping events.

use crate::sync::{AtomicI64, AtomicU32, AtomicU64};

/// Offset of [`CursorCell`] in a cursor segment (the payload offset for alignment 64).
pub const CURSOR_CELL_OFFSET: usize = 64;
/// Size of a cursor segment's payload.
pub const CURSOR_PAYLOAD_SIZE: usize = 64;
/// Total size of a cursor segment.
pub const CURSOR_SEGMENT_SIZE: usize = CURSOR_CELL_OFFSET + CURSOR_PAYLOAD_SIZE;
/// Alignment recorded in a cursor segment's header.
pub const CURSOR_ALIGNMENT: usize = 64;
/// Initial value of producer and consumer cursors: nothing published, nothing consumed.
pub const INITIAL_SEQUENCE: i64 = -1;
/// `joined` of a consumer cursor whose join handshake completed.
pub const JOINED: u32 = 1;
/// `joined` while a fresh join is under way (`value` is not yet a position: the join starts at
/// the head), and of every cursor a disruptor-mp process made.
pub const JOINING: u32 = 0;
/// `joined` while a re-join is under way (`value` is the position the consumer left off at).
pub const REJOINING: u32 = 2;

/// The cursor's cache line.
#[repr(C, align(64))]
pub struct CursorCell {
    /// The sequence: last published (producer) or last consumed (consumer).
    pub value: AtomicI64,
    /// Sleepers on the low word of `value` (ringproof extension; 0 from disruptor-mp).
    pub waiters: AtomicU32,
    /// [`JOINED`] once the owning consumer's join handshake completed (ringproof extension;
    /// 0 from disruptor-mp).
    pub joined: AtomicU32,
    /// Registry epoch `value` belongs to (ringproof extension; 0 = unknown).
    pub epoch: AtomicU64,
    pub padding: [u8; 40],
}

#[cfg(not(loom))]
const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(size_of::<CursorCell>() == 64);
    assert!(align_of::<CursorCell>() == 64);
    assert!(offset_of!(CursorCell, value) == 0);
    assert!(offset_of!(CursorCell, waiters) == 8);
    assert!(offset_of!(CursorCell, joined) == 12);
    assert!(offset_of!(CursorCell, epoch) == 16);
    assert!(super::header::payload_offset(CURSOR_ALIGNMENT) == CURSOR_CELL_OFFSET);
};
