//! `create_producer` and `attach_consumer` over disruptor-mp, and its errors as protocol
//! error kinds.

use std::fs::File;
use std::io::Read;
use std::time::{Duration, Instant};

use disruptor_mp::{
    attach_shared_consumer, build_shared_single_producer, CoordinationMode, MmapConsumer,
    MmapCursor, MmapProducer, MmapTransportLayout, MultiProcessError,
};
use ringproof::kit::layout::{LayoutHeader, HEADER_SIZE};
use ringproof_conformance::protocol::{Backend, ErrorKind, RingAddr, WaitConsumers};
use ringproof_conformance::serve::Failure;
use ringproof_dmp_adapter::Ev;

use super::role::{fail, ConsumerOps, MmapCons, ProducerOps, Res};

/// How long an attach keeps retrying an element-size or capacity mismatch against a complete
/// ring header before reporting it (other errors are retried until the attach deadline).
const LAYOUT_GRACE: Duration = Duration::from_millis(100);

/// Maps a disruptor-mp error to a protocol error kind.
fn kind_of(e: &MultiProcessError) -> ErrorKind {
    match e {
        MultiProcessError::SegmentNotFound(_) => ErrorKind::NotFound,
        MultiProcessError::SharedMemoryError(m)
            if m.contains("already exists") || m.contains("File exists") =>
        {
            ErrorKind::AlreadyExists
        }
        MultiProcessError::IncompatibleLayout(m) if m.contains("element size") => {
            ErrorKind::ElementSize
        }
        MultiProcessError::IncompatibleLayout(m)
            if m.contains("capacity") || m.contains("power-of-two") =>
        {
            ErrorKind::Capacity
        }
        MultiProcessError::IncompatibleLayout(_) => ErrorKind::Layout,
        _ => ErrorKind::Other,
    }
}

fn mmap_layout(ring: &RingAddr) -> Res<MmapTransportLayout> {
    let Some(root) = &ring.root else {
        return fail(ErrorKind::Other, "an mmap ring needs \"root\"");
    };
    MmapTransportLayout::new(root, ring.name.as_str()).map_err(|e| {
        Failure::new(
            kind_of(&e),
            format!("MmapTransportLayout::new({root}, {}): {e}", ring.name),
        )
    })
}

pub(super) fn create_producer<const W: usize>(
    ring: &RingAddr,
    capacity: usize,
    wait_consumers: Option<&WaitConsumers>,
    discover: Option<&(u64, String)>,
) -> Res<Box<dyn ProducerOps>> {
    match ring.backend {
        Backend::Shm => {
            let mut b = build_shared_single_producer::<Ev<W>>(&ring.name, capacity);
            if let Some((max, prefix)) = discover {
                b = b.discover_consumer_with_prefix(*max as usize, prefix);
            }
            // Without wait_consumers the coordination is explicitly Immediate: with discovery
            // enabled, disruptor-mp would otherwise wait for `max` consumers (up to 30 s).
            b = match wait_consumers {
                Some(w) => b.wait_for_consumers(w.min as i64, Duration::from_millis(w.timeout_ms)),
                None => b.with_coordination(CoordinationMode::Immediate),
            };
            // WaitForConsumers prints a warning and builds the producer anyway on timeout.
            let p = b.build_producer(Ev::<W>::default).map_err(|e| {
                Failure::new(kind_of(&e), format!("build_producer({}): {e}", ring.name))
            })?;
            Ok(Box::new(p))
        }
        Backend::Mmap => {
            let layout = mmap_layout(ring)?;
            // The mmap producer has no discovery modes: it gates on every
            // `{name}.consumers/*.cursor` file it lists, so `discover` has no counterpart.
            let p =
                MmapProducer::<Ev<W>>::create(layout, capacity, Ev::<W>::default).map_err(|e| {
                    Failure::new(
                        kind_of(&e),
                        format!("MmapProducer::create({}): {e}", ring.name),
                    )
                })?;
            if let Some(w) = wait_consumers {
                if !p.wait_for_consumers_ready(w.min as i64, Duration::from_millis(w.timeout_ms)) {
                    return fail(
                        ErrorKind::ConsumersMissing,
                        format!(
                            "MmapProducer::wait_for_consumers_ready({}, {} ms) returned false (readiness count below {})",
                            w.min, w.timeout_ms, w.min
                        ),
                    );
                }
            }
            Ok(Box::new(p))
        }
    }
}

/// What the ring's header file says, read without disruptor-mp (it needs the capacity as an
/// argument to attach).
enum RingFile {
    Missing,
    /// Exists but its header is not complete yet (or never will be).
    Incomplete,
    Header(LayoutHeader),
}

fn read_ring_header(ring: &RingAddr) -> RingFile {
    let path = match ring.backend {
        Backend::Shm => std::path::PathBuf::from(format!("/dev/shm/{}", ring.name)),
        Backend::Mmap => std::path::Path::new(ring.root.as_deref().unwrap_or(""))
            .join(format!("{}.ring", ring.name)),
    };
    let mut f = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return RingFile::Missing,
        Err(_) => return RingFile::Incomplete,
    };
    let mut buf = [0u8; HEADER_SIZE];
    if f.read_exact(&mut buf).is_err() || buf[..8] == [0u8; 8] {
        return RingFile::Incomplete;
    }
    match LayoutHeader::from_bytes(&buf) {
        Ok(h) => RingFile::Header(h),
        Err(_) => RingFile::Incomplete,
    }
}

pub(super) fn attach_consumer<const W: usize>(
    ring: &RingAddr,
    id: &str,
    deadline: Instant,
) -> Res<Box<dyn ConsumerOps>> {
    let size = 8 * W as u64;
    let mut layout_since: Option<Instant> = None;
    let mut last: Failure;
    loop {
        let header = read_ring_header(ring);
        let attempt: Result<Box<dyn ConsumerOps>, MultiProcessError> = match &header {
            RingFile::Missing => Err(MultiProcessError::SegmentNotFound(format!(
                "ring {} does not exist",
                ring.name
            ))),
            RingFile::Incomplete => Err(MultiProcessError::IncompatibleLayout(format!(
                "ring {} exists but its LayoutV1 header is incomplete",
                ring.name
            ))),
            RingFile::Header(h) => {
                // A capacity that is not a power of two is passed as 1 so that disruptor-mp's
                // own header check, not its argument check, rejects the ring.
                let cap = usize::try_from(h.capacity)
                    .ok()
                    .filter(|c| c.is_power_of_two())
                    .unwrap_or(1);
                match ring.backend {
                    Backend::Shm => attach_shared_consumer::<Ev<W>>(&ring.name, cap)
                        .with_consumer_id(id)
                        .build_consumer()
                        .map(|c| Box::new(c) as Box<dyn ConsumerOps>),
                    Backend::Mmap => {
                        let layout = mmap_layout(ring)?;
                        MmapConsumer::<Ev<W>>::attach(layout.clone(), cap, id).map(|c| {
                            let producer =
                                MmapCursor::attach(layout.producer_cursor_config(false)).ok();
                            let mine = layout
                                .consumer_cursor_config(id, false)
                                .and_then(MmapCursor::attach)
                                .ok();
                            Box::new(MmapCons { c, producer, mine }) as Box<dyn ConsumerOps>
                        })
                    }
                }
            }
        };
        let e = match attempt {
            Ok(c) => return Ok(c),
            Err(e) => e,
        };
        let mut kind = kind_of(&e);
        // disruptor-mp checks the payload size (element size x capacity) before the element
        // size, so an element-size mismatch reads "payload size mismatch": classify it by the
        // header, which the capacity was taken from.
        if let (MultiProcessError::IncompatibleLayout(_), RingFile::Header(h)) = (&e, &header) {
            if h.element_size != size {
                kind = ErrorKind::ElementSize;
            }
        }
        let what = match ring.backend {
            Backend::Shm => "attach_shared_consumer(..).build_consumer()",
            Backend::Mmap => "MmapConsumer::attach",
        };
        let extra = match &header {
            RingFile::Header(h) => format!(
                " (ring header: element_size {}, capacity {}; this consumer: element_size {size})",
                h.element_size, h.capacity
            ),
            _ => String::new(),
        };
        last = Failure::new(kind, format!("{what} on {}: {e}{extra}", ring.name));
        let now = Instant::now();
        if matches!(e, MultiProcessError::IncompatibleLayout(_))
            && matches!(header, RingFile::Header(_))
            && matches!(kind, ErrorKind::ElementSize | ErrorKind::Capacity)
        {
            // A geometry mismatch with a complete ring header stays: report it after a short
            // grace instead of at the deadline. Other layout errors (a segment still being
            // written fails validation for an instant) are retried until the deadline.
            if now.duration_since(*layout_since.get_or_insert(now)) >= LAYOUT_GRACE {
                return Err(last);
            }
        } else {
            layout_since = None;
        }
        if now >= deadline {
            if matches!(header, RingFile::Missing) {
                last.message = format!("ring {} not found before the timeout", ring.name);
            }
            return Err(last);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
