//! Removing a ring that nobody needs any more: what a crashed producer left behind.
//!
//! Refuses while any participant the registry names still runs (pid and start time, so a
//! recycled pid does not count). A ring without a registry (disruptor-mp's) cannot be checked,
//! so it is removed only when forced.

use crate::error::{Error, Result};
use crate::names::{RingName, SegmentPath};
use crate::registry::Registry;
use crate::segment;

/// Removes every name of ring `name` and returns what was removed.
pub fn remove_ring(name: &RingName, force: bool) -> Result<Vec<SegmentPath>> {
    let mut ids = Vec::new();
    match Registry::open(&name.registry()) {
        Ok(reg) => {
            if let Some(pid) = reg.anyone_alive() {
                return Err(Error::InUse { ring: name.name().to_owned(), pid });
            }
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
    paths.extend(foreign_cursors(name));
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
fn foreign_cursors(name: &RingName) -> Vec<SegmentPath> {
    let mut out = Vec::new();
    match name.consumers_dir() {
        None => {
            let prefix = format!("{}_", name.name());
            if let Ok(rd) = std::fs::read_dir("/dev/shm") {
                for e in rd.flatten() {
                    let f = e.file_name().to_string_lossy().into_owned();
                    if let Some(id) = f.strip_prefix(&prefix).and_then(|r| r.strip_suffix("_seq")) {
                        if crate::names::validate_consumer_id(id).is_ok() {
                            out.push(name.consumer_cursor(id));
                        }
                    }
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
