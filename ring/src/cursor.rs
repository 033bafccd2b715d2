//! A mapped cursor segment (see [`crate::layout::cursor`] for its bytes).

use crate::error::{Error, Result};
use crate::layout::cursor::{CursorCell, CURSOR_CELL_OFFSET};
use crate::layout::image::cursor_image;
use crate::layout::{Expect, SegmentKind};
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
    pub fn create(
        path: &SegmentPath,
        what: &'static str,
        initial: i64,
        epoch: u64,
    ) -> Result<Cursor> {
        // The bytes come from the same builder the golden layouts are checked against.
        let image = cursor_image(initial, epoch);
        let seg = Segment::create(path, what, image.header(), *image.geometry(), |payload| {
            // SAFETY: the payload is the 64-byte cell, not yet visible to anyone (the header,
            // magic last, is written after this returns).
            unsafe { image.write_payload(payload) }
        })?;
        Ok(Cursor { seg })
    }

    /// Opens an existing cursor segment.
    pub fn open(path: &SegmentPath, what: &'static str) -> Result<Cursor> {
        Ok(Cursor {
            seg: Segment::open(path, what, &Expect::kind(SegmentKind::Cursor))?,
        })
    }

    /// Opens a cursor segment, retrying while it is missing or being created, until `timeout`.
    pub fn open_waiting(
        path: &SegmentPath,
        what: &'static str,
        timeout: std::time::Duration,
    ) -> Result<Cursor> {
        Ok(Cursor {
            seg: Segment::open_waiting(path, what, &Expect::kind(SegmentKind::Cursor), timeout)?,
        })
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

/// A sequence read from a cursor (shared memory, so hostile until checked) before it is used as
/// a position: `-1` (nothing yet) up to `i64::MAX - 1`, so that the next sequence, `value + 1`,
/// exists. Anything else no participant writes: [`Error::CorruptCursor`] (SPEC.md §7.3 step 2).
/// For the slow paths (attach, restart), never per event.
pub fn position(what: &'static str, path: &SegmentPath, value: i64) -> Result<i64> {
    if mutant!("consumer.corrupt-cursor-accepted") {
        return Ok(value);
    }
    let why = match value {
        i64::MIN..=-2 => "below -1",
        i64::MAX => "no sequence follows it",
        _ => return Ok(value),
    };
    Err(Error::CorruptCursor {
        what,
        name: path.to_string(),
        value,
        why,
    })
}

impl Cursor {
    /// [`load`](Self::load), checked with `position`: for a value about to become a position.
    pub fn load_position(&self, what: &'static str) -> Result<i64> {
        position(what, self.path(), self.load())
    }
}
