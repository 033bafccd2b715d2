//! Gating (SPEC.md §7.2): the producer may publish sequence `s` only when every gating
//! consumer has consumed `s - capacity`. It caches `limit = min(gating cursors) + capacity` and
//! rescans only when a claim would pass it. Here: the rescan, the gate set (registry members and
//! discovered foreign cursors), waiting for room, and the liveness verdicts on gating consumers
//! while blocked (§7.10).

use super::{Gate, RawProducer};
use crate::cursor::Cursor;
use crate::error::Result;
use crate::layout::registry::SlotState;
use crate::liveness::{self, Verdict, LIVENESS_CHECK};
use crate::protocol;
use crate::wait::{Paused, WaitStrategy, Waiter};
use std::time::{Duration, Instant};

/// Polls of a producer waiting for room per full look (membership, heartbeat, liveness, the
/// clock): at a pause per poll, a few microseconds apart at most.
const POLLS_PER_LOOK: u32 = 64;

impl RawProducer {
    /// The slowest gating consumer's cursor, after a fresh rescan (`last_published` if none).
    pub fn min_gating_sequence(&mut self) -> i64 {
        self.last_discovery = None;
        self.rescan();
        self.limit - self.capacity as i64
    }

    /// Slow path: rescan, then wait on the slowest consumer until `seq` fits.
    #[cold]
    #[inline(never)]
    pub(super) fn wait_for_room(&mut self, seq: i64) -> Result<()> {
        self.wait_until_limit(seq, None).map(drop)
    }

    /// Waits until every gating consumer has consumed everything published so far, or
    /// `timeout` passes (returns `false`). Dead consumers stop gating and required ones are
    /// watched, as in a blocked publish. For a clean shutdown that loses nothing.
    ///
    /// # Errors
    ///
    /// Only [`Error::GracefulShutdown`](crate::Error::GracefulShutdown): while it waited for room,
    /// a required consumer stalled past its grace period under `LivenessAction::GracefulShutdown`.
    pub fn drain(&mut self, timeout: Duration) -> Result<bool> {
        let target = self.next - 1 + self.capacity as i64;
        self.wait_until_limit(target, Some(Instant::now() + timeout))
    }

    /// Rescans and waits on the slowest consumer until `limit >= target`. Every check interval
    /// while blocked, it looks at the gating consumers' liveness (SPEC.md §7.10).
    fn wait_until_limit(&mut self, target: i64, deadline: Option<Instant>) -> Result<bool> {
        // A producer that waits shows every event it published in its counters.
        self.count_visible();
        let mut waiter = Waiter::new(self.wait);
        if let Some(r) = self.required.as_mut() {
            r.begin_wait();
        }
        let (mut counted, mut first) = (false, true);
        let (mut polls, mut paused) = (0u32, Paused::Spun);
        loop {
            // A look (a rescan: membership and foreign discovery) on the first poll, every
            // `POLLS_PER_LOOK`-th and after any pause longer than one spin hint (one that gave
            // the CPU away, or a back-off's timed spin); the polls between only reload the
            // gating cursors. A spinning producer's round is then a load and a pause, so it sees
            // room as soon as the pause allows. The clock (heartbeat, liveness) waits for a look
            // that is not the first: a wait that ends within its first
            // `POLLS_PER_LOOK` polls (a ring full for a moment, as it is before every publish
            // of a producer faster than its consumers) reads none, and its publish beats after
            // its cursor store (`room_past_limit`).
            let look = polls % POLLS_PER_LOOK == 0
                || paused != Paused::Spun
                || matches!(self.wait, WaitStrategy::Backoff { .. });
            polls = polls.wrapping_add(1);
            if look {
                self.rescan_without_beat();
            } else {
                self.recompute_limit();
            }
            if protocol::within_limit(target, self.limit) {
                return Ok(true);
            }
            if let (false, Some(c)) = (counted, &self.counters) {
                c.full.increment();
                counted = true;
            }
            if look {
                // A deadline (`drain`) is checked from the first look on: a drain with a zero
                // timeout answers at once.
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(false);
                }
                if !first {
                    self.beat();
                    self.check_liveness()?;
                }
            }
            first = false;
            paused = self.pause_for_room(&mut waiter);
        }
    }

    /// One pause of a producer waiting for room: a parking strategy parks on the slowest
    /// consumer's cursor (no slot mark: the producer parks on the cursor's own `waiters`, and a
    /// restart zeroes what a dead producer left there, SPEC.md §7.9); the others pause as
    /// their strategy says.
    fn pause_for_room(&mut self, waiter: &mut Waiter) -> Paused {
        if self.wait == WaitStrategy::BusySpin {
            crate::sync::spin_hint();
            return Paused::Spun;
        }
        let observed = self.limit - self.capacity as i64;
        let Some(g) = self.gates.iter().find(|g| g.cursor.load() == observed) else {
            // The slowest consumer moved since the rescan: look again at once.
            crate::sync::spin_hint();
            return Paused::Spun;
        };
        let cell = g.cursor.cell();
        let paused = waiter.pause(&cell.value, &cell.waiters, None, observed, || true);
        if paused == Paused::Parked {
            if let Some(c) = &self.counters {
                c.park.increment();
                c.unpark.increment();
            }
        }
        paused
    }

    /// Dead gating consumers stop gating (required ones: per the liveness action); stalled
    /// required ones raise an alert, then the action after the grace period.
    fn check_liveness(&mut self) -> Result<()> {
        let now = Instant::now();
        let interval = self
            .required
            .as_ref()
            .map_or(LIVENESS_CHECK, |r| r.config.progress_check_interval);
        if !liveness::due(&mut self.last_check, now, interval) {
            return Ok(());
        }
        let published = self.next - 1;
        let (mut retired, mut evicted) = (0u64, 0u64);
        let alerts_before = self.required.as_ref().map_or(0, |r| r.alerts);
        let mut verdict = Ok(());
        for g in &self.gates {
            // A foreign (disruptor-mp) gate has no registry slot: no pid to judge, no slot to
            // retire; a required one is still watched for stalls.
            let alive = g
                .slot
                .is_none_or(|(slot, _)| self.registry.slot_owner_alive(slot));
            let value = g.cursor.load();
            match self.required.as_mut().filter(|r| {
                r.config.ids.contains(&g.id) && !mutant!("producer.retire-required-dead")
            }) {
                Some(r) => match r.observe(&g.id, value, published, alive, now) {
                    Ok(Verdict::Evict) if mutant!("producer.evict-ignored") => {}
                    Ok(Verdict::Evict) => {
                        if let Some((slot, incarnation)) = g.slot {
                            evicted += u64::from(self.registry.retire(
                                slot,
                                incarnation,
                                SlotState::Evicted,
                            ));
                        }
                    }
                    Ok(Verdict::Wait) => {}
                    Err(e) => {
                        verdict = Err(e);
                        break;
                    }
                },
                None if mutant!("producer.no-retire-dead") => {}
                None => {
                    if let (false, Some((slot, incarnation))) = (alive, g.slot) {
                        retired +=
                            u64::from(self.registry.retire(slot, incarnation, SlotState::Dead));
                    }
                }
            }
        }
        if let Some(c) = &self.counters {
            c.dead_peers.add(retired);
            c.evictions.add(evicted);
            c.liveness_alerts
                .add(self.required.as_ref().map_or(0, |r| r.alerts) - alerts_before);
        }
        verdict?;
        if retired + evicted > 0 {
            // The retirement is ordered before any slot this producer rewrites from here on, so
            // a consumer that reads such a slot and then checks its state sees EVICTED (SPEC.md
            // §7.10).
            protocol::evictions_before_rewrites();
            self.rescan();
        }
        Ok(())
    }

    /// The wake word was non-zero after a cursor store: a consumer parked, or one killed while
    /// parked left its count behind, and every store makes a `FUTEX_WAKE` until someone takes
    /// it back (SPEC.md §8 R8.d). At most once per [`LIVENESS_CHECK`], the gating consumers whose
    /// slot holds a park mark are judged, and the dead ones retired (which takes their count
    /// back), so that such a death costs at most that long of wake-ups instead of lasting until
    /// the producer next waits for room, a ring's worth of events later. Required consumers are
    /// left to the wait for room, where their liveness action applies (§7.10).
    #[cold]
    #[inline(never)]
    pub(super) fn look_at_parked(&mut self) {
        if !liveness::due(&mut self.last_parked_look, Instant::now(), LIVENESS_CHECK) {
            return;
        }
        let mut retired = 0u64;
        for g in &self.gates {
            let Some((slot, incarnation)) = g.slot else {
                continue;
            };
            let required = self
                .required
                .as_ref()
                .is_some_and(|r| r.config.ids.contains(&g.id));
            if required || !protocol::holds_park_mark(self.registry.slot(slot)) {
                continue;
            }
            if !self.registry.slot_owner_alive(slot) {
                retired += u64::from(self.registry.retire(slot, incarnation, SlotState::Dead));
            }
        }
        if retired > 0 {
            if let Some(c) = &self.counters {
                c.dead_peers.add(retired);
            }
            // As after any retirement: ordered before every slot this producer rewrites from
            // here on (§7.10). The limit moves at the next rescan.
            protocol::evictions_before_rewrites();
        }
    }

    /// Recomputes `limit` from the gating cursors, refreshing the gate set if membership changed.
    pub(super) fn rescan(&mut self) {
        self.beat();
        self.rescan_without_beat();
    }

    /// [`rescan`](Self::rescan) without the heartbeat (and so without the clock), for a publish
    /// that beats after its cursor store instead (`room_past_limit`).
    pub(super) fn rescan_without_beat(&mut self) {
        // Deferred (coalesced) events become visible first: the join handshake (SPEC.md §7.3)
        // reasons about the stored cursor, so it must equal the last published sequence here.
        self.flush();
        self.gates_mapped = self.refresh_gates();
        self.recompute_limit();
    }

    /// `limit` from the gates as they are mapped now: the part of a rescan a producer waiting
    /// for room repeats on every poll (a load per gating cursor, no clock, no registry look).
    fn recompute_limit(&mut self) {
        let published = self.next - 1;
        let limit = protocol::limit(
            self.gates.iter().map(|g| clamp_gate(g, published)),
            published,
            self.capacity,
        );
        // A consumer that joined but whose cursor could not be mapped (out of file descriptors,
        // say) gates at a position we cannot read: publish nothing new until it is mapped.
        self.limit = if self.gates_mapped {
            limit
        } else {
            limit.min(published)
        };
        if self.gates.is_empty() && mutant!("producer.gates-when-alone") {
            self.limit = self.capacity as i64 - 1;
        }
        if mutant!("producer.gate-off-by-one") {
            self.limit += 1;
        }
        if mutant!("producer.no-gating") {
            self.limit = published + self.capacity as i64 * 1024;
        }
    }

    /// Records the producer's heartbeat, at most once per [`LIVENESS_CHECK`]. Out of line: a
    /// single-event publish calls it after a rescan, from its inlined hot path.
    #[cold]
    #[inline(never)]
    pub(super) fn beat(&mut self) {
        if liveness::due(&mut self.last_beat, Instant::now(), LIVENESS_CHECK) {
            self.registry.producer_beat();
        }
    }

    /// Maps the cursors of consumers that joined, drops those that left (registry generation
    /// changed), and probes for foreign consumers when the discovery interval has passed.
    /// Returns whether every gating consumer's cursor is mapped.
    pub(super) fn refresh_gates(&mut self) -> bool {
        // Pairs with the joiner's fence after its generation bump (SPEC.md §7.3): either we see
        // the joiner, or the joiner sees our latest cursor store.
        let generation = protocol::membership_generation(self.registry.control());
        if generation != self.seen_generation {
            let active = self.registry.active();
            self.gates.retain(|g| match g.slot {
                Some((slot, inc)) => active
                    .iter()
                    .any(|p| p.slot == slot && p.incarnation == inc),
                None => !active.iter().any(|p| p.id == g.id),
            });
            let mut complete = true;
            for p in active {
                if self
                    .gates
                    .iter()
                    .any(|g| g.slot == Some((p.slot, p.incarnation)))
                {
                    continue;
                }
                match Cursor::open(&self.name.consumer_cursor(&p.id), "consumer cursor") {
                    Ok(cursor) => self.gates.push(Gate {
                        slot: Some((p.slot, p.incarnation)),
                        id: p.id,
                        cursor,
                    }),
                    Err(_) => complete = false,
                }
            }
            if complete {
                self.seen_generation = generation;
            }
        }
        self.discover_foreign();
        self.seen_generation == generation
    }

    fn discover_foreign(&mut self) {
        let Some(d) = &self.discovery else { return };
        if mutant!("producer.no-foreign-discovery") {
            return;
        }
        if !liveness::due(&mut self.last_discovery, Instant::now(), d.interval) {
            return;
        }
        let epoch = self.registry.epoch();
        for k in 0..d.max {
            let id = format!("{}_{k}", d.prefix);
            if self.gates.iter().any(|g| g.id == id) {
                continue;
            }
            if let Ok(cursor) = Cursor::open(&self.name.consumer_cursor(&id), "consumer cursor") {
                // Epoch 0: a disruptor-mp consumer. Ours (registered) are gated through the
                // registry; another non-zero epoch is a leftover of an earlier ring.
                if (protocol::cursor_epoch(cursor.cell()) == 0
                    || mutant!("producer.stale-epoch-gating"))
                    && epoch != 0
                {
                    self.gates.push(Gate {
                        slot: None,
                        id,
                        cursor,
                    });
                }
            }
        }
    }
}

/// A gate's effective position. A foreign cursor can hold a value left by an earlier run; it
/// never lets the producer run ahead of what it has itself published.
fn clamp_gate(g: &Gate, published: i64) -> i64 {
    let v = protocol::gate_position(g.cursor.cell());
    if g.slot.is_none() {
        v.min(published)
    } else {
        v
    }
}
