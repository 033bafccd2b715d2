//! The sized cases: one wraparound instance per (event size, alignment, capacity) of a fixed
//! table, over testee rings and over harness rings of unusual alignment.

use super::*;
use crate::ctx::H;

/// The sized cases, one instance per (event size, alignment, capacity) of a fixed table.
pub(super) fn cases() -> Vec<Case> {
    use Level::*;
    use Roles::*;
    let wrap = |id: &'static str, run: fn(&mut Ctx) -> Result<(), CaseError>| {
        Case {
        id, level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(60), spec: "§4, §7.1, §7.4", rules: &["R4.a", "R7.1.1", "R7.1.2", "R7.1.3", "R7.4.1", "R7.4.2", "R7.4.3"],
        rule: "One consumer sees every event, in order, intact, across wraps of a ring of this event size and capacity", run,
    }
    };
    let aligned = |id: &'static str, run: fn(&mut Ctx) -> Result<(), CaseError>| {
        Case {
        id, level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(60), spec: "§2, §4", rules: &["R2.a", "R2.c", "R2.2.12", "R4.a"],
        rule: "A consumer reads the slots of a reference ring of this alignment at its payload offset (align_up(56, alignment)): every event intact, in order, across wraps", run,
    }
    };
    vec![
        wrap(
            "spsc.wraparound[size=8,align=8,cap=2]",
            wraparound::<8, 2, 5_000>,
        ),
        wrap(
            "spsc.wraparound[size=64,align=8,cap=1024]",
            wraparound::<64, 1024, 20_000>,
        ),
        wrap(
            "spsc.wraparound[size=4096,align=8,cap=2]",
            wraparound::<4096, 2, 600>,
        ),
        wrap(
            "spsc.wraparound[size=8,align=8,cap=1048576]",
            wraparound::<8, 1_048_576, 1_052_672>,
        ),
        aligned(
            "spsc.aligned[size=64,align=64,cap=1024]",
            aligned_ring::<64, 64, 1024, 3_000>,
        ),
        aligned(
            "spsc.aligned[size=128,align=128,cap=2]",
            aligned_ring::<128, 128, 2, 300>,
        ),
        aligned(
            "spsc.aligned[size=256,align=128,cap=1048576]",
            aligned_ring::<256, 128, 1_048_576, 2_000>,
        ),
    ]
}

/// [`ring_with_consumers`] for one consumer of `size`-byte events.
fn ring_sized(ctx: &mut Ctx, capacity: u64, size: u64) -> Result<(H, H), CaseError> {
    let (p, create) = ctx.producer_async(capacity, size, 1)?;
    let (c, r) = ctx.consumer(0, size, None)?;
    let start = Ctx::expect_ok(&r, "attach_consumer")?.start_seq;
    if start != Some(0) {
        return fail(format!(
            "consumer c_0 of a fresh ring starts at {start:?}, expected 0"
        ));
    }
    Ctx::expect_ok(&ctx.wait(p, create)?, "create_producer")?;
    Ok((p, c))
}

fn wraparound<const SIZE_: u64, const CAP: u64, const EVENTS: u64>(
    ctx: &mut Ctx,
) -> Result<(), CaseError> {
    let (p, c) = ring_sized(ctx, CAP, SIZE_)?;
    let pub_id = ctx.publish_async(p, EVENTS, 1)?;
    let id = ctx.consume_async(c, EVENTS, Mode::Copy)?;
    let got = ctx.wait(c, id)?;
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    Ctx::expect_ok(&got, "consume")?;
    check_delivery(
        &got,
        SIZE_ as usize,
        0,
        EVENTS as i64 - 1,
        &format!("c_0 ({SIZE_}-byte events, capacity {CAP})"),
    )
}

/// A reference ring of `ALIGN`-aligned slots made by the harness, published to by a harness
/// thread (TP1), read by the consumer testee.
fn aligned_ring<const SIZE_: usize, const ALIGN: usize, const CAP: usize, const EVENTS: u64>(
    ctx: &mut Ctx,
) -> Result<(), CaseError> {
    let mut ring = harness_ring(ctx, CAP, SIZE_, ALIGN)?;
    let (c, r) = ctx.consumer(0, SIZE_ as u64, None)?;
    let start = Ctx::expect_ok(&r, "attach_consumer")?.start_seq;
    if start != Some(0) {
        return fail(format!(
            "consumer c_0 of a fresh ring starts at {start:?}, expected 0"
        ));
    }
    // A consumer without a registry slot (disruptor-mp) gates once the producer discovers it.
    ring.wait_for_consumers(1, Duration::from_secs(5))
        .or_else(|e| fail(format!("the harness's producer never saw c_0 join: {e}")))?;
    let deadline = ctx.deadline;
    let publisher = std::thread::spawn(move || {
        let mut n = 0;
        while n < EVENTS {
            match ring.try_publish_with(|slot| drop(ringproof::kit::payload::fill(n, slot))) {
                Ok(_) => n += 1,
                Err(ringproof::Error::Full { .. }) if Instant::now() < deadline => {
                    std::thread::yield_now()
                }
                Err(e) => {
                    return Err(format!(
                        "the harness's publisher stopped after {n} events: {e}"
                    ))
                }
            }
        }
        Ok(ring)
    });
    let id = ctx.consume_async(c, EVENTS, Mode::Copy)?;
    let got = ctx.wait(c, id);
    if got.is_err() {
        ctx.t(c).kill();
    }
    let published = publisher
        .join()
        .map_err(|_| CaseError::Error("the harness's publisher panicked".into()))?;
    let got = got?;
    let _ring = published.map_err(CaseError::Error)?;
    check_delivery(
        &got,
        SIZE_,
        0,
        EVENTS as i64 - 1,
        &format!(
            "c_0 ({SIZE_}-byte events aligned to {ALIGN}, capacity {CAP}, payload at offset {})",
            layout::header::payload_offset(ALIGN)
        ),
    )
}
