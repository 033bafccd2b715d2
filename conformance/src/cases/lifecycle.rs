//! Cases about lifecycles: joins and re-joins, leaves, liveness, required consumers, restarts, the registry.
//!
//! Helpers shared by every case live in the parent module (`super::*`).

#[allow(unused_imports)]
use super::*;
use crate::ctx::{consumer_id, H};
use crate::driver::{DriverError, Reply};
use crate::protocol::Required;
use ringproof::kit::layout::registry::{
    owner_pid, owner_word, CONTROL_OFFSET, SLOT_DEAD, SLOT_SIZE,
};

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
        Case { id: "liveness.dead-retired", level: Required, roles: Pair, producer_needs: &["registry"], consumer_needs: &["registry"], timeout: SECS(30), spec: "§7.10", rules: &["R6.2.c", "R7.10.b", "R7.10.c"],
            rule: "A dead non-required consumer stops gating the producer within a bounded time (the producer retires its slot)", run: liveness_dead_retired },
        Case { id: "required.stall-alert", level: Required, roles: Pair, producer_needs: &["required"], consumer_needs: &[], timeout: SECS(30), spec: "§7.10", rules: &["R7.10.d", "R7.10.e"],
            rule: "A required consumer stalled past the progress timeout raises one alert; recovering within the grace period, it is not acted on and nothing is lost", run: required_stall_alert },
        Case { id: "required.shutdown", level: Required, roles: Pair, producer_needs: &["required"], consumer_needs: &[], timeout: SECS(30), spec: "§7.10", rules: &["R7.10.e", "R7.10.f"],
            rule: "A required consumer stalled past the progress timeout and the grace period makes the blocked publish fail (shutdown action)", run: required_shutdown },
        Case { id: "required.alert-keeps-gating", level: Required, roles: Pair, producer_needs: &["required"], consumer_needs: &["registry"], timeout: SECS(30), spec: "§7.10, §7.3", rules: &["R7.10.f", "R7.3.4.a"],
            rule: "A dead required consumer under the alert action raises an alert and keeps gating; its restart takes the slot over and resumes without loss", run: required_alert_keeps_gating },
        Case { id: "required.evict", level: Required, roles: Pair, producer_needs: &["required"], consumer_needs: &["registry"], timeout: SECS(40), spec: "§7.10, §7.3", rules: &["R7.10.f", "R7.10.g", "R7.3.4.b", "R7.3.5.b"],
            rule: "A stalled required consumer under the evict action stops gating; it learns it was evicted with the missed range, a re-join is refused the same way, and with resync it continues at the head", run: required_evict },
        Case { id: "liveness.producer-gone", level: Recommended, roles: Pair, producer_needs: &["registry"], consumer_needs: &["producer-gone"], timeout: SECS(30), spec: "§7.10, §7.9", rules: &["R7.10.a", "R7.9.4", "R7.9.5"],
            rule: "A consumer that consumed everything of a producer that died reports producer_gone; once a restarted producer is back it waits and reads again", run: liveness_producer_gone },
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

// ---------------------------------------------------------------- helpers

/// Attaches testee `h` as `c_{k}`, with `resync` as given.
fn attach_as(ctx: &mut Ctx, h: H, k: usize, resync: Option<bool>) -> Result<Reply, CaseError> {
    let ring = ctx.ring.clone();
    let timeout_ms = ctx
        .deadline
        .saturating_duration_since(Instant::now())
        .as_millis()
        .min(10_000) as u64;
    ctx.request(h, |id| Command::AttachConsumer {
        id,
        ring,
        consumer_id: consumer_id(k),
        event_size: SIZE,
        timeout_ms,
        wait: None,
        resync,
    })
}

/// The committed cursor of `c_{k}`, read from its segment.
fn consumer_cursor(ctx: &Ctx, k: usize) -> Result<i64, CaseError> {
    read_cursor(
        ctx,
        &format!("_c_{k}_seq"),
        &format!(".consumers/c_{k}.cursor"),
    )
}

/// Polls the producer cursor segment until it holds `target` (the producer is then blocked,
/// when `target` is the last slot it may fill).
fn await_producer_at(ctx: &Ctx, target: i64, within: Duration) -> Result<(), CaseError> {
    let deadline = Instant::now() + within;
    loop {
        let at = read_cursor(ctx, "_producer_seq", ".producer.cursor")?;
        if at == target {
            return Ok(());
        }
        if at > target {
            return fail(format!("producer cursor at {at}, past {target}: it overwrote slots a gating consumer had not read"));
        }
        if Instant::now() >= deadline {
            return fail(format!(
                "producer cursor still at {at} after {within:?}, expected {target}"
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits for the reply to `id` until `within` from now; `None` if it did not come.
fn reply_within(
    ctx: &mut Ctx,
    h: H,
    id: u64,
    within: Duration,
) -> Result<Option<Reply>, CaseError> {
    let deadline = (Instant::now() + within).min(ctx.deadline);
    match ctx.t(h).wait(id, deadline) {
        Ok(r) => Ok(Some(r)),
        Err(DriverError::Timeout(..)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn required(ids: &[&str], action: &str, progress_ms: u64, grace_ms: u64) -> Required {
    Required {
        ids: ids.iter().map(|s| s.to_string()).collect(),
        action: action.into(),
        progress_timeout_ms: Some(progress_ms),
        grace_ms: Some(grace_ms),
    }
}

/// One registry slot as the harness reads it.
#[derive(Debug)]
struct SlotView {
    state: u32,
    owner: u64,
    id: String,
}

/// The registry's generation and slots, read from its segment.
fn registry_view(ctx: &Ctx) -> Result<(u64, Vec<SlotView>), CaseError> {
    let bytes = read_segment(ctx, "_registry", ".registry")?;
    let g = layout::validate(&bytes, &Expect::kind(SegmentKind::Registry))
        .or_else(|e| fail(format!("registry: {e}")))?;
    let slots = (0..g.capacity as usize)
        .map(|i| {
            let o = CONTROL_OFFSET + SLOT_SIZE * (i + 1);
            let len = (u32_at(&bytes, o + 40) as usize).min(48);
            SlotView {
                state: u32_at(&bytes, o),
                owner: u64_at(&bytes, o + 8),
                id: String::from_utf8_lossy(&bytes[o + 48..o + 48 + len]).into_owned(),
            }
        })
        .collect();
    Ok((u64_at(&bytes, CONTROL_OFFSET + 8), slots))
}

// ---------------------------------------------------------------- re-joins

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
    Ctx::expect_ok(
        &ctx.request(p, |id| Command::Publish {
            id,
            count: first,
            batch: None,
        })?,
        "publish",
    )?;
    for (k, &c) in cs.iter().enumerate() {
        let id = ctx.consume_idle(c, first, Mode::Copy, 5_000)?;
        check_delivery(
            &ctx.wait(c, id)?,
            SIZE as usize,
            0,
            first as i64 - 1,
            &format!("c_{k}"),
        )?;
    }
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

// ---------------------------------------------------------------- liveness

fn liveness_dead_retired(ctx: &mut Ctx) -> Result<(), CaseError> {
    let capacity = 32u64;
    let (p, cs) = ring_with_consumers(ctx, capacity, 2, &[])?;
    ctx.t(cs[1]).kill();
    let events = 4 * capacity;
    let pub_id = ctx.publish_async(p, events, 1)?;
    let id = ctx.consume_async(cs[0], events, Mode::Batch)?;
    let got = ctx.wait(cs[0], id)?;
    match reply_within(ctx, p, pub_id, Duration::from_secs(5))? {
        Some(r) => {
            Ctx::expect_ok(&r, "publish")?;
        }
        None => return fail("producer still blocked 5 s after the live consumer read everything: the killed c_1 still gates it (a dead non-required consumer must be retired, SPEC §7.10)"),
    }
    check_delivery(&got, SIZE as usize, 0, events as i64 - 1, "c_0")
}

fn required_stall_alert(ctx: &mut Ctx) -> Result<(), CaseError> {
    let capacity = 16u64;
    let (p, cs) = ring_with_required(
        ctx,
        capacity,
        1,
        &[],
        Some(required(&["c_0"], "shutdown", 100, 5_000)),
    )?;
    let events = 3 * capacity;
    let pub_id = ctx.publish_async(p, events, 1)?;
    await_producer_at(ctx, capacity as i64 - 1, Duration::from_secs(5))?;
    // The stimulus: c_0 reads nothing for six progress timeouts, then recovers, long before
    // the 5 s grace period ends.
    std::thread::sleep(Duration::from_millis(600));
    let id = ctx.consume_async(cs[0], events, Mode::Batch)?;
    let got = ctx.wait(cs[0], id)?;
    let r = ctx.wait(p, pub_id)?;
    if let Err((kind, m)) = &r.result {
        return fail(format!(
            "c_0 recovered within the grace period, yet the publish failed with {kind:?} ({m})"
        ));
    }
    check_delivery(&got, SIZE as usize, 0, events as i64 - 1, "c_0")?;
    if !r.liveness.iter().any(|(id, dead, _)| id == "c_0" && !dead) {
        return fail(format!("c_0 stalled for 600 ms with a 100 ms progress timeout but no stall alert (liveness, dead: false) was reported; got {:?}", r.liveness));
    }
    Ok(())
}

fn required_shutdown(ctx: &mut Ctx) -> Result<(), CaseError> {
    let capacity = 16u64;
    let (p, _cs) = ring_with_required(
        ctx,
        capacity,
        1,
        &[],
        Some(required(&["c_0"], "shutdown", 100, 200)),
    )?;
    let pub_id = ctx.publish_async(p, 3 * capacity, 1)?;
    let Some(r) = reply_within(ctx, p, pub_id, Duration::from_secs(8))? else {
        return fail("publish still blocked 8 s after its required consumer stalled (progress timeout 100 ms, grace 200 ms, action shutdown)");
    };
    match &r.result {
        Err((ErrorKind::Shutdown, _)) => {}
        Err((kind, m)) => return fail(format!("the shutdown action failed the publish with {kind:?} ({m}), expected shutdown")),
        Ok(f) => return fail(format!("publish of {} events past a stalled required consumer succeeded ({f:?}) under the shutdown action", 3 * capacity)),
    }
    if !r.liveness.iter().any(|(id, _, _)| id == "c_0") {
        return fail("the shutdown action ran without a liveness alert for c_0 first");
    }
    Ok(())
}

fn required_alert_keeps_gating(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (capacity, events, read) = (64u64, 300u64, 50u64);
    let (p, cs) = ring_with_required(
        ctx,
        capacity,
        1,
        &[],
        Some(required(&["c_0"], "alert", 100, 100)),
    )?;
    let pub_id = ctx.publish_async(p, events, 1)?;
    let id = ctx.consume_idle(cs[0], read, Mode::Copy, 5_000)?;
    check_delivery(
        &ctx.wait(cs[0], id)?,
        SIZE as usize,
        0,
        read as i64 - 1,
        "c_0 before the kill",
    )?;
    ctx.t(cs[0]).kill();
    let committed = consumer_cursor(ctx, 0)?;
    let blocked_at = committed + capacity as i64;
    await_producer_at(ctx, blocked_at, Duration::from_secs(5))?;
    // A dead required consumer under the alert action keeps gating: watch the producer stay
    // put for many check intervals (a retirement would free it within one).
    let watch = Instant::now();
    while watch.elapsed() < Duration::from_millis(300) {
        let at = read_cursor(ctx, "_producer_seq", ".producer.cursor")?;
        if at != blocked_at {
            return fail(format!("the producer moved from {blocked_at} to {at} with its required c_0 dead under the alert action: it stopped gating on it"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let (again, r) = ctx.consumer(0, SIZE, None)?;
    let start = Ctx::expect_ok(&r, "attach_consumer (restart of the required consumer)")?
        .start_seq
        .unwrap_or(-1);
    if start != committed + 1 {
        return fail(format!("the restarted required consumer starts at {start}; its committed cursor is {committed}, expected {}", committed + 1));
    }
    let id = ctx.consume_async(again, events - start as u64, Mode::Batch)?;
    check_delivery(
        &ctx.wait(again, id)?,
        SIZE as usize,
        start,
        events as i64 - 1,
        "restarted c_0",
    )?;
    let r = ctx.wait(p, pub_id)?;
    Ctx::expect_ok(&r, "publish")?;
    if !r.liveness.iter().any(|(id, dead, _)| id == "c_0" && *dead) {
        return fail(format!(
            "no liveness alert with dead: true for the killed required c_0; got {:?}",
            r.liveness
        ));
    }
    Ok(())
}

fn required_evict(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (capacity, first) = (32u64, 5u64);
    let (p, cs) = ring_with_required(
        ctx,
        capacity,
        2,
        &[],
        Some(required(&["c_1"], "evict", 100, 100)),
    )?;
    Ctx::expect_ok(
        &ctx.request(p, |id| Command::Publish {
            id,
            count: first,
            batch: None,
        })?,
        "publish",
    )?;
    for (k, &c) in cs.iter().enumerate() {
        let id = ctx.consume_idle(c, first, Mode::Copy, 5_000)?;
        check_delivery(
            &ctx.wait(c, id)?,
            SIZE as usize,
            0,
            first as i64 - 1,
            &format!("c_{k}"),
        )?;
    }
    // c_1 stalls; the producer must evict it and go on.
    let events = 4 * capacity;
    let last = (first + events) as i64 - 1;
    let pub_id = ctx.publish_async(p, events, 1)?;
    let id = ctx.consume_async(cs[0], events, Mode::Batch)?;
    check_delivery(
        &ctx.wait(cs[0], id)?,
        SIZE as usize,
        first as i64,
        last,
        "c_0",
    )?;
    let Some(r) = reply_within(ctx, p, pub_id, Duration::from_secs(10))? else {
        return fail("publish still blocked 10 s after the required c_1 stalled (evict action, progress timeout 100 ms, grace 100 ms)");
    };
    Ctx::expect_ok(&r, "publish")?;
    if !r.liveness.iter().any(|(id, _, _)| id == "c_1") {
        return fail("c_1 was evicted without a liveness alert first");
    }
    let expect_evicted = |r: &Reply, what: &str| -> Result<(), CaseError> {
        match (&r.result, r.missed) {
            (Err((ErrorKind::Evicted, _)), None) => Ok(()),
            (Err((ErrorKind::Evicted, _)), Some(m)) if (m.from, m.to) == (first as i64, last) => Ok(()),
            (Err((ErrorKind::Evicted, _)), Some(m)) => fail(format!("{what}: evicted naming {}..={}, but it missed {first}..={last}", m.from, m.to)),
            (Err((kind, m)), _) => fail(format!("{what}: failed with {kind:?} ({m}), expected evicted")),
            (Ok(f), _) => fail(format!("{what}: succeeded ({f:?}) although c_1 was evicted and {first}..={last} overwritten")),
        }
    };
    // The evicted consumer learns it on its next read.
    let id = ctx.consume_idle(cs[1], 1, Mode::Copy, 2_000)?;
    let r = ctx.wait(cs[1], id)?;
    if r.events.iter().any(|(a, _, _)| *a <= last) {
        return fail(format!(
            "the evicted c_1 delivered events {:?} the producer may have overwritten",
            r.events
        ));
    }
    expect_evicted(&r, "the evicted c_1's next read")?;
    // A restart under the id is a re-join that fails the same way, or resyncs at the head.
    ctx.t(cs[1]).kill();
    let h = ctx.start_consumer_testee("consumer c_1 (re-join)")?;
    expect_evicted(&attach_as(ctx, h, 1, None)?, "the evicted c_1's re-join")?;
    let r = attach_as(ctx, h, 1, Some(true))?;
    let start = match &r.result {
        Err((ErrorKind::Unsupported, _)) => {
            ctx.notes.push("resync unsupported".into());
            return Ok(());
        }
        Err((kind, m)) => {
            return fail(format!(
                "re-join with resync after the eviction failed with {kind:?} ({m})"
            ))
        }
        Ok(f) => f.start_seq.unwrap_or(-1),
    };
    if start != last + 1 {
        return fail(format!(
            "re-join with resync starts at {start}, expected the head {}",
            last + 1
        ));
    }
    let more = 10u64;
    let pub_id = ctx.publish_async(p, more, 1)?;
    let ids = [
        (cs[0], ctx.consume_async(cs[0], more, Mode::Batch)?),
        (h, ctx.consume_async(h, more, Mode::Copy)?),
    ];
    for (c, id) in ids {
        check_delivery(
            &ctx.wait(c, id)?,
            SIZE as usize,
            last + 1,
            last + more as i64,
            if c == h { "resynced c_1" } else { "c_0" },
        )?;
    }
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    Ok(())
}

fn liveness_producer_gone(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (capacity, events) = (64u64, 20u64);
    let (p, cs) = ring_with_consumers(ctx, capacity, 1, &[])?;
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
        0,
        events as i64 - 1,
        "c_0",
    )?;
    ctx.t(p).kill();
    let id = ctx.consume_idle(cs[0], 1, Mode::Copy, 5_000)?;
    let r = ctx.wait(cs[0], id)?;
    match &r.result {
        Err((ErrorKind::ProducerGone, _)) => {}
        Err((kind, m)) => return fail(format!("with its producer dead and everything consumed, consume failed with {kind:?} ({m}), expected producer_gone")),
        Ok(f) => return fail(format!("with its producer dead and everything consumed, consume waited 5 s and returned {f:?} instead of producer_gone")),
    }
    let (p2, r) = ctx.producer(capacity, SIZE, None)?;
    Ctx::expect_ok(&r, "create_producer (restart)")?;
    // Producer gone is not terminal: with the producer back, an idle read waits again.
    let id = ctx.consume_idle(cs[0], 1, Mode::Copy, 300)?;
    let r = ctx.wait(cs[0], id)?;
    if let Err((kind, m)) = &r.result {
        return fail(format!("after the producer restarted, an idle read failed with {kind:?} ({m}) instead of waiting"));
    }
    Ctx::expect_ok(
        &ctx.request(p2, |id| Command::Publish {
            id,
            count: events,
            batch: None,
        })?,
        "publish after the restart",
    )?;
    let id = ctx.consume_idle(cs[0], events, Mode::Copy, 5_000)?;
    check_delivery(
        &ctx.wait(cs[0], id)?,
        SIZE as usize,
        events as i64,
        2 * events as i64 - 1,
        "c_0 after the producer's restart",
    )
}

// ---------------------------------------------------------------- the registry

fn join_duplicate_id(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (p, cs) = ring_with_consumers(ctx, 64, 1, &[])?;
    let events = 20u64;
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
        0,
        events as i64 - 1,
        "c_0",
    )?;
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
