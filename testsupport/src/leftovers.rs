//! What a test leaves behind: names in `/dev/shm` and in the temp directory, files under a
//! test's own directory. A test asserts these are empty at its end; its guard removes them
//! either way, so one failure does not poison the tests after it.

use std::path::{Path, PathBuf};

/// Where POSIX shm objects live on Linux.
pub const SHM: &str = "/dev/shm";

/// Names in `dir` (not recursive) that `keep` accepts, sorted; empty if `dir` is unreadable.
pub fn names_in(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| keep(n))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Names in `/dev/shm` that `keep` accepts, sorted.
pub fn shm_names(keep: impl Fn(&str) -> bool) -> Vec<String> {
    names_in(Path::new(SHM), keep)
}

/// Names in the temp directory that `keep` accepts, sorted.
pub fn temp_names(keep: impl Fn(&str) -> bool) -> Vec<String> {
    names_in(&std::env::temp_dir(), keep)
}

/// The `/dev/shm` entries of the rings named `prefix...`: their segments, and the temporaries
/// a creator killed mid-creation leaves (`.{name}.{pid}.{nanos}.tmp`).
pub fn shm_leftovers(prefix: &str) -> Vec<String> {
    shm_names(|n| n.strip_prefix('.').unwrap_or(n).starts_with(prefix))
}

/// The `/dev/shm` segments of the one ring `name`: `name` itself and `{name}_*` (its cursors
/// and registry), not those of a ring whose name merely starts with `name`.
pub fn shm_segments_of(name: &str) -> Vec<String> {
    let under = format!("{name}_");
    shm_names(|n| n == name || n.starts_with(&under))
}

/// Full paths of the entries of `/dev/shm` and of the temp directory that `keep` accepts (what
/// a run that made both rings and scratch directories may have left).
pub fn shm_and_temp(keep: impl Fn(&str) -> bool) -> Vec<String> {
    let temp = std::env::temp_dir();
    let mut v = Vec::new();
    for dir in [Path::new(SHM), temp.as_path()] {
        v.extend(
            names_in(dir, &keep)
                .into_iter()
                .map(|n| dir.join(n).display().to_string()),
        );
    }
    v
}

/// Removes [`shm_leftovers`]`(prefix)` and returns what it removed.
pub fn remove_shm(prefix: &str) -> Vec<String> {
    let left = shm_leftovers(prefix);
    for n in &left {
        let _ = std::fs::remove_file(shm_path(n));
    }
    left
}

/// Panics unless `/dev/shm` holds nothing of the rings named `prefix...`.
pub fn assert_no_shm(prefix: &str, what: &str) {
    let left = shm_leftovers(prefix);
    assert!(left.is_empty(), "{what} left {left:?} in {SHM}");
}

/// `/dev/shm/{name}`.
pub fn shm_path(name: impl AsRef<Path>) -> PathBuf {
    Path::new(SHM).join(name)
}

/// Everything under `root`, recursively, as paths relative to it, sorted.
pub fn tree(root: &Path) -> Vec<String> {
    let mut v = Vec::new();
    walk(root, root, &mut v);
    v.sort();
    v
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        out.push(p.strip_prefix(root).unwrap_or(&p).display().to_string());
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            walk(root, &p, out);
        }
    }
}

/// A fresh, empty directory under the temp directory, removed (with everything in it) on
/// drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `{temp}/{name}`, emptied first if a previous run left it.
    pub fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("create {}: {e}", p.display()));
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `{dir}/{name}`.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shm_leftovers_finds_segments_and_temporaries_of_a_prefix_only() {
        let prefix = crate::unique_name("rpts", "scan");
        let other = format!("{prefix}x");
        for n in [
            format!("{prefix}_a"),
            format!(".{prefix}_a.1.2.tmp"),
            format!("z{prefix}"),
        ] {
            std::fs::write(shm_path(&n), b"").expect("plant");
        }
        assert_eq!(
            shm_leftovers(&prefix),
            vec![format!(".{prefix}_a.1.2.tmp"), format!("{prefix}_a")]
        );
        assert!(shm_leftovers(&other).is_empty());
        assert_eq!(remove_shm(&prefix).len(), 2);
        let _ = std::fs::remove_file(shm_path(format!("z{prefix}")));
        assert_no_shm(&prefix, "this test");
    }

    #[test]
    fn tree_lists_nested_entries_relative_to_the_root() {
        let d = TempDir::new(&crate::unique_name("rpts-tree", "t"));
        std::fs::create_dir(d.join("a")).unwrap();
        std::fs::write(d.join("a").join("b"), b"").unwrap();
        assert_eq!(tree(d.path()), vec!["a".to_owned(), "a/b".to_owned()]);
    }
}
