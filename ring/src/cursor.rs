//! A mapped cursor segment (see [`crate::layout::cursor`] for its bytes).

use crate::error::Result;
use crate::layout::cursor::{CursorCell, CURSOR_ALIGNMENT, CURSOR_CELL_OFFSET, CURSOR_PAYLOAD_SIZE};
use crate::layout::{fresh_header, Expect, SegmentKind};
use crate::names::SegmentPath;
use crate::segment::Segment;
use crate::sync::Ordering;

/// A cursor segment, mapped.
#[derive(Debug)]
pub struct Cursor {
    seg: Segment,
}

impl Cursor {
    /// Creates a cursor segment holding `initial`, stamped with `epoch`, before it becomes valid.
    pub fn create(path: &SegmentPath, what: &'static str, initial: i64, epoch: u64) -> Result<Cursor> {
        let (header, geometry) =
            fresh_header(SegmentKind::Cursor, CURSOR_ALIGNMENT, CURSOR_PAYLOAD_SIZE as u64, 1).expect("fixed sizes");
        let seg = Segment::create(path, what, &header, geometry, |payload| {
            // SAFETY: the payload is the 64-byte, 64-aligned cell, not yet visible to anyone.
            let cell = unsafe { &*(payload as *const CursorCell) };
            cell.value.store(initial, Ordering::Relaxed);
            cell.epoch.store(epoch, Ordering::Relaxed);
        })?;
        Ok(Cursor { seg })
    }

    /// Opens an existing cursor segment.
    pub fn open(path: &SegmentPath, what: &'static str) -> Result<Cursor> {
        Ok(Cursor { seg: Segment::open(path, what, &Expect::kind(SegmentKind::Cursor))? })
    }

    /// The cell: the sequence and its wake word.
    #[inline(always)]
    pub fn cell(&self) -> &CursorCell {
        debug_assert_eq!(self.seg.geometry().payload_offset, CURSOR_CELL_OFFSET);
        // SAFETY: validated cursor segment: 64 bytes at offset 64, 64-aligned.
        unsafe { &*(self.seg.payload() as *const CursorCell) }
    }

    /// Current value (acquire).
    #[inline(always)]
    pub fn load(&self) -> i64 {
        self.cell().value.load(Ordering::Acquire)
    }

    /// Where it lives.
    pub fn path(&self) -> &SegmentPath {
        self.seg.path()
    }

    /// The underlying segment.
    pub fn segment(&self) -> &Segment {
        &self.seg
    }
}
