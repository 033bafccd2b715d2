//! Attaching and leaving (SPEC.md §7.3, §7.5): finding the ring, the consumer's cursor, the
//! join under the registry's join lock and its handshake with the producer's rescan, so a
//! consumer never reads a slot the producer may overwrite; and the clean leave on drop. A
//! consumer of a disruptor-mp ring (no registry) joins by cursor name only (§10.1).

use super::config::{ConsumerConfig, OnLapped, FOREIGN_JOIN_SETTLE};
use super::{counting, RawConsumer};
use crate::counters::{register_consumer, Counters};
use crate::cursor::{position as sequence_read, Cursor};
use crate::error::{Error, Result};
use crate::layout::cursor::{INITIAL_SEQUENCE, JOINED, JOINING, REJOINING};
use crate::layout::registry::owner_word;
use crate::layout::Expect;
use crate::names::{validate_consumer_id, RingName};
use crate::registry::{Join, Registry};
use crate::segment::{self, Segment};
use crate::{futex, process, protocol};
use std::time::Duration;

/// The least time a joiner waits for the join lock (SPEC.md §7.3), whatever its attach
/// timeout: a join holds it for microseconds, so one held this long has a stopped holder.
const JOIN_LOCK_WAIT: Duration = Duration::from_secs(1);
/// How long a leaving consumer waits for the join lock before it leaves without it.
const LEAVE_LOCK_WAIT: Duration = Duration::from_millis(200);

/// How long an attaching consumer lets an unfinished cursor segment's creator (an earlier
/// incarnation under the same id) finish before it judges it dead.
const CURSOR_CREATOR_GRACE: Duration = Duration::from_millis(100);

impl RawConsumer {
    pub(super) fn attach(b: ConsumerConfig, expect: Expect) -> Result<RawConsumer> {
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
                let lock = reg.lock_joins(
                    b.name.name(),
                    deadline.max(std::time::Instant::now() + JOIN_LOCK_WAIT),
                )?;
                if let Err(e) = reg.check_id(&b.id) {
                    if mutant!("consumer.refused-join-touches-cursor") {
                        if let Ok(c) = Cursor::open(&path, "consumer cursor") {
                            protocol::commit(c.cell(), -1);
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
                    Err(e)
                        if segment::unfinished(&e)
                            && !mutant!("consumer.unfinished-cursor-kept") =>
                    {
                        if let Some(other) = b.name.existing_cursor_alias(&b.id) {
                            return Err(Error::NameAlias {
                                ring: b.name.name().to_owned(),
                                id: b.id.clone(),
                                other: other.name().to_owned(),
                                segment: path.to_string(),
                            });
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
        let joined = Self::join(
            &b,
            &cursor,
            created,
            epoch,
            head,
            &producer,
            registry.as_ref(),
        );
        if joined.is_err() && created {
            let _ = cursor.segment().unlink_name();
        }
        let (resume_from, joined) = joined?;
        drop(join_lock);
        // Observability only: no segment (a disruptor-mp ring) or no room means no counters.
        let counters = Counters::open(&b.name.counters())
            .ok()
            .and_then(|c| register_consumer(&c, &b.id).ok());
        Ok(RawConsumer {
            name: b.name,
            id: b.id,
            // SAFETY (mutant only): the header's 56 bytes are mapped.
            slots: if mutant!("consumer.alignment-ignored") {
                unsafe { ring.base().add(crate::layout::HEADER_SIZE) }
            } else {
                ring.payload()
            },
            _ring: ring,
            element_size: g.element_size as usize,
            capacity: g.capacity as usize,
            mask: g.capacity as i64 - 1,
            producer,
            cursor,
            own_slot: match (&registry, joined) {
                (Some(r), Some((i, _))) => r.slot(i),
                _ => std::ptr::null(),
            },
            registry,
            slot: joined.map(|(i, _)| i),
            owner: joined.map_or(0, |(_, owner)| owner),
            next: resume_from + 1,
            available: resume_from.max(INITIAL_SEQUENCE),
            wait: b.wait,
            last_check: None,
            published_at_look: None,
            refreshes: 0,
            idle_polls: 0,
            waited: false,
            count_at: if counters.is_some() {
                counting::next_count_at(resume_from)
            } else {
                i64::MAX
            },
            counters,
            counted: resume_from,
            lag_max: 0,
        })
    }

    /// Steps 3 (after creating or opening the cursor) to 5 of SPEC.md §7.3, under the join lock:
    /// the stale reset, the join, the handshake. Returns where to resume, and the slot with our
    /// owner word in it.
    fn join(
        b: &ConsumerConfig,
        cursor: &Cursor,
        created: bool,
        epoch: u64,
        head: i64,
        producer: &Cursor,
        registry: Option<&Registry>,
    ) -> Result<(i64, Option<(usize, u64)>)> {
        let cell = cursor.cell();
        let found_epoch = protocol::cursor_epoch(cell);
        // An existing cursor is provably ours only with our ring's (non-zero) epoch. Any other
        // may be another ring's whose shm name coincides with ours (`/N_{id}_seq` of ring `N`
        // is `/M_{j}_seq` of ring `M` for other splits at a '_'): while such a ring exists,
        // refuse before resetting, joining with or committing into it (SPEC.md §3.5).
        if !created && (found_epoch != epoch || epoch == 0) && !mutant!("consumer.adopts-alias") {
            if let Some(other) = b.name.existing_cursor_alias(&b.id) {
                return Err(Error::NameAlias {
                    ring: b.name.name().to_owned(),
                    id: b.id.clone(),
                    other: other.name().to_owned(),
                    segment: cursor.path().to_string(),
                });
            }
        }
        let stale = !created && found_epoch != epoch && !mutant!("consumer.no-stale-reset");
        if stale {
            // Left by an earlier ring under this name (no other ring can own the name: the
            // alias check passed): its value means nothing here.
            protocol::reset_stale(cell, head, epoch);
        }
        let fresh = created || stale;
        let mut resume_from =
            sequence_read("consumer cursor", cursor.path(), protocol::position(cell))?;

        // 2. Join (or take over our slot if our previous incarnation died).
        let Some(reg) = registry else {
            if fresh {
                // No handshake with a disruptor-mp producer: it finds our cursor by probing
                // names, at most once per discovery interval (10 ms by default). Give it two
                // intervals, then start after whatever it published meanwhile, and only then
                // count ourselves ready, so a producer waiting for us publishes nothing we skip
                // (SPEC.md §10.1).
                std::thread::sleep(FOREIGN_JOIN_SETTLE);
                resume_from = sequence_read(
                    "producer cursor",
                    producer.path(),
                    protocol::join_head(producer.cell()),
                )?;
                protocol::commit(cell, resume_from);
                signal_foreign_readiness(&b.name);
            }
            return Ok((resume_from, None));
        };
        // Until the handshake below completes, the cursor says a join is under way.
        let joining = if fresh { JOINING } else { REJOINING };
        let (i, join) = reg.join(&b.id, b.name.name(), || {
            protocol::mark_joining(cell, joining)
        })?;
        // The owner word the join stored (Registry::join's): this process's, not read back from
        // the slot, so that a later change of the word is noticed (check_standing, leave).
        let me = owner_word(process::own_pid(), process::own_start_time());
        crate::failpoint::hit("consumer.attach");
        // The handshake: the join's generation bump and fence are done; whatever the producer
        // publishes from here on respects our cursor.
        let second = if mutant!("consumer.join-skips-second-load") {
            head
        } else {
            protocol::join_head(producer.cell())
        };
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
        let how = if join == Join::TakeOver {
            protocol::join_state(cell)
        } else {
            joining
        };
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
                    return Err(if evicted {
                        Error::Evicted { id, from, to }
                    } else {
                        Error::Lapped { id, from, to }
                    });
                }
            }
            _ => {}
        }
        protocol::commit(cell, resume_from);
        protocol::mark_joined(cell);
        Ok((resume_from, Some((i, me))))
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
                protocol::count_ready(ready.cell());
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
        self.flush();
        // Under the join lock, so that a joiner under our id sees our slot ACTIVE, or neither
        // slot nor cursor (SPEC.md §7.5). A lock held past LEAVE_LOCK_WAIT has a stopped holder:
        // leave without it rather than hang an exiting process.
        let lock = self.registry.as_ref().and_then(|r| {
            r.lock_joins(
                self.name.name(),
                std::time::Instant::now() + LEAVE_LOCK_WAIT,
            )
            .ok()
        });
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
