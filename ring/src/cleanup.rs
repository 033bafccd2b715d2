//! Removing what nobody needs any more: a ring whose producer crashed (`ringproof rm`), and the
//! consumer cursors a closing producer sweeps up (SPEC.md §7.6, §7.10 "Removal").
//!
//! Everything read from the segments is hostile until checked: a registry id is validated
//! before a name is built from it ([`Registry::slot_id`]), and a consumer cursor is removed only
//! when it provably belongs to this ring: a cursor segment whose epoch is this ring's (or an
//! unfinished one, whose creator was killed before its header), under a name that no other
//! existing ring also owns ([`RingName::existing_cursor_alias`]), and still the same object
//! (inode) when it is unlinked.
//!
//! `rm` refuses while any participant the registry names still runs (pid and start time, so a
//! recycled pid does not count); `--force` overrides that and says what it overrode. A ring
//! without a registry (disruptor-mp's) cannot be checked, so it is removed only when forced.

use crate::cursor::Cursor;
use crate::error::{Error, Result};
use crate::layout::registry::SLOT_FREE;
use crate::names::{validate_consumer_id, RingName, SegmentPath};
use crate::registry::Registry;
use crate::segment::{self, Identity};
use crate::sync::Ordering;
use std::path::PathBuf;

/// What [`remove_ring`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removal {
    /// Names removed (dead creators' temporaries included).
    pub removed: Vec<SegmentPath>,
    /// What was left, and why (an invalid registry id, a cursor another ring may own, a cursor
    /// of another incarnation).
    pub kept: Vec<String>,
    /// What `--force` overrode: live participants the registry names, an unreadable registry.
    pub overridden: Vec<String>,
}

/// A consumer cursor name of a ring, as found.
enum Found {
    Missing,
    /// A valid cursor segment stamped with `epoch`.
    Valid {
        identity: Identity,
        epoch: u64,
    },
    /// Created but never finished (all-zero header, or shorter than a header): its creator
    /// was killed while creating it.
    Unfinished {
        identity: Identity,
    },
    /// Anything else; never removed.
    Other(String),
}

fn look(name: &RingName, id: &str) -> Found {
    if let Some(other) = name.existing_cursor_alias(id) {
        return Found::Other(format!(
            "{} may be consumer cursor of the existing ring {}",
            name.consumer_cursor(id),
            other.name()
        ));
    }
    let path = name.consumer_cursor(id);
    let Some(before) = segment::identity_of(&path) else {
        return Found::Missing;
    };
    match Cursor::open(&path, "consumer cursor") {
        Ok(c) => Found::Valid {
            identity: c.segment().identity(),
            epoch: c.cell().epoch.load(Ordering::Acquire),
        },
        Err(e) if segment::unfinished(&e) => Found::Unfinished { identity: before },
        Err(Error::NotFound { .. }) => Found::Missing,
        Err(e) => Found::Other(format!("{path}: {e}")),
    }
}

/// Ids of the consumer cursors of ring `name` that exist now: shm objects `N_{id}_seq`, files
/// `N.consumers/{id}.cursor`, with valid ids only. A consumers directory that is a symbolic
/// link or no directory is not looked into (a note says so).
fn cursor_ids_present(name: &RingName, notes: &mut Vec<String>) -> Vec<String> {
    let mut ids = Vec::new();
    let (dir, prefix, suffix) = match name.consumers_dir() {
        None => (
            PathBuf::from("/dev/shm"),
            format!("{}_", name.name()),
            "_seq",
        ),
        Some(dir) => {
            match dir.symlink_metadata() {
                Ok(m) if !m.file_type().is_dir() => {
                    notes.push(format!(
                        "{} is not a directory (a symbolic link?): not looked into, not removed",
                        dir.display()
                    ));
                    return ids;
                }
                Ok(_) => {}
                Err(_) => return ids,
            }
            (dir, String::new(), ".cursor")
        }
    };
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return ids;
    };
    for e in rd.flatten() {
        let f = e.file_name().to_string_lossy().into_owned();
        if let Some(id) = f
            .strip_prefix(prefix.as_str())
            .and_then(|r| r.strip_suffix(suffix))
        {
            if validate_consumer_id(id).is_ok() {
                ids.push(id.to_owned());
            }
        }
    }
    ids.sort();
    ids
}

/// Whether the ring's consumers directory exists as something other than a directory (a
/// symbolic link planted to point elsewhere): then no cursor path under it is touched.
fn consumers_dir_is_foreign(name: &RingName) -> bool {
    name.consumers_dir()
        .and_then(|d| d.symlink_metadata().ok())
        .is_some_and(|m| !m.file_type().is_dir())
}

/// Whether the consumers directory may be looked into and removed (a real directory).
fn consumers_dir_ok(name: &RingName) -> Option<PathBuf> {
    let dir = name.consumers_dir()?;
    dir.symlink_metadata()
        .ok()
        .filter(|m| m.file_type().is_dir())
        .map(|_| dir)
}

/// Removes the dead creators' temporaries of ring `name`; returns them.
fn remove_temps(name: &RingName) -> Vec<SegmentPath> {
    segment::remove_dead_ring_temps(name)
        .into_iter()
        .map(SegmentPath::File)
        .collect()
}

/// Removes consumer `id`'s cursor of ring `name` if it provably belongs to this ring: a valid
/// cursor whose epoch satisfies `epoch_ok`, or an unfinished one, under a name no other
/// existing ring owns, still the same object when unlinked. Returns whether it removed it, or
/// why it kept it.
fn remove_cursor_if_ours(
    name: &RingName,
    id: &str,
    epoch_ok: impl Fn(u64) -> bool,
) -> Result<Option<String>, String> {
    let path = name.consumer_cursor(id);
    let identity = match look(name, id) {
        Found::Missing => return Ok(None),
        Found::Valid { identity, epoch } if epoch_ok(epoch) => identity,
        Found::Valid { epoch, .. } => {
            return Err(format!(
                "{path}: a cursor of another ring incarnation (epoch {epoch})"
            ))
        }
        Found::Unfinished { identity } => identity,
        Found::Other(why) => return Err(why),
    };
    match segment::unlink_if_same(&path, identity) {
        Ok(true) => Ok(Some(path.to_string())),
        Ok(false) => Err(format!("{path}: replaced while being removed")),
        Err(e) => Err(e.to_string()),
    }
}

/// The closing producer's sweep (SPEC.md §7.6 step 4): removes the cursors of the consumers
/// it `reaped` and every cursor of this ring that no registry slot names any more and that is
/// either unfinished (its creator was killed while creating it) or stamped with this ring's
/// epoch (a consumer killed between leaving and removing it). Cursors with epoch 0 belong to
/// disruptor-mp consumers and stay; names another existing ring owns stay.
pub fn sweep_closed_ring(name: &RingName, reg: &Registry, reaped: &[String]) {
    let epoch = reg.epoch();
    let named: Vec<String> = (0..reg.slots())
        .filter(|&i| reg.slot_state(i) != SLOT_FREE)
        .filter_map(|i| reg.slot_id(i))
        .collect();
    if !consumers_dir_is_foreign(name) {
        let mut ids = cursor_ids_present(name, &mut Vec::new());
        ids.extend(reaped.iter().cloned());
        ids.sort();
        ids.dedup();
        for id in ids.iter().filter(|id| !named.contains(id)) {
            let _ = remove_cursor_if_ours(name, id, |e| e == epoch);
        }
    }
    remove_temps(name);
}

/// What of ring `name` exists although its registry, ring and producer cursor do not: the
/// other fixed names, consumer cursors (valid or unfinished, not another ring's), dead
/// creators' temporaries, the consumers directory.
fn leftovers(name: &RingName) -> Vec<String> {
    let mut found: Vec<String> = [name.readiness(), name.counters()]
        .into_iter()
        .filter(segment::exists)
        .map(|p| p.to_string())
        .collect();
    for id in cursor_ids_present(name, &mut Vec::new()) {
        if matches!(
            look(name, &id),
            Found::Valid { .. } | Found::Unfinished { .. }
        ) {
            found.push(name.consumer_cursor(&id).to_string());
        }
    }
    for (dir, prefix) in segment::ring_temp_places(name) {
        found.extend(
            segment::dead_temps(&dir, &prefix)
                .iter()
                .map(|p| p.display().to_string()),
        );
    }
    if let Some(dir) = consumers_dir_ok(name) {
        found.push(dir.display().to_string());
    }
    found
}

/// Removes every name of ring `name` and returns what was removed and what was kept.
///
/// Refused while a participant the registry names runs ([`Error::InUse`]), when the ring has
/// no readable registry ([`Error::Unverifiable`]), and when only a crashed participant's
/// leftovers exist ([`Error::Leftovers`]), unless `force`: then it says which live entries it
/// overrode. Ids and cursors are checked as the module documentation says, forced or not.
pub fn remove_ring(name: &RingName, force: bool) -> Result<Removal> {
    let ring = name.name().to_owned();
    let mut out = Removal::default();
    let mut epoch = None;
    let mut named = Vec::new();
    let mut registry = None;
    match Registry::open(&name.registry()) {
        Ok(reg) => {
            let alive = reg.alive_participants();
            if let Some(first) = alive.first() {
                if !force {
                    return Err(Error::InUse {
                        ring,
                        pid: first.pid,
                    });
                }
                out.overridden
                    .extend(alive.iter().map(|a| format!("{a}, which looks alive")));
            }
            epoch = Some(reg.epoch());
            for i in (0..reg.slots()).filter(|&i| reg.slot_state(i) != SLOT_FREE) {
                match reg.slot_id(i) {
                    Some(id) => named.push(id),
                    None => out.kept.push(format!(
                        "registry slot {i} holds an invalid id {:?}: no name is built from it",
                        reg.slot_id_raw(i)
                    )),
                }
            }
            registry = Some(reg);
        }
        Err(Error::NotFound { .. }) if !force => {
            if segment::exists(&name.ring()) || segment::exists(&name.producer_cursor()) {
                return Err(Error::Unverifiable {
                    ring,
                    why: "it has no ringproof registry (a disruptor-mp ring?)".into(),
                });
            }
            let found = leftovers(name);
            if found.is_empty() {
                return Err(Error::NotFound {
                    what: "ring",
                    name: name.ring().to_string(),
                });
            }
            return Err(Error::Leftovers { ring, found });
        }
        Err(Error::NotFound { .. }) => {}
        Err(e) if !force => {
            return Err(Error::Unverifiable {
                ring,
                why: format!("its registry is unreadable ({e})"),
            })
        }
        Err(e) => out.overridden.push(format!(
            "the registry is unreadable ({e}), so its participants were not checked"
        )),
    }
    for p in [
        name.ring(),
        name.producer_cursor(),
        name.readiness(),
        name.counters(),
    ] {
        if segment::exists(&p) {
            segment::unlink(&p)?;
            out.removed.push(p);
        }
    }
    let reg_path = name.registry();
    let removed_registry = match &registry {
        // Only the registry that was checked: never one re-created meanwhile.
        Some(reg) => reg.segment().unlink_name()?,
        None => segment::exists(&reg_path) && segment::unlink(&reg_path).is_ok(),
    };
    if removed_registry {
        out.removed.push(reg_path);
    }
    let mut ids = cursor_ids_present(name, &mut out.kept);
    if !consumers_dir_is_foreign(name) {
        ids.extend(named);
    }
    ids.sort();
    ids.dedup();
    for id in &ids {
        // Without a registry the epoch is unknown: any cursor of this name is this ring's.
        match remove_cursor_if_ours(name, id, |e| e == 0 || epoch.is_none_or(|mine| mine == e)) {
            Ok(Some(_)) => out.removed.push(name.consumer_cursor(id)),
            Ok(None) => {}
            Err(why) => out.kept.push(why),
        }
    }
    out.removed.extend(remove_temps(name));
    if let Some(dir) = consumers_dir_ok(name) {
        let _ = std::fs::remove_dir(dir);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::registry::SLOT_DEAD;

    /// Registry ids are hostile input: only valid consumer ids come out of `slot_id`, whatever
    /// bytes and length a peer wrote, and the closing sweep gets no id from such a slot.
    #[test]
    fn registry_ids_are_validated_before_use() {
        let root = std::env::temp_dir().join(format!("rpunit{}-ids", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let name = RingName::dir(&root, "r").unwrap();
        let reg = Registry::create(&name.registry(), 8, 42).unwrap();
        let forge = |i: usize, id: &[u8], len: u32| {
            let s = reg.slot(i);
            // SAFETY: this test is the registry's only user.
            unsafe { (&mut *s.id.get())[..id.len()].copy_from_slice(id) };
            s.id_len.store(len, Ordering::Release);
            s.state.store(SLOT_DEAD, Ordering::Release);
        };
        forge(0, b"c_0", 3);
        forge(1, b"../../x", 7);
        forge(2, b"/etc/x", 6);
        forge(3, b"x_producer", 10);
        forge(4, b"c_4", 200);
        forge(5, &[0xff, 0xfe], 2);
        forge(6, b"a.b", 3);
        assert_eq!(reg.slot_id(0).as_deref(), Some("c_0"));
        for i in 1..7 {
            assert_eq!(reg.slot_id(i), None, "slot {i}: {:?}", reg.slot_id_raw(i));
        }
        assert_eq!(reg.reap_dead(), ["c_0"]);
        assert!(
            (0..8).all(|i| reg.slot_state(i) == SLOT_FREE),
            "every dead slot is freed, valid id or not"
        );
        reg.segment().unlink_name().unwrap();
        std::fs::remove_dir_all(&root).unwrap();
    }
}
