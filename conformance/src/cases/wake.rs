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
        Case { id: "wait.killed-parked-consumer-uncounted", level: Required, roles: Pair, producer_needs: &["registry"], consumer_needs: &["registry", "wait-block"], timeout: SECS(30), spec: "§8, §7.10", rules: &["R8.d", "R7.10.c"],
            rule: "A consumer killed while parked in the blocking wait is no longer counted in the registry's `consumers_parked` once the producer retired it, so publishing makes no FUTEX_WAKE for it", run: wait_killed_parked_consumer_uncounted },
        Case { id: "wait.killed-parked-consumer-uncounted-soon", level: Required, roles: Pair, producer_needs: &["registry"], consumer_needs: &["registry", "wait-block"], timeout: SECS(30), spec: "§8, §7.10", rules: &["R8.d", "R7.10.c"],
            rule: "A producer that keeps publishing stops counting a consumer killed while parked within about its liveness interval (10 ms), long before the ring fills: its wake path judges the marked gating consumers", run: wait_killed_parked_consumer_uncounted_soon },
        Case { id: "wait.killed-parked-producer-uncounted", level: Required, roles: Pair, producer_needs: &["registry", "wait-block"], consumer_needs: &["registry"], timeout: SECS(40), spec: "§8, §7.9", rules: &["R7.9.a"],
            rule: "A producer killed while parked for room is no longer counted in the gating consumer cursor's `waiters` once a restart took the ring over, so committing makes no FUTEX_WAKE for it", run: wait_killed_parked_producer_uncounted },
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

/// Starts a producer testee that waits for room in the blocking strategy, on a ring of
/// `capacity`, once a consumer (`c_*`) joined: its handle and the `create_producer` request.
fn start_blocking_producer(ctx: &mut Ctx, capacity: u64) -> Result<(usize, u64), CaseError> {
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
    Ok((h, create))
}

/// A blocking producer and consumer `c_0` on a ring of `capacity`, the ring filled so that the
/// producer's next publish waits for room on `c_0`: the producer's handle, `c_0`'s, and `c_0`'s
/// cursor segment opened for reading its `waiters`.
fn full_ring_behind_blocking_producer(
    ctx: &mut Ctx,
    capacity: u64,
) -> Result<(usize, usize, std::fs::File), CaseError> {
    let (h, create) = start_blocking_producer(ctx, capacity)?;
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
    Ok((h, c, cursor))
}

fn wait_producer_wakes(ctx: &mut Ctx) -> Result<(), CaseError> {
    let capacity = 8u64;
    let (h, c, cursor) = full_ring_behind_blocking_producer(ctx, capacity)?;
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

/// Kills (attempts at) a waiter that parks and wakes every 10 ms backstop: one killed in the
/// microseconds between two sleeps is not counted, and proves nothing.
const KILL_ATTEMPTS: usize = 3;

/// The `u32` at `off` of `f`, if readable.
fn word_u32(f: &std::fs::File, off: u64) -> Option<u32> {
    read_word(f, off).map(|b| u32::from_le_bytes(b[..4].try_into().expect("4 bytes")))
}

/// Registry offsets (SPEC §6): the control block at payload offset 64, slots 128 bytes each;
/// `consumers_parked` at control + 72, a slot's `parked` mark at slot + 44.
const PARKED_AT: u64 = 64 + 72;
const SLOT_PARKED: u64 = 44;
fn slot_at(i: u64) -> u64 {
    64 + 128 * (1 + i)
}

/// The registry slot that holds consumer id `id`, if any.
fn slot_of(registry: &std::fs::File, id: &str) -> Option<u64> {
    let slots = read_word(registry, 32).map(u64::from_le_bytes)?;
    (0..slots.min(4096)).find(|&i| {
        let at = slot_at(i);
        let len = word_u32(registry, at + 40).unwrap_or(0) as usize;
        let mut b = [0u8; 48];
        use std::os::unix::fs::FileExt;
        len == id.len()
            && registry.read_exact_at(&mut b, at + 48).is_ok()
            && &b[..len] == id.as_bytes()
    })
}

/// A ring of `capacity` with c_0 (spinning) and up to [`KILL_ATTEMPTS`] blocking consumers,
/// each parked and killed in turn until one dies parked (counted in `consumers_parked`, its
/// slot marked); every other attempt is killed too (idle: they leave no count). Returns the
/// producer, c_0, the registry and the id of the consumer killed while parked.
fn kill_a_parked_consumer(
    ctx: &mut Ctx,
    capacity: u64,
) -> Result<(usize, usize, std::fs::File, String), CaseError> {
    let mut waits = vec![None];
    waits.extend([Some(Wait::Block); KILL_ATTEMPTS]);
    let (p, cs) = ring_with_consumers(ctx, capacity, 1 + KILL_ATTEMPTS, &waits)?;
    let registry = open_segment(ctx, "_registry", ".registry")?;
    let parked = |r: &std::fs::File| word_u32(r, PARKED_AT).unwrap_or(0);
    let mut killed = None;
    for (k, &c) in cs.iter().enumerate().skip(1) {
        let id = crate::ctx::consumer_id(k);
        let slot = slot_of(&registry, &id)
            .ok_or_else(|| CaseError::Fail(format!("no registry slot holds {id}")))?;
        let mark = |r: &std::fs::File| word_u32(r, slot_at(slot) + SLOT_PARKED).unwrap_or(0);
        // Nothing is published: it parks, and stays parked (but for its backstop wake-ups).
        ctx.consume_idle(c, 1, Mode::Copy, 20_000)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while !(parked(&registry) == 1 && mark(&registry) != 0) {
            if Instant::now() >= deadline {
                return fail(format!("{id}, waiting in the blocking strategy on a ring nobody publishes on, was not seen parked within 5 s: `consumers_parked` {} and its slot's `parked` mark {} (SPEC §8 R8.1, R8.d: count, then mark the slot with the park token)", parked(&registry), mark(&registry)));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        ctx.t(c).kill();
        match (parked(&registry), mark(&registry)) {
            (1, m) if m != 0 => {
                killed = Some(id);
                break;
            }
            // Killed awake, between two sleeps: nothing to take back; try the next one.
            (0, 0) => continue,
            (n, m) => return fail(format!("{id} killed: `consumers_parked` {n} with its slot's mark {m}: a count without a mark (or the reverse) cannot be taken back exactly once (SPEC §8 R8.d)")),
        }
    }
    let Some(id) = killed else {
        return fail(format!("none of {KILL_ATTEMPTS} consumers was killed while parked (each time between two sleeps)"));
    };
    // The attempts not needed read nothing and would gate the producer forever: they go too
    // (idle, not parked: they leave no count).
    for &c in &cs[1..] {
        ctx.t(c).kill();
    }
    Ok((p, cs[0], registry, id))
}

fn wait_killed_parked_consumer_uncounted(ctx: &mut Ctx) -> Result<(), CaseError> {
    let capacity = 16u64;
    let (p, c0, registry, id) = kill_a_parked_consumer(ctx, capacity)?;
    // The killed consumers gate until the producer, blocked one ring in, retires them.
    let events = 4 * capacity;
    let pub_id = ctx.publish_async(p, events, 1)?;
    let got_id = ctx.consume_async(c0, events, Mode::Batch)?;
    let got = ctx.wait(c0, got_id)?;
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish past the killed consumers")?;
    check_delivery(&got, SIZE as usize, 0, events as i64 - 1, "c_0")?;
    // The retirement happened before the publish went past the dead consumer's cursor.
    let n = word_u32(&registry, PARKED_AT).unwrap_or(0);
    if n != 0 {
        return fail(format!("the producer retired {id}, which was killed while parked, but `consumers_parked` is still {n}: every publish now makes a FUTEX_WAKE for nobody (SPEC §8 R8.d: whoever retires a slot takes its park mark and count back)"));
    }
    Ok(())
}

/// How long a producer that keeps publishing may keep counting a consumer killed while parked:
/// it looks every 10 ms (SPEC §8 R8.d); the rest is slack for a loaded machine.
const PARKED_LOOK_BOUND: Duration = Duration::from_secs(2);

fn wait_killed_parked_consumer_uncounted_soon(ctx: &mut Ctx) -> Result<(), CaseError> {
    // A ring far larger than what is published: the producer never waits for room, so only
    // its look from the wake path can retire the dead parker.
    let capacity = 4096u64;
    let (p, c0, registry, id) = kill_a_parked_consumer(ctx, capacity)?;
    let start = Instant::now();
    let mut published = 0u64;
    while word_u32(&registry, PARKED_AT).unwrap_or(0) != 0 {
        if start.elapsed() >= PARKED_LOOK_BOUND || published + 8 > capacity / 2 {
            return fail(format!("{id} was killed while parked; {published} events published one by one over {:.0?} later `consumers_parked` still counts it: every publish makes a FUTEX_WAKE for nobody until the ring fills (SPEC §8 R8.d: a producer whose wake word is non-zero judges the marked gating consumers every 10 ms and retires the dead)", start.elapsed()));
        }
        let id = ctx.publish_async(p, 1, 1)?;
        Ctx::expect_ok(&ctx.wait(p, id)?, "publish")?;
        published += 1;
    }
    let got_id = ctx.consume_async(c0, published, Mode::Batch)?;
    let got = ctx.wait(c0, got_id)?;
    check_delivery(&got, SIZE as usize, 0, published as i64 - 1, "c_0")?;
    Ok(())
}

fn wait_killed_parked_producer_uncounted(ctx: &mut Ctx) -> Result<(), CaseError> {
    let capacity = 8u64;
    let (mut h, c, cursor) = full_ring_behind_blocking_producer(ctx, capacity)?;
    let waiters = |f: &std::fs::File| word_u32(f, 72).unwrap_or(0);
    let mut killed_parked = false;
    for attempt in 0..KILL_ATTEMPTS {
        if attempt > 0 {
            // The previous producer was killed awake: restart it, blocking again.
            let (next, create) = start_blocking_producer(ctx, capacity)?;
            h = next;
            Ctx::expect_ok(&ctx.wait(h, create)?, "restart the producer")?;
        }
        // The ring is full: this publish parks for room on c_0's cursor.
        ctx.publish_async(h, 1, 1)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while waiters(&cursor) == 0 {
            if Instant::now() >= deadline {
                return fail("a producer waiting for room in the blocking strategy was not seen announced in the gating consumer cursor's `waiters` within 5 s (SPEC §8 R8.1, R8.c)");
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        ctx.t(h).kill();
        if waiters(&cursor) != 0 {
            killed_parked = true;
            break;
        }
    }
    if !killed_parked {
        return fail(format!("none of {KILL_ATTEMPTS} producers was killed while parked (each time between two sleeps)"));
    }
    let (_p, r) = ctx.producer(capacity, SIZE, None)?;
    if let Err((kind, m)) = &r.result {
        return fail(format!(
            "restarting the producer of a ring whose producer died was refused: {kind:?} ({m})"
        ));
    }
    let n = waiters(&cursor);
    if n != 0 {
        return fail(format!("the restart took the ring over from a producer killed while parked for room, but c_0's cursor `waiters` is still {n}: every commit of c_0 now makes a FUTEX_WAKE for nobody (SPEC §7.9 R7.9.a)"));
    }
    let id = ctx.consume_idle(c, capacity, Mode::Copy, 5_000)?;
    check_delivery(
        &ctx.wait(c, id)?,
        SIZE as usize,
        0,
        capacity as i64 - 1,
        "c_0",
    )
}
