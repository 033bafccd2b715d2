//! Where each segment of a ring lives, named exactly as disruptor-mp names them (SPEC.md §3).
//!
//! | segment            | shm (`/dev/shm/…`)   | mmap (`{root}/…`)                |
//! |--------------------|----------------------|----------------------------------|
//! | ring               | `N`                  | `N.ring`                         |
//! | producer cursor    | `N_producer_seq`     | `N.producer.cursor`              |
//! | consumer cursor    | `N_{id}_seq`         | `N.consumers/{id}.cursor`        |
//! | readiness counter  | `N_cr`               | `N.ready.cursor`                 |
//! | registry (ours)    | `N_registry`         | `N.registry`                     |
//! | counters (ours)    | `N_counters`         | `N.counters`                     |

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Longest ring name or consumer id we accept (shm names must stay well under NAME_MAX).
pub const MAX_NAME_LEN: usize = 100;

/// The backend: POSIX shared memory, or files under a directory (ideally on tmpfs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    /// `shm_open` segments.
    Shm,
    /// Memory-mapped files under this directory.
    Dir(PathBuf),
}

/// One segment's address: a shm name or a file path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SegmentPath {
    Shm(String),
    File(PathBuf),
}

/// Where POSIX shm objects live on Linux: a shm object `/X` is the file `/dev/shm/X`.
pub(crate) const SHM_DIR: &str = "/dev/shm";

impl SegmentPath {
    /// The file behind this name: shm objects are files in `/dev/shm` on Linux.
    pub fn fs_path(&self) -> PathBuf {
        match self {
            SegmentPath::Shm(name) => Path::new(SHM_DIR).join(name),
            SegmentPath::File(p) => p.clone(),
        }
    }

    /// Whether the name exists now (without opening it, without following a link).
    pub fn exists(&self) -> bool {
        self.fs_path().symlink_metadata().is_ok()
    }
}

impl std::fmt::Display for SegmentPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SegmentPath::Shm(n) => write!(f, "shm:{n}"),
            SegmentPath::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A ring's name and backend, from which every segment address derives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RingName {
    name: String,
    location: Location,
}

/// Endings a ring name may not have: with them, the ring's own shm object `/N` would be a
/// segment of the ring `N` without that ending (its readiness counter, registry, counters, or a
/// cursor) (SPEC.md §3).
pub const RESERVED_RING_SUFFIXES: &[&str] = &["_seq", "_cr", "_registry", "_counters"];

/// Checks a ring name: [`validate_name`], and none of the [`RESERVED_RING_SUFFIXES`].
pub fn validate_ring_name(name: &str) -> Result<()> {
    validate_name(name)?;
    if RESERVED_RING_SUFFIXES.iter().any(|s| name.ends_with(s)) && !mutant!("names.no-ending-check")
    {
        return Err(Error::InvalidName {
            name: name.to_owned(),
            why: "a ring name may not end in _seq, _cr, _registry or _counters (its shm object would be another ring's segment)",
        });
    }
    Ok(())
}

/// Checks a ring name or consumer id: `[A-Za-z0-9_-]{1,100}` (disruptor-mp's rule).
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |why| {
        Err(Error::InvalidName {
            name: name.to_owned(),
            why,
        })
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_NAME_LEN {
        return bad("longer than 100 bytes");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return bad("only ASCII letters, digits, '_' and '-' are allowed");
    }
    Ok(())
}

impl RingName {
    /// A ring in POSIX shared memory.
    pub fn shm(name: &str) -> Result<Self> {
        validate_ring_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            location: Location::Shm,
        })
    }

    /// A ring of files under `root`. On a RAM-backed filesystem (tmpfs, such as a directory in
    /// `/dev/shm`) the files are as fast as POSIX shm; on a disk filesystem the same mappings
    /// measured 15-30 ns slower per ping-pong hop (ext4, bench/RESULTS.md, fourth round).
    pub fn dir(root: impl AsRef<Path>, name: &str) -> Result<Self> {
        validate_ring_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            location: Location::Dir(root.as_ref().to_owned()),
        })
    }

    /// The bare ring name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The backend.
    pub fn location(&self) -> &Location {
        &self.location
    }

    fn seg(&self, shm_suffix: &str, file_suffix: &str) -> SegmentPath {
        match &self.location {
            Location::Shm => SegmentPath::Shm(format!("{}{shm_suffix}", self.name)),
            Location::Dir(root) => {
                SegmentPath::File(root.join(format!("{}{file_suffix}", self.name)))
            }
        }
    }

    pub fn ring(&self) -> SegmentPath {
        self.seg("", ".ring")
    }

    pub fn producer_cursor(&self) -> SegmentPath {
        self.seg("_producer_seq", ".producer.cursor")
    }

    pub fn readiness(&self) -> SegmentPath {
        self.seg("_cr", ".ready.cursor")
    }

    pub fn registry(&self) -> SegmentPath {
        self.seg("_registry", ".registry")
    }

    /// The counters segment (disruptor-mp's counters layout, SPEC.md §12).
    pub fn counters(&self) -> SegmentPath {
        self.seg("_counters", ".counters")
    }

    /// The directory holding mmap consumer cursors (`None` for shm).
    pub fn consumers_dir(&self) -> Option<PathBuf> {
        match &self.location {
            Location::Shm => None,
            Location::Dir(root) => Some(root.join(format!("{}.consumers", self.name))),
        }
    }

    /// A consumer's cursor. `id` must already be validated.
    pub fn consumer_cursor(&self, id: &str) -> SegmentPath {
        match &self.location {
            Location::Shm => SegmentPath::Shm(format!("{}_{id}_seq", self.name)),
            Location::Dir(_) => SegmentPath::File(
                self.consumers_dir()
                    .expect("dir backend")
                    .join(format!("{id}.cursor")),
            ),
        }
    }
}

impl RingName {
    /// The other rings whose segment names coincide with consumer `id`'s cursor name (shm only;
    /// file names are unambiguous, names cannot hold a '.'). `/N_{id}_seq` also reads as the
    /// cursor of consumer `j` of ring `M` for every split of `N_{id}` at another '_' into
    /// `M_j` with `M` and `j` legal: `M` shorter than `N` (`N = M_q`, `j = q_{id}`) or longer
    /// (`M = N_p`, `id = p_j`). A consumer may create a cursor of that name, but may adopt,
    /// reset, commit into or remove an existing one that is not provably its own (its ring's
    /// non-zero epoch) only while none of these rings exists (SPEC.md §3.5).
    pub fn cursor_aliases(&self, id: &str) -> Vec<RingName> {
        if self.location != Location::Shm {
            return Vec::new();
        }
        let whole = format!("{}_{id}", self.name);
        let ours = self.name.len();
        whole
            .match_indices('_')
            .map(|(i, _)| i)
            .filter(|&i| i != ours)
            .filter(|&i| validate_consumer_id(&whole[i + 1..]).is_ok())
            .filter_map(|i| RingName::shm(&whole[..i]).ok())
            .collect()
    }

    /// The first ring among [`cursor_aliases`](Self::cursor_aliases) that exists now (its ring,
    /// registry or producer cursor is there).
    pub fn existing_cursor_alias(&self, id: &str) -> Option<RingName> {
        self.cursor_aliases(id)
            .into_iter()
            .find(|m| m.ring().exists() || m.registry().exists() || m.producer_cursor().exists())
    }
}

/// Checks a consumer id: a valid name of at most 48 bytes that cannot name a producer cursor:
/// not `producer`, and not ending in `_producer` (`/N_x_producer_seq` is ring `N_x`'s producer
/// cursor, SPEC.md §3).
pub fn validate_consumer_id(id: &str) -> Result<()> {
    validate_name(id)?;
    if id.len() > crate::layout::registry::MAX_ID_LEN {
        return Err(Error::InvalidName {
            name: id.to_owned(),
            why: "consumer ids are at most 48 bytes",
        });
    }
    if (id == "producer" || id.ends_with("_producer")) && !mutant!("names.producer-id-allowed") {
        return Err(Error::InvalidName {
            name: id.to_owned(),
            why: "\"producer\" and ids ending in \"_producer\" name a producer cursor (this ring's or another's)",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disruptor_mp_names() {
        let r = RingName::shm("orders").unwrap();
        assert_eq!(r.ring(), SegmentPath::Shm("orders".into()));
        assert_eq!(
            r.producer_cursor(),
            SegmentPath::Shm("orders_producer_seq".into())
        );
        assert_eq!(
            r.consumer_cursor("c_0"),
            SegmentPath::Shm("orders_c_0_seq".into())
        );
        assert_eq!(r.readiness(), SegmentPath::Shm("orders_cr".into()));
        assert_eq!(r.counters(), SegmentPath::Shm("orders_counters".into()));
        let d = RingName::dir("/tmp/x", "orders").unwrap();
        assert_eq!(d.ring(), SegmentPath::File("/tmp/x/orders.ring".into()));
        assert_eq!(
            d.producer_cursor(),
            SegmentPath::File("/tmp/x/orders.producer.cursor".into())
        );
        assert_eq!(
            d.consumer_cursor("c_0"),
            SegmentPath::File("/tmp/x/orders.consumers/c_0.cursor".into())
        );
        assert_eq!(
            d.counters(),
            SegmentPath::File("/tmp/x/orders.counters".into())
        );
    }

    #[test]
    fn rejects_bad_names() {
        assert!(RingName::shm("").is_err());
        assert!(RingName::shm("a/b").is_err());
        assert!(RingName::shm("../x").is_err());
        assert!(validate_consumer_id("producer").is_err());
        assert!(validate_consumer_id(&"x".repeat(49)).is_err());
        assert!(validate_consumer_id("x_producer").is_err());
        assert!(validate_consumer_id("producer_x").is_ok());
        for bad in ["a_seq", "a_cr", "a_registry", "a_counters", "a_b_seq"] {
            assert!(RingName::shm(bad).is_err(), "{bad}");
            assert!(RingName::dir("/tmp", bad).is_err(), "{bad}");
        }
        assert!(RingName::shm("a_sequence").is_ok());
    }

    #[test]
    fn cursor_aliases_are_every_other_split() {
        let names = |r: &RingName, id: &str| {
            r.cursor_aliases(id)
                .iter()
                .map(|m| m.name().to_owned())
                .collect::<Vec<_>>()
        };
        let a = RingName::shm("a").unwrap();
        assert_eq!(names(&a, "c"), Vec::<String>::new());
        assert_eq!(names(&a, "x_c"), ["a_x"]);
        assert_eq!(names(&a, "x_y_c"), ["a_x", "a_x_y"]);
        let ax = RingName::shm("a_x").unwrap();
        assert_eq!(names(&ax, "c"), ["a"]);
        // Every alias names the same shm object.
        for (r, id) in [(&a, "x_y_c"), (&ax, "c"), (&ax, "p_q")] {
            for m in r.cursor_aliases(id) {
                let j = format!("{}_{id}", r.name())[m.name().len() + 1..].to_owned();
                assert_eq!(m.consumer_cursor(&j), r.consumer_cursor(id));
            }
        }
        // Splits whose other part is no legal id or ring name do not count.
        assert_eq!(names(&a, "x__c"), ["a_x", "a_x_"]);
        assert_eq!(
            names(&RingName::dir("/tmp", "a").unwrap(), "x_c"),
            Vec::<String>::new()
        );
    }
}
