//! Opening and mapping segments: the only place that knows shm from files.
//!
//! Everything above this module sees a [`Segment`]: a validated mapping with a base pointer.
//! Creation is crash-safe and never visible half-made, in both backends: the whole object is
//! built (sized, its space allocated, payload and header written, magic last) under a temporary
//! name in the same directory (`/dev/shm` for shm objects), then `link(2)`ed to its final name,
//! which fails if the name exists. A segment never changes size or header under a peer that maps
//! it, nothing is ever truncated, and a name that exists but is unfinished is never ringproof's
//! own creation in progress (disruptor-mp's shm creator, which writes in place, is waited for by
//! readers as before).
//!
//! Opening checks what the name refers to before trusting it: a regular file (no link, no FIFO),
//! owned by this user, writable by nobody else (SPEC.md §3.1).

use crate::error::{Error, Result};
use crate::layout::{validate_header, Expect, Geometry, LayoutError, LayoutHeader, HEADER_SIZE};
use crate::names::SegmentPath;
use crate::sync::{AtomicU64, Ordering};
use memmap2::{MmapOptions, MmapRaw};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;

/// A mapped, validated segment. Unmapped on drop; never unlinked by drop (see [`unlink`]).
pub struct Segment {
    map: MmapRaw,
    path: SegmentPath,
    geometry: Geometry,
    identity: Identity,
    /// Permission bits when it was opened or created.
    mode: u32,
}

/// Which object a name referred to when it was created or opened: device and inode. Names can
/// be removed and re-created by others at any moment; the identity is how a participant proves
/// that the object behind a name is still the one it mapped before it removes (or trusts) it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identity {
    pub dev: u64,
    pub ino: u64,
}

impl Identity {
    fn of(meta: &std::fs::Metadata) -> Identity {
        use std::os::unix::fs::MetadataExt;
        Identity { dev: meta.dev(), ino: meta.ino() }
    }
}

// SAFETY: the mapping is shared memory accessed only through atomics and the ring protocol.
unsafe impl Send for Segment {}
unsafe impl Sync for Segment {}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment").field("path", &self.path).field("geometry", &self.geometry).finish()
    }
}

impl Segment {
    /// Creates a segment that must not exist yet. `init` receives the payload pointer and
    /// initialises it before the header makes the segment valid.
    pub fn create(path: &SegmentPath, what: &'static str, header: &LayoutHeader, geometry: Geometry, init: impl FnOnce(*mut u8)) -> Result<Segment> {
        let (map, identity) = create_exclusive(path, what, geometry.total_len() as usize, |base| {
            // SAFETY: the mapping holds payload_offset + payload_size bytes.
            init(unsafe { base.add(geometry.payload_offset) });
            publish_header(base, header);
        })?;
        Ok(Segment { map, path: path.clone(), geometry, identity, mode: 0o600 })
    }

    /// Opens and validates an existing segment.
    pub fn open(path: &SegmentPath, what: &'static str, expect: &Expect) -> Result<Segment> {
        let (file, display, file_len, identity, mode) = open_existing(path, what)?;
        let len = usize::try_from(file_len).unwrap_or(usize::MAX);
        let layout_err = |source| Error::Layout { name: display.clone(), source };
        if len < HEADER_SIZE {
            return Err(layout_err(LayoutError::TooShort { len }));
        }
        let map = MmapOptions::new().len(len).map_raw(&file).map_err(|e| Error::io("mmap", what, &display, e))?;
        // Magic first, with acquire: it is written last by the creator.
        // SAFETY: the mapping is at least 56 bytes and 8-aligned (page-aligned).
        let magic = unsafe { &*(map.as_mut_ptr() as *const AtomicU64) }.load(Ordering::Acquire);
        let mut header = [0u8; HEADER_SIZE];
        // SAFETY: 56 bytes are mapped; the header is immutable once the magic is set.
        unsafe { std::ptr::copy_nonoverlapping(map.as_ptr(), header.as_mut_ptr(), HEADER_SIZE) };
        header[..8].copy_from_slice(&magic.to_le_bytes());
        let geometry = validate_header(&header, len, expect).map_err(layout_err)?;
        Ok(Segment { map, path: path.clone(), geometry, identity, mode })
    }

    /// Opens `path`, retrying while it is missing or still being created, until `timeout`.
    pub fn open_waiting(path: &SegmentPath, what: &'static str, expect: &Expect, timeout: std::time::Duration) -> Result<Segment> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match Segment::open(path, what, expect) {
                Err(e) if (e.is_transient() || maybe_half_written(&e)) && !unfinished_is_final(&e) && std::time::Instant::now() < deadline => {
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
    /// a segment that somebody else re-created under the same name (see [`unlink_if_same`]).
    pub fn unlink_name(&self) -> Result<bool> {
        unlink_if_same(&self.path, self.identity)
    }

    /// Opens this segment's object again by its name, for a descriptor (the registry's join
    /// lock, SPEC.md §7.3): fails with [`Error::NotFound`] unless the name still refers to the
    /// object mapped here (it was removed, or replaced by another ring's).
    pub fn reopen(&self, what: &'static str) -> Result<File> {
        let (file, display, _, identity, _) = open_existing(&self.path, what)?;
        if identity != self.identity {
            return Err(Error::NotFound { what, name: display });
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

/// A mapped segment without a LayoutV1 header (the counters segment, in disruptor-mp's own
/// counters layout): created as crash-safely as a [`Segment`], validated by its owner.
/// Unmapped on drop; never unlinked by drop.
pub struct RawSegment {
    /// `None` for an empty file (nothing to map).
    map: Option<MmapRaw>,
    path: SegmentPath,
    /// The object's length (the mapping covers `min(file_len, max_len)` bytes).
    file_len: u64,
    identity: Identity,
}

// SAFETY: as for `Segment`: shared memory accessed only through atomics and its owner's rules.
unsafe impl Send for RawSegment {}
unsafe impl Sync for RawSegment {}

impl std::fmt::Debug for RawSegment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawSegment").field("path", &self.path).field("file_len", &self.file_len).finish()
    }
}

impl RawSegment {
    /// Creates a `len`-byte segment that must not exist yet, exclusively (shm: `O_CREAT|O_EXCL`;
    /// files: a temporary name `link(2)`ed into place, as [`Segment::create`]). `init` receives
    /// the start of the zero-filled mapping and makes it valid; it MUST store the segment's
    /// magic last, with release, so that no reader accepts it half-written.
    pub fn create(path: &SegmentPath, what: &'static str, len: usize, init: impl FnOnce(*mut u8)) -> Result<RawSegment> {
        let (map, identity) = create_exclusive(path, what, len, init)?;
        Ok(RawSegment { map: Some(map), path: path.clone(), file_len: len as u64, identity })
    }

    /// Opens an existing segment and maps its first `min(length, max_len)` bytes, validating
    /// nothing but that it is a regular file: the caller checks [`len`](Self::len) and the
    /// contents before touching them.
    pub fn open(path: &SegmentPath, what: &'static str, max_len: usize) -> Result<RawSegment> {
        let (file, display, file_len, identity, _mode) = open_existing(path, what)?;
        let map_len = usize::try_from(file_len).unwrap_or(usize::MAX).min(max_len);
        let map = if map_len == 0 {
            None
        } else {
            Some(MmapOptions::new().len(map_len).map_raw(&file).map_err(|e| Error::io("mmap", what, &display, e))?)
        };
        Ok(RawSegment { map, path: path.clone(), file_len, identity })
    }

    /// Start of the mapping (null when nothing is mapped: check [`len`](Self::len) first).
    pub fn base(&self) -> *mut u8 {
        self.map.as_ref().map_or(std::ptr::null_mut(), |m| m.as_mut_ptr())
    }

    /// Bytes mapped.
    pub fn len(&self) -> usize {
        self.map.as_ref().map_or(0, |m| m.len())
    }

    /// Whether nothing is mapped (an empty object).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The object's length, which may exceed the mapping.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// The object this segment maps (see [`Identity`]).
    pub fn identity(&self) -> Identity {
        self.identity
    }

    /// Where it lives.
    pub fn path(&self) -> &SegmentPath {
        &self.path
    }

    /// A copy of the mapped bytes (for inspection tools; racy for live words by design).
    pub fn snapshot(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.len()];
        if !v.is_empty() {
            // SAFETY: `len` bytes are mapped.
            unsafe { std::ptr::copy_nonoverlapping(self.base(), v.as_mut_ptr(), v.len()) };
        }
        v
    }
}

/// disruptor-mp writes its headers with a plain copy, magic first: for a moment a reader can
/// see the magic with the rest still zero (version 0) or half written (checksum mismatch).
/// While waiting for a segment, those are retried too; after the deadline they are reported.
/// Whether `e` says the segment was never finished (empty, short, or magic still zero). A
/// ringproof creator links segments into place whole, so such a name is disruptor-mp's
/// creation in progress (it writes in place), or damaged (truncated by a peer): never one a
/// participant should remove on the strength of this alone (SPEC.md §3.2, §7.9).
pub fn unfinished(e: &Error) -> bool {
    matches!(e, Error::Layout { source: LayoutError::Initializing | LayoutError::TooShort { .. }, .. })
}

/// A planted defect: an unfinished header (magic 0) refused at once instead of waited for.
fn unfinished_is_final(e: &Error) -> bool {
    mutant!("consumer.unfinished-ring-final") && matches!(e, Error::Layout { source: LayoutError::Initializing, .. })
}

fn maybe_half_written(e: &Error) -> bool {
    matches!(e, Error::Layout { source: LayoutError::Checksum { .. } | LayoutError::Version { found: 0, .. }, .. })
}

/// Removes a segment's name (peers that mapped it keep their mapping). Missing is not an error.
pub fn unlink(path: &SegmentPath) -> Result<()> {
    let r = match path {
        SegmentPath::Shm(name) => {
            nix::sys::mman::shm_unlink(shm_name(name).as_str()).map_err(std::io::Error::from)
        }
        SegmentPath::File(p) => std::fs::remove_file(p),
    };
    match r {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("unlink", "segment", &path.to_string(), e)),
        _ => Ok(()),
    }
}

/// The identity of the object a name refers to now (without following a link), or `None` if
/// the name does not exist.
pub fn identity_of(path: &SegmentPath) -> Option<Identity> {
    fs_path(path).symlink_metadata().ok().map(|m| Identity::of(&m))
}

/// Removes `path` only if it still names the object `identity` (the one the caller created or
/// mapped); returns whether it removed it. A name that is gone, or that now refers to another
/// object (someone removed ours and created theirs), is left alone: a participant never
/// removes a segment it did not create or map. The check and the removal are two syscalls;
/// the window between them is what POSIX allows (there is no unlink-by-descriptor).
pub fn unlink_if_same(path: &SegmentPath, identity: Identity) -> Result<bool> {
    if identity_of(path) != Some(identity) {
        return Ok(false);
    }
    unlink(path)?;
    Ok(true)
}

/// Whether a segment name exists (without opening it for writing).
pub fn exists(path: &SegmentPath) -> bool {
    fs_path(path).symlink_metadata().is_ok()
}

/// Creates `len` bytes under `path` exclusively and maps them; `init(base)` runs on the
/// zero-filled mapping before anyone can see it. Both backends build the object under a
/// temporary name in the final directory (`/dev/shm` for shm: on Linux a POSIX shm object `/X`
/// is the file `/dev/shm/X`) and `link(2)` it to its name, which fails if the name exists. So
/// no ringproof segment is ever visible half-made: a creator that stalls or dies leaves at most
/// a temporary, never a name another process could judge "unfinished" and remove (SPEC.md
/// §3.2). The space is allocated before `init` (`posix_fallocate`), so a full filesystem is an
/// error here and never a SIGBUS later.
fn create_exclusive(path: &SegmentPath, what: &'static str, len: usize, init: impl FnOnce(*mut u8)) -> Result<(MmapRaw, Identity)> {
    let final_path = fs_path(path);
    let display = display_name(path);
    let in_consumers_dir = final_path.extension().is_some_and(|e| e == "cursor") && final_path.parent().and_then(|d| d.extension()).is_some_and(|e| e == "consumers");
    if let (SegmentPath::File(_), true, Some(dir)) = (path, in_consumers_dir, final_path.parent()) {
        // A cursor in a consumers directory: never in a planted one (SPEC.md §3.1).
        check_private_dir(dir)?;
    }
    if let (Some(dir), Some(file)) = (final_path.parent(), final_path.file_name()) {
        // A creator of this very name killed mid-creation left its temporary behind (a
        // restarted participant re-creates the same name): nobody else would remove it.
        remove_dead_temps(dir, &format!("{}.", file.to_string_lossy()));
    }
    let tmp = temp_path(&final_path);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(if mutant!("producer.file-mode-0644") { 0o644 } else { 0o600 })
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)
        .map_err(|e| Error::io("create", what, &tmp.display().to_string(), e))?;
    let result = size_and_map(&file, len, &display, &final_path).and_then(|map| {
        let identity = file.metadata().map(|m| Identity::of(&m)).map_err(|e| Error::io("stat", what, &display, e))?;
        crate::failpoint::hit("segment.create");
        init(map.as_mut_ptr());
        std::fs::hard_link(&tmp, &final_path).map_err(|e| Error::io("link", what, &display, e))?;
        Ok((map, identity))
    });
    let _ = std::fs::remove_file(&tmp);
    result
}

/// The file behind a segment name: shm objects are files in `/dev/shm` on Linux.
pub fn fs_path(path: &SegmentPath) -> std::path::PathBuf {
    match path {
        SegmentPath::Shm(name) => std::path::Path::new(SHM_DIR).join(name),
        SegmentPath::File(p) => p.clone(),
    }
}

/// Where POSIX shm objects live on Linux.
const SHM_DIR: &str = "/dev/shm";

fn display_name(path: &SegmentPath) -> String {
    match path {
        SegmentPath::Shm(name) => name.clone(),
        SegmentPath::File(p) => p.display().to_string(),
    }
}

/// Opens an existing shm object or regular file (never following a link, never blocking on a
/// FIFO), checks that it is a regular file this user owns that nobody else may write (SPEC.md
/// §3.1), and returns it, a name for messages, its length, its identity and its mode.
fn open_existing(path: &SegmentPath, what: &'static str) -> Result<(File, String, u64, Identity, u32)> {
    use std::os::unix::fs::MetadataExt;
    let display = display_name(path);
    // O_NONBLOCK: opening a FIFO planted under a segment's name must not wait for a writer;
    // it has no effect on a regular file.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(if mutant!("segment.follows-symlinks") { libc::O_CLOEXEC | libc::O_NONBLOCK } else { libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK })
        .open(fs_path(path))
        .map_err(|e| match e.raw_os_error() {
            // O_NOFOLLOW on a symbolic link.
            Some(libc::ELOOP) => Error::NotRegularFile { name: display.clone(), found: "symbolic link" },
            _ => Error::io("open", what, &display, e),
        })?;
    let meta = file.metadata().map_err(|e| Error::io("stat", what, &display, e))?;
    let ft = meta.file_type();
    if !ft.is_file() {
        use std::os::unix::fs::FileTypeExt;
        let found = if ft.is_dir() {
            "directory"
        } else if ft.is_fifo() {
            "FIFO"
        } else if ft.is_socket() {
            "socket"
        } else {
            "device"
        };
        return Err(Error::NotRegularFile { name: display, found });
    }
    let mode = meta.mode() & 0o7777;
    check_owner(&display, meta.uid(), mode, 0o022)?;
    Ok((file, display, meta.len(), Identity::of(&meta), mode))
}

fn euid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// Refuses an object not owned by this process's effective uid, or whose mode has any of
/// `forbidden` (group/other permission bits) set (SPEC.md §3.1).
fn check_owner(name: &str, uid: u32, mode: u32, forbidden: u32) -> Result<()> {
    if mutant!("segment.no-owner-mode-check") {
        return Ok(());
    }
    let euid = euid();
    if uid != euid {
        return Err(Error::Insecure { name: name.to_owned(), why: format!("it is owned by uid {uid}, not by this process's uid {euid}") });
    }
    if mode & forbidden != 0 {
        return Err(Error::Insecure { name: name.to_owned(), why: format!("its mode is {mode:04o}: other users may {}", if mode & 0o022 != 0 { "write it" } else { "read it" }) });
    }
    Ok(())
}

/// Checks that `dir` (a ring's consumers directory) is a real directory, not a symbolic link,
/// owned by this process's effective uid, and writable by nobody else (SPEC.md §3.1): cursors
/// are created in it and removed from it by name, so a planted directory or link would make
/// ringproof create and delete files wherever it points.
pub fn check_private_dir(dir: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let display = dir.display().to_string();
    let meta = dir.symlink_metadata().map_err(|e| Error::io("stat", "consumers directory", &display, e))?;
    if meta.file_type().is_symlink() {
        return Err(Error::NotRegularFile { name: display, found: "symbolic link (a consumers directory must be a real directory)" });
    }
    if !meta.is_dir() {
        return Err(Error::NotRegularFile { name: display, found: "file, not a directory (a consumers directory must be a directory)" });
    }
    check_owner(&display, meta.uid(), meta.mode() & 0o7777, 0o022)
}

/// Creates a ring's consumers directory with mode 0700 (whatever the umask), or checks an
/// existing one with [`check_private_dir`]. Returns whether this call created it.
pub fn ensure_private_dir(dir: &std::path::Path) -> Result<bool> {
    use std::os::unix::fs::DirBuilderExt;
    let mode = if mutant!("segment.consumers-dir-0755") { 0o755 } else { 0o700 };
    let created = match std::fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
        Err(e) => return Err(Error::io("mkdir", "consumers directory", &dir.display().to_string(), e)),
    };
    // A umask can only clear bits of 0700; the check also covers one that existed.
    check_private_dir(dir)?;
    Ok(created)
}

/// Writes `header` at `base`: bytes 8..56 first, then the magic with a release store, so a
/// reader that loads the magic with acquire sees a whole header (SPEC.md §2.1).
fn publish_header(base: *mut u8, header: &LayoutHeader) {
    let bytes = header.to_bytes();
    if mutant!("producer.header-magic-first") {
        // The magic first, and a creator slow enough that a watcher sees the gap.
        unsafe { &*(base as *const AtomicU64) }.store(u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")), Ordering::Release);
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
    // SAFETY: the mapping is at least HEADER_SIZE long; nobody accepts it before the magic.
    unsafe { std::ptr::copy_nonoverlapping(bytes[8..].as_ptr(), base.add(8), HEADER_SIZE - 8) };
    let magic = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    // SAFETY: offset 0 of a page-aligned mapping is 8-aligned.
    unsafe { &*(base as *const AtomicU64) }.store(magic, Ordering::Release);
}

fn shm_name(name: &str) -> String {
    format!("/{name}")
}

/// Sizes a new object and allocates its blocks (a sparse object would SIGBUS its users on the
/// first write to a page the filesystem has no room for), then maps it.
fn size_and_map(file: &File, len: usize, name: &str, final_path: &std::path::Path) -> Result<MmapRaw> {
    use std::os::fd::AsRawFd;
    file.set_len(len as u64).map_err(|e| Error::io("ftruncate", "segment", name, e))?;
    let off_len = libc::off_t::try_from(len).map_err(|_| Error::InvalidConfig(format!("{name}: {len} bytes is too large")))?;
    // SAFETY: a valid descriptor we own; posix_fallocate returns an error number, not -1.
    match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, off_len) } {
        0 => {}
        libc::ENOSPC | libc::EFBIG | libc::EDQUOT => {
            let dir = final_path.parent().map(|d| d.display().to_string()).unwrap_or_default();
            return Err(Error::NoSpace { name: name.to_owned(), bytes: len as u64, dir });
        }
        errno => return Err(Error::io("posix_fallocate", "segment", name, std::io::Error::from_raw_os_error(errno))),
    }
    MmapOptions::new().len(len).map_raw(file).map_err(|e| Error::io("mmap", "segment", name, e))
}

/// The temporary files (`.{name}.{pid}.{nanos}.tmp`, see [`temp_path`]) in `dir` whose name
/// starts with `.{prefix}` and whose creator is dead (gone, or a zombie: it will never finish
/// the file; a pid that cannot be judged counts as alive). A process killed while creating a
/// segment leaves one behind, and it would outlive the ring (and keep its consumers directory
/// from being removed); a dead creator's temporary never becomes a segment, so removing it
/// takes nothing from anyone.
pub fn dead_temps(dir: &std::path::Path, prefix: &str) -> Vec<std::path::PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    rd.flatten()
        .filter(|e| {
            let f = e.file_name().to_string_lossy().into_owned();
            let Some(rest) = f.strip_prefix('.').filter(|r| r.starts_with(prefix)).and_then(|r| r.strip_suffix(".tmp")) else { return false };
            let pid = rest.rsplit('.').nth(1).and_then(|p| p.parse::<u32>().ok());
            pid.is_some_and(|p| crate::process::pid_liveness(p) == crate::process::Liveness::Dead)
        })
        .map(|e| e.path())
        .collect()
}

/// Removes [`dead_temps`]`(dir, prefix)`; returns what it removed.
pub fn remove_dead_temps(dir: &std::path::Path, prefix: &str) -> Vec<std::path::PathBuf> {
    if mutant!("segment.keeps-dead-temps") {
        return Vec::new();
    }
    dead_temps(dir, prefix).into_iter().filter(|p| std::fs::remove_file(p).is_ok()).collect()
}

/// Where the temporaries of ring `name`'s segments live, with the prefix that marks them: in
/// `/dev/shm` (`.N.` for the ring, `.N_` for its other segments) for a shm ring; in the root
/// directory (`.N.`) and the consumers directory (every temporary: only cursors are made there)
/// for a file ring. A consumers directory that is not a real directory (a planted link) is not
/// looked into. `.N_` also matches the temporaries of a ring whose name extends `N_`: only dead
/// creators' are ever removed, and those are garbage whoever made them.
pub fn ring_temp_places(name: &crate::names::RingName) -> Vec<(std::path::PathBuf, String)> {
    match name.consumers_dir() {
        None => {
            let shm = std::path::PathBuf::from(SHM_DIR);
            vec![(shm.clone(), format!("{}.", name.name())), (shm, format!("{}_", name.name()))]
        }
        Some(dir) => {
            let mut v: Vec<_> = dir.parent().map(|root| (root.to_owned(), format!("{}.", name.name()))).into_iter().collect();
            if dir.symlink_metadata().is_ok_and(|m| m.file_type().is_dir()) {
                v.push((dir, String::new()));
            }
            v
        }
    }
}

/// Removes the dead creators' temporaries of ring `name`'s segments (see [`ring_temp_places`]);
/// returns what it removed.
pub fn remove_dead_ring_temps(name: &crate::names::RingName) -> Vec<std::path::PathBuf> {
    ring_temp_places(name).iter().flat_map(|(dir, prefix)| remove_dead_temps(dir, prefix)).collect()
}

fn temp_path(final_path: &std::path::Path) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let file = final_path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    final_path.with_file_name(format!(".{file}.{}.{nanos}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::Cursor;

    #[test]
    fn unlink_if_same_never_removes_a_recreated_name() {
        for path in [
            SegmentPath::Shm(format!("rpunit{}_ident_seq", std::process::id())),
            SegmentPath::File(std::env::temp_dir().join(format!("rpunit{}.ident.cursor", std::process::id()))),
        ] {
            let first = Cursor::create(&path, "cursor", -1, 1).unwrap();
            let old = first.segment().identity();
            assert_eq!(identity_of(&path), Some(old));
            unlink(&path).unwrap();
            let second = Cursor::create(&path, "cursor", -1, 2).unwrap();
            assert_ne!(second.segment().identity(), old, "a re-created object is another inode");
            assert!(!first.segment().unlink_name().unwrap(), "the old identity must not remove the new object");
            assert!(exists(&path));
            assert!(second.segment().unlink_name().unwrap());
            assert!(!exists(&path));
            assert!(!second.segment().unlink_name().unwrap(), "gone is not an error");
        }
    }
}
