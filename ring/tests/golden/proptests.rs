//! The validator and the decoder on arbitrary input: the regressions the proptests and the
//! mutation tables found, and the proptests themselves.

use super::*;

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
