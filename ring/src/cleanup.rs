//! Removing a ring that nobody needs any more: what a crashed producer left behind.
//!
//! Refuses while any participant the registry names still runs (pid and start time, so a
//! recycled pid does not count). A ring without a registry (disruptor-mp's) cannot be checked,
//! so it is removed only when forced.

use crate::error::{Error, Result};
use crate::names::{RingName, SegmentPath};
use crate::registry::Registry;
use crate::cursor::Cursor;
use crate::segment;
use crate::sync::Ordering;

/// Removes every name of ring `name` and returns what was removed.
pub fn remove_ring(name: &RingName, force: bool) -> Result<Vec<SegmentPath>> {
    let mut ids = Vec::new();
    let mut epoch = None;
    match Registry::open(&name.registry()) {
        Ok(reg) => {
            if let Some(pid) = reg.anyone_alive() {
                return Err(Error::InUse { ring: name.name().to_owned(), pid });
            }
            epoch = Some(reg.epoch());
            ids.extend((0..reg.slots()).filter(|&i| reg.slot_state(i) != 0).map(|i| reg.slot_id(i)));
        }
        Err(Error::NotFound { .. }) if force => {}
        Err(Error::NotFound { .. }) => {
            if !segment::exists(&name.ring()) && !segment::exists(&name.producer_cursor()) {
                return Err(Error::NotFound { what: "ring", name: name.ring().to_string() });
            }
            return Err(Error::InvalidConfig(format!(
                "ring {} has no ringproof registry (a disruptor-mp ring?), so its participants cannot be checked; stop them and pass --force",
                name.name()
            )));
        }
        Err(e) if !force => return Err(e),
        Err(_) => {}
    }
    let mut paths = vec![name.ring(), name.producer_cursor(), name.readiness(), name.registry(), name.counters()];
    paths.extend(ids.iter().map(|id| name.consumer_cursor(id)));
    paths.extend(foreign_cursors(name, epoch));
    let mut removed = Vec::new();
    for p in paths {
        if segment::exists(&p) && !removed.contains(&p) {
            segment::unlink(&p)?;
            removed.push(p);
        }
    }
    if let Some(dir) = name.consumers_dir() {
        let _ = std::fs::remove_dir(dir);
    }
    Ok(removed)
}

/// Consumer cursors that no registry names (disruptor-mp consumers, leftovers).
///
/// shm names are ambiguous: `N_x_y_seq` may be consumer `x_y` of ring `N` or consumer `y` of a
/// ring `N_x`. A candidate is kept only if it is a valid cursor segment whose epoch is this
/// ring's (or 0, disruptor-mp's, or any when the registry is gone) and no ring `N_{prefix}`
/// exists for any prefix of its id.
fn foreign_cursors(name: &RingName, epoch: Option<u64>) -> Vec<SegmentPath> {
    let mut out = Vec::new();
    match name.consumers_dir() {
        None => {
            let prefix = format!("{}_", name.name());
            let Ok(rd) = std::fs::read_dir("/dev/shm") else { return out };
            for e in rd.flatten() {
                let f = e.file_name().to_string_lossy().into_owned();
                let Some(id) = f.strip_prefix(&prefix).and_then(|r| r.strip_suffix("_seq")) else { continue };
                if crate::names::validate_consumer_id(id).is_err() || belongs_to_longer_ring(name, id) {
                    continue;
                }
                let path = name.consumer_cursor(id);
                let ours = match Cursor::open(&path, "consumer cursor") {
                    Ok(c) => {
                        let e = c.cell().epoch.load(Ordering::Acquire);
                        e == 0 || epoch.is_none_or(|mine| mine == e)
                    }
                    Err(_) => false,
                };
                if ours {
                    out.push(path);
                }
            }
        }
        Some(dir) => {
            if let Ok(rd) = std::fs::read_dir(&dir) {
                for e in rd.flatten() {
                    let f = e.file_name().to_string_lossy().into_owned();
                    if let Some(id) = f.strip_suffix(".cursor") {
                        out.push(name.consumer_cursor(id));
                    }
                }
            }
        }
    }
    out
}

/// Whether `N_{id}_seq` could be a segment of another ring `N_{p}` (p a `_`-prefix of `id`)
/// that exists: its ring, registry or producer cursor is there.
fn belongs_to_longer_ring(name: &RingName, id: &str) -> bool {
    id.match_indices('_').any(|(i, _)| {
        RingName::shm(&format!("{}_{}", name.name(), &id[..i]))
            .is_ok_and(|other| segment::exists(&other.ring()) || segment::exists(&other.registry()) || segment::exists(&other.producer_cursor()))
    })
}
