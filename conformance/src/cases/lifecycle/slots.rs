//! Cases about registry slots (SPEC.md §6, §7.3, §7.5): a duplicate id, a full registry, a
//! leave that frees its slot, and the generation counter.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    use Level::*;
    use Roles::*;
    vec![
        Case { id: "join.duplicate-id", level: Required, roles: Pair, producer_needs: &["registry"], consumer_needs: &["registry"], timeout: SECS(40), spec: "§7.3", rules: &["R7.3.2"],
            rule: "A second consumer under a live consumer's id is refused with id_in_use and disturbs nothing; of two racing joins under one id exactly one wins", run: join_duplicate_id },
        Case { id: "registry.full", level: Required, roles: Pair, producer_needs: &["registry"], consumer_needs: &["registry"], timeout: SECS(30), spec: "§7.3", rules: &["R7.3.4", "R7.3.4.c"],
            rule: "A join into a registry with no free slot fails with registry_full and disturbs no other slot or consumer", run: registry_full },
        Case { id: "leave.frees-slot", level: Required, roles: Pair, producer_needs: &["registry"], consumer_needs: &["registry"], timeout: SECS(30), spec: "§7.5", rules: &["R7.5.a"],
            rule: "A clean leave frees its registry slot (state FREE, owner 0), bumps the generation and removes its cursor, right away", run: leave_frees_slot },
        Case { id: "registry.generation", level: Recommended, roles: Pair, producer_needs: &["registry"], consumer_needs: &["registry"], timeout: SECS(20), spec: "§6.1", rules: &["R6.1.a", "R6.2.f"],
            rule: "A fresh registry's generation is 0 (every field the initial state does not name is zero) and every join and leave increments it", run: registry_generation },
    ]
}

fn join_duplicate_id(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (p, cs) = ring_with_consumers(ctx, 64, 1, &[])?;
    let events = 20u64;
    publish_to_all(ctx, p, &cs, events)?;
    let second = ctx.start_consumer_testee("consumer c_0 (duplicate)")?;
    match &attach_as(ctx, second, 0, None)?.result {
        Err((ErrorKind::IdInUse, _)) => {}
        Err((kind, m)) => return fail(format!("a second consumer under the live c_0's id was refused with {kind:?} ({m}), expected id_in_use")),
        Ok(_) => return fail("a second consumer joined under the id of a live consumer (c_0)"),
    }
    // Refused before it touched anything (SPEC §7.3 step 2): c_0's cursor is as c_0 left it.
    let cursor = consumer_cursor(ctx, 0)?;
    if cursor != events as i64 - 1 {
        return fail(format!(
            "c_0 committed {} but its cursor holds {cursor} after a refused duplicate join",
            events - 1
        ));
    }
    Ctx::expect_ok(
        &ctx.request(p, |id| Command::Publish {
            id,
            count: events,
            batch: None,
        })?,
        "publish",
    )?;
    let id = ctx.consume_idle(cs[0], events, Mode::Copy, 5_000)?;
    check_delivery(
        &ctx.wait(cs[0], id)?,
        SIZE as usize,
        events as i64,
        2 * events as i64 - 1,
        "c_0 after the refused duplicate",
    )?;
    // Race two joins under one new id, several times.
    let a = ctx.start_consumer_testee("consumer c_1 (a)")?;
    let b = ctx.start_consumer_testee("consumer c_1 (b)")?;
    for round in 0..5 {
        let ring = ctx.ring.clone();
        let send = |ctx: &mut Ctx, h: H| {
            let ring = ring.clone();
            ctx.send(h, |id| Command::AttachConsumer {
                id,
                ring,
                consumer_id: consumer_id(1),
                event_size: SIZE,
                timeout_ms: 5_000,
                wait: None,
                resync: None,
            })
        };
        let (ia, ib) = (send(ctx, a)?, send(ctx, b)?);
        let (ra, rb) = (ctx.wait(a, ia)?, ctx.wait(b, ib)?);
        let winner = match (&ra.result, &rb.result) {
            (Ok(_), Err((ErrorKind::IdInUse, _))) => a,
            (Err((ErrorKind::IdInUse, _)), Ok(_)) => b,
            (Ok(_), Ok(_)) => return fail(format!("round {round}: two racing joins under c_1 both succeeded")),
            (x, y) => return fail(format!("round {round}: two racing joins under c_1 ended {x:?} and {y:?}; expected one ok and one id_in_use")),
        };
        ctx.leave(winner)?;
    }
    Ok(())
}

fn registry_full(ctx: &mut Ctx) -> Result<(), CaseError> {
    let p = created(ctx, 64, SIZE)?;
    let (_, slots) = registry_view(ctx)?;
    let n = slots.len();
    // Fill every slot but one with a retired consumer whose owner (the harness) is alive: not
    // gating, not free, not reapable, and not this ring's ids.
    let path = ctx.segment_path("_registry", ".registry");
    let me = owner_word(
        std::process::id(),
        ringproof::kit::process::own_start_time(),
    );
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .or_else(|e| fail(format!("cannot open {}: {e}", path.display())))?;
        for i in 0..n - 1 {
            let o = (CONTROL_OFFSET + SLOT_SIZE * (i + 1)) as u64;
            let id = format!("x_{i}");
            let mut slot = [0u8; SLOT_SIZE];
            slot[4..8].copy_from_slice(&2u32.to_le_bytes());
            slot[8..16].copy_from_slice(&me.to_le_bytes());
            slot[32..40].copy_from_slice(&1u64.to_le_bytes());
            slot[40..44].copy_from_slice(&(id.len() as u32).to_le_bytes());
            slot[48..48 + id.len()].copy_from_slice(id.as_bytes());
            f.write_all_at(&slot[4..], o + 4)
                .and_then(|_| f.write_all_at(&SLOT_DEAD.to_le_bytes(), o))
                .or_else(|e| fail(format!("cannot plant slot {i}: {e}")))?;
        }
    }
    let (c0, r) = ctx.consumer(0, SIZE, None)?;
    Ctx::expect_ok(&r, "attach_consumer into the last free slot")?;
    let (_c1, r) = ctx.consumer(1, SIZE, None)?;
    match &r.result {
        Err((ErrorKind::RegistryFull, _)) => {}
        Err((kind, m)) => return fail(format!("a join into a registry with no free slot failed with {kind:?} ({m}), expected registry_full")),
        Ok(_) => return fail(format!("c_1 joined a registry whose {n} slots were all taken")),
    }
    let (_, after) = registry_view(ctx)?;
    for (i, s) in after.iter().enumerate().take(n - 1) {
        if s.state != SLOT_DEAD || s.owner != me || s.id != format!("x_{i}") {
            return fail(format!("the refused join disturbed slot {i}: {s:?}"));
        }
    }
    if !after.iter().any(|s| s.id == "c_0" && s.state == 2) || after.iter().any(|s| s.id == "c_1") {
        return fail(format!(
            "after the refused join the last slot is {:?}, expected c_0 ACTIVE and no c_1",
            after[n - 1]
        ));
    }
    let events = 20u64;
    Ctx::expect_ok(
        &ctx.request(p, |id| Command::Publish {
            id,
            count: events,
            batch: None,
        })?,
        "publish",
    )?;
    let id = ctx.consume_idle(c0, events, Mode::Copy, 5_000)?;
    check_delivery(
        &ctx.wait(c0, id)?,
        SIZE as usize,
        0,
        events as i64 - 1,
        "c_0 next to the refused join",
    )
}

fn leave_frees_slot(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (_p, cs) = ring_with_consumers(ctx, 64, 2, &[])?;
    let (before, _) = registry_view(ctx)?;
    let c0_pid = ctx.t(cs[0]).pid();
    ctx.leave(cs[1])?;
    // Nothing is published: only the leave can have changed the registry.
    let (after, slots) = registry_view(ctx)?;
    if after <= before {
        return fail(format!(
            "generation {before} before the leave, {after} after: a leave must increment it"
        ));
    }
    for (i, s) in slots.iter().enumerate().filter(|(_, s)| s.id == "c_1") {
        if s.state != 0 || s.owner != 0 {
            return fail(format!("after c_1 left cleanly its slot {i} is state {} owner pid {}, expected FREE (0) with owner 0", s.state, owner_pid(s.owner)));
        }
    }
    if !slots
        .iter()
        .any(|s| s.id == "c_0" && s.state == 2 && owner_pid(s.owner) == c0_pid)
    {
        return fail("c_0's slot is no longer ACTIVE under c_0's process after c_1 left");
    }
    let cursor = ctx.segment_path("_c_1_seq", ".consumers/c_1.cursor");
    if cursor.exists() {
        return fail(format!(
            "{} still exists after c_1 left cleanly",
            cursor.display()
        ));
    }
    Ok(())
}

fn registry_generation(ctx: &mut Ctx) -> Result<(), CaseError> {
    created(ctx, 64, SIZE)?;
    let (g0, _) = registry_view(ctx)?;
    if g0 != 0 {
        return fail(format!("a fresh registry's generation is {g0}, expected 0"));
    }
    let (c, r) = ctx.consumer(0, SIZE, None)?;
    Ctx::expect_ok(&r, "attach_consumer")?;
    let (g1, _) = registry_view(ctx)?;
    ctx.leave(c)?;
    let (g2, _) = registry_view(ctx)?;
    if !(g1 > g0 && g2 > g1) {
        return fail(format!(
            "generation {g0} fresh, {g1} after a join, {g2} after a leave: each must increment it"
        ));
    }
    Ok(())
}
