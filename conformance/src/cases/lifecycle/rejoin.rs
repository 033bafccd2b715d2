//! Cases about joining again: after a death, after retirement, and many joins racing a producer
//! that runs flat out (SPEC.md §7.3).

use super::*;

pub(super) fn cases() -> Vec<Case> {
    use Level::*;
    use Roles::*;
    vec![
        Case { id: "rejoin.after-death", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(30), spec: "§7.3", rules: &["R7.3.4", "R7.3.4.a", "R7.3.5.c", "R7.5.d"],
            rule: "A consumer killed while its slot still gates, restarted under its id, takes the slot over and resumes right after its committed cursor: nothing lost, nothing duplicated", run: rejoin_after_death },
        Case { id: "rejoin.after-retirement", level: Required, roles: Pair, producer_needs: &["registry"], consumer_needs: &["registry"], timeout: SECS(30), spec: "§7.3, §7.10", rules: &["R7.3.4.b", "R7.3.5", "R7.3.5.b", "R7.10.c", "R6.2.c"],
            rule: "A dead consumer the producer retired and lapped is refused with lapped naming the missed range when it re-joins, never reads an overwritten slot, and with resync continues at the head", run: rejoin_after_retirement },
        Case { id: "join.racing-rescan", level: Required, roles: Pair, producer_needs: &["registry"], consumer_needs: &["registry"], timeout: SECS(40), spec: "§7.3", rules: &["R7.2.1", "R7.3.4.c", "R7.3.5", "R7.3.5.a", "R7.3.5.d"],
            rule: "Consumers joining again and again a ring whose producer runs flat out never read a slot the producer overwrote (the handshake's second load of the producer cursor)", run: join_racing_rescan },
    ]
}

fn rejoin_after_death(ctx: &mut Ctx) -> Result<(), CaseError> {
    // The ring never fills while c_0 is dead, so its slot gates all along whatever the
    // implementation's liveness policy: the restart is a takeover that resumes exactly.
    let (capacity, first, read, second) = (256u64, 200u64, 120u64, 100u64);
    let (p, cs) = ring_with_consumers(ctx, capacity, 1, &[])?;
    Ctx::expect_ok(
        &ctx.request(p, |id| Command::Publish {
            id,
            count: first,
            batch: None,
        })?,
        "publish",
    )?;
    let id = ctx.consume_idle(cs[0], read, Mode::Copy, 5_000)?;
    let got = ctx.wait(cs[0], id)?;
    check_delivery(
        &got,
        SIZE as usize,
        0,
        read as i64 - 1,
        "c_0 before the kill",
    )?;
    ctx.t(cs[0]).kill();
    let committed = consumer_cursor(ctx, 0)?;
    if committed != read as i64 - 1 {
        return fail(format!(
            "c_0 consumed 0..={} but its cursor segment holds {committed}",
            read - 1
        ));
    }
    let (again, r) = ctx.consumer(0, SIZE, None)?;
    let start = Ctx::expect_ok(&r, "attach_consumer (restart under the dead consumer's id)")?
        .start_seq
        .unwrap_or(-1);
    if start != committed + 1 {
        let what = if start > committed + 1 {
            "lost"
        } else {
            "delivered twice"
        };
        return fail(format!("the takeover starts at {start}; its committed cursor is {committed}, so it must resume at {} (events {what})", committed + 1));
    }
    let pub_id = ctx.publish_async(p, second, 1)?;
    let id = ctx.consume_async(again, first + second - read, Mode::Batch)?;
    let rest = ctx.wait(again, id)?;
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    check_delivery(
        &rest,
        SIZE as usize,
        start,
        (first + second) as i64 - 1,
        "restarted c_0",
    )
}

fn rejoin_after_retirement(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (capacity, first) = (32u64, 10u64);
    let (p, cs) = ring_with_consumers(ctx, capacity, 2, &[])?;
    publish_to_all(ctx, p, &cs, first)?;
    ctx.t(cs[1]).kill();
    // The producer must retire the dead c_1 and lap it.
    let events = 4 * capacity;
    let pub_id = ctx.publish_async(p, events, 1)?;
    let id = ctx.consume_async(cs[0], events, Mode::Batch)?;
    check_delivery(
        &ctx.wait(cs[0], id)?,
        SIZE as usize,
        first as i64,
        (first + events) as i64 - 1,
        "c_0",
    )?;
    if reply_within(ctx, p, pub_id, Duration::from_secs(10))?.is_none() {
        return fail("producer still blocked 10 s after c_1 was killed: the dead consumer was never retired (SPEC §7.10)");
    }
    let last = (first + events) as i64 - 1;
    let h = ctx.start_consumer_testee("consumer c_1 (re-join)")?;
    let r = attach_as(ctx, h, 1, None)?;
    match (&r.result, r.missed) {
        (Err((ErrorKind::Lapped, _)), None) => {}
        (Err((ErrorKind::Lapped, _)), Some(m)) if (m.from, m.to) == (first as i64, last) => {}
        (Err((ErrorKind::Lapped, m)), Some(got)) => {
            return fail(format!("re-join refused as lapped naming {}..={}, but it missed {first}..={last} ({m})", got.from, got.to))
        }
        (Err((kind, m)), _) => return fail(format!("re-join of a retired, lapped consumer failed with {kind:?} ({m}), expected lapped")),
        (Ok(f), _) => {
            return fail(format!("a retired consumer whose events {first}..={last} were overwritten re-joined (start {:?}) instead of failing with lapped", f.start_seq))
        }
    }
    let r = attach_as(ctx, h, 1, Some(true))?;
    let start = match &r.result {
        Err((ErrorKind::Unsupported, _)) => {
            ctx.notes.push("resync unsupported".into());
            return Ok(());
        }
        Err((kind, m)) => return fail(format!("re-join with resync failed with {kind:?} ({m})")),
        Ok(f) => f.start_seq.unwrap_or(-1),
    };
    if start != last + 1 {
        return fail(format!(
            "re-join with resync starts at {start}, expected the head {}",
            last + 1
        ));
    }
    let more = 20u64;
    let pub_id = ctx.publish_async(p, more, 1)?;
    let ids = [
        (cs[0], ctx.consume_async(cs[0], more, Mode::Batch)?),
        (h, ctx.consume_async(h, more, Mode::Copy)?),
    ];
    for (c, id) in ids {
        let got = ctx.wait(c, id)?;
        check_delivery(
            &got,
            SIZE as usize,
            last + 1,
            last + more as i64,
            if c == h { "resynced c_1" } else { "c_0" },
        )?;
    }
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    Ok(())
}

fn join_racing_rescan(ctx: &mut Ctx) -> Result<(), CaseError> {
    // A producer with no consumer runs flat out around a tiny ring (rescanning every 2 events);
    // each join must start after a slot the producer can no longer rewrite before it sees the
    // join. A joiner that skips the handshake's second load starts inside what was overwritten
    // while it joined, and its digests show stale events.
    let (capacity, per_join, rounds, budget) = (2u64, 50u64, 40, Duration::from_secs(3));
    let p = created(ctx, capacity, SIZE)?;
    let _flat_out = ctx.publish_async(p, 1 << 40, 1)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while read_cursor(ctx, "_producer_seq", ".producer.cursor")? < 64 * capacity as i64 {
        if Instant::now() >= deadline {
            return fail(format!(
                "the producer of a ring without consumers published fewer than {} events in 5 s",
                64 * capacity
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let h = ctx.start_consumer_testee("consumer c_1 (joining again and again)")?;
    let started = Instant::now();
    let mut done = 0;
    while done < rounds && (done < 3 || started.elapsed() < budget) {
        let r = attach_as(ctx, h, 1, None)?;
        let start = Ctx::expect_ok(&r, "attach_consumer (late join)")?
            .start_seq
            .unwrap_or(-1);
        let id = ctx.consume_idle(h, per_join, Mode::Copy, 5_000)?;
        let got = ctx.wait(h, id)?;
        check_delivery(
            &got,
            SIZE as usize,
            start,
            start + per_join as i64 - 1,
            &format!("join {done} (start {start})"),
        )?;
        ctx.leave(h)?;
        done += 1;
    }
    ctx.notes.push(format!("{done} joins"));
    // The producer never finishes: the runner kills it and removes the ring.
    ctx.t(p).kill();
    Ok(())
}
