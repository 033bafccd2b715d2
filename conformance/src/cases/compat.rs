//! Cases about sharing a ring with disruptor-mp-style peers (SPEC.md §10), played by the
//! harness writing segments as such a peer would: a consumer on a ring without a registry, a
//! producer gating on a cursor it discovered by name.

use super::*;
use ringproof::kit::layout::image::cursor_image;
use ringproof::kit::payload::fill;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

pub(super) fn cases() -> Vec<Case> {
    use Level::*;
    use Roles::*;
    vec![
        Case { id: "compat.foreign-gate", level: Required, roles: Producer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§10.2", rules: &["R10.2.a", "R7.2.a"],
            rule: "A producer discovering consumers by prefix gates on a foreign cursor (epoch 0) found under N_c_{k}_seq: it stops capacity events past it, and moves on when it moves", run: foreign_gate },
        Case { id: "compat.registryless-ring", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§10.1", rules: &["R10.a", "R10.1.a", "R10.1.c"],
            rule: "On a ring without a registry (disruptor-mp's) a consumer creates its cursor with epoch 0, counts itself once in N_cr, reads the events by count, and removes its cursor (nothing else) when it leaves", run: registryless_ring },
    ]
}

fn plant(p: &Path, bytes: &[u8]) -> Result<(), CaseError> {
    if let Some(dir) = p.parent() {
        if !dir.exists() {
            std::fs::create_dir(dir)
                .map_err(|e| CaseError::Error(format!("mkdir {}: {e}", dir.display())))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| CaseError::Error(e.to_string()))?;
        }
    }
    write_private(p, bytes)
}

/// Writes `bytes` at `offset` of an existing segment in place (never truncating: peers map it).
fn poke(p: &Path, offset: u64, bytes: &[u8]) -> Result<(), CaseError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(p)
        .map_err(|e| CaseError::Error(format!("open {}: {e}", p.display())))?;
    f.seek(SeekFrom::Start(offset))
        .and_then(|_| f.write_all(bytes))
        .map_err(|e| CaseError::Error(format!("write {}: {e}", p.display())))
}

fn read_i64(p: &Path, offset: usize) -> Result<i64, CaseError> {
    let b = std::fs::read(p).or_else(|e| fail(format!("cannot read {}: {e}", p.display())))?;
    b.get(offset..offset + 8)
        .map(|w| i64::from_le_bytes(w.try_into().expect("8 bytes")))
        .ok_or_else(|| CaseError::Fail(format!("{} is only {} bytes", p.display(), b.len())))
}

fn foreign_gate(ctx: &mut Ctx) -> Result<(), CaseError> {
    let foreign = cursor_path(ctx, "c_3");
    plant(&foreign, cursor_image(-1, 0).bytes())?;
    let result = (|| {
        let p = created(ctx, 64, SIZE)?;
        let (published, full) = try_publish(ctx, p, 128)?;
        if published != 64 || !full {
            return fail(format!("with a foreign consumer c_3 at -1 the producer published {published} of 128 (full = {full}), expected 64, then full"));
        }
        poke(&foreign, 64, &31i64.to_le_bytes())?;
        let (published, full) = try_publish(ctx, p, 64)?;
        if published != 32 || !full {
            return fail(format!("after c_3 consumed through 31 the producer published {published} more (full = {full}), expected 32, then full"));
        }
        Ok(())
    })();
    let _ = std::fs::remove_file(&foreign);
    result
}

fn registryless_ring(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (h, g) = layout::fresh_header(SegmentKind::Ring, 8, SIZE, 64).expect("fits");
    let mut ring = vec![0u8; g.total_len() as usize];
    ring[..HEADER_SIZE].copy_from_slice(&h.to_bytes());
    let ring_path = ctx.segment_path("", ".ring");
    let producer = ctx.segment_path("_producer_seq", ".producer.cursor");
    let ready = ctx.segment_path("_cr", ".ready.cursor");
    plant(&ring_path, &ring)?;
    plant(&producer, cursor_image(-1, 0).bytes())?;
    plant(&ready, cursor_image(0, 0).bytes())?;
    if ctx.backend == Backend::Mmap {
        // disruptor-mp's file producer makes the consumers directory with the umask's mode.
        let dir = ctx.root.join(format!("{}.consumers", ctx.ring.name));
        std::fs::create_dir(&dir)
            .map_err(|e| CaseError::Error(format!("mkdir {}: {e}", dir.display())))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| CaseError::Error(e.to_string()))?;
    }
    let c = ctx.start_consumer_testee("consumer c_0")?;
    let r = ctx.attach(c, 0, SIZE, None)?;
    let start = Ctx::expect_ok(&r, "attach_consumer to a ring without a registry")?.start_seq;
    if start != Some(0) {
        return fail(format!(
            "the consumer of an empty registry-less ring starts at {start:?}, expected 0"
        ));
    }
    let cursor = cursor_path(ctx, "c_0");
    let epoch = read_i64(&cursor, 80)?;
    if epoch != 0 {
        return fail(format!(
            "its cursor carries epoch {epoch}; without a registry it must be 0 (SPEC.md §10.1)"
        ));
    }
    let counted = read_i64(&ready, 64)?;
    if counted != 1 {
        return fail(format!(
            "N_cr reads {counted} after one consumer joined, expected 1"
        ));
    }
    // Publish 10 events the way a disruptor-mp producer does: slots, then the cursor.
    let offset = g.payload_offset as u64;
    let mut event = vec![0u8; SIZE as usize];
    for seq in 0..10u64 {
        fill(seq, &mut event).expect("TP1 size");
        poke(&ring_path, offset + seq * SIZE, &event)?;
    }
    poke(&producer, 64, &9i64.to_le_bytes())?;
    let id = ctx.consume_async(c, 10, Mode::Copy)?;
    let got = ctx.wait(c, id)?;
    Ctx::expect_ok(&got, "consume")?;
    check_delivery(&got, SIZE as usize, 0, 9, "c_0")?;
    ctx.leave(c)?;
    if cursor.exists() {
        return fail("the consumer left a ring without a registry but its cursor remains");
    }
    if ctx.backend == Backend::Mmap
        && !ctx
            .root
            .join(format!("{}.consumers", ctx.ring.name))
            .is_dir()
    {
        return fail("the consumer that left a ring without a registry removed the consumers directory, which is the disruptor-mp producer's (the next consumer cannot attach)");
    }
    let counted = read_i64(&ready, 64)?;
    if counted != 1 {
        return fail(format!("N_cr reads {counted} after the consumer left; it counts attaches and is never decremented"));
    }
    Ok(())
}
