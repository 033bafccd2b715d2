//! Opening an existing segment object without trusting it: never through a link, never
//! blocking on a FIFO, and only an object this user owns that nobody else may write (SPEC.md
//! §3.1). The same checks guard a ring's consumers directory.

use super::identity::{display_name, Identity};
use crate::error::{Error, Result};
use crate::names::SegmentPath;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;

/// Opens an existing shm object or regular file (never following a link, never blocking on a
/// FIFO), checks that it is a regular file this user owns that nobody else may write (SPEC.md
/// §3.1), and returns it, a name for messages, its length, its identity and its mode.
pub(super) fn open_existing(
    path: &SegmentPath,
    what: &'static str,
) -> Result<(File, String, u64, Identity, u32)> {
    use std::os::unix::fs::MetadataExt;
    let display = display_name(path);
    // O_NONBLOCK: opening a FIFO planted under a segment's name must not wait for a writer;
    // it has no effect on a regular file.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(if mutant!("segment.follows-symlinks") {
            libc::O_CLOEXEC | libc::O_NONBLOCK
        } else {
            libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK
        })
        .open(path.fs_path())
        .map_err(|e| match e.raw_os_error() {
            // O_NOFOLLOW on a symbolic link.
            Some(libc::ELOOP) => Error::NotRegularFile {
                name: display.clone(),
                found: "symbolic link",
            },
            _ => Error::io("open", what, &display, e),
        })?;
    let meta = file
        .metadata()
        .map_err(|e| Error::io("stat", what, &display, e))?;
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
        return Err(Error::NotRegularFile {
            name: display,
            found,
        });
    }
    let mode = meta.mode() & 0o7777;
    check_owner(&display, meta.uid(), mode, 0o022)?;
    Ok((file, display, meta.len(), Identity::of(&meta), mode))
}

/// This process's effective uid, the owner every segment must have.
pub(super) fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Refuses an object not owned by this process's effective uid, or whose mode has any of
/// `forbidden` (group/other permission bits) set (SPEC.md §3.1).
pub(super) fn check_owner(name: &str, uid: u32, mode: u32, forbidden: u32) -> Result<()> {
    if mutant!("segment.no-owner-mode-check") {
        return Ok(());
    }
    let euid = euid();
    if uid != euid {
        return Err(Error::Insecure {
            name: name.to_owned(),
            why: format!("it is owned by uid {uid}, not by this process's uid {euid}"),
        });
    }
    if mode & forbidden != 0 {
        return Err(Error::Insecure {
            name: name.to_owned(),
            why: format!(
                "its mode is {mode:04o}: other users may {}",
                if mode & 0o022 != 0 {
                    "write it"
                } else {
                    "read it"
                }
            ),
        });
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
    let meta = dir
        .symlink_metadata()
        .map_err(|e| Error::io("stat", "consumers directory", &display, e))?;
    if meta.file_type().is_symlink() {
        return Err(Error::NotRegularFile {
            name: display,
            found: "symbolic link (a consumers directory must be a real directory)",
        });
    }
    if !meta.is_dir() {
        return Err(Error::NotRegularFile {
            name: display,
            found: "file, not a directory (a consumers directory must be a directory)",
        });
    }
    check_owner(&display, meta.uid(), meta.mode() & 0o7777, 0o022)
}

/// Creates a ring's consumers directory with mode 0700 (whatever the umask), or checks an
/// existing one with [`check_private_dir`]. Returns whether this call created it.
pub fn ensure_private_dir(dir: &std::path::Path) -> Result<bool> {
    use std::os::unix::fs::DirBuilderExt;
    let mode = if mutant!("segment.consumers-dir-0755") {
        0o755
    } else {
        0o700
    };
    let created = match std::fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
        Err(e) => {
            return Err(Error::io(
                "mkdir",
                "consumers directory",
                &dir.display().to_string(),
                e,
            ))
        }
    };
    // A umask can only clear bits of 0700; the check also covers one that existed.
    check_private_dir(dir)?;
    Ok(created)
}
