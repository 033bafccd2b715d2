//! Cases about the registry as the harness sees it from outside (SPEC.md §6, §7.3, §7.6):
//! what a join writes into its slot, a corrupt or unfinished cursor at join, the join lock,
//! what a close reaps, hostile ids, and who may adopt a registry.

use super::*;
use ringproof::kit::layout::image::cursor_image;
use ringproof::kit::layout::registry::{
    CONTROL_OFFSET, ROLE_CONSUMER, SLOT_ACTIVE, SLOT_DEAD, SLOT_SIZE,
};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

pub(super) fn cases() -> Vec<Case> {
    use Level::*;
    use Roles::*;
    const REG: &[&str] = &["registry"];
    vec![
        Case { id: "layout.registry-slot", level: Recommended, roles: Pair, producer_needs: REG, consumer_needs: &[], timeout: SECS(20), spec: "§6.2, §7.3", rules: &["R6.2.a", "R6.2.b", "R7.3.4.c"],
            rule: "A joined consumer's slot is ACTIVE, role 2, its id and id_len, incarnation 1, a heartbeat, and the owner word pid | start_time << 32 of a live process", run: registry_slot },
        Case { id: "reject.corrupt-cursor", level: Required, roles: Pair, producer_needs: REG, consumer_needs: &[], timeout: SECS(20), spec: "§7.3", rules: &["R7.3.a"],
            rule: "A consumer whose existing cursor (this ring's epoch) holds a value below -1 is refused with layout (corrupt cursor) and does not gate the producer", run: corrupt_cursor },
        Case { id: "join.unfinished-cursor-replaced", level: Required, roles: Pair, producer_needs: REG, consumer_needs: &[], timeout: SECS(20), spec: "§7.3", rules: &["R7.3.b"],
            rule: "A consumer whose cursor name holds an unfinished segment (too short, all zero) for 100 ms replaces it and joins as new", run: unfinished_cursor },
        Case { id: "join.lock-respected", level: Required, roles: Pair, producer_needs: REG, consumer_needs: &[], timeout: SECS(20), spec: "§7.3", rules: &["R7.3.2"],
            rule: "A join waits while another process holds the registry's join lock (flock), fails with timeout at its deadline (after at least 1 s), and succeeds once the lock is free", run: lock_respected },
        Case { id: "cleanup.dead-consumer-reaped", level: Required, roles: Pair, producer_needs: REG, consumer_needs: &[], timeout: SECS(30), spec: "§7.6", rules: &["R7.5.c", "R7.6.4"],
            rule: "A closing producer frees a killed consumer's slot and removes its cursor; a live consumer's cursor stays until it leaves, then nothing of the ring remains", run: dead_consumer_reaped },
        Case { id: "close.hostile-registry-id", level: Required, roles: Producer, producer_needs: REG, consumer_needs: &[], timeout: SECS(20), spec: "§7.6", rules: &["R7.6.a"],
            rule: "mmap: a registry slot whose id is `../victim` names no cursor: the closing producer frees it and removes nothing outside the ring's names", run: hostile_registry_id },
        Case { id: "restart.refuses-readable-registry", level: Required, roles: Producer, producer_needs: REG, consumer_needs: &[], timeout: SECS(20), spec: "§3.1, §7.9", rules: &["R3.1.c", "R7.9.1"],
            rule: "A restarting producer refuses (insecure) a registry that others may read, changes nothing, and restarts once the mode is 0600 again", run: refuses_readable_registry },
        Case { id: "names.cursor-alias", level: Required, roles: Pair, producer_needs: REG, consumer_needs: &[], timeout: SECS(30), spec: "§3.5", rules: &["R3.5.1", "R3.5.2", "R3.5.3"],
            rule: "shm: consumer c_0 of ring M_x is refused with name_alias when /M_x_c_0_seq is consumer x_c_0's cursor of ring M, and leaves that cursor untouched", run: cursor_alias },
        Case { id: "restart.failed-wait-closes", level: Required, roles: Pair, producer_needs: REG, consumer_needs: &["close"], timeout: SECS(30), spec: "§7.8, §7.9", rules: &["R7.8.c"],
            rule: "A restarted producer whose wait for consumers times out fails with consumers_missing and closes the ring it took over: its consumer drains every published event, then reads closed", run: failed_restart_closes },
        Case { id: "coordination.immediate", level: Required, roles: Producer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§7.8", rules: &["R7.8.a"],
            rule: "A producer without consumers publishes at once, to nobody: it is gated by nothing", run: immediate },
    ]
}

fn registry_path(ctx: &Ctx) -> PathBuf {
    ctx.segment_path("_registry", ".registry")
}

/// Offset of consumer slot `i` in the registry segment.
fn slot_at(i: usize) -> usize {
    CONTROL_OFFSET + SLOT_SIZE * (1 + i)
}

fn registry_bytes(ctx: &Ctx) -> Result<Vec<u8>, CaseError> {
    let p = registry_path(ctx);
    std::fs::read(&p).or_else(|e| fail(format!("cannot read the registry {}: {e}", p.display())))
}

/// The registry's epoch (control block offset 0).
fn epoch(ctx: &Ctx) -> Result<u64, CaseError> {
    Ok(u64_at(&registry_bytes(ctx)?, CONTROL_OFFSET))
}

/// Start time (field 22 of /proc/PID/stat), if the process exists.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

fn registry_slot(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (_p, _cs) = ring_with_consumers(ctx, 64, 1, &[])?;
    let reg = registry_bytes(ctx)?;
    let slots = u64_at(&reg, 32) as usize; // header capacity
    let found = (0..slots).map(slot_at).find(|&o| {
        let len = u32_at(&reg, o + 40) as usize;
        len <= 48 && &reg[o + 48..o + 48 + len] == b"c_0"
    });
    let Some(o) = found else {
        return fail("no registry slot holds the id c_0 after it joined");
    };
    let (state, role, owner, heartbeat, incarnation, id_len) = (
        u32_at(&reg, o),
        u32_at(&reg, o + 4),
        u64_at(&reg, o + 8),
        u64_at(&reg, o + 24),
        u64_at(&reg, o + 32),
        u32_at(&reg, o + 40),
    );
    let mut problems = Vec::new();
    if state != SLOT_ACTIVE {
        problems.push(format!("state {state}, expected {SLOT_ACTIVE} (ACTIVE)"));
    }
    if role != ROLE_CONSUMER {
        problems.push(format!("role {role}, expected {ROLE_CONSUMER}"));
    }
    if id_len != 3 || reg[o + 51..o + 96].iter().any(|&b| b != 0) {
        problems.push(format!(
            "id_len {id_len} / id bytes {:?}, expected 3 and `c_0` NUL-padded to 48",
            &reg[o + 48..o + 96]
        ));
    }
    if incarnation != 1 {
        problems.push(format!(
            "incarnation {incarnation}, expected 1 after the first join"
        ));
    }
    if heartbeat == 0 {
        problems.push("heartbeat 0, expected the join's heartbeat".into());
    }
    let pid = owner as u32;
    match start_time(pid) {
        Some(st) if st & 0xFFFF_FFFF == owner >> 32 => {}
        Some(st) => problems.push(format!("owner word {owner:#x}: pid {pid} started at {st}, whose low 32 bits are not the word's high half {}", owner >> 32)),
        None => problems.push(format!("owner word {owner:#x} names pid {pid}, which does not exist")),
    }
    if u64_at(&reg, CONTROL_OFFSET + 8) == 0 {
        problems
            .push("generation still 0 after a join (every membership change increments it)".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        fail(format!(
            "registry slot of c_0 (offset {o}): {}",
            problems.join("; ")
        ))
    }
}

fn corrupt_cursor(ctx: &mut Ctx) -> Result<(), CaseError> {
    let p = created(ctx, 64, SIZE)?;
    let image = cursor_image(-7, epoch(ctx)?);
    write_private(&cursor_path(ctx, "c_0"), image.bytes())?;
    let c = ctx.start_consumer_testee("consumer c_0")?;
    let r = attach_id(ctx, c, "c_0", 1000)?;
    match &r.result {
        Err((ErrorKind::Layout, _)) => {}
        Err((k, m)) => {
            return fail(format!(
            "a cursor holding -7 was refused with {k:?} ({m}), expected layout (corrupt cursor)"
        ))
        }
        Ok(_) => {
            return fail("a consumer joined with a cursor holding -7, which no participant writes")
        }
    }
    // Nothing gates the producer: a refused joiner holds no slot.
    let (published, full) = try_publish(ctx, p, 128)?;
    if published != 128 || full {
        return fail(format!("after the refused join the producer published {published} of 128 (full = {full}): the refused consumer gates it"));
    }
    Ok(())
}

fn unfinished_cursor(ctx: &mut Ctx) -> Result<(), CaseError> {
    let p = created(ctx, 64, SIZE)?;
    write_private(&cursor_path(ctx, "c_0"), &[0u8; 16])?;
    let c = ctx.start_consumer_testee("consumer c_0")?;
    let r = attach_id(ctx, c, "c_0", 3000)?;
    let start = Ctx::expect_ok(&r, "attach_consumer over an unfinished cursor")?.start_seq;
    if start != Some(0) {
        return fail(format!(
            "the consumer that replaced an unfinished cursor starts at {start:?}, expected 0"
        ));
    }
    let pub_id = ctx.publish_async(p, 200, 1)?;
    let got_id = ctx.consume_async(c, 200, Mode::Copy)?;
    let got = ctx.wait(c, got_id)?;
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    Ctx::expect_ok(&got, "consume")?;
    check_delivery(&got, SIZE as usize, 0, 199, "c_0")?;
    let bytes = std::fs::read(cursor_path(ctx, "c_0")).unwrap_or_default();
    if bytes.len() < CURSOR_SEGMENT_SIZE {
        return fail(format!(
            "the replaced cursor is {} bytes, expected a {CURSOR_SEGMENT_SIZE}-byte cursor segment",
            bytes.len()
        ));
    }
    Ok(())
}

fn lock_respected(ctx: &mut Ctx) -> Result<(), CaseError> {
    created(ctx, 64, SIZE)?;
    let reg = std::fs::File::open(registry_path(ctx))
        .map_err(|e| CaseError::Error(format!("open registry: {e}")))?;
    use std::os::fd::AsRawFd;
    // SAFETY: a valid open descriptor.
    if unsafe { libc::flock(reg.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(CaseError::Error(format!(
            "flock: {}",
            std::io::Error::last_os_error()
        )));
    }
    let c = ctx.start_consumer_testee("consumer c_0")?;
    let started = Instant::now();
    let r = attach_id(ctx, c, "c_0", 300)?;
    let waited = started.elapsed();
    match &r.result {
        Err((ErrorKind::Timeout, _)) => {}
        Err((k, m)) => {
            return fail(format!(
                "a join while the join lock was held failed with {k:?} ({m}), expected timeout"
            ))
        }
        Ok(_) => {
            return fail("a consumer joined while another process held the registry's join lock")
        }
    }
    if waited < Duration::from_millis(900) {
        return fail(format!(
            "the join gave up after {} ms; it must retry the lock for at least 1 s",
            waited.as_millis()
        ));
    }
    drop(reg); // releases the lock
    let r = attach_id(ctx, c, "c_0", 2000)?;
    Ctx::expect_ok(&r, "attach_consumer once the lock is free")?;
    Ok(())
}

fn dead_consumer_reaped(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (p, cs) = ring_with_consumers(ctx, 64, 2, &[])?;
    let pub_id = ctx.publish_async(p, 32, 1)?;
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    for &c in &cs {
        let id = ctx.consume_async(c, 32, Mode::Copy)?;
        Ctx::expect_ok(&ctx.wait(c, id)?, "consume")?;
    }
    ctx.t(cs[1]).kill();
    ctx.leave(p)?;
    if cursor_path(ctx, "c_1").exists() {
        return fail("the killed consumer c_1's cursor survived the producer's close");
    }
    if !cursor_path(ctx, "c_0").exists() {
        return fail(
            "the producer's close removed the cursor of c_0, which is alive and still attached",
        );
    }
    ctx.leave(cs[0])?;
    let left = ctx.leftovers();
    if !left.is_empty() {
        return fail(format!(
            "after the close and the last consumer's leave, left: {}",
            left.join(", ")
        ));
    }
    Ok(())
}

fn hostile_registry_id(ctx: &mut Ctx) -> Result<(), CaseError> {
    if ctx.backend != Backend::Mmap {
        return Err(CaseError::Skip("shm names cannot hold a path".into()));
    }
    let p = created(ctx, 64, SIZE)?;
    let epoch = epoch(ctx)?;
    let victim = ctx.root.join("victim.cursor");
    write_private(&victim, cursor_image(5, epoch).bytes())?;
    // Slot 5: DEAD, owner 0, id `../victim`: the path R/N.consumers/../victim.cursor.
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(registry_path(ctx))
            .map_err(|e| CaseError::Error(e.to_string()))?;
        let o = slot_at(5) as u64;
        let id = b"../victim";
        let mut write_at = |off: u64, b: &[u8]| {
            f.seek(SeekFrom::Start(off))
                .and_then(|_| f.write_all(b))
                .map_err(|e| CaseError::Error(e.to_string()))
        };
        write_at(o + 48, id)?;
        write_at(o + 40, &(id.len() as u32).to_le_bytes())?;
        write_at(o + 4, &ROLE_CONSUMER.to_le_bytes())?;
        write_at(o, &SLOT_DEAD.to_le_bytes())?;
    }
    ctx.leave(p)?;
    let survived = victim.exists();
    let _ = std::fs::remove_file(&victim);
    if !survived {
        return fail("the closing producer removed R/victim.cursor, named by a registry slot with the id `../victim` (ids are hostile input: validate before building a path)");
    }
    Ok(())
}

fn refuses_readable_registry(ctx: &mut Ctx) -> Result<(), CaseError> {
    let first = created(ctx, 64, SIZE)?;
    ctx.t(first).kill();
    let reg = registry_path(ctx);
    std::fs::set_permissions(&reg, std::fs::Permissions::from_mode(0o640))
        .map_err(|e| CaseError::Error(e.to_string()))?;
    let before = std::fs::read(&reg).map_err(|e| CaseError::Error(e.to_string()))?;
    let (_second, r) = ctx.producer(64, SIZE, None)?;
    let after = std::fs::read(&reg).unwrap_or_default();
    let _ = std::fs::set_permissions(&reg, std::fs::Permissions::from_mode(0o600));
    match &r.result {
        Err((ErrorKind::Insecure, _)) => {}
        Err((k, m)) => {
            return fail(format!(
                "a restart over a registry of mode 0640 failed with {k:?} ({m}), expected insecure"
            ))
        }
        Ok(_) => {
            return fail("a producer restarted over (adopted) a registry that others may read")
        }
    }
    if before != after {
        return fail("the refused restart changed the registry");
    }
    let (_third, r) = ctx.producer(64, SIZE, None)?;
    Ctx::expect_ok(
        &r,
        "create_producer (restart) once the registry is 0600 again",
    )?;
    Ok(())
}

fn cursor_alias(ctx: &mut Ctx) -> Result<(), CaseError> {
    if ctx.backend != Backend::Shm {
        return Err(CaseError::Skip(
            "file names cannot collide (SPEC.md §3.5)".into(),
        ));
    }
    // Ring M (the case's ring) with consumer `x_c_0`, and ring M_x with consumer `c_0`: both
    // cursors are /M_x_c_0_seq.
    let m = ctx.ring.clone();
    let mx = crate::protocol::RingAddr {
        name: format!("{}_x", m.name),
        ..m.clone()
    };
    let pm = created(ctx, 64, SIZE)?;
    let px = ctx.start_producer_testee("producer of M_x")?;
    let r = ctx.request(px, |id| {
        Command::create_producer(mx.clone(), 64, SIZE).command(id)
    })?;
    Ctx::expect_ok(&r, "create_producer of M_x")?;
    let j = ctx.start_consumer_testee("consumer x_c_0 of M")?;
    Ctx::expect_ok(&attach_id(ctx, j, "x_c_0", 2000)?, "attach x_c_0 to M")?;
    let shared = PathBuf::from(format!("/dev/shm/{}_x_c_0_seq", m.name));
    let before = std::fs::read(&shared).or_else(|e| {
        fail(format!(
            "consumer x_c_0 of M created no {}: {e}",
            shared.display()
        ))
    })?;
    let i = ctx.start_consumer_testee("consumer c_0 of M_x")?;
    let r = ctx.request(i, |id| Command::AttachConsumer {
        id,
        ring: mx,
        consumer_id: "c_0".into(),
        event_size: SIZE,
        timeout_ms: 1000,
        wait: None,
        resync: None,
    })?;
    match &r.result {
        Err((ErrorKind::NameAlias, _)) => {}
        Err((k, m)) => return fail(format!("c_0 of M_x, whose cursor name is x_c_0's of M, was refused with {k:?} ({m}), expected name_alias")),
        Ok(_) => return fail("c_0 of ring M_x joined with the cursor of consumer x_c_0 of ring M (another ring's epoch)"),
    }
    let after = std::fs::read(&shared).unwrap_or_default();
    if after.len() != before.len() || after[..72] != before[..72] || after[80..88] != before[80..88]
    {
        return fail("the refused consumer changed or removed the other ring's cursor (header, value or epoch)");
    }
    // M's consumer is undisturbed.
    let pub_id = ctx.publish_async(pm, 10, 1)?;
    Ctx::expect_ok(&ctx.wait(pm, pub_id)?, "publish to M")?;
    let got = ctx.consume_async(j, 10, Mode::Copy)?;
    let got = ctx.wait(j, got)?;
    Ctx::expect_ok(&got, "consume on M")?;
    check_delivery(&got, SIZE as usize, 0, 9, "x_c_0")
}

fn immediate(ctx: &mut Ctx) -> Result<(), CaseError> {
    let p = created(ctx, 64, SIZE)?;
    let (published, full) = try_publish(ctx, p, 3 * 64)?;
    if published != 3 * 64 || full {
        return fail(format!("a producer with no consumer published {published} of {} (full = {full}); with nobody to wait for it must publish them all", 3 * 64));
    }
    Ok(())
}

fn failed_restart_closes(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (p, cs) = ring_with_consumers(ctx, 64, 1, &[])?;
    let id = ctx.publish_async(p, 10, 1)?;
    Ctx::expect_ok(&ctx.wait(p, id)?, "publish")?;
    ctx.t(p).kill();
    // The restart waits for two consumers; only c_0 is there.
    let (_restart, r) = ctx.producer(64, SIZE, Some((2, 300)))?;
    match &r.result {
        Err((ErrorKind::ConsumersMissing, _)) => {}
        Err((k, m)) => return fail(format!("a restart waiting for 2 consumers with 1 present failed with {k:?} ({m}), expected consumers_missing")),
        Ok(_) => return fail("a restart waiting for 2 consumers succeeded with 1 present"),
    }
    let id = ctx.consume_idle(cs[0], 1_000, Mode::Copy, 3_000)?;
    let got = ctx.wait(cs[0], id)?;
    let ok = Ctx::expect_ok(&got, "consume after the failed restart")?;
    check_delivery(&got, SIZE as usize, 0, 9, "c_0")?;
    if ok.closed_at != Some(9) {
        return fail(format!("after the failed restart c_0 read closed_at {:?}, expected 9: the restart that gave up must close the ring it took over (SPEC §7.8)", ok.closed_at));
    }
    ctx.leave(cs[0])?;
    let left = ctx.leftovers();
    if !left.is_empty() {
        return fail(format!(
            "after the failed restart and the consumer's leave, left: {}",
            left.join(", ")
        ));
    }
    Ok(())
}
