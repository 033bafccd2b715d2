//! The single producer: claims slots, writes them, publishes with one release store per call.
//!
//! Gating (SPEC.md §6.1): the producer may publish sequence `s` only when every gating consumer
//! has consumed `s - capacity`. It caches `limit = min(gating cursors) + capacity` and rescans
//! the consumer cursors only when a claim would pass it, so in steady state it touches no
//! consumer cache line for a whole ring's worth of events.

use crate::counters::{register_producer, Counters, ProducerCounters};
use crate::cursor::Cursor;
use crate::error::{Error, Result};
use crate::layout::cursor::INITIAL_SEQUENCE;
use crate::layout::registry::{DEFAULT_SLOTS, SLOT_DEAD, SLOT_EVICTED};
use crate::layout::Expect;
use crate::liveness::{Required, RequiredConsumers, Verdict, LIVENESS_CHECK};
use crate::layout::{fresh_header, header::MIN_ALIGNMENT, SegmentKind};
use crate::names::{validate_consumer_id, RingName, SegmentPath};
use crate::registry::Registry;
use crate::segment::{self, Segment};
use crate::sync::{fence, AtomicU32, Ordering};
use crate::wait::{Paused, WaitStrategy, Waiter};
use crate::{futex, payload, process, protocol};
use bytemuck::Pod;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

/// What the producer does before its first publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Coordination {
    /// Publish at once; consumers that join later start at the next unpublished sequence.
    #[default]
    Immediate,
    /// Wait until `min` consumers gate the ring; fail with [`Error::ConsumersMissing`] after
    /// `timeout`.
    WaitForConsumers { min: usize, timeout: Duration },
}

/// Discovery of consumers that do not use the registry (disruptor-mp's): cursors named
/// `{prefix}_{k}` for `k < max`, probed at most once per `interval`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignDiscovery {
    pub prefix: String,
    pub max: usize,
    pub interval: Duration,
}

/// Configures and creates a producer.
#[derive(Debug, Clone)]
pub struct ProducerBuilder {
    name: RingName,
    capacity: usize,
    wait: WaitStrategy,
    coalesce: usize,
    counters: bool,
    required: Option<RequiredConsumers>,
    coordination: Coordination,
    discovery: Option<ForeignDiscovery>,
    registry_slots: usize,
}

impl ProducerBuilder {
    /// A producer for ring `name` with 1024 slots, spin-then-yield waiting, no coordination.
    pub fn new(name: RingName) -> Self {
        Self {
            name,
            capacity: 1024,
            wait: WaitStrategy::default(),
            coalesce: 1,
            counters: true,
            required: None,
            coordination: Coordination::Immediate,
            discovery: None,
            registry_slots: DEFAULT_SLOTS,
        }
    }

    /// Number of slots (a power of two).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// How `publish` waits for a free slot.
    pub fn wait(mut self, wait: WaitStrategy) -> Self {
        self.wait = wait;
        self
    }

    /// Store the producer cursor only once `k` events are pending (default 1: every publish
    /// call is visible at once). Pending events become visible when `k` accumulate, on
    /// [`RawProducer::flush`], before the producer waits for room or reports a full ring, and
    /// when it is dropped. Trades latency for throughput: a consumer spinning on the cursor
    /// line steals it from the producer far less often.
    pub fn coalesce(mut self, k: usize) -> Self {
        self.coalesce = k.max(1);
        self
    }

    /// Keep live counters in the ring's counters segment (default on; see SPEC.md §12).
    pub fn counters(mut self, on: bool) -> Self {
        self.counters = on;
        self
    }

    /// Consumers the producer must not lose: it waits for them at startup, watches their
    /// progress while they gate it, and acts when one stalls or dies (see [`RequiredConsumers`]).
    pub fn required_consumers(mut self, config: RequiredConsumers) -> Self {
        self.required = Some(config);
        self
    }

    /// What happens before the first publish.
    pub fn coordination(mut self, coordination: Coordination) -> Self {
        self.coordination = coordination;
        self
    }

    /// Also gate on disruptor-mp-style consumers named `{prefix}_{k}`, `k < max`.
    pub fn discover_prefix(mut self, prefix: &str, max: usize) -> Self {
        self.discovery = Some(ForeignDiscovery { prefix: prefix.to_owned(), max, interval: Duration::from_millis(10) });
        self
    }

    /// Maximum number of registered consumers (default 64).
    pub fn registry_slots(mut self, slots: usize) -> Self {
        self.registry_slots = slots;
        self
    }

    /// Creates a ring of `E` events.
    pub fn create<E: Pod>(self) -> Result<Producer<E>> {
        let raw = self.create_raw_aligned(std::mem::size_of::<E>(), std::mem::align_of::<E>())?;
        Ok(Producer { raw, _event: PhantomData })
    }

    /// Creates a ring of `element_size`-byte events (8-byte aligned), for byte-level peers.
    pub fn create_raw(self, element_size: usize) -> Result<RawProducer> {
        self.create_raw_aligned(element_size, MIN_ALIGNMENT)
    }

    /// Creates a ring of `element_size`-byte events aligned to `alignment`.
    pub fn create_raw_aligned(self, element_size: usize, alignment: usize) -> Result<RawProducer> {
        RawProducer::create(self, element_size, alignment.max(MIN_ALIGNMENT))
    }
}

/// A gating consumer cursor the producer has mapped.
#[derive(Debug)]
struct Gate {
    /// Registry slot and incarnation, or `None` for a foreign (discovered) cursor.
    slot: Option<(usize, u64)>,
    id: String,
    cursor: Cursor,
}

/// The producer of a ring of raw `element_size`-byte events.
#[derive(Debug)]
pub struct RawProducer {
    name: RingName,
    _ring: Segment,
    cursor: Cursor,
    registry: Registry,
    slots: *mut u8,
    element_size: usize,
    capacity: usize,
    mask: i64,
    /// Next sequence to claim.
    next: i64,
    /// Highest sequence publishable without rescanning the consumers.
    limit: i64,
    gates: Vec<Gate>,
    seen_generation: u64,
    discovery: Option<ForeignDiscovery>,
    last_discovery: Option<Instant>,
    wait: WaitStrategy,
    /// Store the cursor when this many events are pending (1 = every publish call).
    coalesce: i64,
    /// The last value stored to the producer cursor, kept only while coalescing (`coalesce > 1`):
    /// otherwise it is always `next - 1`.
    stored: i64,
    required: Option<Required>,
    last_check: Option<Instant>,
    last_beat: Option<Instant>,
    /// Live counters; `None` when disabled or the segment is full (the ring works without).
    counters: Option<ProducerCounters>,
    /// The registry control block's `consumers_parked`: the wake word read after every cursor
    /// store (SPEC.md §8), in a line nobody writes while no consumer parks. Points into
    /// `registry`'s mapping, which lives as long as `self`.
    parked: *const AtomicU32,
}

// SAFETY: the raw pointer is into the producer's own mapping; one producer, moved not shared.
unsafe impl Send for RawProducer {}

impl RawProducer {
    fn create(b: ProducerBuilder, element_size: usize, alignment: usize) -> Result<RawProducer> {
        if b.capacity == 0 || !b.capacity.is_power_of_two() {
            return Err(Error::InvalidConfig(format!("capacity {} is not a power of two", b.capacity)));
        }
        if element_size == 0 {
            return Err(Error::InvalidConfig("events of 0 bytes carry nothing".into()));
        }
        if element_size as u64 > crate::layout::MAX_ELEMENT_SIZE {
            return Err(Error::InvalidConfig(format!("events of {element_size} bytes exceed the {} bytes a ring slot may hold (SPEC.md §2.2); pass larger data by reference", crate::layout::MAX_ELEMENT_SIZE)));
        }
        if !alignment.is_power_of_two() || alignment > crate::layout::MAX_ALIGNMENT {
            return Err(Error::InvalidConfig(format!("alignment {alignment} is not a power of two up to 4096")));
        }
        if alignment > MIN_ALIGNMENT && element_size % alignment != 0 {
            return Err(Error::InvalidConfig(format!("element size {element_size} is not a multiple of its alignment {alignment}")));
        }
        if b.registry_slots == 0 {
            return Err(Error::InvalidConfig("a registry needs at least one slot".into()));
        }
        if let Some(d) = &b.discovery {
            validate_consumer_id(&format!("{}_{}", d.prefix, d.max))?;
        }
        futex::register_membarrier();
        crate::failpoint::arm_from_env();
        // Temporaries of creators killed mid-creation (shm ones live in /dev/shm) would outlive
        // every ring of this name.
        segment::remove_dead_ring_temps(&b.name);
        // A registry that vanishes between our failed create and our open was removed by a
        // producer that closed meanwhile (two producers started at once): create again.
        for _ in 0..CREATE_ATTEMPTS {
            if let Some(p) = Self::create_or_restart(b.clone(), element_size, alignment)? {
                return Ok(p);
            }
        }
        Err(Error::AlreadyExists { what: "registry", name: b.name.registry().to_string() })
    }

    /// One attempt: `None` when the registry this attempt found was removed under it.
    fn create_or_restart(b: ProducerBuilder, element_size: usize, alignment: usize) -> Result<Option<RawProducer>> {
        let (header, geometry) = fresh_header(SegmentKind::Ring, alignment, element_size as u64, b.capacity as u64)
            .ok_or_else(|| Error::InvalidConfig(format!("{} x {element_size} bytes overflows", b.capacity)))?;
        let epoch = new_epoch();
        // Registry first: it is the ownership claim (link(2) of a finished object). If it
        // exists, this is a restart over a ring whose producer died (or a second producer,
        // refused).
        let registry = match Registry::create(&b.name.registry(), b.registry_slots, epoch) {
            Ok(r) => r,
            Err(Error::AlreadyExists { .. }) => return Self::restart(b, element_size, alignment),
            Err(e) => return Err(e),
        };
        // Then the consumers directory (mmap), the producer cursor, and the ring last: a
        // consumer that sees the ring finds everything else in place. A failure removes what
        // this call created, and only that (same inode).
        let mut undo = Undo::default();
        undo.segment(registry.segment());
        if let Some(dir) = b.name.consumers_dir() {
            if segment::ensure_private_dir(&dir)? {
                undo.dir = Some(dir);
            }
        }
        let initial = if mutant!("producer.cursor-initial-zero") { 0 } else { INITIAL_SEQUENCE };
        let cursor = Cursor::create(&b.name.producer_cursor(), "producer cursor", initial, epoch)?;
        undo.segment(cursor.segment());
        let ring = Segment::create(&b.name.ring(), "ring", &header, geometry, |_| {})?;
        undo.disarm();
        Self::assemble(b, ring, cursor, registry, element_size, false).map(Some)
    }

    /// Restart after a crash: take the ring over from its dead producer and resume after the
    /// last sequence it published (SPEC.md §7.9). Refused while that producer runs. Removes
    /// nothing it did not create: a registry, cursor or ring it cannot make sense of is
    /// reported ([`Error::Damaged`]), never reclaimed. `None`: the registry was removed under
    /// it (its producer closed), try creating again.
    fn restart(b: ProducerBuilder, element_size: usize, alignment: usize) -> Result<Option<RawProducer>> {
        let registry = match open_registry(&b.name.registry()) {
            Ok(r) => r,
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        registry.take_over_producer(b.name.name())?;
        // Closed and removed between our open and our claim: a registry nobody can find.
        if segment::identity_of(&b.name.registry()) != Some(registry.segment().identity()) {
            return Ok(None);
        }
        let epoch = registry.epoch();
        let mut undo = Undo::default();
        let cursor = match Cursor::open(&b.name.producer_cursor(), "producer cursor") {
            Ok(c) => c,
            // Died before creating it (we took over: it is dead): nothing was published.
            Err(Error::NotFound { .. }) => {
                let c = Cursor::create(&b.name.producer_cursor(), "producer cursor", INITIAL_SEQUENCE, epoch)?;
                undo.segment(c.segment());
                c
            }
            Err(e) => return Err(damaged("producer cursor", &b.name.producer_cursor(), e)),
        };
        cursor.segment().require_private()?;
        // The dead producer's last published sequence is where this one resumes: a value no
        // producer writes (below -1, or one with no successor) refuses the restart.
        cursor.load_position("producer cursor")?;
        let expect = Expect {
            kind: SegmentKind::Ring,
            element_size: Some(element_size as u64),
            capacity: Some(b.capacity as u64),
            min_alignment: alignment,
        };
        let ring = match Segment::open(&b.name.ring(), "ring", &expect) {
            Ok(r) => r,
            Err(Error::NotFound { .. }) => {
                let (header, geometry) = fresh_header(SegmentKind::Ring, alignment, element_size as u64, b.capacity as u64)
                    .ok_or_else(|| Error::InvalidConfig("ring size overflows".into()))?;
                let r = Segment::create(&b.name.ring(), "ring", &header, geometry, |_| {})?;
                undo.segment(&r);
                r
            }
            Err(e) => return Err(damaged("ring", &b.name.ring(), e)),
        };
        ring.require_private()?;
        if let Some(dir) = b.name.consumers_dir() {
            segment::ensure_private_dir(&dir)?;
        }
        undo.disarm();
        // Only a restart that got this far counts as a start (SPEC.md §7.9 step 4).
        registry.count_producer_start();
        registry.reopen();
        Self::assemble(b, ring, cursor, registry, element_size, true).map(Some)
    }

    fn assemble(b: ProducerBuilder, ring: Segment, cursor: Cursor, registry: Registry, element_size: usize, restarted: bool) -> Result<RawProducer> {
        let last = cursor.load();
        // Counters are observability, not protocol: a ring whose counters segment cannot be
        // made or is full runs without them.
        let counters = b
            .counters
            .then(|| Counters::open_or_create(&b.name.counters()).ok())
            .flatten()
            .and_then(|c| register_producer(&c).ok());
        if let (true, Some(c)) = (restarted, &counters) {
            c.restarts.increment();
        }
        let parked: *const AtomicU32 = &registry.control().consumers_parked;
        let mut p = RawProducer {
            parked,
            slots: ring.payload(),
            name: b.name,
            _ring: ring,
            cursor,
            registry,
            element_size,
            capacity: b.capacity,
            mask: b.capacity as i64 - 1,
            next: if restarted && mutant!("producer.restart-at-0") { 0 } else { last + 1 },
            limit: last,
            gates: Vec::new(),
            seen_generation: u64::MAX,
            discovery: b.discovery,
            last_discovery: None,
            wait: b.wait,
            coalesce: b.coalesce as i64,
            stored: last,
            required: b.required.map(Required::new),
            last_check: None,
            last_beat: None,
            counters,
        };
        if let Coordination::WaitForConsumers { min, timeout } = b.coordination {
            if let Err(e) = p.wait_for_consumers(min, timeout) {
                if mutant!("producer.startup-timeout-leaks") {
                    std::mem::forget(p);
                }
                return Err(e);
            }
        }
        if let Some(timeout) = p.required.as_ref().map(|r| r.config.startup_wait_timeout) {
            p.wait_for_required(timeout)?;
        }
        p.rescan();
        Ok(p)
    }

    /// Waits until every required consumer has joined (`StartupTimeout` after `timeout`).
    fn wait_for_required(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            // Registered ringproof consumers and discovered disruptor-mp ones alike.
            self.last_discovery = None;
            self.refresh_gates();
            let ids = &self.required.as_ref().expect("required config").config.ids;
            let missing: Vec<String> = ids.iter().filter(|id| !self.gates.iter().any(|g| &g.id == *id)).cloned().collect();
            if missing.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::StartupTimeout { missing, timeout });
            }
            // Membership polling during startup only; no event data depends on this sleep.
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Waits until `min` consumers gate the ring (registered or discovered).
    pub fn wait_for_consumers(&mut self, min: usize, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            self.last_discovery = None;
            self.refresh_gates();
            if self.gates.len() >= min {
                self.rescan();
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::ConsumersMissing { min, found: self.gates.len(), timeout });
            }
            // Membership polling during startup only; no event data depends on this sleep.
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Size of one event in bytes.
    pub fn element_size(&self) -> usize {
        self.element_size
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Last published sequence (-1 before the first).
    pub fn last_published(&self) -> i64 {
        self.next - 1
    }

    /// The ring's name and backend.
    pub fn name(&self) -> &RingName {
        &self.name
    }

    /// Ids of the consumers currently gating the producer (as of the last rescan).
    pub fn gating_ids(&self) -> Vec<String> {
        self.gates.iter().map(|g| g.id.clone()).collect()
    }

    /// The slowest gating consumer's cursor, after a fresh rescan (`last_published` if none).
    pub fn min_gating_sequence(&mut self) -> i64 {
        self.last_discovery = None;
        self.rescan();
        self.limit - self.capacity as i64
    }

    #[inline(always)]
    fn slot_ptr(&self, seq: i64) -> *mut u8 {
        // SAFETY: masked index < capacity; the ring holds capacity * element_size bytes.
        unsafe { self.slots.add((seq & self.mask) as usize * self.element_size) }
    }

    /// Publishes one event written by `write` into its slot; waits while the ring is full.
    #[inline]
    pub fn publish_with(&mut self, write: impl FnOnce(&mut [u8])) -> Result<i64> {
        let seq = self.next;
        if !protocol::within_limit(seq, self.limit) {
            self.wait_for_room(seq)?;
        }
        self.write_one(seq, write);
        Ok(seq)
    }

    /// The typed single-event path, inlined into the caller's loop: the slot is a `*mut E` at a
    /// compile-time stride and the event one typed store (no length check, no `memcpy` call for
    /// small events), then the cursor store and the wake-word load. Everything that is not
    /// that (waiting for room, failpoints, waking) is out of line. `E` is the ring's event type:
    /// [`ProducerBuilder::create`] made the ring with `size_of::<E>()`-byte slots aligned to
    /// `align_of::<E>()`.
    #[inline(always)]
    fn publish_pod<E: Pod>(&mut self, event: &E) -> Result<i64> {
        debug_assert_eq!(self.element_size, std::mem::size_of::<E>());
        let seq = self.next;
        if !protocol::within_limit(seq, self.limit) {
            self.wait_for_room(seq)?;
        }
        crate::failpoint::hit("producer.claimed");
        if mutant!("producer.publish-before-write") {
            self.publish_cursor(seq);
        }
        // SAFETY: gating guarantees no consumer reads this slot until the cursor passes it; the
        // masked index is below capacity and the slots hold `capacity` aligned `E`s.
        unsafe { self.slots.cast::<E>().add((seq & self.mask) as usize).write(*event) };
        crate::failpoint::hit("producer.written");
        self.publish_cursor(seq);
        Ok(seq)
    }

    /// Publishes `event` (its length must be the element size).
    #[inline]
    pub fn publish(&mut self, event: &[u8]) -> Result<i64> {
        self.check_len(event.len())?;
        self.publish_with(|s| s.copy_from_slice(event))
    }

    /// Publishes one event, or fails with [`Error::Full`] at once if there is no room.
    #[inline]
    pub fn try_publish_with(&mut self, write: impl FnOnce(&mut [u8])) -> Result<i64> {
        let seq = self.next;
        if !protocol::within_limit(seq, self.limit) {
            self.rescan();
            if !protocol::within_limit(seq, self.limit) {
                return Err(self.full(seq));
            }
        }
        self.write_one(seq, write);
        Ok(seq)
    }

    /// Publishes `n` events, `write(i, slot)` for `i` in `0..n`, with one cursor store.
    /// Waits for room; `n > capacity` is an error, never a hang.
    pub fn publish_batch(&mut self, n: usize, write: impl FnMut(usize, &mut [u8])) -> Result<i64> {
        let last = self.check_batch(n)?;
        if !protocol::within_limit(last, self.limit) {
            self.wait_for_room(last)?;
        }
        Ok(self.write_and_publish(self.next, n, write))
    }

    /// [`publish_batch`](Self::publish_batch) without waiting: [`Error::Full`] if there is no room.
    pub fn try_publish_batch(&mut self, n: usize, write: impl FnMut(usize, &mut [u8])) -> Result<i64> {
        let last = self.check_batch(n)?;
        if !protocol::within_limit(last, self.limit) {
            self.rescan();
            if !protocol::within_limit(last, self.limit) {
                return Err(self.full(last));
            }
        }
        Ok(self.write_and_publish(self.next, n, write))
    }

    /// Claims `n` slots for zero-copy writing; nothing is visible until [`RawClaim::commit`].
    /// Dropping the claim uncommitted publishes nothing.
    pub fn claim(&mut self, n: usize) -> Result<RawClaim<'_>> {
        let last = self.check_batch(n)?;
        if !protocol::within_limit(last, self.limit) {
            self.wait_for_room(last)?;
        }
        Ok(RawClaim { first: self.next, n, producer: self })
    }

    /// A non-waiting publish found no room for `seq`.
    #[cold]
    fn full(&self, seq: i64) -> Error {
        if let Some(c) = &self.counters {
            c.full.increment();
        }
        Error::Full { missing: (seq - self.limit) as u64 }
    }

    fn check_len(&self, len: usize) -> Result<()> {
        if len != self.element_size {
            return Err(Error::EventSize { expected: self.element_size, got: len });
        }
        Ok(())
    }

    fn check_batch(&self, n: usize) -> Result<i64> {
        if n == 0 || n > self.capacity {
            return Err(Error::BatchTooLarge { n, capacity: self.capacity });
        }
        Ok(self.next + n as i64 - 1)
    }

    #[inline(always)]
    fn write_one(&mut self, seq: i64, write: impl FnOnce(&mut [u8])) {
        crate::failpoint::hit("producer.claimed");
        if mutant!("producer.publish-before-write") {
            self.publish_cursor(seq);
        }
        // SAFETY: gating guarantees no consumer reads this slot until the cursor passes it.
        write(unsafe { std::slice::from_raw_parts_mut(self.slot_ptr(seq), self.element_size) });
        crate::failpoint::hit("producer.written");
        self.publish_cursor(seq);
    }

    #[inline(always)]
    fn write_and_publish(&mut self, first: i64, n: usize, mut write: impl FnMut(usize, &mut [u8])) -> i64 {
        crate::failpoint::hit("producer.claimed");
        for i in 0..n {
            // SAFETY: gating guarantees no consumer reads this slot until the cursor passes it.
            let slot = unsafe { std::slice::from_raw_parts_mut(self.slot_ptr(first + i as i64), self.element_size) };
            write(i, slot);
            if mutant!("producer.batch-store-per-event") {
                self.store_cursor(first + i as i64);
            }
        }
        let last = first + n as i64 - 1;
        crate::failpoint::hit("producer.written");
        self.publish_cursor(last);
        last
    }

    #[inline(always)]
    fn publish_cursor(&mut self, last: i64) {
        // Without coalescing every publish stores the cursor, so the last stored value is always
        // `next - 1` and `stored` is neither read nor written: one store per event less.
        let prev = self.next - 1;
        self.next = last + 1;
        if self.coalesce == 1 {
            self.store_cursor_after(last, prev);
        } else if last - self.stored >= self.coalesce {
            self.store_cursor(last);
        }
    }

    /// Stores the cursor at `last` (coalescing: `stored` is the last value stored).
    #[inline(always)]
    fn store_cursor(&mut self, last: i64) {
        self.store_cursor_after(last, self.stored);
        self.stored = last;
    }

    /// Stores the cursor at `last`, `stored` being the value it held (for the counters).
    #[inline(always)]
    fn store_cursor_after(&mut self, last: i64, stored: i64) {
        let cell = self.cursor.cell();
        protocol::publish(cell, last);
        if !mutant!("producer.no-wake") {
            // SAFETY: `parked` points into the registry mapping `self` holds.
            let word = if mutant!("producer.wake-word-on-cursor") { &cell.waiters } else { unsafe { &*self.parked } };
            futex::wake_if_waiting(&cell.value, word);
        }
        // Counted when they become visible: once per cursor store, not per event.
        if let Some(c) = &self.counters {
            let n = (last - stored) as u64;
            c.published.add(n);
            if !mutant!("producer.counters-bytes-uncounted") {
                c.published_bytes.add(n * self.element_size as u64);
            }
        }
    }

    /// Makes every event published so far visible. Only needed with
    /// [`ProducerBuilder::coalesce`]; otherwise every publish call is visible at once.
    #[inline]
    pub fn flush(&mut self) {
        if self.coalesce > 1 && self.stored < self.next - 1 {
            self.store_cursor(self.next - 1);
        }
    }

    /// Slow path: rescan, then wait on the slowest consumer until `seq` fits.
    #[cold]
    #[inline(never)]
    fn wait_for_room(&mut self, seq: i64) -> Result<()> {
        self.wait_until_limit(seq, None).map(drop)
    }

    /// Waits until every gating consumer has consumed everything published so far, or
    /// `timeout` passes (returns `false`). Dead consumers stop gating and required ones are
    /// watched, as in a blocked publish. For a clean shutdown that loses nothing.
    pub fn drain(&mut self, timeout: Duration) -> Result<bool> {
        let target = self.next - 1 + self.capacity as i64;
        self.wait_until_limit(target, Some(Instant::now() + timeout))
    }

    /// Rescans and waits on the slowest consumer until `limit >= target`. Every check interval
    /// while blocked, it looks at the gating consumers' liveness (SPEC.md §7.10).
    fn wait_until_limit(&mut self, target: i64, deadline: Option<Instant>) -> Result<bool> {
        let mut waiter = Waiter::new(self.wait);
        if let Some(r) = self.required.as_mut() {
            r.begin_wait();
        }
        let mut counted = false;
        loop {
            self.rescan();
            if protocol::within_limit(target, self.limit) {
                return Ok(true);
            }
            if let (false, Some(c)) = (counted, &self.counters) {
                c.full.increment();
                counted = true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
            self.check_liveness()?;
            let observed = self.limit - self.capacity as i64;
            match self.gates.iter().find(|g| g.cursor.load() == observed) {
                Some(g) => {
                    let cell = g.cursor.cell();
                    if waiter.pause(&cell.value, &cell.waiters, observed, || true) == Paused::Parked {
                        if let Some(c) = &self.counters {
                            c.park.increment();
                            c.unpark.increment();
                        }
                    }
                }
                None => crate::sync::spin_hint(),
            }
        }
    }

    /// Dead gating consumers stop gating (required ones: per the liveness action); stalled
    /// required ones raise an alert, then the action after the grace period.
    fn check_liveness(&mut self) -> Result<()> {
        let now = Instant::now();
        let interval = self.required.as_ref().map_or(LIVENESS_CHECK, |r| r.config.progress_check_interval);
        if self.last_check.is_some_and(|t| now.duration_since(t) < interval) {
            return Ok(());
        }
        self.last_check = Some(now);
        let published = self.next - 1;
        let (mut retired, mut evicted) = (0u64, 0u64);
        let alerts_before = self.required.as_ref().map_or(0, |r| r.alerts);
        let mut verdict = Ok(());
        for g in &self.gates {
            // A foreign (disruptor-mp) gate has no registry slot: no pid to judge, no slot to
            // retire; a required one is still watched for stalls.
            let alive = g.slot.is_none_or(|(slot, _)| self.registry.slot_owner_alive(slot));
            let value = g.cursor.load();
            match self.required.as_mut().filter(|r| r.config.ids.contains(&g.id) && !mutant!("producer.retire-required-dead")) {
                Some(r) => match r.observe(&g.id, value, published, alive, now) {
                    Ok(Verdict::Evict) if mutant!("producer.evict-ignored") => {}
                    Ok(Verdict::Evict) => {
                        if let Some((slot, incarnation)) = g.slot {
                            evicted += u64::from(self.registry.retire(slot, incarnation, SLOT_EVICTED));
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
                        retired += u64::from(self.registry.retire(slot, incarnation, SLOT_DEAD));
                    }
                }
            }
        }
        if let Some(c) = &self.counters {
            c.dead_peers.add(retired);
            c.evictions.add(evicted);
            c.liveness_alerts.add(self.required.as_ref().map_or(0, |r| r.alerts) - alerts_before);
        }
        verdict?;
        if retired + evicted > 0 {
            // The retirement (a release RMW on the slot) is ordered before any slot this
            // producer rewrites from here on, so a consumer that reads such a slot and then
            // checks its state sees EVICTED (SPEC.md §7.10).
            fence(Ordering::Release);
            self.rescan();
        }
        Ok(())
    }
    /// Recomputes `limit` from the gating cursors, refreshing the gate set if membership changed.
    fn rescan(&mut self) {
        // Deferred (coalesced) events become visible first: the join handshake (SPEC.md §7.3)
        // reasons about the stored cursor, so it must equal the last published sequence here.
        self.flush();
        self.beat();
        let mapped = self.refresh_gates();
        let published = self.next - 1;
        let limit = protocol::limit(self.gates.iter().map(|g| clamp_gate(g, published)), published, self.capacity);
        // A consumer that joined but whose cursor could not be mapped (out of file descriptors,
        // say) gates at a position we cannot read: publish nothing new until it is mapped.
        self.limit = if mapped { limit } else { limit.min(published) };
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

    /// Records the producer's heartbeat, at most once per [`LIVENESS_CHECK`].
    fn beat(&mut self) {
        let now = Instant::now();
        if self.last_beat.is_none_or(|t| now.duration_since(t) >= LIVENESS_CHECK) {
            self.last_beat = Some(now);
            self.registry.producer_beat();
        }
    }

    /// Maps the cursors of consumers that joined, drops those that left (registry generation
    /// changed), and probes for foreign consumers when the discovery interval has passed.
    /// Returns whether every gating consumer's cursor is mapped.
    fn refresh_gates(&mut self) -> bool {
        // Pairs with the joiner's fence after its generation bump (SPEC.md §6.2): either we see
        // the joiner, or the joiner sees our latest cursor store.
        let generation = protocol::membership_generation(self.registry.control());
        if generation != self.seen_generation {
            let active = self.registry.active();
            self.gates.retain(|g| match g.slot {
                Some((slot, inc)) => active.iter().any(|p| p.slot == slot && p.incarnation == inc),
                None => !active.iter().any(|p| p.id == g.id),
            });
            let mut complete = true;
            for p in active {
                if self.gates.iter().any(|g| g.slot == Some((p.slot, p.incarnation))) {
                    continue;
                }
                match Cursor::open(&self.name.consumer_cursor(&p.id), "consumer cursor") {
                    Ok(cursor) => self.gates.push(Gate { slot: Some((p.slot, p.incarnation)), id: p.id, cursor }),
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
        let now = Instant::now();
        if self.last_discovery.is_some_and(|t| now.duration_since(t) < d.interval) {
            return;
        }
        self.last_discovery = Some(now);
        let epoch = self.registry.epoch();
        for k in 0..d.max {
            let id = format!("{}_{k}", d.prefix);
            if self.gates.iter().any(|g| g.id == id) {
                continue;
            }
            if let Ok(cursor) = Cursor::open(&self.name.consumer_cursor(&id), "consumer cursor") {
                // Epoch 0: a disruptor-mp consumer. Ours (registered) are gated through the
                // registry; another non-zero epoch is a leftover of an earlier ring.
                if (cursor.cell().epoch.load(Ordering::Acquire) == 0 || mutant!("producer.stale-epoch-gating")) && epoch != 0 {
                    self.gates.push(Gate { slot: None, id, cursor });
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

impl Drop for RawProducer {
    /// Clean shutdown: mark the ring closed after the last published sequence, wake every
    /// sleeping consumer, and remove the names this producer created. Consumers that still map
    /// the ring drain what is left and then see [`Error::Closed`].
    fn drop(&mut self) {
        // Closing does not move the cursor, so sleepers are woken unconditionally; they re-check
        // the ring state after announcing themselves (SPEC.md §8).
        self.flush();
        if !mutant!("producer.close-keeps-open") {
            let final_sequence = if mutant!("producer.close-final-off-by-one") { self.next - 2 } else { self.next - 1 };
            self.registry.close(if mutant!("producer.close-no-final") { -1 } else { final_sequence });
        }
        crate::failpoint::hit("producer.close");
        futex::wake_all(&self.cursor.cell().value);
        // Only the objects this producer mapped: a name re-created by someone else stays.
        if !mutant!("producer.close-leaks") {
            let _ = self._ring.unlink_name();
        }
        let _ = self.cursor.segment().unlink_name();
        let _ = self.registry.segment().unlink_name();
        let _ = segment::unlink(&self.name.counters());
        // Consumers that died never leave, and one killed while creating its cursor or between
        // leaving and removing it leaves one too: their cursors would outlive the ring. So do
        // temporaries of processes killed while creating a segment.
        let reaped = self.registry.reap_dead();
        crate::cleanup::sweep_closed_ring(&self.name, &self.registry, &reaped);
        if let Some(dir) = self.name.consumers_dir().filter(|d| d.symlink_metadata().is_ok_and(|m| m.file_type().is_dir())) {
            // Fails while consumers still have cursors there; the last one to leave removes it.
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Slots claimed by [`RawProducer::claim`], written in place and published by `commit`.
pub struct RawClaim<'a> {
    producer: &'a mut RawProducer,
    first: i64,
    n: usize,
}

impl RawClaim<'_> {
    /// First claimed sequence.
    pub fn first_sequence(&self) -> i64 {
        self.first
    }

    /// Number of claimed slots.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Never true (claims are at least one slot).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Slot `i` of the claim.
    pub fn slot_mut(&mut self, i: usize) -> &mut [u8] {
        assert!(i < self.n, "slot {i} outside a claim of {}", self.n);
        // SAFETY: claimed slots are the producer's alone until committed.
        unsafe { std::slice::from_raw_parts_mut(self.producer.slot_ptr(self.first + i as i64), self.producer.element_size) }
    }

    /// Publishes every claimed slot with one cursor store. Returns the last sequence.
    pub fn commit(self) -> i64 {
        let last = self.first + self.n as i64 - 1;
        self.producer.publish_cursor(last);
        last
    }
}

/// The producer of a ring of `E` events (plain old data, safe to share as bytes).
#[derive(Debug)]
pub struct Producer<E: Pod> {
    raw: RawProducer,
    _event: PhantomData<fn(E)>,
}

impl<E: Pod> Producer<E> {
    /// Publishes `event`, waiting while the ring is full. Inlined into the caller: one typed
    /// store of the event, the cursor store, and a load of the wake word from a line that
    /// stays in this core's cache (SPEC.md §8 R8.c).
    #[inline(always)]
    pub fn publish(&mut self, event: &E) -> Result<i64> {
        self.raw.publish_pod(event)
    }

    /// Publishes the event `write` fills in place.
    #[inline]
    pub fn publish_with(&mut self, write: impl FnOnce(&mut E)) -> Result<i64> {
        self.raw.publish_with(|s| write(bytemuck::from_bytes_mut(s)))
    }

    /// Publishes `event`, or [`Error::Full`] at once.
    #[inline]
    pub fn try_publish(&mut self, event: &E) -> Result<i64> {
        self.raw.try_publish_with(|s| s.copy_from_slice(bytemuck::bytes_of(event)))
    }

    /// Publishes `n` events filled by `write(i, &mut E)`, one cursor store.
    #[inline]
    pub fn publish_batch(&mut self, n: usize, mut write: impl FnMut(usize, &mut E)) -> Result<i64> {
        self.raw.publish_batch(n, |i, s| write(i, bytemuck::from_bytes_mut(s)))
    }

    /// [`publish_batch`](Self::publish_batch), or [`Error::Full`] at once.
    pub fn try_publish_batch(&mut self, n: usize, mut write: impl FnMut(usize, &mut E)) -> Result<i64> {
        self.raw.try_publish_batch(n, |i, s| write(i, bytemuck::from_bytes_mut(s)))
    }

    /// Claims `n` slots for zero-copy writing.
    pub fn claim(&mut self, n: usize) -> Result<Claim<'_, E>> {
        Ok(Claim { raw: self.raw.claim(n)?, _event: PhantomData })
    }

    /// The untyped producer underneath.
    pub fn raw(&mut self) -> &mut RawProducer {
        &mut self.raw
    }

    /// Last published sequence.
    pub fn last_published(&self) -> i64 {
        self.raw.last_published()
    }

    /// Makes coalesced events visible (see [`ProducerBuilder::coalesce`]).
    pub fn flush(&mut self) {
        self.raw.flush()
    }
}

/// Typed view of a [`RawClaim`].
pub struct Claim<'a, E: Pod> {
    raw: RawClaim<'a>,
    _event: PhantomData<fn(E)>,
}

impl<E: Pod> Claim<'_, E> {
    /// Slot `i`.
    pub fn get_mut(&mut self, i: usize) -> &mut E {
        bytemuck::from_bytes_mut(self.raw.slot_mut(i))
    }

    /// Publishes the claim.
    pub fn commit(self) -> i64 {
        self.raw.commit()
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Never true.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
}

/// Removes what a failed `create` made so far, unless disarmed: each name only while it still
/// refers to the object this call created (a name somebody else re-created is left alone).
#[derive(Default)]
struct Undo {
    segments: Vec<(SegmentPath, segment::Identity)>,
    dir: Option<std::path::PathBuf>,
}

impl Undo {
    fn segment(&mut self, seg: &Segment) {
        self.segments.push((seg.path().clone(), seg.identity()));
    }

    fn disarm(&mut self) {
        self.segments.clear();
        self.dir = None;
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        for (p, identity) in &self.segments {
            let _ = segment::unlink_if_same(p, *identity);
        }
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// How many times a producer tries to create its ring when the registry it found vanishes
/// before it can open it (its producer closed meanwhile).
const CREATE_ATTEMPTS: usize = 8;

/// A segment a restart found but cannot make sense of: reported, never removed (its ring's
/// other segments exist, so it is not a half-made creation of ours: those are never visible).
fn damaged(what: &'static str, path: &SegmentPath, e: Error) -> Error {
    match e {
        Error::Layout { source, .. } if matches!(source, crate::layout::LayoutError::TooShort { .. } | crate::layout::LayoutError::Initializing | crate::layout::LayoutError::Truncated { .. }) => {
            Error::Damaged { what, name: path.to_string(), why: source.to_string() }
        }
        other => other,
    }
}

/// Opens the registry of a ring being restarted. No ringproof registry is ever visible
/// unfinished (it is linked into place whole), so one that is (empty, short, all zero) was
/// damaged or planted: reported, never reclaimed (SPEC.md §7.9 step 1). It must be private
/// (mode 0600, ours): a restart adopts it.
fn open_registry(path: &SegmentPath) -> Result<Registry> {
    let registry = Registry::open(path).map_err(|e| damaged("registry", path, e))?;
    if !mutant!("producer.restart-adopts-readable") {
        registry.segment().require_private()?;
    }
    Ok(registry)
}

/// A fresh non-zero ring epoch: distinct across rings and restarts with overwhelming odds.
fn new_epoch() -> u64 {
    let t = process::boottime_ns();
    let wall = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let local = 0u8;
    let addr = &local as *const u8 as u64;
    payload::mix(t ^ wall.rotate_left(17) ^ u64::from(process::own_pid()).rotate_left(40) ^ addr).max(1)
}
