//! Cases about names and what may sit under them (SPEC.md §3): illegal names and ids, objects
//! that are not segments, segments others may write, temporaries of dead creators.

use super::*;
use crate::ctx::H;
use crate::driver::Reply;
use crate::protocol::RingAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

pub(super) fn cases() -> Vec<Case> {
    use Level::*;
    use Roles::*;
    vec![
        Case { id: "names.illegal-ring-refused", level: Required, roles: Producer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§3", rules: &["R3.a"],
            rule: "A ring name ending in _seq, _cr, _registry or _counters is refused with invalid_name, and nothing is created", run: illegal_ring_refused },
        Case { id: "names.illegal-id-refused", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§3", rules: &["R3.b"],
            rule: "A consumer id `producer` or ending in `_producer` is refused with invalid_name; the ring is not disturbed", run: illegal_id_refused },
        Case { id: "reject.not-regular", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(5), spec: "§3.1", rules: &["R3.1.b"],
            rule: "A FIFO under the ring's name is refused with layout (not a regular file), at once, never blocking the opener", run: reject_not_regular },
        Case { id: "reject.symlink", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§3.1", rules: &["R3.1.b"],
            rule: "A symbolic link under the ring's name, even to a valid ring, is refused with layout (not a regular file)", run: reject_symlink },
        Case { id: "reject.group-writable", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§3.1", rules: &["R3.1.b"],
            rule: "A valid ring segment that group or others may write is refused with insecure before it is mapped", run: reject_group_writable },
        Case { id: "reject.consumers-dir-writable", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§3.1", rules: &["R3.1.d"],
            rule: "mmap: the consumers directory is created 0700; a consumer refuses (insecure) to create its cursor in one that group or others may write", run: consumers_dir_writable },
        Case { id: "cleanup.dead-temporaries", level: Required, roles: Producer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§3.2, §3.3", rules: &["R3.2.a", "R3.3.a", "R3.3.b"],
            rule: "Temporaries `.{name}.{pid}.{nanos}.tmp` of a dead creator are removed by the ring's producer by the time it has closed; a live creator's are kept", run: dead_temporaries },
    ]
}

/// Sends `create_producer` for an arbitrary ring name.
fn create_named(ctx: &mut Ctx, h: H, name: &str) -> Result<Reply, CaseError> {
    let ring = RingAddr {
        name: name.to_string(),
        ..ctx.ring.clone()
    };
    ctx.request(h, |id| {
        Command::create_producer(ring, 64, SIZE)
            .discover("c", 8)
            .command(id)
    })
}

/// The reply must be the error `want`; `what` names the situation in the failure.
fn expect_kind(r: &Reply, want: ErrorKind, what: &str) -> Result<(), CaseError> {
    match &r.result {
        Err((kind, _)) if *kind == want => Ok(()),
        Err((kind, m)) => fail(format!(
            "{what}: refused with {kind:?} ({m}), expected {want:?}"
        )),
        Ok(_) => fail(format!("{what}: accepted, expected the error {want:?}")),
    }
}

fn illegal_ring_refused(ctx: &mut Ctx) -> Result<(), CaseError> {
    let h = ctx.start_producer_testee("producer")?;
    for ending in ["_seq", "_cr", "_registry", "_counters"] {
        let name = format!("{}{ending}", ctx.ring.name);
        let r = create_named(ctx, h, &name)?;
        expect_kind(&r, ErrorKind::InvalidName, &format!("ring name `{name}`"))?;
        let left = ctx.leftovers();
        if !left.is_empty() {
            return fail(format!(
                "the refused ring `{name}` left {}",
                left.join(", ")
            ));
        }
    }
    Ok(())
}

fn illegal_id_refused(ctx: &mut Ctx) -> Result<(), CaseError> {
    let p = created(ctx, 64, SIZE)?;
    let c = ctx.start_consumer_testee("consumer")?;
    for id in ["producer", "c_producer"] {
        let r = attach_id(ctx, c, id, 1000)?;
        expect_kind(&r, ErrorKind::InvalidName, &format!("consumer id `{id}`"))?;
    }
    // The producer cursor is still the producer's: -1, nothing published, nothing created
    // under the refused ids.
    let (producer, _) = ctx.cursors(p)?;
    if producer != Some(-1) {
        return fail(format!(
            "after the refused attaches the producer cursor reads {producer:?}, expected -1"
        ));
    }
    if ctx.backend == Backend::Shm
        && PathBuf::from(format!("/dev/shm/{}_c_producer_seq", ctx.ring.name)).exists()
    {
        return fail("a refused attach under `c_producer` created its cursor");
    }
    if ctx.backend == Backend::Mmap {
        for id in ["producer", "c_producer"] {
            let f = ctx
                .root
                .join(format!("{}.consumers/{id}.cursor", ctx.ring.name));
            if f.exists() {
                return fail(format!(
                    "a refused attach under `{id}` created {}",
                    f.display()
                ));
            }
        }
    }
    Ok(())
}

/// A valid ring and producer cursor (no registry: a disruptor-mp ring to a consumer, §10.1),
/// the ring at `ring_path`, each written with `mode`.
fn plant_valid(ctx: &Ctx, ring_path: &std::path::Path, mode: u32) -> Result<(), CaseError> {
    let (h, g) = layout::fresh_header(SegmentKind::Ring, 8, SIZE, 64).expect("fits");
    let mut ring = vec![0u8; g.total_len() as usize];
    ring[..HEADER_SIZE].copy_from_slice(&h.to_bytes());
    let (ch, cg) = layout::fresh_header(SegmentKind::Cursor, 64, 64, 1).expect("fits");
    let mut cursor = vec![0u8; cg.total_len() as usize];
    cursor[..HEADER_SIZE].copy_from_slice(&ch.to_bytes());
    cursor[64..72].copy_from_slice(&(-1i64).to_le_bytes());
    for (p, bytes) in [
        (ring_path.to_path_buf(), &ring),
        (
            ctx.segment_path("_producer_seq", ".producer.cursor"),
            &cursor,
        ),
    ] {
        std::fs::write(&p, bytes)
            .map_err(|e| CaseError::Error(format!("cannot plant {}: {e}", p.display())))?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
            .map_err(|e| CaseError::Error(format!("chmod {}: {e}", p.display())))?;
    }
    Ok(())
}

fn attach_refused(ctx: &mut Ctx, want: ErrorKind, what: &str) -> Result<(), CaseError> {
    let h = ctx.start_consumer_testee("consumer c_0")?;
    let started = Instant::now();
    let r = attach_id(ctx, h, "c_0", 300)?;
    expect_kind(&r, want, what)?;
    if ctx.backend == Backend::Mmap {
        let dir = ctx.root.join(format!("{}.consumers", ctx.ring.name));
        if dir.join("c_0.cursor").exists() {
            return fail(format!("{what}: the refused consumer created its cursor"));
        }
    } else if PathBuf::from(format!("/dev/shm/{}_c_0_seq", ctx.ring.name)).exists() {
        return fail(format!("{what}: the refused consumer created its cursor"));
    }
    ctx.notes.push(format!(
        "refused after {} ms",
        started.elapsed().as_millis()
    ));
    Ok(())
}

fn reject_not_regular(ctx: &mut Ctx) -> Result<(), CaseError> {
    let ring = ctx.segment_path("", ".ring");
    plant_valid(ctx, &ring, 0o600)?;
    std::fs::remove_file(&ring).map_err(|e| CaseError::Error(e.to_string()))?;
    let c = std::ffi::CString::new(ring.as_os_str().as_encoded_bytes()).expect("no NUL");
    // SAFETY: a valid C string; mkfifo only creates a name.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        return Err(CaseError::Error(format!(
            "mkfifo {}: {}",
            ring.display(),
            std::io::Error::last_os_error()
        )));
    }
    attach_refused(ctx, ErrorKind::Layout, "a FIFO under the ring's name")
}

fn reject_symlink(ctx: &mut Ctx) -> Result<(), CaseError> {
    let ring = ctx.segment_path("", ".ring");
    let target = ctx.segment_path("_target", ".target");
    plant_valid(ctx, &target, 0o600)?;
    std::os::unix::fs::symlink(&target, &ring)
        .map_err(|e| CaseError::Error(format!("symlink {}: {e}", ring.display())))?;
    attach_refused(
        ctx,
        ErrorKind::Layout,
        "a symbolic link (to a valid ring) under the ring's name",
    )
}

fn reject_group_writable(ctx: &mut Ctx) -> Result<(), CaseError> {
    let ring = ctx.segment_path("", ".ring");
    plant_valid(ctx, &ring, 0o620)?;
    attach_refused(ctx, ErrorKind::Insecure, "a ring segment with mode 0620")
}

fn consumers_dir_writable(ctx: &mut Ctx) -> Result<(), CaseError> {
    if ctx.backend != Backend::Mmap {
        return Err(CaseError::Skip(
            "the consumers directory exists only with the file backend".into(),
        ));
    }
    created(ctx, 64, SIZE)?;
    let dir = ctx.root.join(format!("{}.consumers", ctx.ring.name));
    let meta = std::fs::symlink_metadata(&dir).or_else(|e| {
        fail(format!(
            "the producer created no consumers directory {}: {e}",
            dir.display()
        ))
    })?;
    let mode = meta.permissions().mode() & 0o7777;
    if !meta.is_dir() || mode != 0o700 {
        return fail(format!(
            "{} is {} with mode {mode:o}, expected a directory with mode 700",
            dir.display(),
            if meta.is_dir() {
                "a directory"
            } else {
                "not a directory"
            }
        ));
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o770))
        .map_err(|e| CaseError::Error(e.to_string()))?;
    let result = attach_refused(
        ctx,
        ErrorKind::Insecure,
        "a consumers directory with mode 0770",
    );
    let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    result
}

/// A pid no process has (a child that has exited and been reaped).
fn dead_pid() -> Result<u32, CaseError> {
    let mut child = std::process::Command::new("true")
        .spawn()
        .map_err(|e| CaseError::Error(format!("spawn true: {e}")))?;
    let pid = child.id();
    child.wait().map_err(|e| CaseError::Error(e.to_string()))?;
    Ok(pid)
}

fn dead_temporaries(ctx: &mut Ctx) -> Result<(), CaseError> {
    let dead = dead_pid()?;
    let live = std::process::id();
    let (dir, file) = match ctx.backend {
        Backend::Shm => (PathBuf::from("/dev/shm"), ctx.ring.name.clone()),
        Backend::Mmap => (ctx.root.clone(), format!("{}.ring", ctx.ring.name)),
    };
    let dead_tmp = dir.join(format!(".{file}.{dead}.123456789.tmp"));
    let live_tmp = dir.join(format!(".{file}.{live}.123456789.tmp"));
    for p in [&dead_tmp, &live_tmp] {
        std::fs::write(p, [0u8; 16])
            .map_err(|e| CaseError::Error(format!("plant {}: {e}", p.display())))?;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| CaseError::Error(e.to_string()))?;
    }
    let p = created(ctx, 64, SIZE)?;
    ctx.leave(p)?;
    let dead_left = dead_tmp.exists();
    let live_left = live_tmp.exists();
    let _ = std::fs::remove_file(&live_tmp);
    let _ = std::fs::remove_file(&dead_tmp);
    if dead_left {
        return fail(format!(
            "{} (creator pid {dead} is dead) survived the ring's creation and close",
            dead_tmp.display()
        ));
    }
    if !live_left {
        return fail(format!(
            "{} (creator pid {live} is alive: the harness) was removed",
            live_tmp.display()
        ));
    }
    Ok(())
}
