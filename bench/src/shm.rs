//! POSIX shared memory for the raw floors, and hygiene for every name a run creates.
//!
//! Every name this binary creates starts with [`PREFIX`] followed by the orchestrating
//! process's pid, so a later run can tell its own leftovers from anyone else's and remove those
//! of an orchestrator that died without cleaning up ([`sweep_stale`]).

use memmap2::{MmapOptions, MmapRaw};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::fs::File;
use std::io;

/// Prefix of every shm name (floor segments and ringproof rings) this binary creates.
pub const PREFIX: &str = "rpbench-";

/// A unique base name for run number `run` of this orchestrator: `rpbench-{pid}-{run}`.
/// Valid as a ringproof ring name (`[A-Za-z0-9_-]`) and as a shm name.
pub fn run_name(run: u32) -> String {
    format!("{PREFIX}{}-{run}", std::process::id())
}

fn shm_path(name: &str) -> String {
    format!("/{name}")
}

/// A mapped shm segment (the whole object), unmapped on drop. Never unlinks.
pub struct Shm {
    map: MmapRaw,
}

impl Shm {
    /// Creates `name` (it must not exist) with `len` zero bytes, and maps it.
    pub fn create(name: &str, len: usize) -> io::Result<Shm> {
        let fd = nix::sys::mman::shm_open(
            shm_path(name).as_str(),
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR,
            Mode::S_IRUSR | Mode::S_IWUSR,
        )?;
        let file = File::from(fd);
        let sized = file
            .set_len(len as u64)
            .and_then(|()| MmapOptions::new().len(len).map_raw(&file));
        match sized {
            Ok(map) => Ok(Shm { map }),
            Err(e) => {
                unlink(name);
                Err(e)
            }
        }
    }

    /// Maps an existing segment, whole.
    pub fn open(name: &str) -> io::Result<Shm> {
        let fd = nix::sys::mman::shm_open(shm_path(name).as_str(), OFlag::O_RDWR, Mode::empty())?;
        let file = File::from(fd);
        let len = file.metadata()?.len() as usize;
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("shm {name} is empty"),
            ));
        }
        Ok(Shm {
            map: MmapOptions::new().len(len).map_raw(&file)?,
        })
    }

    /// Start of the mapping (page-aligned).
    pub fn ptr(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the mapping is empty (never: `open` refuses empty segments).
    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }
}

/// Removes a shm name; a missing name is not an error. Returns whether something was removed.
pub fn unlink(name: &str) -> bool {
    nix::sys::mman::shm_unlink(shm_path(name).as_str()).is_ok()
}

/// Every shm name a ringproof ring `ring` may leave behind with consumers `ids` (see
/// ringproof's `names` module): ring, producer cursor, registry, readiness, consumer cursors.
pub fn ring_names(ring: &str, ids: &[&str]) -> Vec<String> {
    // The names come from the library, so the bench removes exactly what a ring creates.
    let Ok(name) = ringproof::RingName::shm(ring) else {
        return vec![ring.to_owned()];
    };
    let mut paths = vec![
        name.ring(),
        name.producer_cursor(),
        name.registry(),
        name.readiness(),
        name.counters(),
    ];
    paths.extend(ids.iter().map(|id| name.consumer_cursor(id)));
    paths
        .into_iter()
        .filter_map(|p| match p {
            ringproof::kit::names::SegmentPath::Shm(n) => Some(n),
            ringproof::kit::names::SegmentPath::File(_) => None,
        })
        .collect()
}

/// Removes `/dev/shm/rpbench-{pid}-*` entries and `$TMPDIR/rpbench-{pid}-*` run directories
/// whose orchestrator `pid` no longer runs. Returns how many were removed. Touches nothing
/// outside [`PREFIX`].
pub fn sweep_stale() -> usize {
    let stale = |name: &str| {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            return false;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            return false;
        };
        pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
    };
    let mut removed = 0;
    if let Ok(dir) = std::fs::read_dir("/dev/shm") {
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if stale(&name) && unlink(&name) {
                removed += 1;
            }
        }
    }
    if let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) {
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if stale(&name) && std::fs::remove_dir_all(entry.path()).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}

/// Names in /dev/shm that belong to run `run`: `run` itself, or `run` followed by a
/// separator (a ring's or a peer's derived names; iceoryx2's are `{run}-iox2_*`).
pub fn names_of_run(run: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/dev/shm") else {
        return Vec::new();
    };
    dir.flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.strip_prefix(run)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '_', '.']))
        })
        .collect()
}

/// Removes a run's names and its private directory when dropped: the orchestrator holds one
/// per run, so they go away on every path out of the run (success, error, panic).
pub struct UnlinkGuard {
    names: Vec<String>,
    dir: Option<std::path::PathBuf>,
}

impl UnlinkGuard {
    /// `names`: what the run is expected to create in /dev/shm (its base name is the first,
    /// or the run name); `dir`: its private directory.
    pub fn new(names: Vec<String>, dir: Option<std::path::PathBuf>) -> Self {
        Self { names, dir }
    }

    /// Removes everything; returns the names a child left behind, for the report. iceoryx2's
    /// management segments (`*-iox2_*`), which it keeps after a clean exit by design, are
    /// removed but not reported.
    pub fn cleanup(&mut self) -> Vec<String> {
        let mut leaked: Vec<String> = self.names.iter().filter(|n| unlink(n)).cloned().collect();
        if let Some(dir) = self.dir.take() {
            let run = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            for n in names_of_run(&run) {
                if unlink(&n) && !n.contains("-iox2_") {
                    leaked.push(n);
                }
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
        self.names.clear();
        leaked
    }
}

impl Drop for UnlinkGuard {
    fn drop(&mut self) {
        self.cleanup();
    }
}
