//! Which object a segment name refers to, and removing a name: only ever while it still
//! refers to the object the caller created or mapped.

use crate::error::{Error, Result};
use crate::names::SegmentPath;

/// Which object a name referred to when it was created or opened: device and inode. Names can
/// be removed and re-created by others at any moment; the identity is how a participant proves
/// that the object behind a name is still the one it mapped before it removes (or trusts) it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identity {
    pub dev: u64,
    pub ino: u64,
}

impl Identity {
    pub(super) fn of(meta: &std::fs::Metadata) -> Identity {
        use std::os::unix::fs::MetadataExt;
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
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
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io("unlink", "segment", &path.to_string(), e))
        }
        _ => Ok(()),
    }
}

/// The identity of the object a name refers to now (without following a link), or `None` if
/// the name does not exist.
pub fn identity_of(path: &SegmentPath) -> Option<Identity> {
    path.fs_path()
        .symlink_metadata()
        .ok()
        .map(|m| Identity::of(&m))
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

/// Whether a segment name exists (without opening it, without following a link).
pub fn exists(path: &SegmentPath) -> bool {
    path.exists()
}

pub(super) fn display_name(path: &SegmentPath) -> String {
    match path {
        SegmentPath::Shm(name) => name.clone(),
        SegmentPath::File(p) => p.display().to_string(),
    }
}

fn shm_name(name: &str) -> String {
    format!("/{name}")
}
