//! A producer's life: creating a ring (or restarting one whose producer died, SPEC.md §7.9),
//! assembling the producer over its segments, waiting for consumers before the first publish
//! (§7.8), and the clean shutdown on drop (§7.6). Everything here runs once per producer.

use super::config::{Coordination, ProducerConfig};
use super::RawProducer;
use crate::counters::{register_producer, Counters};
use crate::cursor::Cursor;
use crate::error::{Error, Result};
use crate::layout::cursor::INITIAL_SEQUENCE;
use crate::layout::{fresh_header, header::MIN_ALIGNMENT, Expect, SegmentKind};
use crate::liveness::Required;
use crate::names::{validate_consumer_id, SegmentPath};
use crate::registry::Registry;
use crate::segment::{self, Segment};
use crate::sync::AtomicU32;
use crate::{futex, payload, process};
use std::time::{Duration, Instant};

impl RawProducer {
    pub(super) fn create(
        b: ProducerConfig,
        element_size: usize,
        alignment: usize,
    ) -> Result<RawProducer> {
        if b.capacity == 0 || !b.capacity.is_power_of_two() {
            return Err(Error::InvalidConfig(format!(
                "capacity {} is not a power of two",
                b.capacity
            )));
        }
        if element_size == 0 {
            return Err(Error::InvalidConfig(
                "events of 0 bytes carry nothing".into(),
            ));
        }
        if element_size as u64 > crate::layout::MAX_ELEMENT_SIZE {
            return Err(Error::InvalidConfig(format!("events of {element_size} bytes exceed the {} bytes a ring slot may hold (SPEC.md §2.2); pass larger data by reference", crate::layout::MAX_ELEMENT_SIZE)));
        }
        if !alignment.is_power_of_two() || alignment > crate::layout::MAX_ALIGNMENT {
            return Err(Error::InvalidConfig(format!(
                "alignment {alignment} is not a power of two up to 4096"
            )));
        }
        if alignment > MIN_ALIGNMENT && element_size % alignment != 0 {
            return Err(Error::InvalidConfig(format!(
                "element size {element_size} is not a multiple of its alignment {alignment}"
            )));
        }
        if b.registry_slots == 0 {
            return Err(Error::InvalidConfig(
                "a registry needs at least one slot".into(),
            ));
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
        Err(Error::AlreadyExists {
            what: "registry",
            name: b.name.registry().to_string(),
        })
    }

    /// One attempt: `None` when the registry this attempt found was removed under it.
    fn create_or_restart(
        b: ProducerConfig,
        element_size: usize,
        alignment: usize,
    ) -> Result<Option<RawProducer>> {
        let (header, geometry) = fresh_header(
            SegmentKind::Ring,
            alignment,
            element_size as u64,
            b.capacity as u64,
        )
        .ok_or_else(|| {
            Error::InvalidConfig(format!("{} x {element_size} bytes overflows", b.capacity))
        })?;
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
        let initial = if mutant!("producer.cursor-initial-zero") {
            0
        } else {
            INITIAL_SEQUENCE
        };
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
    fn restart(
        b: ProducerConfig,
        element_size: usize,
        alignment: usize,
    ) -> Result<Option<RawProducer>> {
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
        reset_consumer_waiters(&b.name, &registry, epoch);
        let mut undo = Undo::default();
        let cursor = match Cursor::open(&b.name.producer_cursor(), "producer cursor") {
            Ok(c) => c,
            // Died before creating it (we took over: it is dead): nothing was published.
            Err(Error::NotFound { .. }) => {
                let c = Cursor::create(
                    &b.name.producer_cursor(),
                    "producer cursor",
                    INITIAL_SEQUENCE,
                    epoch,
                )?;
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
                let (header, geometry) = fresh_header(
                    SegmentKind::Ring,
                    alignment,
                    element_size as u64,
                    b.capacity as u64,
                )
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

    fn assemble(
        b: ProducerConfig,
        ring: Segment,
        cursor: Cursor,
        registry: Registry,
        element_size: usize,
        restarted: bool,
    ) -> Result<RawProducer> {
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
            next: if restarted && mutant!("producer.restart-at-0") {
                0
            } else {
                last + 1
            },
            limit: last,
            gates: Vec::new(),
            gates_mapped: true,
            seen_generation: u64::MAX,
            discovery: b.discovery,
            last_discovery: None,
            wait: b.wait,
            coalesce: b.coalesce as i64,
            stored: last,
            counted: last,
            required: b.required.map(Required::new),
            last_check: None,
            last_beat: None,
            last_parked_look: None,
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
            let missing: Vec<String> = ids
                .iter()
                .filter(|id| !self.gates.iter().any(|g| &g.id == *id))
                .cloned()
                .collect();
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
    ///
    /// # Errors
    ///
    /// [`Error::ConsumersMissing`]: fewer than `min` consumers gate
    /// the ring at `timeout`.
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
                return Err(Error::ConsumersMissing {
                    min,
                    found: self.gates.len(),
                    timeout,
                });
            }
            // Membership polling during startup only; no event data depends on this sleep.
            std::thread::sleep(Duration::from_millis(1));
        }
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
            let final_sequence = if mutant!("producer.close-final-off-by-one") {
                self.next - 2
            } else {
                self.next - 1
            };
            self.registry.close(if mutant!("producer.close-no-final") {
                -1
            } else {
                final_sequence
            });
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
        if let Some(dir) = self
            .name
            .consumers_dir()
            .filter(|d| d.symlink_metadata().is_ok_and(|m| m.file_type().is_dir()))
        {
            // Fails while consumers still have cursors there; the last one to leave removes it.
            let _ = std::fs::remove_dir(dir);
        }
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

/// A restart's repair of the wake words its dead predecessor may have left (SPEC.md §7.9 step 2):
/// only the ring's producer parks on a consumer cursor's `waiters` (consumers park on the
/// producer cursor, and a foreign producer never parks), so once the ring is ours, a non-zero
/// word there is the announcement of a producer killed while it waited for room. Left alone,
/// that consumer would make a `FUTEX_WAKE` per commit for the rest of the ring's life. Every
/// cursor a registry slot names and that carries this ring's epoch is reset; a cursor that
/// cannot be opened now is skipped (the worst it keeps is that syscall per commit).
fn reset_consumer_waiters(name: &crate::names::RingName, registry: &Registry, epoch: u64) {
    if mutant!("producer.restart-keeps-waiters") {
        return;
    }
    for i in 0..registry.slots() {
        let held = registry.state(i).is_some_and(|s| s.holds_id());
        let Some(id) = registry.slot_id(i).filter(|_| held) else {
            continue;
        };
        if let Ok(cursor) = Cursor::open(&name.consumer_cursor(&id), "consumer cursor") {
            if crate::protocol::cursor_epoch(cursor.cell()) == epoch {
                crate::protocol::reset_waiters(cursor.cell());
            }
        }
    }
}

/// A segment a restart found but cannot make sense of: reported, never removed (its ring's
/// other segments exist, so it is not a half-made creation of ours: those are never visible).
fn damaged(what: &'static str, path: &SegmentPath, e: Error) -> Error {
    match e {
        Error::Layout { source, .. }
            if matches!(
                source,
                crate::layout::LayoutError::TooShort { .. }
                    | crate::layout::LayoutError::Initializing
                    | crate::layout::LayoutError::Truncated { .. }
            ) =>
        {
            Error::Damaged {
                what,
                name: path.to_string(),
                why: source.to_string(),
            }
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
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let local = 0u8;
    let addr = &local as *const u8 as u64;
    payload::mix(t ^ wall.rotate_left(17) ^ u64::from(process::own_pid()).rotate_left(40) ^ addr)
        .max(1)
}
