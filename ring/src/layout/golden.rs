//! The catalogue of `golden-layouts/`: every committed golden file, its name, and the
//! configuration whose image it must hold.
//!
//! Two sources share one naming scheme:
//! - `ringproof/v1/`: written by ringproof's builders ([`super::image`]);
//! - `disruptor-mp-0.1.0-alpha.2/`: written by disruptor-mp itself (`dmp-peer golden`).
//!
//! | file                         | holds |
//! |------------------------------|-------|
//! | `ring-e{E}-c{C}-a{A}.bin`    | bytes `0..payload_offset` of a fresh ring of `C` events of `E` bytes, alignment `A` (the payload is zero) |
//! | `cursor-producer.bin`        | producer cursor, value -1 (ringproof: epoch [`EPOCH`]; disruptor-mp: 0) |
//! | `cursor-consumer.bin`        | consumer cursor, value -1 (ringproof: joined a fresh ring of epoch [`EPOCH`]; disruptor-mp: 0) |
//! | `cursor-consumer-foreign.bin`| ringproof consumer cursor on a ring without registry: value -1, epoch 0 |
//! | `cursor-ready.bin`           | readiness counter `N_cr`: value 0, epoch 0 |
//! | `registry-s{S}.bin`          | ringproof registry with `S` slots, fixed epoch/pid/start/heartbeat |
//! | `counters-fresh.bin`         | counters segment (disruptor-mp's "MYC0" layout, no LayoutV1 header), no slot claimed |
//! | `counters-producer-c1.bin`   | counters segment with the producer's 9 and consumer `c_0`'s 6 counters registered, values 0 |
//!
//! The counters goldens have their own catalogue, [`counters`] ([`CountersEntry`]): they are
//! not LayoutV1 segments, so none of the LayoutV1 header checks apply to them.

use super::image::{
    bundle_counters, counters_image, cursor_image, registry_image, ring_image, ImageError,
    RegistryInit, SegmentImage,
};
use super::{header::payload_offset, LayoutHeader, SegmentKind, HEADER_SIZE, MAX_ALIGNMENT};

/// Directory (under `golden-layouts/`) of ringproof's goldens.
pub const RINGPROOF_DIR: &str = "ringproof/v1";
/// Directory (under `golden-layouts/`) of disruptor-mp's goldens.
pub const DMP_DIR: &str = "disruptor-mp-0.1.0-alpha.2";
/// The registry epoch stamped into ringproof's golden cursors and registries.
pub const EPOCH: u64 = 0x0123_4567_89ab_cdef;
/// The producer pid recorded in golden registries.
pub const PID: u32 = 4242;
/// The producer start time recorded in golden registries.
pub const START_TIME: u64 = 1_234_567;
/// The producer heartbeat recorded in golden registries.
pub const HEARTBEAT_NS: u64 = 987_654_321_000;
/// Element sizes of the ring matrix.
pub const ELEMENT_SIZES: [u64; 6] = [1, 8, 24, 64, 128, 4096];
/// Capacities of the ring matrix.
pub const CAPACITIES: [u64; 3] = [2, 1024, 1 << 20];
/// Registry slot counts of the registry goldens.
pub const REGISTRY_SLOTS: [usize; 2] = [1, 64];
/// disruptor-mp goldens of segments larger than this may be missing: disruptor-mp writes every
/// slot when it creates a ring, and the generating machine may not have the memory.
pub const SKIPPABLE_ABOVE: u64 = 1 << 30;

/// Which cursor a cursor golden is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CursorRole {
    Producer,
    Consumer,
    /// A ringproof consumer's cursor on a ring without registry (SPEC.md §10.1): epoch 0.
    ForeignConsumer,
    /// The readiness counter `N_cr`.
    Ready,
}

impl CursorRole {
    fn stem(self) -> &'static str {
        match self {
            Self::Producer => "producer",
            Self::Consumer => "consumer",
            Self::ForeignConsumer => "consumer-foreign",
            Self::Ready => "ready",
        }
    }
}

/// Who wrote a golden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Ringproof,
    DisruptorMp,
}

impl Source {
    /// Its directory under `golden-layouts/`.
    pub fn dir(self) -> &'static str {
        match self {
            Self::Ringproof => RINGPROOF_DIR,
            Self::DisruptorMp => DMP_DIR,
        }
    }
}

/// The configuration a golden was created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Config {
    Ring {
        element_size: u64,
        capacity: u64,
        alignment: usize,
    },
    Cursor {
        role: CursorRole,
        value: i64,
        epoch: u64,
    },
    Registry(RegistryInit),
}

/// One golden file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub source: Source,
    pub config: Config,
}

impl Entry {
    /// File name inside its source directory.
    pub fn file_name(&self) -> String {
        match self.config {
            Config::Ring {
                element_size,
                capacity,
                alignment,
            } => {
                format!("ring-e{element_size}-c{capacity}-a{alignment}.bin")
            }
            Config::Cursor { role, .. } => format!("cursor-{}.bin", role.stem()),
            Config::Registry(init) => format!("registry-s{}.bin", init.slots),
        }
    }

    /// Path relative to `golden-layouts/`, with `/` separators.
    pub fn path(&self) -> String {
        format!("{}/{}", self.source.dir(), self.file_name())
    }

    /// The segment kind.
    pub fn kind(&self) -> SegmentKind {
        match self.config {
            Config::Ring { .. } => SegmentKind::Ring,
            Config::Cursor { .. } => SegmentKind::Cursor,
            Config::Registry(_) => SegmentKind::Registry,
        }
    }

    /// What ringproof's builders produce for this configuration: the bytes the file must hold.
    pub fn image(&self) -> Result<SegmentImage, ImageError> {
        match self.config {
            Config::Ring {
                element_size,
                capacity,
                alignment,
            } => ring_image(element_size, capacity, alignment),
            Config::Cursor { value, epoch, .. } => Ok(cursor_image(value, epoch)),
            Config::Registry(init) => registry_image(&init),
        }
    }

    /// Whether the generator may skip it (see [`SKIPPABLE_ABOVE`]).
    pub fn skippable(&self) -> bool {
        self.source == Source::DisruptorMp
            && self
                .image()
                .map(|i| i.geometry().total_len() > SKIPPABLE_ABOVE)
                .unwrap_or(false)
    }

    /// For a disruptor-mp golden, the ringproof golden of the same segment role; the bytes are
    /// identical except the producer cursor's epoch word (ringproof stamps it, disruptor-mp
    /// writes zero).
    pub fn counterpart(&self) -> Option<Entry> {
        if self.source != Source::DisruptorMp {
            return None;
        }
        let config = match self.config {
            Config::Cursor {
                role: CursorRole::Producer,
                value,
                ..
            } => Config::Cursor {
                role: CursorRole::Producer,
                value,
                epoch: EPOCH,
            },
            Config::Cursor {
                role: CursorRole::Consumer,
                value,
                epoch,
            } => Config::Cursor {
                role: CursorRole::ForeignConsumer,
                value,
                epoch,
            },
            other => other,
        };
        Some(Entry {
            source: Source::Ringproof,
            config,
        })
    }
}

/// `(element_size, capacity, alignment)` of every ring golden: alignment 8 for every element
/// size, plus 128-byte elements aligned to 128.
pub fn ring_matrix() -> Vec<(u64, u64, usize)> {
    let mut v = Vec::new();
    for e in ELEMENT_SIZES {
        for c in CAPACITIES {
            v.push((e, c, 8));
            if e == 128 {
                v.push((e, c, 128));
            }
        }
    }
    v
}

fn rings(source: Source) -> impl Iterator<Item = Entry> {
    ring_matrix()
        .into_iter()
        .map(move |(element_size, capacity, alignment)| Entry {
            source,
            config: Config::Ring {
                element_size,
                capacity,
                alignment,
            },
        })
}

fn cursor(source: Source, role: CursorRole, value: i64, epoch: u64) -> Entry {
    Entry {
        source,
        config: Config::Cursor { role, value, epoch },
    }
}

/// The fixed registry configuration of `slots` slots.
/// Pid namespace inode in the registry goldens (the usual initial namespace's).
pub const PID_NS: u64 = 4026531836;

pub fn registry_init(slots: usize) -> RegistryInit {
    RegistryInit {
        slots,
        epoch: EPOCH,
        producer_pid: PID,
        producer_start_time: START_TIME,
        producer_heartbeat_ns: HEARTBEAT_NS,
        producer_pid_ns: PID_NS,
    }
}

/// Every ringproof golden.
pub fn ringproof() -> Vec<Entry> {
    let s = Source::Ringproof;
    let mut v: Vec<Entry> = rings(s).collect();
    v.push(cursor(s, CursorRole::Producer, -1, EPOCH));
    v.push(cursor(s, CursorRole::Consumer, -1, EPOCH));
    v.push(cursor(s, CursorRole::ForeignConsumer, -1, 0));
    v.push(cursor(s, CursorRole::Ready, 0, 0));
    v.extend(REGISTRY_SLOTS.map(|n| Entry {
        source: s,
        config: Config::Registry(registry_init(n)),
    }));
    v
}

/// Every disruptor-mp golden (disruptor-mp has no registry and never stamps an epoch).
pub fn disruptor_mp() -> Vec<Entry> {
    let s = Source::DisruptorMp;
    let mut v: Vec<Entry> = rings(s).collect();
    v.push(cursor(s, CursorRole::Producer, -1, 0));
    v.push(cursor(s, CursorRole::Consumer, -1, 0));
    v.push(cursor(s, CursorRole::Ready, 0, 0));
    v
}

/// Both sources.
pub fn all() -> Vec<Entry> {
    let mut v = ringproof();
    v.extend(disruptor_mp());
    v
}

/// One counters golden (a ringproof golden, under [`RINGPROOF_DIR`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountersEntry {
    /// Whether the producer's counters are registered (first, in slots 0..9).
    pub producer: bool,
    /// The consumers whose counters follow, in order.
    pub consumers: &'static [&'static str],
}

impl CountersEntry {
    /// `counters-fresh.bin`, or `counters-producer-c{n}.bin` / `counters-c{n}.bin`.
    pub fn file_name(&self) -> String {
        match (self.producer, self.consumers.len()) {
            (false, 0) => "counters-fresh.bin".to_owned(),
            (true, n) => format!("counters-producer-c{n}.bin"),
            (false, n) => format!("counters-c{n}.bin"),
        }
    }

    /// Path relative to `golden-layouts/`, with `/` separators.
    pub fn path(&self) -> String {
        format!("{RINGPROOF_DIR}/{}", self.file_name())
    }

    /// The 4096 bytes the file must hold: what ringproof's builder writes for these
    /// registrations (and what `Counters::create` plus the bundle registrations write).
    pub fn image(&self) -> Result<Vec<u8>, ImageError> {
        counters_image(&bundle_counters(self.producer, self.consumers))
    }
}

/// Every counters golden.
pub fn counters() -> Vec<CountersEntry> {
    vec![
        CountersEntry {
            producer: false,
            consumers: &[],
        },
        CountersEntry {
            producer: true,
            consumers: &["c_0"],
        },
    ]
}

/// The length of the segment `bytes` stand for: a ring golden holds only its header region
/// (`bytes.len() == payload_offset`, a ring header), so it stands for the whole ring with a
/// zero payload; anything else stands for itself.
pub fn segment_len(bytes: &[u8]) -> usize {
    let Ok(h) = LayoutHeader::from_bytes(bytes) else {
        return bytes.len();
    };
    let alignment = usize::from(h.alignment);
    let plausible = h.kind == SegmentKind::Ring as u16
        && alignment.is_power_of_two()
        && alignment <= MAX_ALIGNMENT
        && bytes.len() == payload_offset(alignment)
        && bytes.len() >= HEADER_SIZE;
    if !plausible {
        return bytes.len();
    }
    usize::try_from((bytes.len() as u64).saturating_add(h.payload_size)).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_images_build() {
        let all = all();
        let mut names: Vec<String> = all.iter().map(Entry::path).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert_eq!(ring_matrix().len(), 21);
        for e in &all {
            e.image().unwrap();
        }
        let counters: Vec<String> = counters().iter().map(CountersEntry::path).collect();
        assert_eq!(
            counters,
            [
                "ringproof/v1/counters-fresh.bin",
                "ringproof/v1/counters-producer-c1.bin"
            ]
        );
        assert!(counters.iter().all(|c| !names.contains(c)));
        let skippable: Vec<String> = all
            .iter()
            .filter(|e| e.skippable())
            .map(Entry::path)
            .collect();
        assert_eq!(
            skippable,
            ["disruptor-mp-0.1.0-alpha.2/ring-e4096-c1048576-a8.bin"]
        );
    }

    #[test]
    fn header_images_stand_for_whole_rings() {
        let img = ring_image(24, 1024, 8).unwrap();
        assert_eq!(segment_len(img.bytes()), 56 + 24 * 1024);
        let c = cursor_image(-1, 0);
        assert_eq!(segment_len(c.bytes()), 128);
        assert_eq!(segment_len(b"hello"), 5);
    }
}
