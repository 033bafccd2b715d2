//! Cases about lifecycles: joins and re-joins, leaves, liveness, required consumers, restarts,
//! the registry; one file per concept, with the helpers they share here.

use super::*;
use crate::ctx::{consumer_id, H};
use crate::driver::{DriverError, Reply};
use crate::protocol::Required;
use ringproof::kit::layout::registry::{
    owner_pid, owner_word, CONTROL_OFFSET, SLOT_DEAD, SLOT_SIZE,
};

mod liveness;
mod rejoin;
mod slots;

pub(super) fn cases() -> Vec<Case> {
    [rejoin::cases, liveness::cases, slots::cases]
        .iter()
        .flat_map(|cases| cases())
        .collect()
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

/// Publishes `count` events and checks that every consumer of `cs` reads all of them, from
/// sequence 0 (`c_0`, `c_1`, ... in the failure messages).
fn publish_to_all(ctx: &mut Ctx, p: H, cs: &[H], count: u64) -> Result<(), CaseError> {
    Ctx::expect_ok(
        &ctx.request(p, |id| Command::Publish {
            id,
            count,
            batch: None,
        })?,
        "publish",
    )?;
    for (k, &c) in cs.iter().enumerate() {
        let id = ctx.consume_idle(c, count, Mode::Copy, 5_000)?;
        check_delivery(
            &ctx.wait(c, id)?,
            SIZE as usize,
            0,
            count as i64 - 1,
            &format!("c_{k}"),
        )?;
    }
    Ok(())
}

fn required(ids: &[&str], action: &str, progress_ms: u64, grace_ms: u64) -> Required {
    Required {
        ids: ids.iter().map(|s| s.to_string()).collect(),
        action: action.parse().expect("a liveness action"),
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
