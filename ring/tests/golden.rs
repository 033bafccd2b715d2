//! The golden layouts (`golden-layouts/`, catalogued in `ringproof::kit::layout::golden`) against
//! the writers and validators of both implementations.
//!
//! - every ringproof golden is regenerated in memory from the builders and compared byte for
//!   byte, and the real creators (producer, `Cursor::create`, `Registry::create`) write exactly
//!   the builders' bytes: changing the layout without updating the goldens fails here;
//! - ringproof writes the same LayoutV1 bytes as disruptor-mp for every shared configuration;
//! - ringproof's validator accepts every disruptor-mp golden;
//! - each golden's decoded form and hexdump is an insta snapshot (`tests/snapshots/`);
//! - every single-bit flip of every header byte and every truncation is rejected with its
//!   specific error (tables of what was observed are snapshots too);
//! - a proptest feeds arbitrary bytes and lengths to the validator and the decoder;
//! - the counters goldens (disruptor-mp's "MYC0" counters layout, no LayoutV1 header) have
//!   their own catalogue (`golden::counters`): builders' bytes, creator's bytes, snapshots, and
//!   tables of every header bit flip and truncation.
//!
//! The disruptor-mp side of "each accepts the other's segments" is
//! `interop/dmp-peer/tests/golden_accept.rs`.
// Maps segments and spawns processes: nothing here runs under `--cfg loom`
// (`ci/test` builds only `loom_protocol` that way).
#![cfg(not(loom))]

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, RngAlgorithm, TestRunner};
use ringproof::kit::layout::counters::{self as ctr, CountersLayoutError};
use ringproof::kit::layout::describe::{describe, diff, hexdump, Format};
use ringproof::kit::layout::golden::{self, Config, CountersEntry, CursorRole, Entry, Source};
use ringproof::kit::layout::image::{cursor_image, registry_image, ring_image, RegistryInit};
use ringproof::kit::layout::{
    validate, validate_header, Expect, LayoutError, LayoutHeader, SegmentKind, HEADER_SIZE,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

// Split out of this file; the insta snapshots stay here, where their names and directory
// (`tests/snapshots/`, prefix `golden__`) are.
#[path = "golden/bytes.rs"]
mod bytes;
#[path = "golden/proptests.rs"]
mod proptests;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden-layouts")
}

/// The committed bytes of `e`, or `None` for a disruptor-mp golden the generator may skip.
fn read(e: &Entry) -> Option<Vec<u8>> {
    match std::fs::read(golden_dir().join(e.path())) {
        Ok(b) => Some(b),
        Err(_) if e.skippable() => None,
        Err(err) => panic!(
            "golden {} is missing ({err}); regenerate with the command in golden-layouts/README.md",
            e.path()
        ),
    }
}

/// Every golden that is present, with its bytes.
fn present() -> Vec<(Entry, Vec<u8>)> {
    golden::all()
        .into_iter()
        .filter_map(|e| read(&e).map(|b| (e, b)))
        .collect()
}

/// What a reader that knows the configuration expects.
fn strict(e: &Entry) -> Expect {
    match e.config {
        Config::Ring {
            element_size,
            capacity,
            alignment,
        } => Expect {
            kind: SegmentKind::Ring,
            element_size: Some(element_size),
            capacity: Some(capacity),
            min_alignment: alignment,
        },
        Config::Cursor { .. } => Expect {
            element_size: Some(64),
            capacity: Some(1),
            ..Expect::kind(SegmentKind::Cursor)
        },
        Config::Registry(init) => Expect {
            element_size: Some(128),
            capacity: Some(init.slots as u64),
            ..Expect::kind(SegmentKind::Registry)
        },
    }
}

/// FNV-1a 32, written out again so the tests do not trust the library's.
fn fnv(bytes: &[u8]) -> u32 {
    let mut h = 0x811C_9DC5u32;
    for &b in bytes {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h
}

fn checksum_of(header: &[u8]) -> u32 {
    let mut h = header[..HEADER_SIZE].to_vec();
    h[48..52].fill(0);
    fnv(&h)
}

fn fix_checksum(header: &mut [u8]) {
    let c = checksum_of(header);
    header[48..52].copy_from_slice(&c.to_le_bytes());
}

/// A unique temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "ringproof-golden-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn snapshot_name(e: &Entry) -> String {
    e.path()
        .replace('/', "__")
        .trim_end_matches(".bin")
        .to_owned()
}

#[test]
fn snapshots_of_every_golden() {
    for (e, bytes) in present() {
        let d = describe(&bytes, golden::segment_len(&bytes));
        assert!(d.verdict.is_ok(), "{}: {}", e.path(), d.verdict_line());
        let text = format!(
            "{}\n\n{}\nhexdump of the {} committed bytes:\n{}",
            e.path(),
            d.table(),
            bytes.len(),
            hexdump(&bytes)
        );
        insta::assert_snapshot!(snapshot_name(&e), text);
    }
}

/// The error a single-bit flip of header byte `at` must produce.
fn expected_flip_error(m: &[u8], at: usize) -> LayoutError {
    match at {
        0..=7 => LayoutError::BadMagic {
            found: m[..8].try_into().unwrap(),
        },
        8..=9 => LayoutError::Version {
            found: u16::from_le_bytes([m[8], m[9]]),
            supported: 1,
        },
        _ => LayoutError::Checksum {
            stored: u32::from_le_bytes(m[48..52].try_into().unwrap()),
            computed: checksum_of(m),
        },
    }
}

const HEADER_FIELDS: [(usize, &str); 11] = [
    (0, "magic"),
    (8, "version"),
    (10, "kind"),
    (12, "header_size"),
    (14, "alignment"),
    (16, "payload_size"),
    (24, "element_size"),
    (32, "capacity"),
    (40, "reserved"),
    (48, "checksum"),
    (52, "reserved2"),
];

fn field_at(at: usize) -> &'static str {
    HEADER_FIELDS
        .iter()
        .rev()
        .find(|(o, _)| *o <= at)
        .map(|(_, n)| *n)
        .unwrap_or("?")
}

fn outcome(r: &Result<ringproof::kit::layout::Geometry, LayoutError>) -> String {
    match r {
        Ok(_) => "accepted".into(),
        Err(e) => e.variant().into(),
    }
}

#[test]
fn every_header_bit_flip_is_rejected() {
    // offset -> (raw flip outcomes, flip + recomputed checksum outcomes)
    let mut table: BTreeMap<usize, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    let mut checks = 0u64;
    for (e, bytes) in present() {
        let expect = strict(&e);
        let full = golden::segment_len(&bytes);
        for at in 0..HEADER_SIZE {
            for bit in 0..8 {
                let mut m = bytes.clone();
                m[at] ^= 1 << bit;
                let raw = validate_header(&m[..HEADER_SIZE], full, &expect);
                assert_eq!(
                    raw,
                    Err(expected_flip_error(&m, at)),
                    "{} byte {at} bit {bit}",
                    e.path()
                );
                if full == m.len() {
                    assert_eq!(
                        validate(&m, &expect),
                        raw,
                        "{}: validate and validate_header agree",
                        e.path()
                    );
                }
                let d = describe(&m, full);
                assert_eq!(
                    d.verdict.as_ref().err().map(LayoutError::variant),
                    raw.as_ref().err().map(LayoutError::variant)
                );
                let mut fixed = m.clone();
                fix_checksum(&mut fixed);
                let semantic = validate_header(&fixed[..HEADER_SIZE], full, &expect);
                if semantic.is_ok() {
                    // Only the reserved words (which readers ignore) or a flipped checksum bit,
                    // which fixing restores, may pass once the checksum is right.
                    assert!(
                        (40..56).contains(&at),
                        "{} byte {at} bit {bit}: accepted after re-checksumming",
                        e.path()
                    );
                }
                let row = table.entry(at).or_default();
                row.0.insert(outcome(&raw));
                row.1.insert(if (48..52).contains(&at) {
                    "n/a (restores the original)".into()
                } else {
                    outcome(&semantic)
                });
                checks += 2;
            }
        }
    }
    let mut s = format!(
        "{checks} validations: every bit of header bytes 0..56 of every golden, flipped alone\n"
    );
    s.push_str("offset field         raw flip   | flip + checksum recomputed\n");
    for (at, (raw, semantic)) in &table {
        let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
        s.push_str(&format!(
            "{at:>6} {:<13} {:<10} | {}\n",
            field_at(*at),
            join(raw),
            join(semantic)
        ));
    }
    insta::assert_snapshot!("mutation_table", s);
}

/// Lengths to check for a segment of `full` bytes: every one up to 64 KiB (plus the header
/// region); beyond that the first and last 8 KiB and 1023 evenly spaced ones in between (the
/// validator's answer there depends only on `len < full`). Plus two longer lengths.
fn truncation_lengths(full: usize) -> (Vec<usize>, bool) {
    let exhaustive = full <= (64 << 10) + 4096;
    let mut v: Vec<usize> = if exhaustive {
        (0..=full).collect()
    } else {
        let mut v: Vec<usize> = (0..=8192).chain(full - 8192..=full).collect();
        v.extend((1..1024).map(|i| full / 1024 * i));
        v
    };
    v.extend([full + 1, full + 4096]);
    v.sort_unstable();
    v.dedup();
    (v, exhaustive)
}

#[test]
fn every_truncation_is_rejected() {
    let mut s = String::from("golden: lengths checked (how) -> outcomes\n");
    let mut total = 0usize;
    for (e, bytes) in present() {
        let expect = strict(&e);
        let full = golden::segment_len(&bytes);
        let (lengths, exhaustive) = truncation_lengths(full);
        let geometry = *e.image().unwrap().geometry();
        let mut seen = BTreeSet::new();
        for &len in &lengths {
            let r = if len <= bytes.len() {
                validate(&bytes[..len], &expect)
            } else {
                validate_header(&bytes, len, &expect)
            };
            let want = if len < HEADER_SIZE {
                Err(LayoutError::TooShort { len })
            } else if len < full {
                Err(LayoutError::Truncated {
                    len,
                    need: full as u64,
                })
            } else {
                Ok(geometry)
            };
            if r != want {
                panic!("{} truncated to {len}: {r:?}, want {want:?}", e.path());
            }
            seen.insert(outcome(&r));
        }
        total += lengths.len();
        let how = if exhaustive { "all" } else { "sampled" };
        let seen: Vec<String> = seen.into_iter().collect();
        s.push_str(&format!(
            "{}: {} ({how}) -> {}\n",
            e.path(),
            lengths.len(),
            seen.join(", ")
        ));
    }
    s.push_str(&format!("total: {total} lengths\n"));
    insta::assert_snapshot!("truncation_table", s);
}

// ---- The counters goldens (SPEC.md §12) ----

fn read_counters(e: &CountersEntry) -> Vec<u8> {
    std::fs::read(golden_dir().join(e.path())).unwrap_or_else(|err| {
        panic!(
            "golden {} is missing ({err}); regenerate with the command in golden-layouts/README.md",
            e.path()
        )
    })
}

#[test]
fn snapshots_of_every_counters_golden() {
    for e in golden::counters() {
        let bytes = read_counters(&e);
        let d = describe(&bytes, bytes.len());
        assert!(d.is_ok(), "{}: {}", e.path(), d.verdict_line());
        assert!(matches!(d.format, Format::Counters(Ok(_))));
        let text = format!(
            "{}\n\n{}\nhexdump of the {} committed bytes:\n{}",
            e.path(),
            d.table(),
            bytes.len(),
            hexdump(&bytes)
        );
        insta::assert_snapshot!(
            e.path()
                .replace('/', "__")
                .trim_end_matches(".bin")
                .to_owned(),
            text
        );
    }
}

const COUNTERS_HEADER_FIELDS: [(usize, &str); 7] = [
    (0, "magic"),
    (4, "version"),
    (8, "slot_count"),
    (12, "slot_capacity"),
    (16, "slot_stride"),
    (20, "slots_offset"),
    (24, "reserved"),
];

fn counters_outcome(r: &Result<ctr::CountersGeometry, CountersLayoutError>) -> String {
    match r {
        Ok(_) => "accepted".into(),
        Err(e) => e.variant().into(),
    }
}

/// Every single-bit flip of every counters header byte: which error (or acceptance) follows.
/// The layout has no checksum: flips of `slot_count` that stay <= 62 and of the reserved bytes
/// are accepted by design (disruptor-mp's layout; readers never trust more than the checks).
#[test]
fn every_counters_header_bit_flip() {
    let mut table: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    let mut checks = 0u64;
    for e in golden::counters() {
        let bytes = read_counters(&e);
        for at in 0..ctr::HEADER_SIZE {
            for bit in 0..8 {
                let mut m = bytes.clone();
                m[at] ^= 1 << bit;
                let r = ctr::validate(&m[..ctr::HEADER_SIZE], m.len());
                let field = |o: usize| u32::from_le_bytes(m[o..o + 4].try_into().unwrap());
                let want = match at {
                    0..=3 if field(0) == 0 => Err(CountersLayoutError::Initializing),
                    0..=3 => Err(CountersLayoutError::BadMagic { found: field(0) }),
                    4..=7 => Err(CountersLayoutError::Version { found: field(4) }),
                    8..=11 if field(8) > 62 => {
                        Err(CountersLayoutError::SlotCount { found: field(8) })
                    }
                    8..=11 => Ok(ctr::CountersGeometry {
                        slot_count: field(8),
                    }),
                    12..=15 => Err(CountersLayoutError::SlotCapacity { found: field(12) }),
                    16..=19 => Err(CountersLayoutError::SlotStride { found: field(16) }),
                    20..=23 => Err(CountersLayoutError::SlotsOffset { found: field(20) }),
                    _ => Ok(ctr::CountersGeometry {
                        slot_count: field(8),
                    }),
                };
                assert_eq!(r, want, "{} byte {at} bit {bit}", e.path());
                let d = describe(&m, m.len());
                match &d.format {
                    // A flip in the magic makes the bytes no counters segment at all.
                    Format::LayoutV1 => assert!(
                        at < 4 && d.verdict.is_err(),
                        "{} byte {at} bit {bit}",
                        e.path()
                    ),
                    Format::Counters(v) => assert_eq!(v, &r),
                }
                table.entry(at).or_default().insert(counters_outcome(&r));
                checks += 1;
            }
        }
    }
    let mut s = format!("{checks} validations: every bit of counters header bytes 0..64 of every counters golden, flipped alone\n");
    s.push_str("offset field          outcomes\n");
    for (at, outcomes) in &table {
        let name = COUNTERS_HEADER_FIELDS
            .iter()
            .rev()
            .find(|(o, _)| *o <= *at)
            .map(|(_, n)| *n)
            .unwrap_or("?");
        s.push_str(&format!(
            "{at:>6} {name:<14} {}\n",
            outcomes.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    insta::assert_snapshot!("counters_mutation_table", s);
}

#[test]
fn every_counters_truncation_is_rejected() {
    for e in golden::counters() {
        let bytes = read_counters(&e);
        let mut outcomes = BTreeSet::new();
        for len in 0..=bytes.len() + 64 {
            let r = if len <= bytes.len() {
                ctr::validate(&bytes[..len.min(ctr::HEADER_SIZE)], len)
            } else {
                ctr::validate(&bytes[..ctr::HEADER_SIZE], len)
            };
            let want = if len < ctr::SEGMENT_SIZE {
                Err(CountersLayoutError::TooShort { len })
            } else {
                Ok(ctr::CountersGeometry {
                    slot_count: u32::from_le_bytes(bytes[8..12].try_into().unwrap()),
                })
            };
            assert_eq!(r, want, "{} truncated to {len}", e.path());
            let d = describe(&bytes[..len.min(bytes.len())], len);
            if len >= 4 {
                assert!(matches!(d.format, Format::Counters(_)));
                assert_eq!(d.is_ok(), len >= ctr::SEGMENT_SIZE, "{} at {len}", e.path());
            }
            outcomes.insert(counters_outcome(&r));
        }
        assert_eq!(
            outcomes.into_iter().collect::<Vec<_>>(),
            ["TooShort", "accepted"]
        );
    }
}
