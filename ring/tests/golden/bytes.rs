//! The goldens against the writers: the builders' bytes, the real creators' bytes (ring,
//! cursors, registry, counters), and the bytes both implementations share.

use super::*;

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
    use ringproof::kit::registry::Registry;
    use ringproof::{kit::names::SegmentPath, ProducerBuilder, RingName};
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
