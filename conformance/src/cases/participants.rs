//! Cases about participants coming and going on a running ring: a late joiner, restarts of
//! either side, a clean leave, a stale cursor, close and drain, an idle blocking consumer,
//! clean shutdown, and a producer whose consumers never come (SPEC.md §7.3-§7.9, §8).

use super::*;

pub(super) fn cases() -> Vec<Case> {
    use Level::*;
    use Roles::*;
    vec![
        Case { id: "join.late-joiner", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(60), spec: "§7.3", rules: &["R7.3.1", "R7.3.3", "R7.3.5", "R7.3.5.a"],
            rule: "A consumer joining a running ring starts at the next unpublished sequence and never reads an overwritten slot", run: join_late_joiner },
        Case { id: "restart.consumer-resumes", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(60), spec: "§7.3, §7.5", rules: &["R7.3.4.a", "R7.5.d"],
            rule: "A consumer killed mid-stream and restarted under its id resumes after its committed cursor; nothing is lost", run: restart_consumer_resumes },
        Case { id: "restart.producer-resumes", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(30), spec: "§7.9", rules: &["R7.9.2", "R7.9.3", "R7.9.5"],
            rule: "A producer killed mid-stream can be restarted on the same ring: it resumes after the last published sequence and consumers continue without loss", run: restart_producer_resumes },
        Case { id: "leave.stops-gating", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(30), spec: "§7.5", rules: &["R7.5.a"],
            rule: "A consumer that leaves cleanly stops gating the producer", run: leave_stops_gating },
        Case { id: "stale.cursor-ignored", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(30), spec: "§7.3, §10.2", rules: &["R7.3.3"],
            rule: "A consumer cursor left by an earlier ring of the same name neither gates the producer nor makes the consumer skip events", run: stale_cursor_ignored },
        Case { id: "close.consumer-drains", level: Recommended, roles: Pair, producer_needs: &["close"], consumer_needs: &["close"], timeout: SECS(30), spec: "§7.6", rules: &["R7.6.1", "R7.6.2", "R7.6.b"],
            rule: "After the producer closes the ring, consumers drain every published event, then learn the ring is closed", run: close_consumer_drains },
        Case { id: "wait.blocking-wakes", level: Recommended, roles: Pair, producer_needs: &[], consumer_needs: &["wait-block"], timeout: SECS(30), spec: "§8", rules: &["R8.3", "R8.b"],
            rule: "A consumer with the blocking wait strategy sleeps in the kernel while idle and is woken by publishes", run: wait_blocking_wakes },
        Case { id: "cleanup.no-leak", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(30), spec: "§7.6, §7.7", rules: &["R7.5.a", "R7.6.3", "R7.6.b", "R7.7.a"],
            rule: "After every participant leaves cleanly, no segment or file of the ring remains", run: cleanup_no_leak },
        Case { id: "liveness.startup-timeout", level: Required, roles: Producer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§7.8", rules: &["R7.8.b", "R7.8.c"],
            rule: "A producer waiting for consumers that never come fails with an error after its timeout and leaves nothing behind", run: liveness_startup_timeout },
    ]
}

fn join_late_joiner(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (capacity, first_part, second_part) = (64u64, 5_000u64, 5_000u64);
    let (p, cs) = ring_with_consumers(ctx, capacity, 1, &[])?;
    let pub1 = ctx.publish_async(p, first_part, 1)?;
    let c0a = ctx.consume_async(cs[0], first_part, Mode::Batch)?;
    Ctx::expect_ok(&ctx.wait(p, pub1)?, "publish")?;
    let got_a = ctx.wait(cs[0], c0a)?;
    let (before, _) = ctx.cursors(p)?;
    let (late, r) = ctx.consumer(1, SIZE, None)?;
    let start = Ctx::expect_ok(&r, "attach_consumer (late)")?
        .start_seq
        .unwrap_or(-1);
    let before = before.unwrap_or(-1);
    if start != before + 1 {
        return fail(format!("late joiner starts at {start}, but {before} was the last published sequence (expected {})", before + 1));
    }
    let total = first_part + second_part;
    let pub2 = ctx.publish_async(p, second_part, 1)?;
    let c0b = ctx.consume_async(cs[0], second_part, Mode::Batch)?;
    let c1 = ctx.consume_async(late, second_part, Mode::Copy)?;
    let got_late = ctx.wait(late, c1)?;
    let got_b = ctx.wait(cs[0], c0b)?;
    Ctx::expect_ok(&ctx.wait(p, pub2)?, "publish")?;
    let mut all = got_a.clone();
    all.events.extend(got_b.events);
    check_delivery(&all, SIZE as usize, 0, total as i64 - 1, "c_0")?;
    check_delivery(
        &got_late,
        SIZE as usize,
        start,
        total as i64 - 1,
        "late c_1",
    )
}

fn restart_consumer_resumes(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (capacity, events, before_kill) = (256u64, 20_000u64, 3_000u64);
    // The stream stops while c_0 is dead (everything published so far is consumed), so its
    // slot gates all along whatever the producer's liveness policy (a dead non-required
    // consumer stops gating only once the producer waits on it, SPEC.md §7.10): the restart is
    // a takeover that must lose nothing, with or without required consumers.
    let (p, cs) = ring_with_consumers(ctx, capacity, 1, &[])?;
    let pub_id = ctx.publish_async(p, before_kill, 1)?;
    let id = ctx.consume_idle(cs[0], before_kill, Mode::Copy, 10_000)?;
    let first = ctx.wait(cs[0], id)?;
    check_delivery(
        &first,
        SIZE as usize,
        0,
        before_kill as i64 - 1,
        "c_0 before the kill",
    )?;
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    let (_, committed) = ctx.cursors(cs[0])?;
    let committed = committed.unwrap_or(-1);
    ctx.t(cs[0]).kill();
    let (again, r) = ctx.consumer(0, SIZE, None)?;
    let start = Ctx::expect_ok(&r, "attach_consumer (restart)")?
        .start_seq
        .unwrap_or(-1);
    if start > committed + 1 {
        return fail(format!("restarted consumer starts at {start}, after its committed cursor {committed}: events {}..{start} are lost", committed + 1));
    }
    if start < 0 {
        return fail(format!("restarted consumer starts at {start}"));
    }
    let pub_id = ctx.publish_async(p, events - before_kill, 1)?;
    let id = ctx.consume_async(again, (events as i64 - start) as u64, Mode::Batch)?;
    let rest = ctx.wait(again, id)?;
    check_delivery(
        &rest,
        SIZE as usize,
        start,
        events as i64 - 1,
        "restarted c_0",
    )?;
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    Ok(())
}

fn restart_producer_resumes(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (before, after) = (2_000u64, 1_000u64);
    let (p, cs) = ring_with_consumers(ctx, 256, 1, &[])?;
    let pub_id = ctx.publish_async(p, before, 1)?;
    let id = ctx.consume_async(cs[0], before, Mode::Batch)?;
    let first = ctx.wait(cs[0], id)?;
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    check_delivery(
        &first,
        SIZE as usize,
        0,
        before as i64 - 1,
        "c_0 before the crash",
    )?;
    ctx.t(p).kill();
    let (p2, r) = ctx.producer(256, SIZE, None)?;
    if let Err((kind, m)) = &r.result {
        return fail(format!(
            "restarting the producer of a ring whose producer died was refused: {kind:?} ({m})"
        ));
    }
    let pub_id = ctx.publish_async(p2, after, 1)?;
    let id = ctx.consume_async(cs[0], after, Mode::Batch)?;
    let rest = ctx.wait(cs[0], id)?;
    let r = ctx.wait(p2, pub_id)?;
    let f = Ctx::expect_ok(&r, "publish after the restart")?;
    if f.first_seq != Some(before as i64) {
        return fail(format!("the restarted producer published from {:?}, expected {before} (after the last published sequence)", f.first_seq));
    }
    check_delivery(
        &rest,
        SIZE as usize,
        before as i64,
        (before + after) as i64 - 1,
        "c_0 after the restart",
    )
}

fn leave_stops_gating(ctx: &mut Ctx) -> Result<(), CaseError> {
    let capacity = 32u64;
    let (p, cs) = ring_with_consumers(ctx, capacity, 2, &[])?;
    ctx.leave(cs[1])?;
    let events = 4 * capacity;
    let pub_id = ctx.publish_async(p, events, 1)?;
    let id = ctx.consume_async(cs[0], events, Mode::Batch)?;
    let got = ctx.wait(cs[0], id)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    match ctx.t(p).wait(pub_id, deadline) {
        Ok(r) => {
            Ctx::expect_ok(&r, "publish")?;
        }
        Err(crate::driver::DriverError::Timeout(..)) => {
            return fail("producer still blocked 5 s after the remaining consumer read everything: the consumer that left (c_1) still gates it")
        }
        Err(e) => return Err(e.into()),
    }
    check_delivery(&got, SIZE as usize, 0, events as i64 - 1, "c_0")
}

fn stale_cursor_ignored(ctx: &mut Ctx) -> Result<(), CaseError> {
    // A cursor left by an earlier ring of this name: valid layout, value 1000, another epoch.
    let path = ctx.segment_path("_c_0_seq", ".consumers/c_0.cursor");
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let seg = match ctx.backend {
        Backend::Shm => {
            ringproof::kit::names::SegmentPath::Shm(format!("{}_c_0_seq", ctx.ring.name))
        }
        Backend::Mmap => ringproof::kit::names::SegmentPath::File(path.clone()),
    };
    ringproof::kit::cursor::Cursor::create(&seg, "stale cursor", 1000, 0xDEAD_BEEF)
        .map_err(|e| CaseError::Error(format!("harness could not plant the stale cursor: {e}")))?;
    let events = 2_000;
    let (p, cs) = ring_with_consumers(ctx, 64, 1, &[])?;
    let pub_id = ctx.publish_async(p, events, 1)?;
    let id = ctx.consume_async(cs[0], events, Mode::Batch)?;
    let got = ctx.wait(cs[0], id)?;
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    check_delivery(
        &got,
        SIZE as usize,
        0,
        events as i64 - 1,
        "c_0 over a stale cursor",
    )
}

fn close_consumer_drains(ctx: &mut Ctx) -> Result<(), CaseError> {
    let events = 1_000u64;
    let (p, cs) = ring_with_consumers(ctx, 2048, 1, &[])?;
    Ctx::expect_ok(
        &ctx.request(p, |id| Command::Publish {
            id,
            count: events,
            batch: None,
        })?,
        "publish",
    )?;
    ctx.leave(p)?;
    let id = ctx.consume_async(cs[0], u64::MAX >> 1, Mode::Batch)?;
    let got = ctx.wait(cs[0], id)?;
    let f = Ctx::expect_ok(&got, "consume")?;
    check_delivery(&got, SIZE as usize, 0, events as i64 - 1, "c_0")?;
    if f.closed_at != Some(events as i64 - 1) {
        return fail(format!(
            "consumer drained the ring but reported closed_at {:?}, expected {}",
            f.closed_at,
            events - 1
        ));
    }
    Ok(())
}

/// CPU ticks (user + system) a process has used.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn wait_blocking_wakes(ctx: &mut Ctx) -> Result<(), CaseError> {
    let events = 2_000u64;
    let (p, cs) = ring_with_consumers(ctx, 256, 1, &[Some(Wait::Block)])?;
    let id = ctx.consume_async(cs[0], events, Mode::Copy)?;
    // Measure the idle consumer's CPU use over a window (a measurement, not synchronisation).
    let pid = ctx.t(cs[0]).pid();
    let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    std::thread::sleep(Duration::from_millis(100));
    let (t0, w0) = (cpu_ticks(pid), Instant::now());
    std::thread::sleep(Duration::from_millis(500));
    let (t1, window) = (cpu_ticks(pid), w0.elapsed());
    if let (Some(a), Some(b)) = (t0, t1) {
        let busy = (b - a) as f64 / ticks_per_s as f64 / window.as_secs_f64();
        ctx.notes
            .push(format!("idle consumer CPU {:.0}%", busy * 100.0));
        if busy > 0.25 {
            return fail(format!(
                "idle consumer with the blocking strategy used {:.0}% of a CPU (expected ~0%)",
                busy * 100.0
            ));
        }
    }
    Ctx::expect_ok(
        &ctx.request(p, |id| Command::Publish {
            id,
            count: events,
            batch: None,
        })?,
        "publish",
    )?;
    let got = ctx.wait(cs[0], id)?;
    check_delivery(&got, SIZE as usize, 0, events as i64 - 1, "blocking c_0")
}

fn cleanup_no_leak(ctx: &mut Ctx) -> Result<(), CaseError> {
    let events = 5_000u64;
    let (p, cs) = ring_with_consumers(ctx, 256, 2, &[])?;
    let pub_id = ctx.publish_async(p, events, 1)?;
    let ids: Vec<_> = cs
        .iter()
        .map(|&c| ctx.consume_async(c, events, Mode::Batch))
        .collect::<Result<_, _>>()?;
    for (&c, id) in cs.iter().zip(ids) {
        Ctx::expect_ok(&ctx.wait(c, id)?, "consume")?;
    }
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    for &c in &cs {
        ctx.leave(c)?;
    }
    ctx.leave(p)?;
    let problems = ctx.exit_all();
    if !problems.is_empty() {
        return Err(CaseError::Error(problems.join("; ")));
    }
    let left = ctx.leftovers();
    if !left.is_empty() {
        return fail(format!(
            "left behind after a clean shutdown: {}",
            left.join(", ")
        ));
    }
    Ok(())
}

fn liveness_startup_timeout(ctx: &mut Ctx) -> Result<(), CaseError> {
    let started = Instant::now();
    let (_p, r) = ctx.producer(64, SIZE, Some((1, 300)))?;
    match &r.result {
        Err((ErrorKind::ConsumersMissing, _)) => {}
        Err((kind, m)) => return fail(format!("startup timeout reported as {kind:?} ({m}); expected consumers_missing (PROTOCOL.md: the failure of a producer's wait for consumers)")),
        Ok(_) => return fail(format!("producer waiting for 1 consumer with a 300 ms timeout reported success after {:?} with no consumer", started.elapsed())),
    }
    let left = ctx.leftovers();
    if !left.is_empty() {
        return fail(format!("failed creation left {}", left.join(", ")));
    }
    Ok(())
}
