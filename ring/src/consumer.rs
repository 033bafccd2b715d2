//! A consumer: sees every event in order, commits its cursor so the producer can reuse slots.
//!
//! Joining (SPEC.md §6.2) is a handshake with the producer's gating rescan, so a consumer never
//! reads a slot the producer may overwrite: write the cursor, join the registry (generation
//! bump, full fence), re-read the producer cursor, and start after it.

use crate::counters::{register_consumer, ConsumerCounters, Counters};
use crate::cursor::{position as sequence_read, Cursor};
use crate::error::{Error, Result};
use crate::layout::cursor::{INITIAL_SEQUENCE, JOINED, JOINING, REJOINING};
use crate::layout::registry::{owner_word, SLOT_ACTIVE, SLOT_DEAD, SLOT_EVICTED};
use crate::layout::{header::MIN_ALIGNMENT, Expect, SegmentKind};
use crate::names::{validate_consumer_id, RingName};
use crate::registry::{Join, Registry};
use crate::segment::{self, Segment};
use crate::sync::{fence, Ordering};
use crate::wait::{Paused, WaitStrategy, Waiter};
use crate::{futex, process, protocol};
use crate::liveness::LIVENESS_CHECK;
use bytemuck::Pod;
use std::marker::PhantomData;
use std::time::Duration;

/// How long a consumer joining a disruptor-mp ring waits for that producer's name-probing
/// discovery to find its cursor before choosing where to start (2.5 x its 10 ms default).
pub const FOREIGN_JOIN_SETTLE: Duration = Duration::from_millis(25);

/// What a consumer does when its committed cursor fell behind what the ring still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnLapped {
    /// Fail with [`Error::Lapped`], naming the missed sequences.
    #[default]
    Fail,
    /// Skip to the next unpublished sequence.
    Resync,
}

/// Configures and attaches a consumer.
#[derive(Debug, Clone)]
pub struct ConsumerBuilder {
    name: RingName,
    id: String,
    wait: WaitStrategy,
    attach_timeout: Duration,
    on_lapped: OnLapped,
}

impl ConsumerBuilder {
    /// Consumer `id` of ring `name`: spin-then-yield waiting, 5 s to find the ring.
    pub fn new(name: RingName, id: &str) -> Self {
        Self {
            name,
            id: id.to_owned(),
            wait: WaitStrategy::default(),
            attach_timeout: Duration::from_secs(5),
            on_lapped: OnLapped::Fail,
        }
    }

    /// How blocking reads wait for events.
    pub fn wait(mut self, wait: WaitStrategy) -> Self {
        self.wait = wait;
        self
    }

    /// How long to wait for the ring to appear (0: fail at once if it is missing).
    pub fn attach_timeout(mut self, timeout: Duration) -> Self {
        self.attach_timeout = timeout;
        self
    }

    /// What to do if the committed cursor was lapped while this consumer was away.
    pub fn on_lapped(mut self, on_lapped: OnLapped) -> Self {
        self.on_lapped = on_lapped;
        self
    }

    /// Attaches to a ring of `E` events.
    pub fn attach<E: Pod>(self) -> Result<Consumer<E>> {
        let expect = Expect {
            kind: SegmentKind::Ring,
            element_size: Some(std::mem::size_of::<E>() as u64),
            capacity: None,
            min_alignment: std::mem::align_of::<E>().max(MIN_ALIGNMENT),
        };
        Ok(Consumer { raw: RawConsumer::attach(self, expect)?, _event: PhantomData })
    }

    /// Attaches to a ring of `element_size`-byte events.
    pub fn attach_raw(self, element_size: usize) -> Result<RawConsumer> {
        let expect = Expect { element_size: Some(element_size as u64), ..Expect::kind(SegmentKind::Ring) };
        RawConsumer::attach(self, expect)
    }

    /// Attaches to a ring of whatever event size it has.
    pub fn attach_any(self) -> Result<RawConsumer> {
        RawConsumer::attach(self, Expect::kind(SegmentKind::Ring))
    }
}

/// A consumer of raw events.
#[derive(Debug)]
pub struct RawConsumer {
    name: RingName,
    id: String,
    _ring: Segment,
    slots: *const u8,
    element_size: usize,
    capacity: usize,
    mask: i64,
    producer: Cursor,
    cursor: Cursor,
    registry: Option<Registry>,
    slot: Option<usize>,
    /// Our owner word in that slot, as the join stored it (a leave frees only a slot still ours).
    owner: u64,
    /// Next sequence to read.
    next: i64,
    /// Highest sequence known published.
    available: i64,
    wait: WaitStrategy,
    /// When the producer's liveness was last looked at (and this consumer last beat).
    last_check: Option<std::time::Instant>,
    /// Producer-cursor refreshes, to beat every so many while busy.
    refreshes: u32,
    /// Empty polls since the last clock read, and whether a wait slept (yielded, parked) since:
    /// a clock read costs more than the rest of an empty poll, so a spinning consumer reads the
    /// clock for its liveness look once per [`IDLE_POLLS_PER_CLOCK`] empty polls, and after
    /// every sleep.
    idle_polls: u32,
    waited: bool,
    /// Live counters, when the ring has a counters segment with room.
    counters: Option<ConsumerCounters>,
}

// SAFETY: pointers into this consumer's own mappings; moved, not shared.
unsafe impl Send for RawConsumer {}

/// The least time a joiner waits for the join lock (SPEC.md §7.3), whatever its attach
/// timeout: a join holds it for microseconds, so one held this long has a stopped holder.
const JOIN_LOCK_WAIT: Duration = Duration::from_secs(1);
/// How long a leaving consumer waits for the join lock before it leaves without it.
const LEAVE_LOCK_WAIT: Duration = Duration::from_millis(200);

/// How long an attaching consumer lets an unfinished cursor segment's creator (an earlier
/// incarnation under the same id) finish before it judges it dead.
const CURSOR_CREATOR_GRACE: Duration = Duration::from_millis(100);
/// Empty polls of a spinning consumer per clock read for its liveness look (see
/// `RawConsumer::idle_polls`): at tens of nanoseconds a poll, the look is a few microseconds late
/// at most, and a poll that finds nothing costs no clock read.
const IDLE_POLLS_PER_CLOCK: u32 = 64;

/// The longest a waiting consumer on a ringproof ring sleeps between two looks (and so between
/// two heartbeats): a quarter of the heartbeat timeout (SPEC.md §6.2).
const MAX_QUIET: Duration = Duration::from_millis(process::HEARTBEAT_TIMEOUT.as_millis() as u64 / 4);

/// `wait` with its sleeps (a sleep strategy's period, a blocking strategy's backstop) capped at
/// [`MAX_QUIET`].
fn cap_sleeps(wait: WaitStrategy) -> WaitStrategy {
    match wait {
        WaitStrategy::Sleep(d) => WaitStrategy::Sleep(d.min(MAX_QUIET)),
        WaitStrategy::Blocking { spins, backstop } => WaitStrategy::Blocking { spins, backstop: backstop.min(MAX_QUIET) },
        w => w,
    }
}

/// Set once this process saw its producer gone (only read by a planted defect).
static GONE_ONCE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl RawConsumer {
    fn attach(b: ConsumerBuilder, expect: Expect) -> Result<RawConsumer> {
        validate_consumer_id(&b.id)?;
        futex::register_membarrier();
        crate::failpoint::arm_from_env();
        let deadline = std::time::Instant::now() + b.attach_timeout;
        let ring = Segment::open_waiting(&b.name.ring(), "ring", &expect, b.attach_timeout)?;
        // disruptor-mp creates its producer cursor after the ring: wait for it too.
        let producer = Cursor::open_waiting(
            &b.name.producer_cursor(),
            "producer cursor",
            deadline.saturating_duration_since(std::time::Instant::now()),
        )?;
        let registry = match Registry::open(&b.name.registry()) {
            Ok(r) => Some(r),
            // No registry: a disruptor-mp producer. Join its way (cursor only).
            Err(Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let epoch = registry.as_ref().map_or(0, Registry::epoch);
        let g = *ring.geometry();
        let path = b.name.consumer_cursor(&b.id);
        // Joins (and leaves) of a ring happen one at a time, under the registry's lock, held
        // until the handshake is done (SPEC.md §7.3): looking the id up and taking a slot are
        // one step for every other joiner, and a joiner refused as *id in use* is refused here,
        // before it touches the cursor that the id's owner uses.
        let join_lock = match &registry {
            Some(reg) => {
                let lock = reg.lock_joins(b.name.name(), deadline.max(std::time::Instant::now() + JOIN_LOCK_WAIT))?;
                if let Err(e) = reg.check_id(&b.id) {
                    if mutant!("consumer.refused-join-touches-cursor") {
                        if let Ok(c) = Cursor::open(&path, "consumer cursor") {
                            c.cell().value.store(-1, Ordering::Release);
                        }
                    }
                    return Err(e);
                }
                Some(lock)
            }
            None => None,
        };

        // 1. Our cursor: resume from it if it belongs to this ring, else start at the head.
        let head = producer.load_position("producer cursor")?;
        let (cursor, created) = match Cursor::create(&path, "consumer cursor", head, epoch) {
            Ok(c) => (c, true),
            Err(Error::AlreadyExists { .. }) => {
                let found = segment::identity_of(&path);
                match Cursor::open_waiting(&path, "consumer cursor", CURSOR_CREATOR_GRACE) {
                    Ok(c) => (c, false),
                    // Unfinished for the whole grace period: a disruptor-mp consumer with our id
                    // died while creating it (ringproof's are never visible unfinished, §3.2);
                    // nothing ever read through it. Unless another ring may own the name
                    // (§3.5): then it is not ours to remove.
                    Err(e) if segment::unfinished(&e) && !mutant!("consumer.unfinished-cursor-kept") => {
                        if let Some(other) = b.name.existing_cursor_alias(&b.id) {
                            return Err(Error::NameAlias { ring: b.name.name().to_owned(), id: b.id.clone(), other: other.name().to_owned(), segment: path.to_string() });
                        }
                        if let Some(found) = found {
                            segment::unlink_if_same(&path, found)?;
                        }
                        (Cursor::create(&path, "consumer cursor", head, epoch)?, true)
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        // Whatever fails from here removes the cursor only if we created it, and only that
        // object (an existing one is the id's: a dead incarnation's, to resume from).
        let joined = Self::join(&b, &cursor, created, epoch, head, &producer, registry.as_ref());
        if joined.is_err() && created {
            let _ = cursor.segment().unlink_name();
        }
        let (resume_from, joined) = joined?;
        drop(join_lock);
        // Observability only: no segment (a disruptor-mp ring) or no room means no counters.
        let counters = Counters::open(&b.name.counters()).ok().and_then(|c| register_consumer(&c, &b.id).ok());
        Ok(RawConsumer {
            name: b.name,
            id: b.id,
            // SAFETY (mutant only): the header's 56 bytes are mapped.
            slots: if mutant!("consumer.alignment-ignored") { unsafe { ring.base().add(crate::layout::HEADER_SIZE) } } else { ring.payload() },
            _ring: ring,
            element_size: g.element_size as usize,
            capacity: g.capacity as usize,
            mask: g.capacity as i64 - 1,
            producer,
            cursor,
            registry,
            slot: joined.map(|(i, _)| i),
            owner: joined.map_or(0, |(_, owner)| owner),
            next: resume_from + 1,
            available: resume_from.max(INITIAL_SEQUENCE),
            wait: b.wait,
            last_check: None,
            refreshes: 0,
            idle_polls: 0,
            waited: false,
            counters,
        })
    }

    /// Steps 3 (after creating or opening the cursor) to 5 of SPEC.md §7.3, under the join lock:
    /// the stale reset, the join, the handshake. Returns where to resume, and the slot with our
    /// owner word in it.
    fn join(b: &ConsumerBuilder, cursor: &Cursor, created: bool, epoch: u64, head: i64, producer: &Cursor, registry: Option<&Registry>) -> Result<(i64, Option<(usize, u64)>)> {
        let cell = cursor.cell();
        let found_epoch = cell.epoch.load(Ordering::Acquire);
        // An existing cursor is provably ours only with our ring's (non-zero) epoch. Any other
        // may be another ring's whose shm name coincides with ours (`/N_{id}_seq` of ring `N`
        // is `/M_{j}_seq` of ring `M` for other splits at a '_'): while such a ring exists,
        // refuse before resetting, joining with or committing into it (SPEC.md §3.5).
        if !created && (found_epoch != epoch || epoch == 0) && !mutant!("consumer.adopts-alias") {
            if let Some(other) = b.name.existing_cursor_alias(&b.id) {
                return Err(Error::NameAlias { ring: b.name.name().to_owned(), id: b.id.clone(), other: other.name().to_owned(), segment: cursor.path().to_string() });
            }
        }
        let stale = !created && found_epoch != epoch && !mutant!("consumer.no-stale-reset");
        if stale {
            // Left by an earlier ring under this name (no other ring can own the name: the
            // alias check passed): its value means nothing here.
            cell.value.store(head, Ordering::Release);
            cell.epoch.store(epoch, Ordering::Release);
        }
        let fresh = created || stale;
        let mut resume_from = sequence_read("consumer cursor", cursor.path(), cell.value.load(Ordering::Acquire))?;

        // 2. Join (or take over our slot if our previous incarnation died).
        let Some(reg) = registry else {
            if fresh {
                // No handshake with a disruptor-mp producer: it finds our cursor by probing
                // names, at most once per discovery interval (10 ms by default). Give it two
                // intervals, then start after whatever it published meanwhile, and only then
                // count ourselves ready, so a producer waiting for us publishes nothing we skip
                // (SPEC.md §10.1).
                std::thread::sleep(FOREIGN_JOIN_SETTLE);
                fence(Ordering::SeqCst);
                resume_from = sequence_read("producer cursor", producer.path(), producer.cell().value.load(Ordering::SeqCst))?;
                cell.value.store(resume_from, Ordering::Release);
                signal_foreign_readiness(&b.name);
            }
            return Ok((resume_from, None));
        };
        // Until the handshake below completes, the cursor says a join is under way.
        let joining = if fresh { JOINING } else { REJOINING };
        let (i, join) = reg.join(&b.id, b.name.name(), || cell.joined.store(joining, Ordering::Relaxed))?;
        // The owner word the join stored (Registry::join's): this process's, not read back from
        // the slot, so that a later change of the word is noticed (check_standing, leave).
        let me = owner_word(process::own_pid(), process::own_start_time());
        crate::failpoint::hit("consumer.attach");
        // The handshake: the join's generation bump and fence are done; whatever the producer
        // publishes from here on respects our cursor.
        let second = if mutant!("consumer.join-skips-second-load") { head } else { protocol::join_head(producer.cell()) };
        let head_now = match sequence_read("producer cursor", producer.path(), second) {
            Ok(h) => h,
            Err(e) => {
                reg.leave(i, me);
                return Err(e);
            }
        };
        // A takeover resumes exactly only from a cursor whose join completed: its slot gated
        // the producer all along. A join that died half-way had not made the slot safe to
        // resume from, so the takeover finishes that join the way it would have ended.
        let how = if join == Join::TakeOver { cell.joined.load(Ordering::Acquire) } else { joining };
        match how {
            JOINED if mutant!("consumer.takeover-resumes-at-head") => resume_from = head_now,
            JOINED => {
                if mutant!("consumer.resume-off-by-one") {
                    resume_from += 1;
                }
            }
            JOINING => resume_from = head_now,
            _ if resume_from < head_now && !mutant!("consumer.rejoin-skips-lapped-check") => {
                // Our cursor was not gating while head_now was published: slots after
                // resume_from may have been overwritten.
                let evicted = join == Join::Rejoin { evicted: true };
                if b.on_lapped == OnLapped::Resync && !mutant!("consumer.resync-ignored") {
                    resume_from = head_now;
                } else {
                    reg.refuse(i, evicted);
                    let (id, from, to) = (b.id.clone(), resume_from + 1, head_now);
                    return Err(if evicted { Error::Evicted { id, from, to } } else { Error::Lapped { id, from, to } });
                }
            }
            _ => {}
        }
        protocol::commit(cell, resume_from);
        cell.joined.store(JOINED, Ordering::Release);
        Ok((resume_from, Some((i, me))))
    }

    /// This consumer's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Event size in bytes.
    pub fn element_size(&self) -> usize {
        self.element_size
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Next sequence this consumer will read.
    pub fn next_sequence(&self) -> i64 {
        self.next
    }

    /// The producer's cursor as of now.
    pub fn producer_sequence(&self) -> i64 {
        self.producer.load()
    }

    #[inline(always)]
    fn slot(&self, seq: i64) -> &[u8] {
        // SAFETY: masked index < capacity; the producer does not rewrite this slot before our
        // cursor passes it (gating).
        unsafe { std::slice::from_raw_parts(self.slots.add((seq & self.mask) as usize * self.element_size), self.element_size) }
    }

    /// Whether `self.next` is published; refreshes the cached producer cursor when needed.
    /// Fails with [`Error::Closed`] once the producer closed the ring and all is consumed.
    #[inline(always)]
    fn ready(&mut self) -> Result<bool> {
        if self.next <= self.available {
            return Ok(true);
        }
        self.available = protocol::published(self.producer.cell());
        if mutant!("consumer.reads-past-cursor") {
            self.available += 1;
        }
        self.check_evicted()?;
        // A busy consumer never idles into `check_closed`: it beats from here, every 1024
        // refreshes at most, so peers in other pid namespaces see it alive (SPEC.md §7.10).
        self.refreshes = self.refreshes.wrapping_add(1);
        if self.refreshes % 1024 == 0 {
            self.beat_if_due()?;
        }
        if let Some(c) = &self.counters {
            // Saturating: `available` is whatever the producer cursor holds.
            c.lag_max.record_max(self.available.saturating_sub(self.next).saturating_add(1).max(0) as u64);
        }
        if self.next <= self.available {
            return Ok(true);
        }
        if let Some(c) = &self.counters {
            c.empty_polls.increment();
        }
        self.check_closed()?;
        Ok(false)
    }

    /// Stores this consumer's heartbeat if the last one is [`LIVENESS_CHECK`] old; returns
    /// whether it did (and so whether a liveness look is due). Fails, without beating, if the
    /// slot is no longer this process's (see [`check_standing`](Self::check_standing)).
    fn beat_if_due(&mut self) -> Result<bool> {
        let now = std::time::Instant::now();
        if self.last_check.is_some_and(|t| now.duration_since(t) < LIVENESS_CHECK) {
            return Ok(false);
        }
        self.last_check = Some(now);
        if let (Some(reg), Some(i)) = (&self.registry, self.slot) {
            self.check_standing(reg, i)?;
            reg.slot_beat(i);
        }
        Ok(true)
    }

    /// The slow-path half of the standing check, at most once per [`LIVENESS_CHECK`]: the slot
    /// is ACTIVE *and* its owner word is still this process's. The owner word changes only if
    /// the producer retired this consumer as dead (while it was alive but looked dead: stopped,
    /// in another pid namespace, ...) and another process then joined under the id; the state
    /// word alone, checked on every refresh, would then read ACTIVE again.
    #[cold]
    fn check_standing(&self, reg: &Registry, i: usize) -> Result<()> {
        let s = reg.slot(i);
        let state = s.state.load(Ordering::Acquire);
        if state != SLOT_ACTIVE {
            return Err(self.retired(state));
        }
        if s.owner.load(Ordering::Acquire) != self.owner {
            return Err(self.retired(SLOT_DEAD));
        }
        Ok(())
    }

    /// Fails if this consumer's slot no longer gates the producer: the producer evicted it
    /// ([`Error::Evicted`]: a required consumer that stalled past its grace period) or retired
    /// it as dead, or it was freed ([`Error::Lapped`]: it looked dead, e.g. stopped for longer
    /// than the heartbeat timeout in another pid namespace, or its `/proc` entry said so). From
    /// then on the producer rewrites slots this consumer has not read. One load of the state
    /// word, when the consumer refreshes the producer cursor and again after reading, before
    /// committing: events handed over by a call that fails this way may have been overwritten
    /// and must be discarded (SPEC.md §7.10).
    #[inline(always)]
    fn check_evicted(&self) -> Result<()> {
        if let (Some(reg), Some(i)) = (&self.registry, self.slot) {
            fence(Ordering::Acquire);
            let state = reg.slot_state(i);
            if state != SLOT_ACTIVE && !mutant!("consumer.ignores-eviction") {
                return Err(self.retired(state));
            }
        }
        Ok(())
    }

    /// The error of a consumer whose slot stopped gating in `state`.
    #[cold]
    fn retired(&self, state: u32) -> Error {
        let (id, from, to) = (self.id.clone(), self.next, self.producer.load());
        let from = if mutant!("consumer.evicted-wrong-range") { from + 1 } else { from };
        if state == SLOT_EVICTED {
            Error::Evicted { id, from, to }
        } else {
            Error::Lapped { id, from, to }
        }
    }

    /// Nothing to read: has the ring ended (closed), or its producer died? Also where this
    /// consumer beats its heartbeat. At most one liveness look per [`LIVENESS_CHECK`].
    #[cold]
    fn check_closed(&mut self) -> Result<()> {
        let Some(reg) = self.registry.as_ref() else { return Ok(()) };
        if let Some(final_sequence) = reg.closed() {
            if self.next > final_sequence {
                return Err(Error::Closed { final_sequence });
            }
        }
        self.idle_polls += 1;
        if self.idle_polls < IDLE_POLLS_PER_CLOCK && !self.waited {
            return Ok(());
        }
        self.idle_polls = 0;
        self.waited = false;
        if !self.beat_if_due()? {
            return Ok(());
        }
        let Some(reg) = self.registry.as_ref() else { return Ok(()) };
        if mutant!("consumer.producer-gone-sticky") && GONE_ONCE.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(Error::ProducerGone { last_published: self.producer.load() });
        }
        if !reg.producer_alive() {
            // Re-read the cursor: a producer that published and then died is "gone" only once
            // everything it published is consumed. (Into a local: `available` is refreshed only
            // in `ready`, next to the eviction check.)
            let published = self.producer.load();
            if self.next > published {
                // Gone for good if the ring was removed (`ringproof rm`) or replaced meanwhile:
                // a restarted producer creates a new registry that this mapping never sees.
                if segment::identity_of(reg.segment().path()) != Some(reg.segment().identity()) {
                    return Err(Error::RingRemoved { ring: self.name.name().to_owned() });
                }
                if mutant!("consumer.producer-gone-sticky") {
                    GONE_ONCE.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                return Err(Error::ProducerGone { last_published: published });
            }
        }
        Ok(())
    }

    /// Commits the cursor at `seq` after `n` events were read.
    #[inline(always)]
    fn commit_read(&mut self, seq: i64, n: u64) {
        if let Some(c) = &self.counters {
            c.consumed.add(n);
            c.consumed_bytes.add(n * self.element_size as u64);
        }
        self.commit(seq);
    }

    #[inline(always)]
    fn commit(&mut self, seq: i64) {
        let cell = self.cursor.cell();
        protocol::commit(cell, seq);
        if !mutant!("consumer.no-wake") {
            futex::wake_if_waiting(&cell.value, &cell.waiters);
        }
    }

    /// A waiter for this consumer's strategy, its sleeps capped at [`MAX_QUIET`] on a ringproof
    /// ring: the consumer beats only between sleeps, and one in another pid namespace that slept
    /// past the heartbeat timeout would look dead to the producer while merely idle.
    fn waiter(&self) -> Waiter {
        Waiter::new(if self.registry.is_some() { cap_sleeps(self.wait) } else { self.wait })
    }

    /// Waits (per the wait strategy) until the next event is published.
    fn wait_ready(&mut self) -> Result<()> {
        let mut waiter = self.waiter();
        while !self.ready()? {
            self.pause(&mut waiter);
        }
        Ok(())
    }

    /// One pause of a wait for the producer cursor to pass `available`.
    #[inline]
    fn pause(&mut self, waiter: &mut Waiter) {
        let cell = self.producer.cell();
        let registry = self.registry.as_ref();
        // The producer reads its wake word after every cursor store: on a ringproof ring that
        // is the registry's `consumers_parked`, in a line this spinning consumer never touches;
        // the cell's `waiters` only where there is no registry (disruptor-mp never wakes).
        let parked = registry.map_or(&cell.waiters, |r| &r.control().consumers_parked);
        let paused = waiter.pause(&cell.value, parked, self.available, || registry.is_none_or(|r| r.closed().is_none()));
        self.waited |= paused != Paused::Spun;
        if paused == Paused::Parked {
            if let Some(c) = &self.counters {
                c.park.increment();
                c.unpark.increment();
            }
        }
    }

    /// Waits (per the wait strategy) until the next event is published or `timeout` passes.
    /// Returns whether an event is ready.
    pub fn wait_for_event(&mut self, timeout: Duration) -> Result<bool> {
        let deadline = std::time::Instant::now() + timeout;
        let mut waiter = self.waiter();
        while !self.ready()? {
            if std::time::Instant::now() >= deadline {
                return Ok(false);
            }
            self.pause(&mut waiter);
        }
        Ok(true)
    }

    /// Reads the next event with `read(seq, bytes)` if one is published, then commits it.
    #[inline]
    pub fn try_read<R>(&mut self, read: impl FnOnce(i64, &[u8]) -> R) -> Result<Option<R>> {
        if !self.ready()? {
            return Ok(None);
        }
        let seq = self.next;
        if mutant!("consumer.commit-before-read") {
            self.commit(seq);
        }
        let r = read(seq, self.slot(seq));
        self.check_evicted()?;
        self.next += 1;
        self.commit_read(seq, 1);
        Ok(Some(r))
    }

    /// Copies the next event into `out` if one is published. Returns its sequence.
    #[inline]
    pub fn try_next_into(&mut self, out: &mut [u8]) -> Result<Option<i64>> {
        if out.len() != self.element_size {
            return Err(Error::EventSize { expected: self.element_size, got: out.len() });
        }
        self.try_read(|seq, bytes| {
            out.copy_from_slice(bytes);
            seq
        })
    }

    /// Copies the next event into `out`, waiting for it.
    pub fn next_into(&mut self, out: &mut [u8]) -> Result<i64> {
        self.wait_ready()?;
        Ok(self.try_next_into(out)?.expect("ready"))
    }

    /// Leases the next event in place; the cursor is committed when the lease drops.
    #[inline]
    pub fn try_lease(&mut self) -> Result<Option<RawLease<'_>>> {
        if !self.ready()? {
            return Ok(None);
        }
        Ok(Some(RawLease { seq: self.next, consumer: self }))
    }

    /// Leases the next event, waiting for it.
    pub fn lease(&mut self) -> Result<RawLease<'_>> {
        self.wait_ready()?;
        Ok(RawLease { seq: self.next, consumer: self })
    }

    /// Hands every published event (at most `max`) to `run(first_seq, bytes)` as at most two
    /// contiguous runs of whole events (split where the ring wraps), then commits the cursor
    /// once. Returns how many events were handed over (0 if none is published).
    ///
    /// This is the batch primitive: one bounds computation per run instead of per event, so
    /// the caller's loop over a run is as tight as over a plain slice.
    #[inline]
    pub fn poll_runs(&mut self, max: usize, mut run: impl FnMut(i64, &[u8])) -> Result<usize> {
        self.runs(max, |first, bytes, _| run(first, bytes))
    }

    /// [`poll_runs`](Self::poll_runs), also telling each run the batch's last sequence.
    #[inline(always)]
    fn runs(&mut self, max: usize, mut run: impl FnMut(i64, &[u8], i64)) -> Result<usize> {
        if max == 0 || !self.ready()? {
            return Ok(0);
        }
        let first = self.next;
        // Never more than one ring: with gating that is all there can be, and a producer that
        // does not gate us (a foreign one, or after an eviction) must not make us read past
        // the ring's end.
        let span = i64::try_from(max.min(self.capacity)).unwrap_or(i64::MAX);
        let last = self.available.min(first.saturating_add(span - 1));
        let n = (last - first + 1) as usize;
        let start = (first & self.mask) as usize;
        let head = n.min(self.capacity - start);
        // SAFETY: slots start..start+head and 0..n-head are published and not yet committed,
        // so the producer does not rewrite them while these slices live (gating).
        unsafe {
            run(first, std::slice::from_raw_parts(self.slots.add(start * self.element_size), head * self.element_size), last);
            if n > head {
                run(first + head as i64, std::slice::from_raw_parts(self.slots, (n - head) * self.element_size), last);
            }
        }
        self.check_evicted()?;
        self.next = last + 1;
        self.commit_read(last, n as u64);
        Ok(n)
    }

    /// Hands every published event (at most `max`) to `f(seq, bytes, end_of_batch)` and commits
    /// the cursor once. Returns how many were handled (0 if none is published).
    #[inline]
    pub fn poll_batch(&mut self, max: usize, mut f: impl FnMut(i64, &[u8], bool)) -> Result<usize> {
        let size = self.element_size;
        self.runs(max, |first, bytes, last| {
            for (i, event) in bytes.chunks_exact(size).enumerate() {
                let seq = first + i as i64;
                f(seq, event, seq == last);
            }
        })
    }

    /// [`poll_batch`](Self::poll_batch) after waiting for at least one event.
    pub fn wait_batch(&mut self, max: usize, f: impl FnMut(i64, &[u8], bool)) -> Result<usize> {
        self.wait_ready()?;
        self.poll_batch(max, f)
    }
}

/// Counts this consumer in a disruptor-mp producer's readiness counter (`N_cr`), which its
/// `WaitForConsumers` waits on. That producer creates the counter just after the ring, so a
/// consumer that arrives in between gives it a short while to appear (SPEC.md §10.1).
fn signal_foreign_readiness(name: &RingName) {
    if mutant!("consumer.no-ready-count") {
        return;
    }
    let deadline = std::time::Instant::now() + Duration::from_millis(100);
    loop {
        match Cursor::open(&name.readiness(), "readiness counter") {
            Ok(ready) => {
                ready.cell().value.fetch_add(1, Ordering::AcqRel);
                return;
            }
            Err(e) if e.is_transient() && std::time::Instant::now() < deadline => {
                // Startup discovery of a segment another process is creating; no data depends on it.
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(_) => return,
        }
    }
}

impl Drop for RawConsumer {
    /// Clean leave: stop gating, remove our cursor (a clean leave gives up resuming).
    fn drop(&mut self) {
        // Under the join lock, so that a joiner under our id sees our slot ACTIVE, or neither
        // slot nor cursor (SPEC.md §7.5). A lock held past LEAVE_LOCK_WAIT has a stopped holder:
        // leave without it rather than hang an exiting process.
        let lock = self.registry.as_ref().and_then(|r| r.lock_joins(self.name.name(), std::time::Instant::now() + LEAVE_LOCK_WAIT).ok());
        let ours = match (&self.registry, self.slot) {
            (Some(reg), Some(i)) => reg.leave(i, self.owner),
            _ => true,
        };
        crate::failpoint::hit("consumer.leave");
        // Only the object we mapped, and only while no other process took our slot (and with it
        // this cursor) over: never another ring's segment or another incarnation's cursor.
        if ours && !mutant!("consumer.leave-keeps-cursor") {
            let _ = self.cursor.segment().unlink_name();
        }
        drop(lock);
        // Only a ringproof ring that is closed: a ring without a registry is a disruptor-mp
        // producer's, and so is its consumers directory, which the next consumer needs.
        let producer_gone = self.registry.as_ref().is_some_and(|r| r.closed().is_some());
        if let (true, Some(dir)) = (producer_gone, self.name.consumers_dir()) {
            segment::remove_dead_temps(&dir, "");
            // The last one out removes the directory; fails harmlessly while others remain.
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// An event leased in place; dereferences to its bytes and commits the cursor on drop.
pub struct RawLease<'a> {
    consumer: &'a mut RawConsumer,
    seq: i64,
}

impl RawLease<'_> {
    /// The event's sequence.
    pub fn sequence(&self) -> i64 {
        self.seq
    }

    /// Whether what was read through this lease can be trusted: fails with [`Error::Evicted`]
    /// or [`Error::Lapped`] if the producer evicted or retired this consumer meanwhile, since it
    /// may then have rewritten the slot (SPEC.md §7.10). Call after reading, before acting on
    /// the bytes.
    pub fn verify(&self) -> Result<()> {
        self.consumer.check_evicted()
    }
}

impl std::ops::Deref for RawLease<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.consumer.slot(self.seq)
    }
}

impl Drop for RawLease<'_> {
    fn drop(&mut self) {
        self.consumer.next = self.seq + 1;
        self.consumer.commit_read(self.seq, 1);
    }
}

/// A consumer of `E` events.
#[derive(Debug)]
pub struct Consumer<E: Pod> {
    raw: RawConsumer,
    _event: PhantomData<fn() -> E>,
}

impl<E: Pod> Consumer<E> {
    /// The next event, copied out, if one is published.
    #[inline]
    pub fn try_next(&mut self) -> Result<Option<(i64, E)>> {
        self.raw.try_read(|seq, bytes| (seq, bytemuck::pod_read_unaligned(bytes)))
    }

    /// The next event, waiting for it.
    pub fn next(&mut self) -> Result<(i64, E)> {
        self.raw.wait_ready()?;
        Ok(self.try_next()?.expect("ready"))
    }

    /// Leases the next event in place if one is published.
    #[inline]
    pub fn try_lease(&mut self) -> Result<Option<Lease<'_, E>>> {
        Ok(self.raw.try_lease()?.map(|raw| Lease { raw, _event: PhantomData }))
    }

    /// Leases the next event, waiting for it.
    pub fn lease(&mut self) -> Result<Lease<'_, E>> {
        Ok(Lease { raw: self.raw.lease()?, _event: PhantomData })
    }

    /// Hands every published event (at most `max`) to `f(seq, &event, end_of_batch)`; one
    /// cursor commit.
    #[inline]
    pub fn poll_batch(&mut self, max: usize, mut f: impl FnMut(i64, &E, bool)) -> Result<usize> {
        self.raw.runs(max, |first, bytes, last| {
            let events: &[E] = bytemuck::cast_slice(bytes);
            for (i, e) in events.iter().enumerate() {
                let seq = first + i as i64;
                f(seq, e, seq == last);
            }
        })
    }

    /// Hands every published event (at most `max`) to `run(first_seq, events)` as at most two
    /// contiguous slices (split where the ring wraps); one cursor commit.
    #[inline]
    pub fn poll_slices(&mut self, max: usize, mut run: impl FnMut(i64, &[E])) -> Result<usize> {
        self.raw.poll_runs(max, |first, bytes| run(first, bytemuck::cast_slice(bytes)))
    }

    /// [`poll_batch`](Self::poll_batch) after waiting for at least one event.
    pub fn wait_batch(&mut self, max: usize, f: impl FnMut(i64, &E, bool)) -> Result<usize> {
        self.raw.wait_ready()?;
        self.poll_batch(max, f)
    }

    /// The untyped consumer underneath.
    pub fn raw(&mut self) -> &mut RawConsumer {
        &mut self.raw
    }
}

/// A typed [`RawLease`].
pub struct Lease<'a, E: Pod> {
    raw: RawLease<'a>,
    _event: PhantomData<fn() -> E>,
}

impl<E: Pod> Lease<'_, E> {
    /// The event's sequence.
    pub fn sequence(&self) -> i64 {
        self.raw.sequence()
    }

    /// See [`RawLease::verify`].
    pub fn verify(&self) -> Result<()> {
        self.raw.verify()
    }
}

impl<E: Pod> std::ops::Deref for Lease<'_, E> {
    type Target = E;
    fn deref(&self) -> &E {
        bytemuck::from_bytes(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_consumers_wake_often_enough_to_beat() {
        let long = Duration::from_secs(5);
        assert_eq!(cap_sleeps(WaitStrategy::Sleep(long)), WaitStrategy::Sleep(MAX_QUIET));
        assert_eq!(cap_sleeps(WaitStrategy::Blocking { spins: 7, backstop: long }), WaitStrategy::Blocking { spins: 7, backstop: MAX_QUIET });
        assert_eq!(cap_sleeps(WaitStrategy::blocking()), WaitStrategy::blocking());
        assert_eq!(cap_sleeps(WaitStrategy::Sleep(Duration::from_micros(50))), WaitStrategy::Sleep(Duration::from_micros(50)));
        assert!(MAX_QUIET * 2 < process::HEARTBEAT_TIMEOUT);
    }
}
