//! Cases about liveness (SPEC.md §7.10): dead consumers retired, required consumers that stall
//! (alert, shutdown, evict), and consumers that learn their producer is gone.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    use Level::*;
    use Roles::*;
    vec![
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
    ]
}

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
    publish_to_all(ctx, p, &cs, first)?;
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
    publish_to_all(ctx, p, &cs, events)?;
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
