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

#[test]
fn ringproof_goldens_are_the_builders_bytes() {
    for e in golden::ringproof() {
        let file = read(&e).unwrap();
        let image = e.image().unwrap();
        if let Some(at) = file
            .iter()
            .zip(image.bytes())
            .position(|(a, b)| a != b)
            .or((file.len() != image.bytes().len()).then_some(0))
        {
            panic!(
                "{}: the builder's bytes differ from the committed golden at byte {at}. A layout change needs a new layout \
                 version (SPEC.md §11) and regenerated goldens (golden-layouts/README.md).",
                e.path()
            );
        }
    }
}

#[test]
fn catalogue_covers_every_committed_file() {
    let names: BTreeSet<String> = golden::all()
        .iter()
        .map(Entry::path)
        .chain(golden::counters().iter().map(CountersEntry::path))
        .collect();
    for source in [Source::Ringproof, Source::DisruptorMp] {
        for f in std::fs::read_dir(golden_dir().join(source.dir())).unwrap() {
            let rel = format!(
                "{}/{}",
                source.dir(),
                f.unwrap().file_name().to_string_lossy()
            );
            assert!(
                names.contains(&rel),
                "{rel} is committed but not in ringproof::kit::layout::golden"
            );
        }
    }
    assert_eq!(golden::ringproof().len(), 27);
    assert_eq!(golden::disruptor_mp().len(), 24);
    assert_eq!(golden::counters().len(), 2);
}

/// The creators write exactly the builders' bytes (so the goldens pin the real writers).
#[test]
fn creators_write_the_builders_bytes() {
    use ringproof::kit::cursor::Cursor;
    use ringproof::kit::names::SegmentPath;
    use ringproof::kit::registry::Registry;
    use ringproof::{ProducerBuilder, RingName};
    let tmp = TempDir::new("creators");

    let c = Cursor::create(
        &SegmentPath::File(tmp.0.join("c.cursor")),
        "consumer cursor",
        -1,
        golden::EPOCH,
    )
    .unwrap();
    drop(c);
    let golden_consumer = Entry {
        source: Source::Ringproof,
        config: Config::Cursor {
            role: CursorRole::Consumer,
            value: -1,
            epoch: golden::EPOCH,
        },
    };
    assert_eq!(
        std::fs::read(tmp.0.join("c.cursor")).unwrap(),
        read(&golden_consumer).unwrap()
    );

    // The registry stamps this process's pid, start time and heartbeat: read them back and
    // rebuild; every other byte must be the builder's.
    drop(
        Registry::create(
            &SegmentPath::File(tmp.0.join("r.registry")),
            64,
            golden::EPOCH,
        )
        .unwrap(),
    );
    let written = std::fs::read(tmp.0.join("r.registry")).unwrap();
    let u64_at = |o: usize| u64::from_le_bytes(written[o..o + 8].try_into().unwrap());
    let init = RegistryInit {
        slots: 64,
        epoch: golden::EPOCH,
        producer_pid: u64_at(96) as u32,
        producer_start_time: u64_at(104),
        producer_heartbeat_ns: u64_at(112),
        producer_pid_ns: u64_at(128),
    };
    assert_eq!(init.producer_pid, std::process::id());
    assert_eq!(written, registry_image(&init).unwrap().bytes());

    for (element, alignment) in [(24usize, 8usize), (128, 128)] {
        let name = RingName::dir(&tmp.0, &format!("g{element}")).unwrap();
        let p = ProducerBuilder::new(name.clone())
            .capacity(1024)
            .registry_slots(1)
            .create_raw_aligned(element, alignment)
            .unwrap();
        let path = |s: SegmentPath| match s {
            SegmentPath::File(p) => p,
            SegmentPath::Shm(_) => unreachable!("dir backend"),
        };
        let ring = std::fs::read(path(name.ring())).unwrap();
        let image = ring_image(element as u64, 1024, alignment).unwrap();
        assert_eq!(ring.len() as u64, image.geometry().total_len());
        assert_eq!(
            &ring[..image.bytes().len()],
            image.bytes(),
            "ring header region of e{element} a{alignment}"
        );
        assert!(
            ring[image.bytes().len()..].iter().all(|&b| b == 0),
            "a fresh ring's slots are zero"
        );
        let registry = std::fs::read(path(name.registry())).unwrap();
        let epoch = u64::from_le_bytes(registry[64..72].try_into().unwrap());
        assert_ne!(epoch, 0);
        assert_eq!(
            std::fs::read(path(name.producer_cursor())).unwrap(),
            cursor_image(-1, epoch).bytes()
        );
        drop(p);
    }
}

#[test]
fn ringproof_writes_disruptor_mp_bytes() {
    let mut compared = 0;
    for e in golden::disruptor_mp() {
        let Some(theirs) = read(&e) else { continue };
        let twin = e.counterpart().unwrap();
        let ours = read(&twin).unwrap();
        compared += 1;
        match e.config {
            Config::Cursor {
                role: CursorRole::Producer,
                ..
            } => {
                // The one documented difference (SPEC.md §5, §10): ringproof stamps the registry
                // epoch in the cursor cell's bytes 80..88; disruptor-mp writes zeros there.
                assert_eq!(ours.len(), 128);
                assert_eq!(theirs.len(), 128);
                assert_eq!(
                    ours[..80],
                    theirs[..80],
                    "header, padding, value, waiters and reserved are identical"
                );
                assert_eq!(ours[88..], theirs[88..]);
                assert_eq!(&ours[80..88], &golden::EPOCH.to_le_bytes());
                assert_eq!(&theirs[80..88], &[0u8; 8]);
                assert_eq!(&theirs[64..72], &(-1i64).to_le_bytes());
            }
            _ => assert_eq!(ours, theirs, "{} and {} differ", e.path(), twin.path()),
        }
        // And disruptor-mp's bytes are exactly what ringproof's builder writes for its config.
        assert_eq!(theirs, e.image().unwrap().bytes(), "{}", e.path());
    }
    assert!(
        compared >= golden::disruptor_mp().len() - 1,
        "only {compared} disruptor-mp goldens present"
    );
}

#[test]
fn ringproof_validator_accepts_disruptor_mp_goldens() {
    for e in golden::disruptor_mp() {
        let Some(bytes) = read(&e) else { continue };
        let expect = strict(&e);
        let want = *e.image().unwrap().geometry();
        let full = want.total_len() as usize;
        let got = if full <= 64 << 20 {
            let mut whole = bytes.clone();
            whole.resize(full, 0);
            assert!(matches!(
                validate(&whole[..full - 1], &expect),
                Err(LayoutError::Truncated { .. })
            ));
            validate(&whole, &expect)
        } else {
            validate_header(&bytes, full, &expect)
        };
        assert_eq!(got, Ok(want), "{}", e.path());
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

/// Bugs the proptest and the mutation tables found in `validate_header` (fixed in layout/mod.rs).
#[test]
fn validator_regressions() {
    let cursor = cursor_image(-1, 0);
    let expect = Expect::kind(SegmentKind::Cursor);
    // 1. The mapping's length, not the header slice's, decides TooShort.
    assert_eq!(
        validate_header(cursor.bytes(), 10, &expect),
        Err(LayoutError::TooShort { len: 10 })
    );
    // 2. A header whose sizes overflow u64 was accepted in release builds (total length wrapped)
    //    and panicked in debug builds. Since the element size bound (issue 11 F10) such an
    //    element size is refused before any length arithmetic; the largest legal element with
    //    the largest capacity still only needs more bytes than the mapping has.
    let mut h = LayoutHeader::new(SegmentKind::Ring, 8, u64::MAX, 1, u64::MAX);
    h.checksum = h.compute_checksum();
    assert_eq!(
        validate_header(&h.to_bytes(), 4096, &Expect::kind(SegmentKind::Ring)),
        Err(LayoutError::ElementTooLarge {
            found: u64::MAX,
            max: ringproof::kit::layout::MAX_ELEMENT_SIZE
        })
    );
    let big = ringproof::kit::layout::MAX_ELEMENT_SIZE;
    let h = LayoutHeader::new(SegmentKind::Ring, 8, big, 1 << 39, big << 39);
    assert_eq!(
        validate_header(&h.to_bytes(), 4096, &Expect::kind(SegmentKind::Ring)),
        Err(LayoutError::Truncated {
            len: 4096,
            need: 56 + (big << 39)
        })
    );
    // 4. A ring header claiming 1 TiB events (a sparse segment) made readers allocate 1 TiB.
    let h = LayoutHeader::new(SegmentKind::Ring, 8, 1 << 40, 1, 1 << 40);
    assert_eq!(
        validate_header(
            &h.to_bytes(),
            56 + (1 << 40),
            &Expect::kind(SegmentKind::Ring)
        ),
        Err(LayoutError::ElementTooLarge {
            found: 1 << 40,
            max: big
        })
    );
    // 3. A cursor or registry header recording alignment 8 put its 64-aligned cell at offset 56
    //    (misaligned, outside what every writer creates); now rejected.
    let mut b = cursor.bytes().to_vec();
    b[14] = 8;
    fix_checksum(&mut b);
    assert_eq!(
        validate(&b, &expect),
        Err(LayoutError::KindAlignment {
            kind: "cursor",
            expected: 64,
            found: 8
        })
    );
}

/// Up to `max` arbitrary bytes, drawn from one seed (cheaper than one strategy per byte;
/// these bytes need no shrinking).
fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> + Clone {
    (0..max, any::<u64>()).prop_map(|(n, mut z)| {
        (0..n)
            .map(|_| {
                // splitmix64
                z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut x = z;
                x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                (x ^ (x >> 31)) as u8
            })
            .collect()
    })
}

/// Inputs: raw bytes; goldens with patched bytes (checksum fixed or not); headers built from
/// arbitrary fields with a valid checksum. Each with an arbitrary claimed length.
fn arb_input(goldens: Vec<Vec<u8>>) -> impl Strategy<Value = (Vec<u8>, usize)> {
    let n = goldens.len();
    let len = prop_oneof![0usize..512, 0usize..(1 << 21), any::<usize>()];
    let raw = (bytes(300), len.clone());
    let patched = (
        0..n,
        vec((0usize..200, any::<u8>()), 0..6),
        any::<bool>(),
        any::<bool>(),
        len.clone(),
    )
        .prop_map(move |(i, patches, fix, keep_len, len)| {
            let mut b = goldens[i].clone();
            for (at, v) in patches {
                if let Some(x) = b.get_mut(at) {
                    *x = v;
                }
            }
            if fix && b.len() >= HEADER_SIZE {
                fix_checksum(&mut b);
            }
            let l = if keep_len {
                golden::segment_len(&b)
            } else {
                len
            };
            (b, l)
        });
    let pow2 = (0u32..64).prop_map(|s| 1u64 << s);
    let small = prop_oneof![
        Just(0u64),
        Just(1),
        Just(64),
        Just(128),
        0u64..5000,
        any::<u64>()
    ];
    let structured = (
        prop_oneof![Just(1u16), Just(2), Just(3), any::<u16>()],
        prop_oneof![
            Just(8u16),
            Just(64),
            Just(128),
            (0u32..13).prop_map(|s| 1u16 << s),
            any::<u16>()
        ],
        small.clone(),
        prop_oneof![pow2, small.clone()],
        any::<bool>(),
        small,
        bytes(400),
        len,
    )
        .prop_map(
            |(kind, alignment, element, capacity, consistent, payload, tail, len)| {
                let payload = if consistent {
                    match kind {
                        1 => element.wrapping_mul(capacity),
                        2 => 64,
                        _ => capacity.wrapping_add(1).wrapping_mul(128),
                    }
                } else {
                    payload
                };
                let mut h = LayoutHeader::new(SegmentKind::Ring, 8, element, capacity, payload);
                h.kind = kind;
                h.alignment = alignment;
                h.checksum = h.compute_checksum();
                let mut b = h.to_bytes().to_vec();
                b.extend(tail);
                (b, len)
            },
        );
    prop_oneof![1 => raw, 2 => patched, 2 => structured]
}

/// What every accepted segment satisfies, whatever the bytes were.
fn check_accepted(
    b: &[u8],
    len: usize,
    g: &ringproof::kit::layout::Geometry,
    kind: SegmentKind,
) -> Result<(), TestCaseError> {
    prop_assert!(len >= HEADER_SIZE && b.len() >= HEADER_SIZE);
    prop_assert_eq!(&b[..8], b"DSMPTV01");
    prop_assert_eq!(
        u32::from_le_bytes(b[48..52].try_into().unwrap()),
        checksum_of(b)
    );
    prop_assert_eq!(g.kind, kind);
    prop_assert!(
        g.total_len() <= len as u64,
        "accepted a segment longer than its mapping"
    );
    prop_assert!(g.alignment.is_power_of_two() && (8..=4096).contains(&g.alignment));
    prop_assert_eq!(
        g.payload_offset,
        ringproof::kit::layout::header::payload_offset(g.alignment)
    );
    prop_assert!(g.payload_offset >= HEADER_SIZE && g.payload_offset % g.alignment == 0);
    match kind {
        SegmentKind::Ring => {
            prop_assert!(g.capacity.is_power_of_two() && g.element_size >= 1);
            prop_assert_eq!(g.element_size.checked_mul(g.capacity), Some(g.payload_size));
        }
        SegmentKind::Cursor => prop_assert_eq!(
            (
                g.alignment,
                g.element_size,
                g.capacity,
                g.payload_size,
                g.payload_offset
            ),
            (64, 64, 1, 64, 64)
        ),
        SegmentKind::Registry => {
            prop_assert_eq!(
                (g.alignment, g.element_size, g.payload_offset),
                (64, 128, 64)
            );
            prop_assert_eq!(
                g.capacity.checked_add(1).and_then(|c| c.checked_mul(128)),
                Some(g.payload_size)
            );
        }
    }
    Ok(())
}

const PROPTEST_CASES: u32 = 20_000;

// Both runners use XorShift: the default ChaCha generator costs ~100 µs a case in debug
// builds (CI runs them), XorShift a tenth of that, with the same distributions.

#[test]
fn proptest_validator_and_decoder_on_arbitrary_bytes() {
    let mut goldens: Vec<Vec<u8>> = present().into_iter().map(|(_, b)| b).collect();
    goldens.extend(golden::counters().iter().map(read_counters));
    let cases = AtomicU64::new(0);
    let accepted = AtomicU64::new(0);
    let mut runner = TestRunner::new(PtConfig {
        cases: PROPTEST_CASES,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::XorShift,
        ..PtConfig::default()
    });
    let started = std::time::Instant::now();
    runner
        .run(&arb_input(goldens), |(b, len)| {
            cases.fetch_add(1, Ordering::Relaxed);
            let head = &b[..b.len().min(HEADER_SIZE)];
            for kind in [
                SegmentKind::Ring,
                SegmentKind::Cursor,
                SegmentKind::Registry,
            ] {
                let expect = Expect::kind(kind);
                let r = validate_header(head, len, &expect);
                if len < HEADER_SIZE || head.len() < HEADER_SIZE {
                    prop_assert_eq!(
                        &r,
                        &Err(LayoutError::TooShort {
                            len: len.min(head.len())
                        })
                    );
                }
                if let Ok(g) = &r {
                    accepted.fetch_add(1, Ordering::Relaxed);
                    check_accepted(&b, len, g, kind)?;
                }
                prop_assert_eq!(
                    validate(&b, &expect),
                    validate_header(head, b.len(), &expect)
                );
            }
            let d = describe(&b, len);
            let want_len = if b.len() < HEADER_SIZE {
                b.len()
            } else {
                len.max(b.len())
            };
            prop_assert_eq!(d.len, want_len);
            let kind = d.kind.unwrap_or(SegmentKind::Ring);
            prop_assert_eq!(
                &d.verdict,
                &validate_header(head, want_len, &Expect::kind(kind))
            );
            for w in d.fields.windows(2) {
                prop_assert!(
                    w[0].offset.saturating_add(w[0].size) <= w[1].offset,
                    "fields overlap: {:?} / {:?}",
                    w[0],
                    w[1]
                );
            }
            prop_assert!(diff(&d, &d).is_empty());
            match &d.format {
                Format::Counters(v) => {
                    prop_assert!(ctr::has_magic(&b));
                    prop_assert_eq!(
                        v,
                        &ctr::validate(&b[..b.len().min(ctr::HEADER_SIZE)], want_len)
                    );
                    if v.is_ok() {
                        prop_assert!(want_len >= ctr::SEGMENT_SIZE && b.len() >= ctr::HEADER_SIZE);
                    }
                }
                Format::LayoutV1 => prop_assert!(!ctr::has_magic(&b)),
            }
            Ok(())
        })
        .unwrap();
    let n = cases.load(Ordering::Relaxed);
    eprintln!(
        "proptest: {n} cases ({} validations accepted) in {:?}",
        accepted.load(Ordering::Relaxed),
        started.elapsed()
    );
    assert!(n >= u64::from(PROPTEST_CASES), "ran only {n} cases");
}

#[test]
fn proptest_builders_only_emit_what_the_validator_accepts() {
    let cases = AtomicU64::new(0);
    let mut runner = TestRunner::new(PtConfig {
        cases: 5_000,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::XorShift,
        ..PtConfig::default()
    });
    let strategy = (
        prop_oneof![1u64..5000, any::<u64>()],
        (0u32..40).prop_map(|s| 1u64 << s),
        (0u32..13).prop_map(|s| 1usize << s),
    );
    runner
        .run(&strategy, |(element, capacity, alignment)| {
            cases.fetch_add(1, Ordering::Relaxed);
            if let Ok(img) = ring_image(element, capacity, alignment) {
                let g = *img.geometry();
                let expect = Expect {
                    kind: SegmentKind::Ring,
                    element_size: Some(element),
                    capacity: Some(capacity),
                    min_alignment: alignment,
                };
                prop_assert_eq!(
                    validate_header(img.bytes(), g.total_len() as usize, &expect),
                    Ok(g)
                );
                prop_assert_eq!(img.bytes().len(), g.payload_offset);
            }
            Ok(())
        })
        .unwrap();
    eprintln!("proptest: {} builder cases", cases.load(Ordering::Relaxed));
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
fn counters_goldens_are_the_builders_bytes() {
    for e in golden::counters() {
        let file = read_counters(&e);
        assert_eq!(file.len(), ctr::SEGMENT_SIZE, "{}", e.path());
        assert!(
            file == e.image().unwrap(),
            "{}: the builder's bytes differ from the committed golden. A layout change needs a new layout version (SPEC.md §11) and regenerated goldens (golden-layouts/README.md).",
            e.path()
        );
    }
}

/// `Counters::create` and the bundle registrations write exactly the builders' bytes.
#[test]
fn counters_creator_writes_the_builders_bytes() {
    use ringproof::kit::counters::{register_consumer, register_producer, Counters};
    use ringproof::kit::names::SegmentPath;
    let tmp = TempDir::new("counters");
    let fresh = tmp.0.join("fresh.counters");
    drop(Counters::create(&SegmentPath::File(fresh.clone())).unwrap());
    let e = golden::counters();
    assert_eq!(std::fs::read(&fresh).unwrap(), read_counters(&e[0]));
    let path = tmp.0.join("pc.counters");
    let c = Counters::create(&SegmentPath::File(path.clone())).unwrap();
    let p = register_producer(&c).unwrap();
    let k = register_consumer(&c, "c_0").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), read_counters(&e[1]));
    drop((p, k, c));
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
