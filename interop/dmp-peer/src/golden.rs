//! `dmp-peer golden`: the disruptor-mp half of `golden-layouts/` (the ringproof half comes from
//! `ringproof layout regen`). File names and configurations come from ringproof's catalogue
//! (`ringproof::kit::layout::golden::disruptor_mp`); the bytes come from disruptor-mp's own
//! constructors, the ones its producer and consumers call.

use super::Out;
use clap::Args;
use disruptor_mp::{SharedCursor, SharedMemoryConfig, SharedRingBuffer};
use ringproof::kit::layout::golden::{disruptor_mp, Config, CursorRole, Entry};
use ringproof::kit::layout::header::payload_offset;
use ringproof::kit::layout::{LayoutHeader, HEADER_SIZE};
use ringproof_dmp_adapter::Ev;
use serde_json::json;
use std::io::Read;

#[derive(Args)]
pub struct GoldenArgs {
    /// Output directory (golden-layouts/disruptor-mp-0.1.0-alpha.2).
    #[arg(long)]
    pub out: std::path::PathBuf,
}

/// A 1-byte event (alignment 1: disruptor-mp records 8).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct B1(u8);

/// A 128-byte event aligned to 128.
#[repr(C, align(128))]
#[derive(Clone, Copy, Default)]
struct A128([u64; 16]);

/// Unlinks the shm name on drop, whatever happened.
struct Unlink(String);

impl Drop for Unlink {
    fn drop(&mut self) {
        if let Ok(c) = std::ffi::CString::new(self.0.as_str()) {
            // SAFETY: a valid NUL-terminated name; a missing name is harmless.
            unsafe { libc::shm_unlink(c.as_ptr()) };
        }
    }
}

/// The header region (rings: `0..payload_offset`) or all bytes (cursors) of /dev/shm/NAME.
fn copy_header(name: &str, whole: bool) -> Result<Vec<u8>, String> {
    let path = std::path::Path::new("/dev/shm").join(name);
    let file = std::fs::File::open(&path).map_err(|e| format!("open {}: {e}", path.display()))?;
    let mut head = Vec::new();
    file.take(4096)
        .read_to_end(&mut head)
        .map_err(|e| format!("read {}: {e}", path.display()))?;
    if whole {
        return Ok(head);
    }
    let h = LayoutHeader::from_bytes(&head).map_err(|e| format!("{}: {e}", path.display()))?;
    let alignment = usize::from(h.alignment);
    if !alignment.is_power_of_two() || alignment > 4096 {
        return Err(format!(
            "{}: disruptor-mp wrote alignment {alignment}",
            path.display()
        ));
    }
    head.truncate(payload_offset(alignment).max(HEADER_SIZE));
    Ok(head)
}

fn ring<E: Copy + Default>(name: &str, capacity: u64) -> Result<Vec<u8>, String> {
    let _unlink = Unlink(name.to_owned());
    let config = SharedMemoryConfig {
        name: name.to_owned(),
        buffer_size: capacity as usize,
        element_size: std::mem::size_of::<E>(),
        create: true,
    };
    let ring = SharedRingBuffer::<E>::new(config, E::default)
        .map_err(|e| format!("SharedRingBuffer::new: {e}"))?;
    let bytes = copy_header(name, false);
    drop(ring);
    bytes
}

fn cursor(name: &str, role: CursorRole, value: i64) -> Result<Vec<u8>, String> {
    let _unlink = Unlink(name.to_owned());
    // The constructor each disruptor-mp role uses (builder.rs, consumer_barrier.rs).
    let cursor = match role {
        CursorRole::Consumer => SharedCursor::new_or_attach(name, value),
        _ => SharedCursor::new(name, value),
    }
    .map_err(|e| format!("SharedCursor::new: {e}"))?;
    let bytes = copy_header(name, true);
    drop(cursor);
    bytes
}

/// Whether /dev/shm and memory can hold a `need`-byte segment that disruptor-mp fills in
/// (it writes every slot, so every page becomes resident), with 1 GiB to spare.
fn room_for(need: u64) -> Result<(), String> {
    let spare = 1u64 << 30;
    // SAFETY: statvfs fills the zeroed struct; the path is a valid C string.
    let shm_free = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c"/dev/shm".as_ptr(), &mut st) != 0 {
            return Err("statvfs(/dev/shm) failed".into());
        }
        st.f_bavail as u64 * st.f_frsize as u64
    };
    let mem_free = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024);
    if shm_free < need + spare || mem_free < need + spare {
        return Err(format!(
            "needs {need} bytes of /dev/shm and memory (+1 GiB spare); /dev/shm has {shm_free} free, MemAvailable is {mem_free}"
        ));
    }
    Ok(())
}

fn make(e: &Entry, name: &str) -> Result<Vec<u8>, String> {
    match e.config {
        Config::Ring {
            element_size,
            capacity,
            alignment,
        } => match (element_size, alignment) {
            (1, 8) => ring::<B1>(name, capacity),
            (8, 8) => ring::<Ev<1>>(name, capacity),
            (24, 8) => ring::<Ev<3>>(name, capacity),
            (64, 8) => ring::<Ev<8>>(name, capacity),
            (128, 8) => ring::<Ev<16>>(name, capacity),
            (128, 128) => ring::<A128>(name, capacity),
            (4096, 8) => ring::<Ev<512>>(name, capacity),
            _ => Err(format!(
                "no event type for {element_size}-byte elements aligned to {alignment}"
            )),
        },
        Config::Cursor { role, value, .. } => cursor(name, role, value),
        Config::Registry(_) => Err("disruptor-mp has no registry segment".into()),
    }
}

pub fn run(a: &GoldenArgs, out: &mut Out) -> i32 {
    if let Err(e) = std::fs::create_dir_all(&a.out) {
        return out.error(2, format!("cannot create {}: {e}", a.out.display()));
    }
    let (mut written, mut skipped) = (Vec::new(), Vec::new());
    for (k, e) in disruptor_mp().iter().enumerate() {
        if e.skippable() {
            let need = e
                .image()
                .map(|i| i.geometry().total_len())
                .unwrap_or(u64::MAX);
            if let Err(why) = room_for(need) {
                skipped.push(json!({ "file": e.file_name(), "why": why }));
                continue;
            }
        }
        let name = format!("rpgolden_{}_{k}", std::process::id());
        let bytes = match make(e, &name) {
            Ok(b) => b,
            Err(msg) => return out.error(5, format!("{}: {msg}", e.file_name())),
        };
        let path = a.out.join(e.file_name());
        if let Err(err) = std::fs::write(&path, &bytes) {
            return out.error(2, format!("cannot write {}: {err}", path.display()));
        }
        written.push(e.file_name());
    }
    out.line(
        &json!({ "golden": a.out.display().to_string(), "written": written, "skipped": skipped }),
    );
    0
}
