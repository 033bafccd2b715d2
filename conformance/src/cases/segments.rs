//! Cases about the bytes a producer creates: the ring header and its checksum, the cursors,
//! the registry, segment names and modes (SPEC.md §2-§6), read straight from the segments.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    use Level::*;
    use Roles::*;
    vec![
        Case { id: "layout.ring.header", level: Required, roles: Producer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2, §4", rules: &["R1.a", "R2.a", "R2.c"],
            rule: "The ring segment starts with the LayoutV1 header: magic, version 1, kind 1, header_size 56, alignment, sizes and capacity as created", run: layout_ring_header },
        Case { id: "layout.header.checksum", level: Required, roles: Producer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2", rules: &["R2.b"],
            rule: "Every header carries the FNV-1a 32 checksum of its 56 bytes with the checksum field zeroed", run: layout_header_checksum },
        Case { id: "layout.cursor.initial", level: Required, roles: Producer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§5", rules: &["R5.a", "R5.b"],
            rule: "The producer cursor is a 128-byte kind-2 segment whose value at offset 64 is -1 before the first publish", run: layout_cursor_initial },
        Case { id: "layout.consumer-cursor", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(30), spec: "§3, §5, §7.4", rules: &["R3.c", "R5.a", "R7.4.3"],
            rule: "A consumer keeps its cursor in a 128-byte kind-2 segment named N_{id}_seq (N.consumers/{id}.cursor) holding the last sequence it committed", run: layout_consumer_cursor },
        Case { id: "layout.registry", level: Recommended, roles: Producer, producer_needs: &["registry"], consumer_needs: &[], timeout: SECS(20), spec: "§6", rules: &["R6.a", "R6.1.a", "R6.2.f"],
            rule: "The registry is a kind-3 segment: control block (non-zero epoch, OPEN, final -1, the producer's pid) and free slots, the epoch also stamped in the producer cursor", run: layout_registry },
        Case { id: "layout.names", level: Required, roles: Producer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§3", rules: &["R3.c", "R3.1.a"],
            rule: "Segments are named N / N_producer_seq (shm) or N.ring / N.producer.cursor (mmap) and created mode 0600", run: layout_names },
    ]
}

fn layout_ring_header(ctx: &mut Ctx) -> Result<(), CaseError> {
    for (capacity, size) in [(1024u64, 24u64), (64, 64), (8, 4096)] {
        let p = created(ctx, capacity, size)?;
        let bytes = read_segment(ctx, "", ".ring")?;
        let expect = Expect {
            kind: SegmentKind::Ring,
            element_size: Some(size),
            capacity: Some(capacity),
            min_alignment: 8,
        };
        let g = layout::validate(&bytes, &expect)
            .or_else(|e| fail(format!("ring {size}x{capacity}: {e}")))?;
        let (want, _) = layout::fresh_header(SegmentKind::Ring, g.alignment, size, capacity)
            .expect("sizes fit");
        if bytes[..HEADER_SIZE] != want.to_bytes() {
            return fail(format!(
                "ring {size}x{capacity}: the header differs from the LayoutV1 header:\n{}",
                header_diff(&want, &bytes)
            ));
        }
        if (bytes.len() as u64) < g.total_len() {
            return fail("ring shorter than its header promises");
        }
        ctx.leave(p)?;
    }
    Ok(())
}

fn layout_header_checksum(ctx: &mut Ctx) -> Result<(), CaseError> {
    created(ctx, 64, SIZE)?;
    for (shm, file) in [("", ".ring"), ("_producer_seq", ".producer.cursor")] {
        let bytes = read_segment(ctx, shm, file)?;
        let h = LayoutHeader::from_bytes(&bytes).or_else(|e| fail(e.to_string()))?;
        if h.checksum != h.compute_checksum() {
            return fail(format!(
                "{file}: stored checksum {:#010x}, FNV-1a gives {:#010x}",
                h.checksum,
                h.compute_checksum()
            ));
        }
    }
    Ok(())
}

fn layout_cursor_initial(ctx: &mut Ctx) -> Result<(), CaseError> {
    created(ctx, 64, SIZE)?;
    let bytes = read_segment(ctx, "_producer_seq", ".producer.cursor")?;
    if bytes.len() != CURSOR_SEGMENT_SIZE {
        return fail(format!(
            "producer cursor segment is {} bytes, expected 128",
            bytes.len()
        ));
    }
    layout::validate(&bytes, &Expect::kind(SegmentKind::Cursor))
        .or_else(|e| fail(e.to_string()))?;
    let value = i64::from_le_bytes(bytes[64..72].try_into().expect("8 bytes"));
    if value != -1 {
        return fail(format!(
            "producer cursor is {value} before any publish, expected -1"
        ));
    }
    Ok(())
}

fn layout_consumer_cursor(ctx: &mut Ctx) -> Result<(), CaseError> {
    let events = 1_000u64;
    let (p, cs) = ring_with_consumers(ctx, 64, 1, &[])?;
    let pub_id = ctx.publish_async(p, events, 1)?;
    let id = ctx.consume_async(cs[0], events, Mode::Copy)?;
    let got = ctx.wait(cs[0], id)?;
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    check_delivery(&got, SIZE as usize, 0, events as i64 - 1, "c_0")?;
    let bytes = read_segment(ctx, "_c_0_seq", ".consumers/c_0.cursor")?;
    if bytes.len() != CURSOR_SEGMENT_SIZE {
        return fail(format!(
            "consumer cursor segment is {} bytes, expected 128",
            bytes.len()
        ));
    }
    layout::validate(&bytes, &Expect::kind(SegmentKind::Cursor))
        .or_else(|e| fail(e.to_string()))?;
    let value = i64::from_le_bytes(bytes[64..72].try_into().expect("8 bytes"));
    if value != events as i64 - 1 {
        return fail(format!(
            "consumer cursor holds {value} after consuming 0..={}",
            events - 1
        ));
    }
    Ok(())
}

fn layout_registry(ctx: &mut Ctx) -> Result<(), CaseError> {
    use ringproof::kit::layout::registry::{owner_pid, CONTROL_OFFSET, RING_OPEN};
    let p = created(ctx, 64, SIZE)?;
    let bytes = read_segment(ctx, "_registry", ".registry")?;
    let g = layout::validate(&bytes, &Expect::kind(SegmentKind::Registry))
        .or_else(|e| fail(e.to_string()))?;
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().expect("8 bytes"));
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
    let c = CONTROL_OFFSET;
    let epoch = u64_at(c);
    if epoch == 0 {
        return fail("registry epoch is 0 (must be a non-zero random value)");
    }
    if u32_at(c + 16) != RING_OPEN || u64_at(c + 24) as i64 != -1 {
        return fail(format!(
            "fresh registry: ring_state {} final_sequence {}, expected OPEN (1) and -1",
            u32_at(c + 16),
            u64_at(c + 24) as i64
        ));
    }
    let pid = ctx.t(p).pid();
    if owner_pid(u64_at(c + 32)) != pid {
        return fail(format!(
            "producer_owner names pid {}, the producer is {pid}",
            owner_pid(u64_at(c + 32))
        ));
    }
    for i in 0..g.capacity as usize {
        if u32_at(c + 128 * (i + 1)) != 0 {
            return fail(format!("slot {i} of a registry nobody joined is not FREE"));
        }
    }
    let cursor = read_segment(ctx, "_producer_seq", ".producer.cursor")?;
    if u64::from_le_bytes(cursor[80..88].try_into().expect("8 bytes")) != epoch {
        return fail("the producer cursor's epoch word differs from the registry epoch");
    }
    Ok(())
}

fn layout_names(ctx: &mut Ctx) -> Result<(), CaseError> {
    use std::os::unix::fs::PermissionsExt;
    created(ctx, 64, SIZE)?;
    for (shm, file) in [("", ".ring"), ("_producer_seq", ".producer.cursor")] {
        let p = ctx.segment_path(shm, file);
        let meta = std::fs::symlink_metadata(&p)
            .or_else(|e| fail(format!("{} missing: {e}", p.display())))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode != 0o600 {
            return fail(format!("{} has mode {mode:o}, expected 600", p.display()));
        }
    }
    Ok(())
}
