//! Creating a segment object exclusively and crash-safely: built whole under a temporary name,
//! its space allocated, then `link(2)`ed into place (SPEC.md §3.2).

use super::identity::{display_name, Identity};
use super::open::check_private_dir;
use super::temps::{remove_dead_temps, temp_path};
use crate::error::{Error, Result};
use crate::names::SegmentPath;
use memmap2::{MmapOptions, MmapRaw};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;

/// Creates `len` bytes under `path` exclusively and maps them; `init(base)` runs on the
/// zero-filled mapping before anyone can see it. Both backends build the object under a
/// temporary name in the final directory (`/dev/shm` for shm: on Linux a POSIX shm object `/X`
/// is the file `/dev/shm/X`) and `link(2)` it to its name, which fails if the name exists. So
/// no ringproof segment is ever visible half-made: a creator that stalls or dies leaves at most
/// a temporary, never a name another process could judge "unfinished" and remove (SPEC.md
/// §3.2). The space is allocated before `init` (`posix_fallocate`), so a full filesystem is an
/// error here and never a SIGBUS later.
pub(super) fn create_exclusive(
    path: &SegmentPath,
    what: &'static str,
    len: usize,
    init: impl FnOnce(*mut u8),
) -> Result<(MmapRaw, Identity)> {
    let final_path = path.fs_path();
    let display = display_name(path);
    let in_consumers_dir = final_path.extension().is_some_and(|e| e == "cursor")
        && final_path
            .parent()
            .and_then(|d| d.extension())
            .is_some_and(|e| e == "consumers");
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
        .mode(if mutant!("producer.file-mode-0644") {
            0o644
        } else {
            0o600
        })
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)
        .map_err(|e| Error::io("create", what, &tmp.display().to_string(), e))?;
    let result = size_and_map(&file, len, &display, &final_path).and_then(|map| {
        let identity = file
            .metadata()
            .map(|m| Identity::of(&m))
            .map_err(|e| Error::io("stat", what, &display, e))?;
        crate::failpoint::hit("segment.create");
        init(map.as_mut_ptr());
        std::fs::hard_link(&tmp, &final_path).map_err(|e| Error::io("link", what, &display, e))?;
        Ok((map, identity))
    });
    let _ = std::fs::remove_file(&tmp);
    result
}

/// Sizes a new object and allocates its blocks (a sparse object would SIGBUS its users on the
/// first write to a page the filesystem has no room for), then maps it.
fn size_and_map(
    file: &File,
    len: usize,
    name: &str,
    final_path: &std::path::Path,
) -> Result<MmapRaw> {
    use std::os::fd::AsRawFd;
    file.set_len(len as u64)
        .map_err(|e| Error::io("ftruncate", "segment", name, e))?;
    let off_len = libc::off_t::try_from(len)
        .map_err(|_| Error::InvalidConfig(format!("{name}: {len} bytes is too large")))?;
    // SAFETY: a valid descriptor we own; posix_fallocate returns an error number, not -1.
    match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, off_len) } {
        0 => {}
        libc::ENOSPC | libc::EFBIG | libc::EDQUOT => {
            let dir = final_path
                .parent()
                .map(|d| d.display().to_string())
                .unwrap_or_default();
            return Err(Error::NoSpace {
                name: name.to_owned(),
                bytes: len as u64,
                dir,
            });
        }
        errno => {
            return Err(Error::io(
                "posix_fallocate",
                "segment",
                name,
                std::io::Error::from_raw_os_error(errno),
            ))
        }
    }
    MmapOptions::new()
        .len(len)
        .map_raw(file)
        .map_err(|e| Error::io("mmap", "segment", name, e))
}
