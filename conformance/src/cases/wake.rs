//! Cases about the blocking wait strategy: a parked consumer is woken by the publish, a parked
//! producer by the gating consumer's commit, each well before the 10 ms backstop (SPEC.md §8).

use super::*;

pub(super) fn cases() -> Vec<Case> {
    use Level::*;
    use Roles::*;
    vec![
        Case { id: "wait.wake-latency", level: Recommended, roles: Pair, producer_needs: &[], consumer_needs: &["wait-block"], timeout: SECS(30), spec: "§8, §7.1 step 4", rules: &["R8.1", "R8.3", "R8.4", "R8.a", "R8.c", "R7.1.4"],
            rule: "A consumer parked in the blocking wait is woken by the publish (median delivery well under the 10 ms backstop), not by its backstop", run: wait_wake_latency },
        Case { id: "wait.producer-wakes", level: Recommended, roles: Pair, producer_needs: &["wait-block"], consumer_needs: &[], timeout: SECS(30), spec: "§8, §7.4 step 4", rules: &["R8.1", "R8.3", "R8.4", "R8.a", "R8.c", "R7.4.4"],
            rule: "A producer parked in the blocking wait for room is woken by the gating consumer's commit (median well under the 10 ms backstop)", run: wait_producer_wakes },
    ]
}

/// How far below the 10 ms backstop a woken sleeper must be delivered (median).
const WAKE_BOUND: Duration = Duration::from_millis(4);
const WAKE_ROUNDS: usize = 7;

/// Whether some thread of `pid` is in the futex system call (x86_64: 202, aarch64: 98).
fn in_futex(pid: u32) -> bool {
    let nr = if cfg!(target_arch = "aarch64") {
        "98"
    } else {
        "202"
    };
    let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    rd.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("syscall"))
            .is_ok_and(|s| s.split_whitespace().next() == Some(nr))
    })
}

/// Waits until the waiter whose wake word is at `at` in `f` is parked: the word is non-zero, or
/// (a waiter that does not announce itself) `pid` sleeps in futex. Returns how.
fn await_parked(f: &std::fs::File, at: u64, pid: u32) -> &'static str {
    let announced = || {
        read_word(f, at)
            .is_some_and(|b| u32::from_le_bytes(b[..4].try_into().expect("4 bytes")) != 0)
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if announced() {
            return "announced in its wake word";
        }
        if in_futex(pid) {
            // Parked without announcing (or about to): give a wake-word store a moment to show.
            let t = Instant::now();
            while t.elapsed() < Duration::from_micros(500) {
                if announced() {
                    return "announced in its wake word";
                }
            }
            return "in futex, wake word 0";
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    "not seen parked within 2 s"
}

/// Spins until the cursor value in `f` differs from `from`; returns when that was seen.
fn await_store(f: &std::fs::File, from: i64, deadline: Instant) -> Option<Instant> {
    while Instant::now() < deadline {
        if read_word(f, 64).is_some_and(|b| i64::from_le_bytes(b) != from) {
            return Some(Instant::now());
        }
    }
    None
}

/// The distinct ways a waiter was seen parked, in order.
fn distinct(how: &[&'static str]) -> String {
    let mut d: Vec<&str> = Vec::new();
    for h in how {
        if !d.contains(h) {
            d.push(h);
        }
    }
    d.join("; ")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn wait_wake_latency(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (p, cs) = ring_with_consumers(ctx, 64, 1, &[Some(Wait::Block)])?;
    let cursor = open_segment(ctx, "_producer_seq", ".producer.cursor")?;
    // A consumer parked on the producer cursor announces itself in the registry control
    // block's `consumers_parked` (SPEC §8 {R8.c}): payload offset 64 + control offset 72.
    let registry = open_segment(ctx, "_registry", ".registry")?;
    let pid = ctx.t(cs[0]).pid();
    let (mut lat, mut how) = (Vec::new(), Vec::new());
    for round in 0..WAKE_ROUNDS as i64 {
        let id = ctx.consume_idle(cs[0], 1, Mode::Copy, 5_000)?;
        how.push(await_parked(&registry, 64 + 72, pid));
        let pub_id = ctx.publish_async(p, 1, 1)?;
        let stored = await_store(&cursor, round - 1, ctx.deadline)
            .ok_or_else(|| CaseError::Timeout("the producer never stored its cursor".into()))?;
        let got = ctx.wait(cs[0], id)?;
        lat.push(stored.elapsed());
        Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
        check_delivery(&got, SIZE as usize, round, round, "blocking c_0")?;
    }
    let m = median(lat.clone());
    ctx.notes.push(format!(
        "wake latencies {lat:?} (median {m:?}); the consumer was {}",
        distinct(&how)
    ));
    if m > WAKE_BOUND {
        return fail(format!(
            "a consumer parked in the blocking wait ({}) took a median {m:?} from the producer's cursor store to delivery over {WAKE_ROUNDS} rounds ({lat:?}); expected under {WAKE_BOUND:?}: the store must FUTEX_WAKE a sleeper that announced itself in the registry's `consumers_parked` (SPEC §8, §7.1 step 4), the 10 ms backstop is only for missed wakes",
            distinct(&how)
        ));
    }
    Ok(())
}

fn wait_producer_wakes(ctx: &mut Ctx) -> Result<(), CaseError> {
    let capacity = 8u64;
    let h = ctx.start_producer_testee("producer")?;
    let ring = ctx.ring.clone();
    let create = ctx.send(h, |id| {
        Command::create_producer(ring, capacity, SIZE)
            .wait_consumers(crate::protocol::WaitConsumers {
                min: 1,
                timeout_ms: 10_000,
            })
            .discover("c", 8)
            .wait(Wait::Block)
            .command(id)
    })?;
    let (c, r) = ctx.consumer(0, SIZE, None)?;
    Ctx::expect_ok(&r, "attach_consumer")?;
    Ctx::expect_ok(&ctx.wait(h, create)?, "create_producer")?;
    Ctx::expect_ok(
        &ctx.request(h, |id| Command::Publish {
            id,
            count: capacity,
            batch: None,
        })?,
        "publish (fill the ring)",
    )?;
    let cursor = open_segment(ctx, "_c_0_seq", ".consumers/c_0.cursor")?;
    let pid = ctx.t(h).pid();
    let (mut lat, mut how) = (Vec::new(), Vec::new());
    for round in 0..WAKE_ROUNDS as i64 {
        // The ring is full: this publish waits for c_0 to free a slot.
        let pub_id = ctx.publish_async(h, 1, 1)?;
        how.push(await_parked(&cursor, 72, pid));
        let id = ctx.consume_idle(c, 1, Mode::Copy, 5_000)?;
        let stored = await_store(&cursor, round - 1, ctx.deadline)
            .ok_or_else(|| CaseError::Timeout("the consumer never committed".into()))?;
        let published = ctx.wait(h, pub_id)?;
        lat.push(stored.elapsed());
        Ctx::expect_ok(&published, "publish")?;
        check_delivery(&ctx.wait(c, id)?, SIZE as usize, round, round, "c_0")?;
    }
    let m = median(lat.clone());
    ctx.notes.push(format!(
        "producer wake latencies {lat:?} (median {m:?}); the producer was {}",
        distinct(&how)
    ));
    if m > WAKE_BOUND {
        return fail(format!(
            "a producer parked in the blocking wait for room ({}) took a median {m:?} from the consumer's commit to its publish returning over {WAKE_ROUNDS} rounds ({lat:?}); expected under {WAKE_BOUND:?}: the commit must FUTEX_WAKE a producer that announced itself in the consumer cursor's `waiters` (SPEC §8, §7.4 step 4)",
            distinct(&how)
        ));
    }
    Ok(())
}
