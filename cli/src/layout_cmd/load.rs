//! Reading a segment for `layout`: from a file or /dev/shm, with the read errors a user can act
//! on, and golden ring header images taken for the whole ring they stand for.

use ringproof::kit::layout::golden;
use std::io::Read;
use std::path::{Path, PathBuf};

/// How much of a segment is read: enough for every header and cursor and any registry.
const MAX_READ: u64 = 16 << 20;

/// A segment's first bytes and its full length.
pub(super) struct Loaded {
    pub(super) label: String,
    pub(super) bytes: Vec<u8>,
    /// The segment's length: the file's, or the whole ring's for a golden header image.
    pub(super) len: usize,
    /// Whether the file is a ring header image (a golden) standing for a longer segment.
    pub(super) header_image: bool,
}

pub(super) enum Src {
    File(PathBuf),
    Shm(String),
}

impl Src {
    pub(super) fn parse(s: &str, shm: bool) -> Src {
        match s.strip_prefix("shm:") {
            Some(name) => Src::Shm(name.to_owned()),
            None if shm => Src::Shm(s.to_owned()),
            None => Src::File(PathBuf::from(s)),
        }
    }
}

/// Whether a short ring file stands for a whole ring: asked for (`--header-image`), or a file
/// (never a shm segment, never a file-backend `.ring` segment) whose bytes are exactly a
/// catalogued golden ring's header region. Anything else is judged by its real length: a ring
/// cut to its header is *truncated*, not valid.
fn is_header_image(src: &Src, bytes: &[u8], asked: bool) -> bool {
    let Src::File(path) = src else { return false };
    if asked {
        return true;
    }
    if path.extension().is_some_and(|e| e == "ring") {
        return false;
    }
    golden::all()
        .iter()
        .filter_map(|e| e.image().ok())
        .any(|img| !img.is_whole() && img.bytes() == bytes)
}

pub(super) fn load(src: &Src) -> Result<Loaded, String> {
    load_as(src, false)
}

pub(super) fn load_as(src: &Src, header_image: bool) -> Result<Loaded, String> {
    let (label, path) = match src {
        Src::File(p) => (p.display().to_string(), p.clone()),
        Src::Shm(name) => {
            let name = name.trim_start_matches('/');
            ringproof::kit::names::validate_name(name)
                .map_err(|e| format!("{e} (shm names are [A-Za-z0-9_-], as listed in /dev/shm)"))?;
            (format!("shm:{name}"), Path::new("/dev/shm").join(name))
        }
    };
    let why = |e: std::io::Error| match (e.kind(), src) {
        (std::io::ErrorKind::NotFound, Src::Shm(_)) => {
            format!("{label}: no such shm segment (list them with `ls /dev/shm`; give the name without the leading '/')")
        }
        (std::io::ErrorKind::NotFound, Src::File(_)) => {
            format!(
                "{label}: no such file (check the path; a shm segment is named with --shm NAME)"
            )
        }
        (std::io::ErrorKind::PermissionDenied, _) => {
            format!("{label}: permission denied (segments are created mode 0600: run as the user that created it)")
        }
        _ => format!("{label}: cannot read: {e}"),
    };
    // Judge the type before opening: opening a FIFO for reading blocks until a writer comes.
    let before = std::fs::metadata(&path).map_err(why)?;
    if !before.is_file() && !before.is_dir() {
        return Err(format!(
            "{label} is not a regular file (a device, FIFO or socket is no segment)"
        ));
    }
    let file = std::fs::File::open(&path).map_err(why)?;
    let meta = file.metadata().map_err(why)?;
    if meta.is_dir() {
        return Err(format!("{label} is a directory, not a segment (to check a golden directory: ringproof layout audit DIR)"));
    }
    if !meta.is_file() {
        return Err(format!(
            "{label} is not a regular file (a device or pipe is no segment)"
        ));
    }
    let mut bytes = Vec::new();
    file.take(meta.len().min(MAX_READ))
        .read_to_end(&mut bytes)
        .map_err(why)?;
    let file_len = usize::try_from(meta.len()).unwrap_or(usize::MAX);
    // A golden ring file holds only its header region: it stands for the whole ring.
    let len = if file_len == bytes.len() && is_header_image(src, &bytes, header_image) {
        golden::segment_len(&bytes)
    } else {
        file_len
    };
    Ok(Loaded {
        label,
        bytes,
        len,
        header_image: len != file_len,
    })
}
