//! Cases about delivery: one or many consumers see every event in order and intact across
//! wraps, batches and leases, the slowest consumer gates the producer, and a full ring refuses
//! rather than overwrites (SPEC.md §7.1, §7.2, §7.4).

use super::*;

pub(super) fn cases() -> Vec<Case> {
    use Level::*;
    use Roles::*;
    vec![
        Case { id: "spsc.wraparound", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(60), spec: "§7.1, §7.4", rules: &["R4.a", "R7.1.1", "R7.1.2", "R7.1.3", "R7.1.5", "R7.4.1", "R7.4.2", "R7.4.3"],
            rule: "One consumer sees every event, in order, intact, across many wraps of a small ring", run: spsc_wraparound },
        Case { id: "spsc.lease", level: Recommended, roles: Pair, producer_needs: &[], consumer_needs: &["lease"], timeout: SECS(60), spec: "§7.4", rules: &["R7.4.a"],
            rule: "Zero-copy leases see every event intact; the slot stays valid until the lease commits", run: spsc_lease },
        Case { id: "spsc.batch-publish", level: Required, roles: Pair, producer_needs: &["batch"], consumer_needs: &[], timeout: SECS(60), spec: "§7.1", rules: &["R7.1.a", "R7.1.3"],
            rule: "Batches published with one cursor store arrive whole and in order", run: spsc_batch_publish },
        Case { id: "spmc.broadcast", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(60), spec: "§7.2", rules: &["R7.2.a", "R7.2.2"],
            rule: "Every consumer sees every event (broadcast), in order, intact", run: spmc_broadcast },
        Case { id: "spmc.slow-consumer-gates", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(60), spec: "§7.2", rules: &["R7.2.a", "R7.2.2", "R7.2.3"],
            rule: "The slowest consumer gates the producer: the fast one is never lapped and the slow one never reads an overwritten slot", run: spmc_slow_consumer_gates },
        Case { id: "backpressure.no-overwrite", level: Required, roles: Pair, producer_needs: &["try-publish"], consumer_needs: &[], timeout: SECS(30), spec: "§7.2", rules: &["R7.1.1", "R7.2.a", "R7.2.3"],
            rule: "With a consumer that does not read, the producer publishes exactly capacity events, then reports full; nothing is overwritten", run: backpressure_no_overwrite },
        Case { id: "batch.too-large", level: Required, roles: Producer, producer_needs: &["batch"], consumer_needs: &[], timeout: SECS(20), spec: "§7.1", rules: &["R7.1.a"],
            rule: "A batch larger than the ring is an error, never a hang", run: batch_too_large },
    ]
}

// ---------------------------------------------------------------- streams

fn spsc_wraparound(ctx: &mut Ctx) -> Result<(), CaseError> {
    stream(ctx, 64, 100_000, 1, Mode::Copy)
}

fn spsc_lease(ctx: &mut Ctx) -> Result<(), CaseError> {
    stream(ctx, 64, 50_000, 1, Mode::Lease)
}

fn spsc_batch_publish(ctx: &mut Ctx) -> Result<(), CaseError> {
    stream(ctx, 256, 100_000, 16, Mode::Batch)
}

fn spmc_broadcast(ctx: &mut Ctx) -> Result<(), CaseError> {
    let events = 50_000;
    let (p, cs) = ring_with_consumers(ctx, 128, 3, &[])?;
    let pub_id = ctx.publish_async(p, events, 1)?;
    let ids: Vec<_> = cs
        .iter()
        .map(|&c| ctx.consume_async(c, events, Mode::Batch))
        .collect::<Result<_, _>>()?;
    for (k, (&c, id)) in cs.iter().zip(ids).enumerate() {
        let got = ctx.wait(c, id)?;
        Ctx::expect_ok(&got, "consume")?;
        check_delivery(&got, SIZE as usize, 0, events as i64 - 1, &format!("c_{k}"))?;
    }
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    Ok(())
}

fn spmc_slow_consumer_gates(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (capacity, events, step) = (64u64, 20_000u64, 500u64);
    let (p, cs) = ring_with_consumers(ctx, capacity, 2, &[None, Some(Wait::Sleep)])?;
    let pub_id = ctx.publish_async(p, events, 1)?;
    let fast = ctx.consume_async(cs[0], events, Mode::Batch)?;
    // The slow consumer reads in small steps the harness paces, so the producer must stall on
    // it again and again. Between steps the harness reads both cursors from the segments.
    let mut slow = crate::driver::Reply {
        result: Ok(Default::default()),
        events: Vec::new(),
        progress: Vec::new(),
        liveness: Vec::new(),
        missed: None,
    };
    let mut read = 0;
    while read < events {
        let id = ctx.consume_async(cs[1], step, Mode::Copy)?;
        let r = ctx.wait(cs[1], id)?;
        read += Ctx::expect_ok(&r, "consume")?.consumed.unwrap_or(0);
        slow.events.extend(r.events);
        let producer = read_cursor(ctx, "_producer_seq", ".producer.cursor")?;
        let committed = read_cursor(ctx, "_c_1_seq", ".consumers/c_1.cursor")?;
        if producer > committed + capacity as i64 {
            return fail(format!("producer cursor {producer} ran more than {capacity} past the slow consumer's committed {committed}"));
        }
    }
    let fast = ctx.wait(cs[0], fast)?;
    check_delivery(&fast, SIZE as usize, 0, events as i64 - 1, "fast c_0")?;
    check_delivery(&slow, SIZE as usize, 0, events as i64 - 1, "slow c_1")?;
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    Ok(())
}

fn backpressure_no_overwrite(ctx: &mut Ctx) -> Result<(), CaseError> {
    let capacity = 8;
    let (p, cs) = ring_with_consumers(ctx, capacity, 1, &[])?;
    let r = ctx.request(p, |id| Command::TryPublish {
        id,
        count: 3 * capacity,
    })?;
    let f = Ctx::expect_ok(&r, "try_publish")?;
    if f.published != Some(capacity) || f.full != Some(true) {
        return fail(format!("try_publish of {} into a ring of {capacity} with an idle consumer published {:?} (full = {:?}); expected exactly {capacity}, then full", 3 * capacity, f.published, f.full));
    }
    let id = ctx.consume_idle(cs[0], capacity, Mode::Copy, 5_000)?;
    let got = ctx.wait(cs[0], id)?;
    check_delivery(&got, SIZE as usize, 0, capacity as i64 - 1, "c_0")
}

fn batch_too_large(ctx: &mut Ctx) -> Result<(), CaseError> {
    let p = created(ctx, 8, SIZE)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let id = ctx.publish_async(p, 16, 16)?;
    match ctx.t(p).wait(id, deadline) {
        Ok(r) => match r.result {
            Err(_) => Ok(()),
            Ok(_) => fail("a batch of 16 into a ring of 8 reported success"),
        },
        Err(crate::driver::DriverError::Timeout(..)) => {
            fail("a batch of 16 into a ring of 8 did not return within 5 s (hang)")
        }
        Err(e) => Err(e.into()),
    }
}
