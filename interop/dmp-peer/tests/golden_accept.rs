//! disruptor-mp's validator accepts ringproof's segments.
//!
//! The other direction (ringproof's validator accepts disruptor-mp's goldens) and the byte
//! comparison of both writers are in `ring/tests/golden.rs`.
//!
//! - every committed ringproof golden (`golden-layouts/ringproof/v1`), placed in POSIX shm
//!   (ring goldens padded with a zero payload to their full size, sparse), is attached by
//!   disruptor-mp's own `SharedRingBuffer::attach` / `SharedCursor::attach`;
//! - rings created by ringproof's real producer are attached by a genuine disruptor-mp consumer
//!   (`attach_shared_consumer(..).build_consumer()`), and its cursors by `SharedCursor::attach`;
//! - disruptor-mp rejects ringproof's registry segment (kind 3), as SPEC.md §6 expects: it
//!   never opens it.
//!
//! Every shm name is unique to this process and unlinked on the way out, pass or fail.

use disruptor_mp::{attach_shared_consumer, SharedCursor, SharedMemoryConfig, SharedRingBuffer};
use ringproof::kit::cursor::Cursor;
use ringproof::kit::layout::golden::{self, Config, Entry};
use ringproof::kit::names::SegmentPath;
use ringproof::{ProducerBuilder, RingName};
use std::ffi::CString;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct B1(u8);

#[repr(C)]
#[derive(Clone, Copy)]
struct Ev<const W: usize>([u64; W]);

impl<const W: usize> Default for Ev<W> {
    fn default() -> Self {
        Ev([0; W])
    }
}

#[repr(C, align(128))]
#[derive(Clone, Copy, Default)]
struct A128([u64; 16]);

/// A unique shm name, unlinked (if present) on drop.
struct ShmName(String);

impl ShmName {
    fn new(tag: &str) -> ShmName {
        static N: AtomicU32 = AtomicU32::new(0);
        ShmName(format!(
            "rpga_{tag}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ))
    }
}

impl Drop for ShmName {
    fn drop(&mut self) {
        unlink(&self.0);
    }
}

fn unlink(name: &str) {
    let c = CString::new(name).unwrap();
    // SAFETY: a valid NUL-terminated name; a missing name is harmless.
    unsafe { libc::shm_unlink(c.as_ptr()) };
}

/// Creates shm object `name` of `len` bytes (sparse) starting with `bytes`.
fn place(name: &str, bytes: &[u8], len: u64) {
    let c = CString::new(name).unwrap();
    // SAFETY: plain POSIX calls on a fresh descriptor that this function closes.
    unsafe {
        let fd = libc::shm_open(
            c.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
            0o600,
        );
        assert!(
            fd >= 0,
            "shm_open {name}: {}",
            std::io::Error::last_os_error()
        );
        assert_eq!(
            libc::ftruncate(fd, len as libc::off_t),
            0,
            "ftruncate {name} to {len}: {}",
            std::io::Error::last_os_error()
        );
        assert_eq!(
            libc::pwrite(fd, bytes.as_ptr().cast(), bytes.len(), 0),
            bytes.len() as isize
        );
        libc::close(fd);
    }
}

fn attach_ring<E: Copy + Default>(name: &str, capacity: u64) -> Result<(), String> {
    let config = SharedMemoryConfig {
        name: name.to_owned(),
        buffer_size: capacity as usize,
        element_size: std::mem::size_of::<E>(),
        create: false,
    };
    SharedRingBuffer::<E>::attach(config)
        .map(drop)
        .map_err(|e| e.to_string())
}

fn attach_consumer<E: Copy + Default + Send + Sync + 'static>(
    name: &str,
    capacity: u64,
    id: &str,
) -> Result<i64, String> {
    let c = attach_shared_consumer::<E>(name, capacity as usize)
        .with_consumer_id(id)
        .build_consumer();
    c.map(|c| c.current_sequence()).map_err(|e| e.to_string())
}

/// Runs `$f::<E>($args)` with the event type of an `element`-byte, `alignment`-aligned ring.
macro_rules! with_event {
    ($element:expr, $alignment:expr, $f:ident($($a:expr),*)) => {
        match ($element, $alignment) {
            (1, 8) => $f::<B1>($($a),*),
            (8, 8) => $f::<Ev<1>>($($a),*),
            (24, 8) => $f::<Ev<3>>($($a),*),
            (64, 8) => $f::<Ev<8>>($($a),*),
            (128, 8) => $f::<Ev<16>>($($a),*),
            (128, 128) => $f::<A128>($($a),*),
            (4096, 8) => $f::<Ev<512>>($($a),*),
            (e, a) => panic!("no event type for {e}-byte elements aligned to {a}"),
        }
    };
}

fn committed(e: &Entry) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../golden-layouts")
        .join(e.path());
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

#[test]
fn disruptor_mp_attaches_every_ringproof_golden() {
    let mut rings = 0;
    let mut cursors = 0;
    for e in golden::ringproof() {
        let bytes = committed(&e);
        let full = golden::segment_len(&bytes) as u64;
        let shm = ShmName::new("golden");
        place(&shm.0, &bytes, full);
        match e.config {
            Config::Ring {
                element_size,
                capacity,
                alignment,
            } => {
                let r = with_event!(element_size, alignment, attach_ring(&shm.0, capacity));
                assert_eq!(r, Ok(()), "disruptor-mp rejects {}", e.path());
                rings += 1;
            }
            Config::Cursor { value, .. } => {
                let c = SharedCursor::attach(&shm.0)
                    .unwrap_or_else(|err| panic!("disruptor-mp rejects {}: {err}", e.path()));
                assert_eq!(c.load(Ordering::Acquire), value, "{}", e.path());
                cursors += 1;
            }
            Config::Registry(_) => {
                // Kind 3 is ringproof's own: disruptor-mp refuses it (and never looks for it).
                let err = SharedCursor::attach(&shm.0)
                    .err()
                    .expect("disruptor-mp must not accept a registry as a cursor");
                assert!(
                    err.to_string().contains("segment kind unknown: 3"),
                    "{}: {err}",
                    e.path()
                );
            }
        }
    }
    assert_eq!((rings, cursors), (21, 4));
}

#[test]
fn disruptor_mp_consumer_attaches_to_ringproof_producer() {
    for (element, alignment) in [
        (1u64, 8usize),
        (8, 8),
        (24, 8),
        (64, 8),
        (128, 8),
        (128, 128),
        (4096, 8),
    ] {
        let shm = ShmName::new("live");
        let name = RingName::shm(&shm.0).unwrap();
        let producer = ProducerBuilder::new(name.clone())
            .capacity(1024)
            .registry_slots(1)
            .create_raw_aligned(element as usize, alignment)
            .unwrap();
        // Each disruptor-mp object checks the header its own way.
        assert_eq!(
            with_event!(element, alignment, attach_ring(&shm.0, 1024)),
            Ok(())
        );
        let cursor = SharedCursor::attach(&format!("{}_producer_seq", shm.0))
            .expect("disruptor-mp attaches the producer cursor");
        assert_eq!(cursor.load(Ordering::Acquire), -1);
        // A ringproof consumer cursor, as §10.1 creates it, and disruptor-mp's consumer.
        let ours = format!("{}_rp_0_seq", shm.0);
        drop(Cursor::create(&SegmentPath::Shm(ours.clone()), "consumer cursor", -1, 0).unwrap());
        let theirs = format!("{}_dmp_0_seq", shm.0);
        let attached = SharedCursor::attach(&ours).map(|c| c.load(Ordering::Acquire));
        let consumer = with_event!(element, alignment, attach_consumer(&shm.0, 1024, "dmp_0"));
        unlink(&ours);
        unlink(&theirs); // disruptor-mp never unlinks its consumer cursors
        assert_eq!(attached.map_err(|e| e.to_string()), Ok(-1));
        assert_eq!(
            consumer,
            Ok(-1),
            "disruptor-mp consumer on a ringproof ring of {element}-byte events"
        );
        drop(producer);
    }
}
