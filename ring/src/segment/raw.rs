//! [`RawSegment`]: a mapped segment without a LayoutV1 header (the counters segment).

use super::create::create_exclusive;
use super::open::open_existing;
use crate::error::{Error, Result};
use crate::names::SegmentPath;
use memmap2::{MmapOptions, MmapRaw};

/// A mapped segment without a LayoutV1 header (the counters segment, in disruptor-mp's own
/// counters layout): created as crash-safely as a [`Segment`], validated by its owner.
/// Unmapped on drop; never unlinked by drop.
pub struct RawSegment {
    /// `None` for an empty file (nothing to map).
    map: Option<MmapRaw>,
    path: SegmentPath,
    /// The object's length (the mapping covers `min(file_len, max_len)` bytes).
    file_len: u64,
}

// SAFETY: as for `Segment`: shared memory accessed only through atomics and its owner's rules.
unsafe impl Send for RawSegment {}
unsafe impl Sync for RawSegment {}

impl std::fmt::Debug for RawSegment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawSegment")
            .field("path", &self.path)
            .field("file_len", &self.file_len)
            .finish()
    }
}

impl RawSegment {
    /// Creates a `len`-byte segment that must not exist yet, exclusively (shm: `O_CREAT|O_EXCL`;
    /// files: a temporary name `link(2)`ed into place, as [`Segment::create`]). `init` receives
    /// the start of the zero-filled mapping and makes it valid; it MUST store the segment's
    /// magic last, with release, so that no reader accepts it half-written.
    pub fn create(
        path: &SegmentPath,
        what: &'static str,
        len: usize,
        init: impl FnOnce(*mut u8),
    ) -> Result<RawSegment> {
        let (map, _identity) = create_exclusive(path, what, len, init)?;
        Ok(RawSegment {
            map: Some(map),
            path: path.clone(),
            file_len: len as u64,
        })
    }

    /// Opens an existing segment and maps its first `min(length, max_len)` bytes, validating
    /// nothing but that it is a regular file: the caller checks [`len`](Self::len) and the
    /// contents before touching them.
    pub fn open(path: &SegmentPath, what: &'static str, max_len: usize) -> Result<RawSegment> {
        let (file, display, file_len, _identity, _mode) = open_existing(path, what)?;
        let map_len = usize::try_from(file_len).unwrap_or(usize::MAX).min(max_len);
        let map = if map_len == 0 {
            None
        } else {
            Some(
                MmapOptions::new()
                    .len(map_len)
                    .map_raw(&file)
                    .map_err(|e| Error::io("mmap", what, &display, e))?,
            )
        };
        Ok(RawSegment {
            map,
            path: path.clone(),
            file_len,
        })
    }

    /// Start of the mapping (null when nothing is mapped: check [`len`](Self::len) first).
    pub fn base(&self) -> *mut u8 {
        self.map
            .as_ref()
            .map_or(std::ptr::null_mut(), |m| m.as_mut_ptr())
    }

    /// Bytes mapped.
    pub fn len(&self) -> usize {
        self.map.as_ref().map_or(0, |m| m.len())
    }

    /// The object's length, which may exceed the mapping.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Where it lives.
    pub fn path(&self) -> &SegmentPath {
        &self.path
    }
}
