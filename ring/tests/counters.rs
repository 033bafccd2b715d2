//! The counters segment (SPEC.md §12): disruptor-mp's "MYC0" counters layout in shm and in
//! files, registration of the producer's and consumers' bundles, slot reuse on restart, the
//! capacity limit, typed errors for bad segments, and bytes laid out as disruptor-mp lays them.
// Maps segments and spawns processes: nothing here runs under `--cfg loom`
// (`ci/test` builds only `loom_protocol` that way).
#![cfg(not(loom))]

use ringproof::kit::counters::{
    ids, register_consumer, register_producer, CounterValue, Counters, CountersError,
    CountersLayoutError, MAX_CONSUMERS,
};
use ringproof::kit::layout::counters::{
    consumer_label, FLAG_CONSUMER, FLAG_IN_USE, FLAG_PRODUCER, SEGMENT_SIZE,
};
use ringproof::kit::layout::describe::{describe, Format};
use ringproof::{kit::names::SegmentPath, Error};
use ringproof_testsupport as support;

/// A unique shm name for this test process, and a guard that unlinks it.
struct ShmName(String);

impl ShmName {
    fn new(tag: &str) -> ShmName {
        ShmName(support::unique_name(&prefix(), tag))
    }

    fn path(&self) -> SegmentPath {
        SegmentPath::Shm(self.0.clone())
    }
}

impl Drop for ShmName {
    fn drop(&mut self) {
        let _ = ringproof::kit::segment::unlink(&self.path());
    }
}

fn prefix() -> String {
    format!("rpcounters{}", std::process::id())
}

/// /dev/shm entries of this test process (each test checks the ones of its own names: the
/// tests run in parallel).
fn shm_leftovers() -> Vec<String> {
    support::shm_names(|n| n.starts_with(&prefix()))
}

/// A unique temporary directory, removed on drop.
struct TempDir(support::TempDir);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        TempDir(support::TempDir::new(&support::unique_name(&prefix(), tag)))
    }

    fn file(&self, name: &str) -> SegmentPath {
        SegmentPath::File(self.0.join(name))
    }
}

fn by_label<'a>(snap: &'a [CounterValue], label: &str) -> &'a CounterValue {
    snap.iter()
        .find(|v| v.label == label)
        .unwrap_or_else(|| panic!("no counter {label:?} in {snap:#?}"))
}

#[test]
fn shm_producer_and_two_consumers_read_from_another_mapping() {
    let name = ShmName::new("pc2");
    let counters = Counters::create(&name.path()).unwrap();
    let p = register_producer(&counters).unwrap();
    let c0 = register_consumer(&counters, "c_0").unwrap();
    let c1 = register_consumer(&counters, "c_1").unwrap();
    assert_eq!(counters.slot_count(), 9 + 6 + 6);
    p.published.add(40);
    p.published.increment();
    p.published.increment();
    p.published_bytes.add(42 * 64);
    p.full.add(3);
    p.restarts.add(1);
    c0.consumed.add(42);
    c0.lag_max.record_max(17);
    c0.lag_max.record_max(5);
    c1.consumed.add(7);
    c1.empty_polls.add(1000);
    assert_eq!(p.published.get(), 42);
    assert_eq!(c0.lag_max.get(), 17);

    // Another mapping (as another process would have).
    let reader = Counters::open(&name.path()).unwrap();
    let snap = reader.snapshot();
    assert_eq!(snap.len(), 21);
    let v = by_label(&snap, "events_published");
    assert_eq!(
        (v.id, v.flags, v.value, v.slot, v.role()),
        (
            ids::EVENTS_PUBLISHED,
            FLAG_IN_USE | FLAG_PRODUCER,
            42,
            0,
            "producer"
        )
    );
    assert_eq!(by_label(&snap, "events_published_bytes").value, 42 * 64);
    assert_eq!(by_label(&snap, "producer_full_events").value, 3);
    assert_eq!(
        by_label(&snap, "producer_restarts").id,
        ids::PRODUCER_RESTARTS
    );
    assert_eq!(by_label(&snap, "producer_restarts").value, 1);
    assert_eq!(by_label(&snap, "liveness_alerts").value, 0);
    let v = by_label(&snap, "c_0.events_consumed");
    assert_eq!(
        (v.id, v.flags, v.value, v.role()),
        (
            ids::EVENTS_CONSUMED,
            FLAG_IN_USE | FLAG_CONSUMER,
            42,
            "consumer"
        )
    );
    assert_eq!(by_label(&snap, "c_0.consumer_lag_max").value, 17);
    assert_eq!(by_label(&snap, "c_1.events_consumed").value, 7);
    assert_eq!(by_label(&snap, "c_1.consumer_empty_spins").value, 1000);
    // Slots in registration order: producer 0..9, c_0 9..15, c_1 15..21.
    assert_eq!(c0.consumed.slot(), 9);
    assert_eq!(c1.lag_max.slot(), 20);

    // A writer on another thread (handles are Send); the reader's values only grow.
    let writer = std::thread::spawn(move || {
        for _ in 0..100_000 {
            c1.consumed.increment();
        }
        c1
    });
    let mut last = 0;
    while !writer.is_finished() {
        let v = by_label(&reader.snapshot(), "c_1.events_consumed").value;
        assert!(v >= last, "counter went backwards: {last} -> {v}");
        last = v;
    }
    let c1 = writer.join().unwrap();
    assert_eq!(
        by_label(&reader.snapshot(), "c_1.events_consumed").value,
        100_007
    );
    drop((p, c0, c1, counters, reader));
    Counters::unlink(&name.path()).unwrap();
    assert!(
        shm_leftovers().iter().all(|n| !n.starts_with(&name.0)),
        "{:?}",
        shm_leftovers()
    );
}

#[test]
fn a_restarted_consumer_reuses_its_slots() {
    let name = ShmName::new("restart");
    let counters = Counters::create(&name.path()).unwrap();
    let _p = register_producer(&counters).unwrap();
    let c = register_consumer(&counters, "c_0").unwrap();
    c.consumed.add(10);
    let slots: Vec<usize> = [
        &c.consumed,
        &c.consumed_bytes,
        &c.empty_polls,
        &c.park,
        &c.unpark,
        &c.lag_max,
    ]
    .iter()
    .map(|h| h.slot())
    .collect();
    drop(c);
    for round in 1..=20u64 {
        // As a restarted process would: a fresh mapping, the same id.
        let again = Counters::open(&name.path()).unwrap();
        let c = register_consumer(&again, "c_0").unwrap();
        let now: Vec<usize> = [
            &c.consumed,
            &c.consumed_bytes,
            &c.empty_polls,
            &c.park,
            &c.unpark,
            &c.lag_max,
        ]
        .iter()
        .map(|h| h.slot())
        .collect();
        assert_eq!(now, slots, "round {round}");
        assert_eq!(
            c.consumed.get(),
            10 + round - 1,
            "counters are cumulative across restarts"
        );
        c.consumed.increment();
        assert_eq!(again.slot_count(), 15, "restarts claim no slot");
    }
    // The producer's bundle is reused the same way (a producer restart).
    let p2 = register_producer(&Counters::open(&name.path()).unwrap()).unwrap();
    assert_eq!(p2.published.slot(), 0);
    assert_eq!(counters.slot_count(), 15);
    drop((p2, counters));
    Counters::unlink(&name.path()).unwrap();
    assert!(shm_leftovers().iter().all(|n| !n.starts_with(&name.0)));
}

#[test]
fn a_full_segment_is_a_typed_error_and_claims_nothing() {
    let tmp = TempDir::new("full");
    let path = tmp.file("r.counters");
    let counters = Counters::create(&path).unwrap();
    let _p = register_producer(&counters).unwrap();
    let mut consumers = Vec::new();
    for k in 0..MAX_CONSUMERS {
        consumers.push(register_consumer(&counters, &format!("c_{k}")).unwrap());
    }
    assert_eq!(MAX_CONSUMERS, 8);
    assert_eq!(counters.slot_count(), 9 + 6 * 8);
    let err = register_consumer(&counters, "c_8").unwrap_err();
    assert!(
        matches!(err, CountersError::Full { capacity: 62, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("run without counters"), "{err}");
    assert_eq!(
        counters.slot_count(),
        57,
        "a bundle that does not fit claims nothing"
    );
    // A known consumer still gets its slots back.
    assert_eq!(
        register_consumer(&counters, "c_3").unwrap().consumed.slot(),
        9 + 3 * 6
    );
    // Single counters fill the rest, then fail without passing 62.
    for k in 0..5 {
        counters
            .register(ids::APP_RESERVED_BASE + k, &format!("app_{k}"), 0)
            .unwrap();
    }
    assert_eq!(counters.slot_count(), 62);
    assert!(matches!(
        counters.register(0x200, "one_too_many", 0),
        Err(CountersError::Full { .. })
    ));
    assert_eq!(counters.slot_count(), 62);
    assert_eq!(Counters::open(&path).unwrap().snapshot().len(), 62);
}

#[test]
fn bad_labels_are_typed_errors() {
    let tmp = TempDir::new("labels");
    let counters = Counters::create(&tmp.file("l.counters")).unwrap();
    assert!(matches!(
        counters.register(1, "", 0),
        Err(CountersError::Label { .. })
    ));
    assert!(matches!(
        counters.register(1, &"x".repeat(49), 0),
        Err(CountersError::Label { .. })
    ));
    assert!(matches!(
        counters.register(1, "a\0b", 0),
        Err(CountersError::Label { .. })
    ));
    assert_eq!(counters.slot_count(), 0);
    counters.register(1, &"x".repeat(48), 0).unwrap();
    // A 48-byte consumer id still gets distinct, stable labels.
    let long = "L".repeat(48);
    let c = register_consumer(&counters, &long).unwrap();
    c.consumed.add(5);
    let snap = counters.snapshot();
    let v = by_label(&snap, &consumer_label(&long, "events_consumed"));
    assert_eq!(v.value, 5);
    assert_eq!(v.label.len(), 48);
    assert!(
        v.label.ends_with(".events_consumed") && v.label.contains('~'),
        "{}",
        v.label
    );
}

/// Writes `bytes` to a fresh file and opens it as counters.
fn open_bytes(tmp: &TempDir, name: &str, bytes: &[u8]) -> Result<Counters, CountersError> {
    std::fs::write(tmp.0.join(name), bytes).unwrap();
    Counters::open(&tmp.file(name))
}

fn layout_err(r: Result<Counters, CountersError>) -> CountersLayoutError {
    match r {
        Err(CountersError::Layout { source, .. }) => source,
        other => panic!("expected a layout error, got {other:?}"),
    }
}

#[test]
fn corrupt_or_short_segments_are_typed_errors() {
    let tmp = TempDir::new("corrupt");
    let path = tmp.file("good.counters");
    drop(Counters::create(&path).unwrap());
    let good = std::fs::read(tmp.0.join("good.counters")).unwrap();
    assert_eq!(good.len(), SEGMENT_SIZE);

    let missing = Counters::open(&tmp.file("missing.counters")).unwrap_err();
    assert!(
        missing.is_not_found() && missing.is_transient(),
        "{missing}"
    );
    let exists = Counters::create(&path).unwrap_err();
    assert!(
        matches!(exists, CountersError::Segment(Error::AlreadyExists { .. })),
        "{exists}"
    );
    // open_or_create opens what is there.
    Counters::open_or_create(&path).unwrap();

    assert_eq!(
        layout_err(open_bytes(&tmp, "empty", b"")),
        CountersLayoutError::TooShort { len: 0 }
    );
    assert_eq!(
        layout_err(open_bytes(&tmp, "short", &good[..100])),
        CountersLayoutError::TooShort { len: 100 }
    );
    assert_eq!(
        layout_err(open_bytes(&tmp, "short2", &good[..4095])),
        CountersLayoutError::TooShort { len: 4095 }
    );
    let patched = |off: usize, v: u32| {
        let mut b = good.clone();
        b[off..off + 4].copy_from_slice(&v.to_le_bytes());
        b
    };
    let e = open_bytes(&tmp, "zero", &patched(0, 0)).unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(matches!(
        e,
        CountersError::Layout {
            source: CountersLayoutError::Initializing,
            ..
        }
    ));
    let e = open_bytes(&tmp, "magic", &patched(0, u32::from_le_bytes(*b"DSMP"))).unwrap_err();
    assert!(!e.is_transient());
    assert!(e.to_string().contains("not a counters segment"), "{e}");
    assert_eq!(
        layout_err(Err(e)),
        CountersLayoutError::BadMagic {
            found: u32::from_le_bytes(*b"DSMP")
        }
    );
    assert_eq!(
        layout_err(open_bytes(&tmp, "version", &patched(4, 1))),
        CountersLayoutError::Version { found: 1 }
    );
    assert_eq!(
        layout_err(open_bytes(&tmp, "cap", &patched(12, 64))),
        CountersLayoutError::SlotCapacity { found: 64 }
    );
    assert_eq!(
        layout_err(open_bytes(&tmp, "stride", &patched(16, 128))),
        CountersLayoutError::SlotStride { found: 128 }
    );
    assert_eq!(
        layout_err(open_bytes(&tmp, "offset", &patched(20, 4096))),
        CountersLayoutError::SlotsOffset { found: 4096 }
    );
    assert_eq!(
        layout_err(open_bytes(&tmp, "count", &patched(8, 1000))),
        CountersLayoutError::SlotCount { found: 1000 }
    );
    // A LayoutV1 segment is not a counters segment.
    let cursor = ringproof::kit::layout::image::cursor_image(-1, 0);
    let mut b = cursor.bytes().to_vec();
    b.resize(SEGMENT_SIZE, 0);
    assert!(matches!(
        layout_err(open_bytes(&tmp, "cursor", &b)),
        CountersLayoutError::BadMagic { .. }
    ));
    // A longer file is accepted (only its first 4096 bytes are read).
    let mut long = good.clone();
    long.resize(8192, 0xAA);
    assert_eq!(open_bytes(&tmp, "long", &long).unwrap().snapshot(), vec![]);
    // A directory is no segment.
    std::fs::create_dir(tmp.0.join("dir.counters")).unwrap();
    assert!(matches!(
        Counters::open(&tmp.file("dir.counters")),
        Err(CountersError::Segment(_))
    ));
}

/// Builds, from the inventory's table of disruptor-mp's `CountersFile` (and independently of
/// ringproof's builder), the bytes disruptor-mp writes: header, then slots it registered.
fn disruptor_mp_bytes(slots: &[(u32, u32, u64, &str)], slot_count: u32) -> Vec<u8> {
    let mut b = vec![0u8; 4096];
    let put = |b: &mut Vec<u8>, off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
    put(&mut b, 0, &0x3043_594Du32.to_ne_bytes()); // u32::from_le_bytes(*b"MYC0")
    put(&mut b, 4, &0u32.to_ne_bytes()); // version
    put(&mut b, 8, &slot_count.to_ne_bytes());
    put(&mut b, 12, &62u32.to_ne_bytes()); // slot_capacity
    put(&mut b, 16, &64u32.to_ne_bytes()); // slot_stride
    put(&mut b, 20, &64u32.to_ne_bytes()); // slots_offset
    for (i, (id, flags, value, label)) in slots.iter().enumerate() {
        let off = 64 + 64 * i;
        put(&mut b, off, &id.to_ne_bytes());
        put(&mut b, off + 4, &flags.to_ne_bytes());
        put(&mut b, off + 8, &value.to_ne_bytes());
        put(&mut b, off + 16, label.as_bytes());
    }
    b
}

#[test]
fn reads_counters_laid_out_by_disruptor_mp() {
    // The ids disruptor-mp registers itself (0x10, 0x12, 0x20, 0x22, 0x25), plus a slot that
    // was claimed but never published (flags 0): counted in slot_count, skipped by readers.
    let bytes = disruptor_mp_bytes(
        &[
            (0x10, 1 | 2, 1_000_000, "events_published"),
            (0x12, 1 | 2, 12, "producer_full_events"),
            (0x20, 1 | 4, 999_990, "events_consumed"),
            (0x22, 1 | 4, 31_337, "consumer_empty_spins"),
            (0x25, 1 | 4, 64, "consumer_lag_max"),
            (0x130, 0, 0, "half_registered"),
            (
                0x100,
                1,
                5,
                "app_counter_with_a_label_of_exactly_48_bytes_xyz",
            ),
        ],
        7,
    );
    assert_eq!(&bytes[..4], b"MYC0");
    let tmp = TempDir::new("dmp");
    let c = open_bytes(&tmp, "dmp.counters", &bytes).unwrap();
    assert_eq!(c.slot_count(), 7);
    let snap = c.snapshot();
    let labels: Vec<&str> = snap.iter().map(|v| v.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "events_published",
            "producer_full_events",
            "events_consumed",
            "consumer_empty_spins",
            "consumer_lag_max",
            "app_counter_with_a_label_of_exactly_48_bytes_xyz"
        ]
    );
    assert_eq!(
        snap[0],
        CounterValue {
            slot: 0,
            id: 0x10,
            flags: 3,
            label: "events_published".into(),
            value: 1_000_000
        }
    );
    assert_eq!(snap[4].value, 64);
    assert_eq!(snap[5].slot, 6);
    assert_eq!(snap[5].role(), "other");
    // ringproof can register next to them, in the next free slot.
    let mine = c
        .register(
            ids::DEAD_PEERS_DETECTED,
            "dead_peers_detected",
            FLAG_PRODUCER,
        )
        .unwrap();
    assert_eq!(mine.slot(), 7);
    // The decoder reads the same bytes.
    let d = describe(&bytes, bytes.len());
    assert!(
        matches!(d.format, Format::Counters(Ok(g)) if g.slot_count == 7),
        "{}",
        d.table()
    );
    assert!(
        d.fields
            .iter()
            .any(|f| f.name == "slot[2].label" && f.value == "\"events_consumed\""),
        "{}",
        d.table()
    );
    assert!(
        d.fields
            .iter()
            .any(|f| f.name == "slot[5].flags" && f.value == "0 (none)"),
        "{}",
        d.table()
    );
}

#[test]
fn file_backend_create_is_exclusive_and_leaves_no_temp_file() {
    let tmp = TempDir::new("files");
    let c = Counters::create(&tmp.file("x.counters")).unwrap();
    register_producer(&c).unwrap().published.add(9);
    let names: Vec<String> = std::fs::read_dir(&tmp.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["x.counters"]);
    let meta = std::fs::metadata(tmp.0.join("x.counters")).unwrap();
    assert_eq!(meta.len(), 4096);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        by_label(
            &Counters::open(&tmp.file("x.counters")).unwrap().snapshot(),
            "events_published"
        )
        .value,
        9
    );
    assert!(tmp.0.join("x.counters").exists());
}
