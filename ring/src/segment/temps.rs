//! The temporaries of segment creation (`.{name}.{pid}.{nanos}.tmp`): named here, and removed
//! once their creator is dead (it was killed mid-creation and nobody else would remove them).

use crate::names::{RingName, SHM_DIR};

/// The temporary files (`.{name}.{pid}.{nanos}.tmp`, see [`temp_path`]) in `dir` whose name
/// starts with `.{prefix}` and whose creator is dead (gone, or a zombie: it will never finish
/// the file; a pid that cannot be judged counts as alive). A process killed while creating a
/// segment leaves one behind, and it would outlive the ring (and keep its consumers directory
/// from being removed); a dead creator's temporary never becomes a segment, so removing it
/// takes nothing from anyone.
pub fn dead_temps(dir: &std::path::Path, prefix: &str) -> Vec<std::path::PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| {
            let f = e.file_name().to_string_lossy().into_owned();
            let Some(rest) = f
                .strip_prefix('.')
                .filter(|r| r.starts_with(prefix))
                .and_then(|r| r.strip_suffix(".tmp"))
            else {
                return false;
            };
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
    dead_temps(dir, prefix)
        .into_iter()
        .filter(|p| std::fs::remove_file(p).is_ok())
        .collect()
}

/// Where the temporaries of ring `name`'s segments live, with the prefix that marks them: in
/// `/dev/shm` (`.N.` for the ring, `.N_` for its other segments) for a shm ring; in the root
/// directory (`.N.`) and the consumers directory (every temporary: only cursors are made there)
/// for a file ring. A consumers directory that is not a real directory (a planted link) is not
/// looked into. `.N_` also matches the temporaries of a ring whose name extends `N_`: only dead
/// creators' are ever removed, and those are garbage whoever made them.
pub fn ring_temp_places(name: &RingName) -> Vec<(std::path::PathBuf, String)> {
    match name.consumers_dir() {
        None => {
            let shm = std::path::PathBuf::from(SHM_DIR);
            vec![
                (shm.clone(), format!("{}.", name.name())),
                (shm, format!("{}_", name.name())),
            ]
        }
        Some(dir) => {
            let mut v: Vec<_> = dir
                .parent()
                .map(|root| (root.to_owned(), format!("{}.", name.name())))
                .into_iter()
                .collect();
            if dir.symlink_metadata().is_ok_and(|m| m.file_type().is_dir()) {
                v.push((dir, String::new()));
            }
            v
        }
    }
}

/// Removes the dead creators' temporaries of ring `name`'s segments (see [`ring_temp_places`]);
/// returns what it removed.
pub fn remove_dead_ring_temps(name: &RingName) -> Vec<std::path::PathBuf> {
    ring_temp_places(name)
        .iter()
        .flat_map(|(dir, prefix)| remove_dead_temps(dir, prefix))
        .collect()
}

pub(super) fn temp_path(final_path: &std::path::Path) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let file = final_path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    final_path.with_file_name(format!(".{file}.{}.{nanos}.tmp", std::process::id()))
}
