//! [`Segment`]: a mapped segment with a validated LayoutV1 header (ring, cursor, registry).

use super::create::create_exclusive;
use super::identity::{display_name, unlink_if_same, Identity};
use super::open::{check_owner, euid, open_existing};
use crate::error::{Error, Result};
use crate::layout::{validate_header, Expect, Geometry, LayoutError, LayoutHeader, HEADER_SIZE};
use crate::names::SegmentPath;
use crate::sync::{AtomicU64, Ordering};
use memmap2::{MmapOptions, MmapRaw};
use std::fs::File;

/// A mapped, validated segment. Unmapped on drop; never unlinked by drop (see [`unlink`](super::unlink)).
pub struct Segment {
    map: MmapRaw,
    path: SegmentPath,
    geometry: Geometry,
    identity: Identity,
    /// Permission bits when it was opened or created.
    mode: u32,
}

// SAFETY: the mapping is shared memory accessed only through atomics and the ring protocol.
unsafe impl Send for Segment {}
unsafe impl Sync for Segment {}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("path", &self.path)
            .field("geometry", &self.geometry)
            .finish()
    }
}

impl Segment {
    /// Creates a segment that must not exist yet. `init` receives the payload pointer and
    /// initialises it before the header makes the segment valid.
    pub fn create(
        path: &SegmentPath,
        what: &'static str,
        header: &LayoutHeader,
        geometry: Geometry,
        init: impl FnOnce(*mut u8),
    ) -> Result<Segment> {
        let (map, identity) =
            create_exclusive(path, what, geometry.total_len() as usize, |base| {
                // SAFETY: the mapping holds payload_offset + payload_size bytes.
                init(unsafe { base.add(geometry.payload_offset) });
                publish_header(base, header);
            })?;
        Ok(Segment {
            map,
            path: path.clone(),
            geometry,
            identity,
            mode: 0o600,
        })
    }

    /// Opens and validates an existing segment.
    pub fn open(path: &SegmentPath, what: &'static str, expect: &Expect) -> Result<Segment> {
        let (file, display, file_len, identity, mode) = open_existing(path, what)?;
        let len = usize::try_from(file_len).unwrap_or(usize::MAX);
        let layout_err = |source| Error::Layout {
            name: display.clone(),
            source,
        };
        if len < HEADER_SIZE {
            return Err(layout_err(LayoutError::TooShort { len }));
        }
        let map = MmapOptions::new()
            .len(len)
            .map_raw(&file)
            .map_err(|e| Error::io("mmap", what, &display, e))?;
        // Magic first, with acquire: it is written last by the creator.
        // SAFETY: the mapping is at least 56 bytes and 8-aligned (page-aligned).
        let magic = unsafe { &*(map.as_mut_ptr() as *const AtomicU64) }.load(Ordering::Acquire);
        let mut header = [0u8; HEADER_SIZE];
        // SAFETY: 56 bytes are mapped; the header is immutable once the magic is set.
        unsafe { std::ptr::copy_nonoverlapping(map.as_ptr(), header.as_mut_ptr(), HEADER_SIZE) };
        header[..8].copy_from_slice(&magic.to_le_bytes());
        let geometry = validate_header(&header, len, expect).map_err(layout_err)?;
        Ok(Segment {
            map,
            path: path.clone(),
            geometry,
            identity,
            mode,
        })
    }

    /// Opens `path`, retrying while it is missing or still being created, until `timeout`.
    pub fn open_waiting(
        path: &SegmentPath,
        what: &'static str,
        expect: &Expect,
        timeout: std::time::Duration,
    ) -> Result<Segment> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match Segment::open(path, what, expect) {
                Err(e)
                    if (e.is_transient() || maybe_half_written(&e))
                        && !unfinished_is_final(&e)
                        && std::time::Instant::now() < deadline =>
                {
                    // Discovery back-off while a peer creates the segment; not data synchronisation.
                    std::thread::sleep(std::time::Duration::from_micros(500));
                }
                other => return other,
            }
        }
    }

    /// Start of the mapping.
    pub fn base(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    /// Start of the payload.
    pub fn payload(&self) -> *mut u8 {
        // SAFETY: validated or created with payload_offset + payload_size <= len.
        unsafe { self.base().add(self.geometry.payload_offset) }
    }

    /// The validated shape.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// Where it lives.
    pub fn path(&self) -> &SegmentPath {
        &self.path
    }

    /// The object this segment maps (see [`Identity`]).
    pub fn identity(&self) -> Identity {
        self.identity
    }

    /// Refuses a segment other users may read (mode not 0600): a participant that *adopts* an
    /// existing segment as its own (a restarting producer its ring, cursor and registry) must
    /// not publish into something another user can see (SPEC.md §3.1).
    pub fn require_private(&self) -> Result<()> {
        check_owner(&display_name(&self.path), euid(), self.mode, 0o077)
    }

    /// Removes this segment's name, but only if the name still refers to this object: never
    /// a segment that somebody else re-created under the same name (see `unlink_if_same`).
    pub fn unlink_name(&self) -> Result<bool> {
        unlink_if_same(&self.path, self.identity)
    }

    /// Opens this segment's object again by its name, for a descriptor (the registry's join
    /// lock, SPEC.md §7.3): fails with [`Error::NotFound`] unless the name still refers to the
    /// object mapped here (it was removed, or replaced by another ring's).
    pub fn reopen(&self, what: &'static str) -> Result<File> {
        let (file, display, _, identity, _) = open_existing(&self.path, what)?;
        if identity != self.identity {
            return Err(Error::NotFound {
                what,
                name: display,
            });
        }
        Ok(file)
    }

    /// Bytes mapped.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Never true for a valid segment.
    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }

    /// A copy of the mapped bytes (for inspection tools; racy for live words by design).
    pub fn snapshot(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.len()];
        // SAFETY: `len` bytes are mapped.
        unsafe { std::ptr::copy_nonoverlapping(self.base(), v.as_mut_ptr(), v.len()) };
        v
    }
}

/// Whether `e` says the segment was never finished (empty, short, or magic still zero). A
/// ringproof creator links segments into place whole, so such a name is disruptor-mp's
/// creation in progress (it writes in place), or damaged (truncated by a peer): never one a
/// participant should remove on the strength of this alone (SPEC.md §3.2, §7.9).
pub fn unfinished(e: &Error) -> bool {
    matches!(
        e,
        Error::Layout {
            source: LayoutError::Initializing | LayoutError::TooShort { .. },
            ..
        }
    )
}

/// A planted defect: an unfinished header (magic 0) refused at once instead of waited for.
fn unfinished_is_final(e: &Error) -> bool {
    mutant!("consumer.unfinished-ring-final")
        && matches!(
            e,
            Error::Layout {
                source: LayoutError::Initializing,
                ..
            }
        )
}

/// disruptor-mp writes its headers with a plain copy, magic first: for a moment a reader can
/// see the magic with the rest still zero (version 0) or half written (checksum mismatch).
/// While waiting for a segment, those are retried too; after the deadline they are reported.
fn maybe_half_written(e: &Error) -> bool {
    matches!(
        e,
        Error::Layout {
            source: LayoutError::Checksum { .. } | LayoutError::Version { found: 0, .. },
            ..
        }
    )
}

/// Writes `header` at `base`: bytes 8..56 first, then the magic with a release store, so a
/// reader that loads the magic with acquire sees a whole header (SPEC.md §2.1).
fn publish_header(base: *mut u8, header: &LayoutHeader) {
    let bytes = header.to_bytes();
    if mutant!("producer.header-magic-first") {
        // The magic first, and a creator slow enough that a watcher sees the gap.
        unsafe { &*(base as *const AtomicU64) }.store(
            u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")),
            Ordering::Release,
        );
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
    // SAFETY: the mapping is at least HEADER_SIZE long; nobody accepts it before the magic.
    unsafe { std::ptr::copy_nonoverlapping(bytes[8..].as_ptr(), base.add(8), HEADER_SIZE - 8) };
    let magic = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    // SAFETY: offset 0 of a page-aligned mapping is 8-aligned.
    unsafe { &*(base as *const AtomicU64) }.store(magic, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::image::cursor_image;
    use crate::segment::{exists, identity_of, unlink};

    /// A cursor segment, made as `Cursor::create` makes one.
    fn create_cursor(path: &SegmentPath, epoch: u64) -> Segment {
        let image = cursor_image(-1, epoch);
        // SAFETY: the payload is the cursor's cell, not yet visible to anyone.
        Segment::create(
            path,
            "cursor",
            image.header(),
            *image.geometry(),
            |payload| unsafe { image.write_payload(payload) },
        )
        .unwrap()
    }

    #[test]
    fn unlink_if_same_never_removes_a_recreated_name() {
        for path in [
            SegmentPath::Shm(format!("rpunit{}_ident_seq", std::process::id())),
            SegmentPath::File(
                std::env::temp_dir().join(format!("rpunit{}.ident.cursor", std::process::id())),
            ),
        ] {
            let first = create_cursor(&path, 1);
            let old = first.identity();
            assert_eq!(identity_of(&path), Some(old));
            unlink(&path).unwrap();
            let second = create_cursor(&path, 2);
            assert_ne!(
                second.identity(),
                old,
                "a re-created object is another inode"
            );
            assert!(
                !first.unlink_name().unwrap(),
                "the old identity must not remove the new object"
            );
            assert!(exists(&path));
            assert!(second.unlink_name().unwrap());
            assert!(!exists(&path));
            assert!(!second.unlink_name().unwrap(), "gone is not an error");
        }
    }
}
