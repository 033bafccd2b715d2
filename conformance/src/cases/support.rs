//! Helpers every case file shares: reading segments and their fields, planting files, rings
//! with consumers attached, a stream checked end to end, and the harness's own reference ring.

use super::*;

/// Field by field, where `observed` (a segment's first bytes) differs from `expected`:
/// `field @offset: expected X, observed Y`, one line each ("identical" when none does).
pub fn header_diff(expected: &LayoutHeader, observed: &[u8]) -> String {
    let Ok(o) = LayoutHeader::from_bytes(observed) else {
        return format!(
            "only {} bytes: a header needs {HEADER_SIZE}",
            observed.len()
        );
    };
    let e = expected;
    let magic = |m: &[u8; 8]| format!("{:?} ({:02x?})", String::from_utf8_lossy(m), m);
    let rows: [(&str, usize, String, String); 11] = [
        ("magic", 0, magic(&e.magic), magic(&o.magic)),
        ("version", 8, e.version.to_string(), o.version.to_string()),
        ("kind", 10, e.kind.to_string(), o.kind.to_string()),
        (
            "header_size",
            12,
            e.header_size.to_string(),
            o.header_size.to_string(),
        ),
        (
            "alignment",
            14,
            e.alignment.to_string(),
            o.alignment.to_string(),
        ),
        (
            "payload_size",
            16,
            e.payload_size.to_string(),
            o.payload_size.to_string(),
        ),
        (
            "element_size",
            24,
            e.element_size.to_string(),
            o.element_size.to_string(),
        ),
        (
            "capacity",
            32,
            e.capacity.to_string(),
            o.capacity.to_string(),
        ),
        (
            "reserved",
            40,
            e.reserved.to_string(),
            o.reserved.to_string(),
        ),
        (
            "checksum",
            48,
            format!("{:#010x}", e.checksum),
            format!(
                "{:#010x} (FNV-1a of the observed header: {:#010x})",
                o.checksum,
                o.compute_checksum()
            ),
        ),
        (
            "reserved2",
            52,
            e.reserved2.to_string(),
            o.reserved2.to_string(),
        ),
    ];
    let diff: Vec<String> = rows
        .iter()
        .filter(|(name, _, want, got)| {
            if *name == "checksum" {
                e.checksum != o.checksum
            } else {
                want != got
            }
        })
        .map(|(name, off, want, got)| format!("  {name} @{off}: expected {want}, observed {got}"))
        .collect();
    if diff.is_empty() {
        "  identical".into()
    } else {
        diff.join("\n")
    }
}

/// Consumer `id`'s cursor segment: `/dev/shm/N_{id}_seq` or `R/N.consumers/{id}.cursor`.
pub(super) fn cursor_path(ctx: &Ctx, id: &str) -> std::path::PathBuf {
    ctx.segment_path(&format!("_{id}_seq"), &format!(".consumers/{id}.cursor"))
}

/// A little-endian u32 / u64 at `off` of a segment's bytes.
pub(super) fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

pub(super) fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

/// Writes `bytes` as a new file of mode 0600 (a segment the harness plants as a peer would).
pub(super) fn write_private(p: &std::path::Path, bytes: &[u8]) -> Result<(), CaseError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(p, bytes)
        .map_err(|e| CaseError::Error(format!("cannot plant {}: {e}", p.display())))?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| CaseError::Error(format!("chmod {}: {e}", p.display())))
}

/// `attach_consumer` of `consumer_id` (any id, not only `c_{k}`) with `timeout_ms`; the reply
/// may be an error.
pub(super) fn attach_id(
    ctx: &mut Ctx,
    h: crate::ctx::H,
    consumer_id: &str,
    timeout_ms: u64,
) -> Result<crate::driver::Reply, CaseError> {
    let ring = ctx.ring.clone();
    let consumer_id = consumer_id.to_string();
    ctx.request(h, |id| Command::AttachConsumer {
        id,
        ring,
        consumer_id,
        event_size: SIZE,
        timeout_ms,
        wait: None,
        resync: None,
    })
}

/// `try_publish` of `count`: how many got in, and whether the ring was full.
pub(super) fn try_publish(
    ctx: &mut Ctx,
    p: crate::ctx::H,
    count: u64,
) -> Result<(u64, bool), CaseError> {
    let r = ctx.request(p, |id| Command::TryPublish { id, count })?;
    let ok = Ctx::expect_ok(&r, "try_publish")?;
    Ok((ok.published.unwrap_or(0), ok.full.unwrap_or(false)))
}

pub(super) fn read_segment(
    ctx: &Ctx,
    shm_suffix: &str,
    file_suffix: &str,
) -> Result<Vec<u8>, CaseError> {
    let p = ctx.segment_path(shm_suffix, file_suffix);
    std::fs::read(&p).or_else(|e| fail(format!("cannot read {}: {e}", p.display())))
}

pub(super) fn created(ctx: &mut Ctx, capacity: u64, size: u64) -> Result<usize, CaseError> {
    let (p, r) = ctx.producer(capacity, size, None)?;
    Ctx::expect_ok(&r, "create_producer")?;
    Ok(p)
}

/// Producer waiting for `n` consumers, then the consumers attached; returns handles and starts.
pub(super) fn ring_with_consumers(
    ctx: &mut Ctx,
    capacity: u64,
    n: usize,
    waits: &[Option<Wait>],
) -> Result<(usize, Vec<usize>), CaseError> {
    ring_with_required(ctx, capacity, n, waits, None)
}

/// [`ring_with_consumers`] whose producer treats `required` as required consumers.
pub(super) fn ring_with_required(
    ctx: &mut Ctx,
    capacity: u64,
    n: usize,
    waits: &[Option<Wait>],
    required: Option<crate::protocol::Required>,
) -> Result<(usize, Vec<usize>), CaseError> {
    let (p, create) = ctx.producer_async_required(capacity, SIZE, n as u64, required)?;
    let mut cs = Vec::new();
    for k in 0..n {
        let (c, r) = ctx.consumer(k, SIZE, waits.get(k).copied().flatten())?;
        let start = Ctx::expect_ok(&r, "attach_consumer")?.start_seq;
        if start != Some(0) {
            return fail(format!(
                "consumer c_{k} of a fresh ring starts at {start:?}, expected 0"
            ));
        }
        cs.push(c);
    }
    let r = ctx.wait(p, create)?;
    Ctx::expect_ok(&r, "create_producer")?;
    Ok((p, cs))
}

pub(super) fn stream(
    ctx: &mut Ctx,
    capacity: u64,
    events: u64,
    batch: u64,
    mode: Mode,
) -> Result<(), CaseError> {
    let (p, cs) = ring_with_consumers(ctx, capacity, 1, &[])?;
    let pub_id = ctx.publish_async(p, events, batch)?;
    let con_id = ctx.consume_async(cs[0], events, mode)?;
    let got = ctx.wait(cs[0], con_id)?;
    let published = ctx.wait(p, pub_id)?;
    Ctx::expect_ok(&published, "publish")?;
    Ctx::expect_ok(&got, "consume")?;
    check_delivery(&got, SIZE as usize, 0, events as i64 - 1, "c_0")
}

/// A cursor's value, read from its segment (bytes 64..72).
pub(super) fn read_cursor(
    ctx: &Ctx,
    shm_suffix: &str,
    file_suffix: &str,
) -> Result<i64, CaseError> {
    let bytes = read_segment(ctx, shm_suffix, file_suffix)?;
    match bytes.get(64..72) {
        Some(b) => Ok(i64::from_le_bytes(b.try_into().expect("8 bytes"))),
        None => fail(format!(
            "cursor segment {file_suffix} is only {} bytes",
            bytes.len()
        )),
    }
}

/// A live ring made by the reference producer inside the harness's own process: ring,
/// producer cursor, registry, everything a ringproof ring has, gating on consumers `c_*`, so a
/// case can spoil exactly one thing of it. Dropping it closes and removes the ring.
pub(super) fn harness_ring(
    ctx: &Ctx,
    capacity: usize,
    size: usize,
    alignment: usize,
) -> Result<ringproof::RawProducer, CaseError> {
    let name = match ctx.backend {
        Backend::Shm => ringproof::RingName::shm(&ctx.ring.name),
        Backend::Mmap => ringproof::RingName::dir(&ctx.root, &ctx.ring.name),
    };
    let name = name.map_err(|e| CaseError::Error(format!("harness ring name: {e}")))?;
    ringproof::ProducerBuilder::new(name)
        .capacity(capacity)
        .discover_prefix("c", 8)
        .create_raw_aligned(size, alignment)
        .map_err(|e| {
            CaseError::Error(format!(
                "the harness could not create its reference ring: {e}"
            ))
        })
}

/// Reads one 8-byte word of a segment, or `None` while it cannot be read.
pub(super) fn read_word(f: &std::fs::File, off: u64) -> Option<[u8; 8]> {
    use std::os::unix::fs::FileExt;
    let mut b = [0u8; 8];
    f.read_exact_at(&mut b, off).ok().map(|_| b)
}

/// A segment of this case's ring, opened for reading.
pub(super) fn open_segment(
    ctx: &Ctx,
    shm_suffix: &str,
    file_suffix: &str,
) -> Result<std::fs::File, CaseError> {
    let p = ctx.segment_path(shm_suffix, file_suffix);
    std::fs::File::open(&p).or_else(|e| fail(format!("cannot open {}: {e}", p.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_diff_names_each_field_that_differs() {
        let (h, _) = layout::fresh_header(SegmentKind::Ring, 8, 64, 8).expect("fits");
        assert_eq!(header_diff(&h, &h.to_bytes()), "  identical");
        let mut b = h.to_bytes();
        b[..8].copy_from_slice(b"NOTARING");
        b[32] = 6;
        let d = header_diff(&h, &b);
        assert!(
            d.contains("magic @0: expected \"DSMPTV01\"")
                && d.contains("capacity @32: expected 8, observed 6"),
            "{d}"
        );
        assert!(!d.contains("version") && !d.contains("checksum"), "{d}");
        assert!(header_diff(&h, &b[..10]).contains("only 10 bytes"));
    }
}
