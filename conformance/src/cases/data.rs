//! Cases about the bytes in flight: a batch is published with one cursor store, a segment's
//! header is valid before its magic shows, and cursors of an earlier epoch neither gate nor
//! mislead a joiner.

use super::*;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

pub(super) fn cases() -> Vec<Case> {
    use Level::*;
    use Roles::*;
    vec![
        Case { id: "batch.one-store", level: Required, roles: Producer, producer_needs: &["batch"], consumer_needs: &[], timeout: SECS(60), spec: "§7.1 step 3", rules: &["R7.1.3"],
            rule: "A batch is published with one cursor store: a watcher of the producer cursor never sees a value inside a batch", run: batch_one_store },
        Case { id: "layout.header-write-order", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(30), spec: "§2.1", rules: &["R2.1.a", "R3.2.a", "R3.3.a"],
            rule: "A segment being created never shows its magic while the rest of its header is not valid (watched under its name and its temporaries; a state that lasts 2 ms fails)", run: header_write_order },
        Case { id: "stale.epoch-no-gating", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(30), spec: "§7.2, §10.2", rules: &["R7.2.2", "R10.2.a"],
            rule: "A consumer cursor of an earlier epoch (value -1, under an id nobody joins) does not gate the producer", run: stale_epoch_no_gating },
        Case { id: "stale.epoch-late-join", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(30), spec: "§7.3 step 1, §10.2", rules: &["R7.3.1", "R7.3.3", "R10.2.a"],
            rule: "A consumer joining a running ring over a cursor of an earlier epoch whose value lies inside the published range starts at the head, as a new joiner, neither resuming from it nor refusing as lapped", run: stale_epoch_late_join },
    ]
}

// ---------------------------------------------------------------- batch = one store

fn batch_one_store(ctx: &mut Ctx) -> Result<(), CaseError> {
    // Batches of a quarter of a large ring, read as they come by one consumer: every store the
    // harness can see must be a batch's last sequence.
    let (capacity, batch, batches) = (32_768u64, 8_192u64, 16u64);
    let (p, cs) = ring_with_consumers(ctx, capacity, 1, &[])?;
    let f = open_segment(ctx, "_producer_seq", ".producer.cursor")?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let (mut seen, mut reads) = (std::collections::BTreeSet::new(), 0u64);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(b) = read_word(&f, 64) {
                    seen.insert(i64::from_le_bytes(b));
                    reads += 1;
                }
            }
            (seen, reads)
        })
    };
    let events = batch * batches;
    let reply = (|| -> Result<_, CaseError> {
        let id = ctx.publish_async(p, events, batch)?;
        let c = ctx.consume_async(cs[0], events, Mode::Batch)?;
        let got = ctx.wait(cs[0], c)?;
        Ok((ctx.wait(p, id)?, got))
    })();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (seen, reads) = watcher
        .join()
        .map_err(|_| CaseError::Error("cursor watcher panicked".into()))?;
    let (reply, got) = reply?;
    Ctx::expect_ok(&reply, "publish")?;
    check_delivery(&got, SIZE as usize, 0, events as i64 - 1, "c_0")?;
    ctx.notes.push(format!(
        "{reads} reads of the producer cursor saw {} distinct values",
        seen.len()
    ));
    let inside: Vec<i64> = seen
        .iter()
        .copied()
        .filter(|v| *v != -1 && (v + 1) % batch as i64 != 0)
        .collect();
    if !inside.is_empty() {
        let shown: Vec<String> = inside.iter().take(5).map(|v| v.to_string()).collect();
        return fail(format!(
            "while batches of {batch} events were published into a ring of {capacity}, the producer cursor showed {} values inside a batch (e.g. {}); expected only batch ends ({}, {}, ...): one release store per batch (SPEC §7.1 step 3)",
            inside.len(),
            shown.join(", "),
            batch - 1,
            2 * batch - 1
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- header write order

/// Every file of this case's ring and their temporaries (`.{name}...`): shm objects in
/// /dev/shm, or files under the root and its consumers directory.
fn ring_files(backend: Backend, name: &str, root: &std::path::Path) -> Vec<PathBuf> {
    let mut dirs = vec![match backend {
        Backend::Shm => PathBuf::from("/dev/shm"),
        Backend::Mmap => root.to_path_buf(),
    }];
    if backend == Backend::Mmap {
        dirs.push(root.join(format!("{name}.consumers")));
    }
    let mut out = Vec::new();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let mine = match backend {
                Backend::Shm => n.strip_prefix('.').unwrap_or(&n).starts_with(name),
                Backend::Mmap => true,
            };
            if mine && e.file_type().is_ok_and(|t| t.is_file()) {
                out.push(e.path());
            }
        }
    }
    out
}

/// A header with the magic set whose other bytes are not (yet) a valid LayoutV1 header: the
/// version is not 1 or the checksum does not match.
fn half_written(h: &[u8; HEADER_SIZE]) -> bool {
    let Ok(l) = LayoutHeader::from_bytes(h) else {
        return false;
    };
    l.magic == layout::MAGIC && (l.version != 1 || l.checksum != l.compute_checksum())
}

fn header_write_order(ctx: &mut Ctx) -> Result<(), CaseError> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (backend, name, root) = (ctx.backend, ctx.ring.name.clone(), ctx.root.clone());
    let watcher = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            // A half-written header is a violation once it lasts: seen again at least LASTING
            // after it was first seen. Shorter glimpses are only noted: a creator caught inside
            // its own header copy (disruptor-mp writes its shm headers in place, magic first)
            // is a nanosecond window no harness can catch reliably, and judging it would make
            // the case flaky rather than strict.
            const LASTING: Duration = Duration::from_millis(2);
            let mut files = std::collections::BTreeSet::new();
            let mut since: std::collections::HashMap<PathBuf, Instant> =
                std::collections::HashMap::new();
            let (mut bad, mut glimpses) =
                (None::<(PathBuf, [u8; HEADER_SIZE], Duration)>, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && bad.is_none() {
                for p in ring_files(backend, &name, &root) {
                    let Ok(f) = std::fs::File::open(&p) else {
                        continue;
                    };
                    let mut h = [0u8; HEADER_SIZE];
                    // The magic first, then the rest: the reader's order of SPEC §2.2.
                    if f.read_exact_at(&mut h[..8], 0).is_err()
                        || h[..8] != layout::MAGIC
                        || f.read_exact_at(&mut h[8..], 8).is_err()
                    {
                        continue;
                    }
                    files.insert(p.clone());
                    if half_written(&h) {
                        let first = *since.entry(p.clone()).or_insert_with(Instant::now);
                        if first.elapsed() >= LASTING {
                            bad = Some((p, h, first.elapsed()));
                            break;
                        }
                    } else if let Some(first) = since.remove(&p) {
                        glimpses.push(format!("{} (under {:?})", p.display(), first.elapsed()));
                    }
                }
                // A pass every ~0.3 ms: often enough for a 2 ms state, without starving the
                // creators of CPU on a small machine (a polling interval, not synchronisation).
                std::thread::sleep(Duration::from_micros(300));
            }
            (files, bad, glimpses)
        })
    };
    let result = (|| -> Result<(), CaseError> {
        let (p, create) = ctx.producer_async(64, SIZE, 1)?;
        let (_c, r) = ctx.consumer(0, SIZE, None)?;
        Ctx::expect_ok(&r, "attach_consumer")?;
        Ctx::expect_ok(&ctx.wait(p, create)?, "create_producer")?;
        Ok(())
    })();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (files, bad, glimpses) = watcher
        .join()
        .map_err(|_| CaseError::Error("segment watcher panicked".into()))?;
    result?;
    ctx.notes.push(format!(
        "watched {} names while the ring was created and joined",
        files.len()
    ));
    if !glimpses.is_empty() {
        ctx.notes.push(format!("glimpsed a header with its magic but not yet valid (SPEC §2.1 wants the magic last): {}", glimpses.join(", ")));
    }
    if let Some((path, h, lasted)) = bad {
        let l = LayoutHeader::from_bytes(&h).expect("56 bytes");
        let want = LayoutHeader {
            magic: l.magic,
            version: 1,
            header_size: HEADER_SIZE as u16,
            ..l
        };
        let want = LayoutHeader {
            checksum: want.compute_checksum(),
            ..want
        };
        return fail(format!(
            "{} showed the magic with the rest of its header not valid for {lasted:?} (SPEC §2.1: the magic last, with a release store); the header seen:\n{}",
            path.display(),
            header_diff(&want, &h)
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- stale epochs

fn stale_epoch_no_gating(ctx: &mut Ctx) -> Result<(), CaseError> {
    // A cursor of an earlier ring of this name under an id nobody joins: -1, another epoch. A
    // producer that gated on it could publish `capacity` events and then never more.
    let path = ctx.segment_path("_c_5_seq", ".consumers/c_5.cursor");
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
        use std::os::unix::fs::PermissionsExt;
        if ctx.backend == Backend::Mmap {
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
    }
    let seg = match ctx.backend {
        Backend::Shm => {
            ringproof::kit::names::SegmentPath::Shm(format!("{}_c_5_seq", ctx.ring.name))
        }
        Backend::Mmap => ringproof::kit::names::SegmentPath::File(path.clone()),
    };
    ringproof::kit::cursor::Cursor::create(&seg, "stale cursor", -1, 0xDEAD_BEEF)
        .map_err(|e| CaseError::Error(format!("harness could not plant the stale cursor: {e}")))?;
    let capacity = 16u64;
    let events = 8 * capacity;
    let result = (|| -> Result<(), CaseError> {
        let (p, cs) = ring_with_consumers(ctx, capacity, 1, &[])?;
        let pub_id = ctx.publish_async(p, events, 1)?;
        let id = ctx.consume_async(cs[0], events, Mode::Batch)?;
        let got = ctx.wait(cs[0], id)?;
        let deadline = Instant::now() + Duration::from_secs(2);
        match ctx.t(p).wait(pub_id, deadline) {
            Ok(r) => {
                Ctx::expect_ok(&r, "publish")?;
            }
            Err(crate::driver::DriverError::Timeout(..)) => {
                let stale = read_cursor(ctx, "_c_5_seq", ".consumers/c_5.cursor").unwrap_or(-2);
                return fail(format!(
                    "producer of a ring of {capacity} still blocked 2 s after c_0 read everything ({} events published, {events} asked): it gates on c_5, a cursor of another epoch (0xdeadbeef) holding {stale}, which no consumer of this ring owns (SPEC §7.2, §10.2)",
                    ctx.cursors(cs[0]).ok().and_then(|c| c.0).map_or("?".into(), |v| (v + 1).to_string())
                ));
            }
            Err(e) => return Err(e.into()),
        }
        check_delivery(
            &got,
            SIZE as usize,
            0,
            events as i64 - 1,
            "c_0 beside a stale cursor",
        )
    })();
    let _ = std::fs::remove_file(&path);
    result
}

fn stale_epoch_late_join(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (capacity, first, second) = (64u64, 500u64, 500u64);
    let (p, cs) = ring_with_consumers(ctx, capacity, 1, &[])?;
    let pub_id = ctx.publish_async(p, first, 1)?;
    let id = ctx.consume_async(cs[0], first, Mode::Batch)?;
    check_delivery(
        &ctx.wait(cs[0], id)?,
        SIZE as usize,
        0,
        first as i64 - 1,
        "c_0",
    )?;
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    // c_1's cursor as an earlier ring of this name left it: a value inside this ring's range.
    let path = ctx.segment_path("_c_1_seq", ".consumers/c_1.cursor");
    let seg = match ctx.backend {
        Backend::Shm => {
            ringproof::kit::names::SegmentPath::Shm(format!("{}_c_1_seq", ctx.ring.name))
        }
        Backend::Mmap => ringproof::kit::names::SegmentPath::File(path.clone()),
    };
    let stale = first as i64 / 2;
    ringproof::kit::cursor::Cursor::create(&seg, "stale cursor", stale, 0xDEAD_BEEF)
        .map_err(|e| CaseError::Error(format!("harness could not plant the stale cursor: {e}")))?;
    let (late, r) = ctx.consumer(1, SIZE, None)?;
    let start = match &r.result {
        Ok(f) => f.start_seq.unwrap_or(-1),
        Err((kind, m)) => return fail(format!("c_1 joining over a cursor of another epoch (0xdeadbeef, value {stale}) was refused: {kind:?} ({m}); that cursor is not c_1's in this ring, so c_1 is a new joiner and starts at {first} (SPEC §7.3 step 1)")),
    };
    if start != first as i64 {
        return fail(format!("c_1 joining over a cursor of another epoch (0xdeadbeef, value {stale}) starts at {start}; expected {first}, the head, as a new joiner: the cursor of an earlier ring means nothing here (SPEC §7.3 step 1, §10.2)"));
    }
    let pub_id = ctx.publish_async(p, second, 1)?;
    let a = ctx.consume_async(cs[0], second, Mode::Batch)?;
    let b = ctx.consume_async(late, second, Mode::Batch)?;
    let got_late = ctx.wait(late, b)?;
    check_delivery(
        &ctx.wait(cs[0], a)?,
        SIZE as usize,
        first as i64,
        (first + second) as i64 - 1,
        "c_0",
    )?;
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    check_delivery(
        &got_late,
        SIZE as usize,
        first as i64,
        (first + second) as i64 - 1,
        "c_1",
    )
}
