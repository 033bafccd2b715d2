//! Cases about what must be refused: a second producer, a consumer of the wrong event size, and
//! one case per check of SPEC.md §2.2 over a harness ring whose header is spoiled in exactly
//! that one way (checksum recomputed unless the checksum is the point).

use super::*;

pub(super) fn cases() -> Vec<Case> {
    use Level::*;
    use Roles::*;
    vec![
        Case { id: "reject.second-producer", level: Required, roles: Producer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§7.7", rules: &["R3.1.a", "R7.7.b", "R7.7.c", "R7.9.1"],
            rule: "Creating a ring whose segments exist fails with already-exists and does not disturb the live ring", run: reject_second_producer },
        Case { id: "reject.element-size-mismatch", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2.2 step 10", rules: &["R2.2.10"],
            rule: "A consumer whose event size differs from the ring's is refused with an element-size error", run: reject_element_size },
        Case { id: "reject.bad-magic", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2.2 step 3", rules: &["R2.2.a", "R2.2.3"],
            rule: "A ring segment with a foreign magic (all else valid, checksum matching) is refused with a layout error, never read", run: reject_bad_magic },
        Case { id: "reject.truncated", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2.2 step 13", rules: &["R2.2.c", "R2.2.13"],
            rule: "A ring segment shorter than its header promises (all else valid) is refused with a layout error, never read past its end", run: reject_truncated },
        Case { id: "reject.bad-checksum", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2.2 step 5", rules: &["R2.2.5"],
            rule: "A ring header whose checksum does not match (all else valid) is refused with a layout error", run: reject_bad_checksum },
        // ------------------------------------------------ one §2.2 check each
        Case { id: "reject.bad-version", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2.2 step 4", rules: &["R2.2.4"],
            rule: "A ring header of version 2 (all else valid, checksum matching) is refused with a layout error", run: reject_bad_version },
        Case { id: "reject.bad-header-size", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2.2 step 6", rules: &["R2.2.6"],
            rule: "A ring header whose header_size is not 56 (checksum matching) is refused with a layout error", run: reject_bad_header_size },
        Case { id: "reject.bad-alignment", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2.2 step 7", rules: &["R2.2.7"],
            rule: "A ring header whose alignment is not a power of two in 8..4096 (checksum matching) is refused with a layout error", run: reject_bad_alignment },
        Case { id: "reject.unknown-kind", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2.2 step 8", rules: &["R2.2.8"],
            rule: "A ring header of an unknown kind (7, checksum matching) is refused with a layout error", run: reject_unknown_kind },
        Case { id: "reject.kind-mismatch", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2.2 step 8", rules: &["R2.2.8"],
            rule: "A ring segment whose header says kind 2 (a cursor, checksum matching) is refused with a layout error", run: reject_kind_mismatch },
        Case { id: "reject.capacity-not-power-of-two", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2.2 step 9", rules: &["R2.2.9"],
            rule: "A ring header with capacity 6 (payload_size consistent, checksum matching) is refused with a layout error", run: reject_capacity_not_pow2 },
        Case { id: "reject.capacity-zero", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2.2 step 9", rules: &["R2.2.9"],
            rule: "A ring header with capacity 0 (payload_size 0, checksum matching) is refused with a layout error", run: reject_capacity_zero },
        Case { id: "reject.payload-size", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2.2 step 9", rules: &["R2.2.9"],
            rule: "A ring header whose payload_size is not element_size * capacity (checksum matching) is refused with a layout error", run: reject_payload_size },
        Case { id: "reject.producer-cursor-bad-magic", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2.2 step 3, §5", rules: &["R2.2.3", "R7.3.1"],
            rule: "A valid ring whose producer cursor has a foreign magic (checksum matching) is refused with a layout error", run: reject_producer_cursor_magic },
    ]
}

fn reject_second_producer(ctx: &mut Ctx) -> Result<(), CaseError> {
    let first = created(ctx, 64, SIZE)?;
    let before = read_segment(ctx, "", ".ring")?;
    let (_second, r) = ctx.producer(64, SIZE, None)?;
    match &r.result {
        Err((ErrorKind::AlreadyExists, _)) => {}
        Err((kind, m)) => {
            return fail(format!(
                "second producer refused with {kind:?} ({m}), expected already_exists"
            ))
        }
        Ok(_) => return fail("a second producer was allowed to create an existing ring"),
    }
    let after = read_segment(ctx, "", ".ring")?;
    if before[..HEADER_SIZE] != after[..HEADER_SIZE] {
        return fail("the refused second producer changed the live ring's header");
    }
    let _ = ctx.cursors(first)?;
    Ok(())
}

fn reject_element_size(ctx: &mut Ctx) -> Result<(), CaseError> {
    created(ctx, 64, SIZE)?;
    let (_c, r) = ctx.consumer(0, 16, None)?;
    match &r.result {
        Err((ErrorKind::ElementSize, _)) => Ok(()),
        Err((kind, m)) => fail(format!(
            "mismatched event size refused with {kind:?} ({m}), expected element_size"
        )),
        Ok(_) => fail("a consumer of 16-byte events attached to a ring of 64-byte events"),
    }
}

/// Which segment of a harness ring a reject case spoils.
#[derive(Clone, Copy)]
enum Target {
    Ring,
    ProducerCursor,
}

/// Rewrites the header of `target` in place: `spoil` edits the 56 bytes; the checksum is then
/// recomputed (unless `keep_checksum`), so only the one check the case is about can notice.
/// Returns the field-by-field difference from the valid header, for failure reports.
fn spoil_header(
    ctx: &Ctx,
    target: Target,
    keep_checksum: bool,
    spoil: impl FnOnce(&mut [u8; HEADER_SIZE]),
) -> Result<String, CaseError> {
    use std::os::unix::fs::FileExt;
    let path = match target {
        Target::Ring => ctx.segment_path("", ".ring"),
        Target::ProducerCursor => ctx.segment_path("_producer_seq", ".producer.cursor"),
    };
    let err = |e: std::io::Error| CaseError::Error(format!("cannot spoil {}: {e}", path.display()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(err)?;
    let mut h = [0u8; HEADER_SIZE];
    f.read_exact_at(&mut h, 0).map_err(err)?;
    let valid = LayoutHeader::from_bytes(&h).expect("56 bytes");
    spoil(&mut h);
    if !keep_checksum {
        let c = LayoutHeader::from_bytes(&h)
            .expect("56 bytes")
            .compute_checksum();
        h[48..52].copy_from_slice(&c.to_le_bytes());
    }
    f.write_all_at(&h, 0).map_err(err)?;
    Ok(header_diff(&valid, &h))
}

/// Attaches consumer `c_0` to the ring and demands that it is refused with `want`.
fn expect_refused(ctx: &mut Ctx, what: &str, want: ErrorKind) -> Result<(), CaseError> {
    let h = ctx.start_consumer_testee("consumer c_0")?;
    let r = attach_id(ctx, h, "c_0", 200)?;
    match &r.result {
        Err((kind, _)) if *kind == want => Ok(()),
        Err((kind, m)) => fail(format!("{what} was refused with {kind:?} ({m}); expected {want:?}: the ring, its producer cursor and registry were otherwise valid, so only the check of SPEC §2.2 this case is about may refuse it")),
        Ok(_) => fail(format!("a consumer attached to {what} (expected a {want:?} error)")),
    }
}

/// A reference ring whose `target` header is spoiled by `spoil`, then a consumer that must be
/// refused with `want`.
fn reject_spoiled(
    ctx: &mut Ctx,
    what: &str,
    target: Target,
    keep_checksum: bool,
    want: ErrorKind,
    spoil: impl FnOnce(&mut [u8; HEADER_SIZE]),
) -> Result<(), CaseError> {
    let _ring = harness_ring(ctx, 8, SIZE as usize, 8)?;
    let diff = spoil_header(ctx, target, keep_checksum, spoil)?;
    expect_refused(ctx, what, want).map_err(|e| match e {
        CaseError::Fail(m) => CaseError::Fail(format!(
            "{m}\nthe header handed to the consumer, against the valid one:\n{diff}"
        )),
        other => other,
    })
}

fn reject_bad_magic(ctx: &mut Ctx) -> Result<(), CaseError> {
    reject_spoiled(
        ctx,
        "a ring segment with a foreign magic (NOTARING, checksum recomputed)",
        Target::Ring,
        false,
        ErrorKind::Layout,
        |h| h[..8].copy_from_slice(b"NOTARING"),
    )
}

fn reject_truncated(ctx: &mut Ctx) -> Result<(), CaseError> {
    let _ring = harness_ring(ctx, 8, SIZE as usize, 8)?;
    let path = ctx.segment_path("", ".ring");
    let len = std::fs::metadata(&path)
        .map_err(|e| CaseError::Error(e.to_string()))?
        .len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| CaseError::Error(e.to_string()))?;
    f.set_len(len - 8)
        .map_err(|e| CaseError::Error(format!("cannot truncate {}: {e}", path.display())))?;
    expect_refused(
        ctx,
        "a ring segment 8 bytes shorter than its header promises",
        ErrorKind::Layout,
    )
}

fn reject_bad_checksum(ctx: &mut Ctx) -> Result<(), CaseError> {
    reject_spoiled(
        ctx,
        "a ring whose header checksum does not match (reserved byte 40 flipped)",
        Target::Ring,
        true,
        ErrorKind::Layout,
        |h| h[40] ^= 0x01,
    )
}

// ---------------------------------------------------------------- the other §2.2 checks

fn put_u16(h: &mut [u8; HEADER_SIZE], off: usize, v: u16) {
    h[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(h: &mut [u8; HEADER_SIZE], off: usize, v: u64) {
    h[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

fn reject_bad_version(ctx: &mut Ctx) -> Result<(), CaseError> {
    reject_spoiled(
        ctx,
        "a ring header of version 2",
        Target::Ring,
        false,
        ErrorKind::Layout,
        |h| put_u16(h, 8, 2),
    )
}

fn reject_bad_header_size(ctx: &mut Ctx) -> Result<(), CaseError> {
    reject_spoiled(
        ctx,
        "a ring header whose header_size is 64",
        Target::Ring,
        false,
        ErrorKind::Layout,
        |h| put_u16(h, 12, 64),
    )
}

fn reject_bad_alignment(ctx: &mut Ctx) -> Result<(), CaseError> {
    reject_spoiled(
        ctx,
        "a ring header whose alignment is 24",
        Target::Ring,
        false,
        ErrorKind::Layout,
        |h| put_u16(h, 14, 24),
    )
}

fn reject_unknown_kind(ctx: &mut Ctx) -> Result<(), CaseError> {
    reject_spoiled(
        ctx,
        "a ring header of kind 7",
        Target::Ring,
        false,
        ErrorKind::Layout,
        |h| put_u16(h, 10, 7),
    )
}

fn reject_kind_mismatch(ctx: &mut Ctx) -> Result<(), CaseError> {
    reject_spoiled(
        ctx,
        "a ring segment whose header says kind 2 (cursor)",
        Target::Ring,
        false,
        ErrorKind::Layout,
        |h| put_u16(h, 10, 2),
    )
}

fn reject_capacity_not_pow2(ctx: &mut Ctx) -> Result<(), CaseError> {
    reject_spoiled(
        ctx,
        "a ring header of capacity 6",
        Target::Ring,
        false,
        ErrorKind::Layout,
        |h| {
            put_u64(h, 32, 6);
            put_u64(h, 16, 6 * SIZE);
        },
    )
}

fn reject_capacity_zero(ctx: &mut Ctx) -> Result<(), CaseError> {
    reject_spoiled(
        ctx,
        "a ring header of capacity 0",
        Target::Ring,
        false,
        ErrorKind::Layout,
        |h| {
            put_u64(h, 32, 0);
            put_u64(h, 16, 0);
        },
    )
}

fn reject_payload_size(ctx: &mut Ctx) -> Result<(), CaseError> {
    reject_spoiled(
        ctx,
        "a ring header whose payload_size is one slot short",
        Target::Ring,
        false,
        ErrorKind::Layout,
        |h| put_u64(h, 16, 7 * SIZE),
    )
}

fn reject_producer_cursor_magic(ctx: &mut Ctx) -> Result<(), CaseError> {
    reject_spoiled(
        ctx,
        "a ring whose producer cursor has the magic NOTACURS",
        Target::ProducerCursor,
        false,
        ErrorKind::Layout,
        |h| h[..8].copy_from_slice(b"NOTACURS"),
    )
}
