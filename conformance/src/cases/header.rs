//! Cases about a reader meeting a header that is not (yet) valid (SPEC.md §2.2, §11): a
//! segment too short to hold a header, one whose creator has not finished, and an unknown
//! version, each next to an otherwise valid ring made by the reference producer.

use super::*;
use std::os::unix::fs::{FileExt, PermissionsExt};

pub(super) fn cases() -> Vec<Case> {
    use Level::*;
    use Roles::*;
    vec![
        Case { id: "reject.too-short", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2.2 step 1", rules: &["R2.2.1", "R2.2.b"],
            rule: "A ring segment shorter than a header (40 bytes) is refused with layout once the attach deadline passes, never read past its end", run: too_short },
        Case { id: "join.waits-for-unfinished-ring", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2.2 step 2", rules: &["R2.2.2", "R2.2.b"],
            rule: "A ring whose magic is still zero is not finished: a consumer retries it until its deadline (then fails with layout), and attaches once the magic appears", run: waits_for_unfinished },
        Case { id: "reject.version-migration-hint", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2.2 step 4, §11", rules: &["R2.2.4", "R11.b"],
            rule: "A ring of layout version 2 is refused with layout and a message carrying the migration hint (MIGRATION: create a new ring/segment name ...)", run: version_hint },
    ]
}

/// A harness ring (see `harness_ring`) whose ring name is then replaced by `bytes` (a new
/// object: the harness's own mapping is left alone). Returns the producer (keep it alive) and
/// the valid ring bytes.
fn replaced_ring(
    ctx: &Ctx,
    make: impl FnOnce(&[u8]) -> Vec<u8>,
) -> Result<(ringproof::RawProducer, Vec<u8>), CaseError> {
    let producer = harness_ring(ctx, 8, SIZE as usize, 8)?;
    let path = ctx.segment_path("", ".ring");
    let valid = std::fs::read(&path)
        .map_err(|e| CaseError::Error(format!("read {}: {e}", path.display())))?;
    std::fs::remove_file(&path)
        .map_err(|e| CaseError::Error(format!("unlink {}: {e}", path.display())))?;
    std::fs::write(&path, make(&valid))
        .map_err(|e| CaseError::Error(format!("plant {}: {e}", path.display())))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| CaseError::Error(e.to_string()))?;
    Ok((producer, valid))
}

fn too_short(ctx: &mut Ctx) -> Result<(), CaseError> {
    let _p = replaced_ring(ctx, |valid| valid[..40].to_vec())?;
    let h = ctx.start_consumer_testee("consumer c_0")?;
    let r = attach_id(ctx, h, "c_0", 300)?;
    match &r.result {
        Err((ErrorKind::Layout, _)) => Ok(()),
        Err((k, m)) => fail(format!("a 40-byte ring segment was refused with {k:?} ({m}), expected layout (too short, SPEC §2.2 step 1)")),
        Ok(_) => fail("a consumer attached to a 40-byte ring segment"),
    }
}

fn waits_for_unfinished(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (_p, valid) = replaced_ring(ctx, |valid| {
        let mut b = valid.to_vec();
        b[..8].fill(0);
        b
    })?;
    let h = ctx.start_consumer_testee("consumer c_0")?;
    let started = Instant::now();
    let r = attach_id(ctx, h, "c_0", 300)?;
    match &r.result {
        Err((ErrorKind::Layout, _)) => {}
        Err((k, m)) => return fail(format!("a ring with magic 0 at the attach deadline failed with {k:?} ({m}), expected layout (not finished, SPEC §2.2)")),
        Ok(_) => return fail("a consumer attached to a ring whose magic is 0 (its creator has not finished)"),
    }
    if started.elapsed() < Duration::from_millis(250) {
        return fail(format!("the consumer gave up on an unfinished ring after {} ms; it must retry until its 300 ms deadline", started.elapsed().as_millis()));
    }
    // Now the creator "finishes" 200 ms into a 5 s attach.
    let path = ctx.segment_path("", ".ring");
    let magic: [u8; 8] = valid[..8].try_into().expect("8 bytes");
    let writer = std::thread::spawn(move || {
        // The stimulus (a creator finishing later), not synchronisation: the check below
        // holds whenever the magic appears within the attach timeout.
        std::thread::sleep(Duration::from_millis(200));
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| f.write_all_at(&magic, 0))
    });
    let r = attach_id(ctx, h, "c_0", 5000)?;
    writer
        .join()
        .expect("writer thread")
        .map_err(|e| CaseError::Error(format!("write the magic: {e}")))?;
    let start = Ctx::expect_ok(
        &r,
        "attach_consumer to a ring that was finished while the consumer waited",
    )?
    .start_seq;
    if start != Some(0) {
        return fail(format!(
            "the consumer starts at {start:?}, expected 0 (nothing published)"
        ));
    }
    Ok(())
}

fn version_hint(ctx: &mut Ctx) -> Result<(), CaseError> {
    let _p = replaced_ring(ctx, |valid| {
        let mut b = valid.to_vec();
        b[8..10].copy_from_slice(&2u16.to_le_bytes());
        let c = LayoutHeader::from_bytes(b[..HEADER_SIZE].try_into().expect("56 bytes"))
            .expect("56 bytes")
            .compute_checksum();
        b[48..52].copy_from_slice(&c.to_le_bytes());
        b
    })?;
    let h = ctx.start_consumer_testee("consumer c_0")?;
    let r = attach_id(ctx, h, "c_0", 300)?;
    match &r.result {
        Err((ErrorKind::Layout, m)) if m.contains("MIGRATION") => Ok(()),
        Err((ErrorKind::Layout, m)) => fail(format!("a version-2 ring was refused with layout but without the migration hint of SPEC §11 (\"MIGRATION: create a new ring/segment name ...\"): {m}")),
        Err((k, m)) => fail(format!("a version-2 ring was refused with {k:?} ({m}), expected layout")),
        Ok(_) => fail("a consumer attached to a ring of layout version 2"),
    }
}
