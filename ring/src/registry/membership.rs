//! Joining and leaving (SPEC.md §7.3, §7.5): the join lock that makes joins of a ring happen
//! one at a time, the id check, taking a slot (fresh, takeover, re-join), refusing a join, and
//! the clean leave.

use super::Registry;
use crate::error::{Error, Result};
use crate::layout::registry::{owner_pid, owner_word, SlotState};
use crate::process;
use crate::protocol;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::time::{Duration, Instant};

/// How often [`Registry::join`] looks again after losing a CAS to the producer's retire or reap.
const JOIN_ATTEMPTS: usize = 16;

/// The ring's join lock (see [`Registry::lock_joins`]); released on drop.
pub struct JoinLock {
    _lock: Option<Flock<File>>,
}

impl std::fmt::Debug for JoinLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JoinLock")
    }
}

/// How [`Registry::join`] got its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// A free slot: a new consumer.
    Fresh,
    /// The id's ACTIVE slot whose owner died: it gated the producer all along.
    TakeOver,
    /// The id's slot the producer had marked dead (or evicted): it stopped gating.
    Rejoin { evicted: bool },
}

impl Registry {
    /// Takes the ring's join lock: an exclusive `flock(2)` on the registry object, which every
    /// consumer holds from its id lookup to the end of its join handshake, and while it leaves
    /// (SPEC.md §7.3, §7.5). Joins and leaves of one ring thus happen one at a time, so "is the id
    /// taken?" and "take a slot" are one step for every other joiner. The kernel releases the
    /// lock when its holder dies, so there is no dead holder to detect; a live holder that keeps
    /// it (a stopped process) makes this fail with [`Error::JoinLockTimeout`] at `deadline`.
    /// Fails with [`Error::NotFound`] if the registry's name no longer refers to this registry.
    pub fn lock_joins(&self, ring: &str, deadline: Instant) -> Result<JoinLock> {
        let started = Instant::now();
        let mut file = self.seg.reopen("registry")?;
        loop {
            if mutant!("registry.no-join-lock") {
                return Ok(JoinLock { _lock: None });
            }
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => return Ok(JoinLock { _lock: Some(lock) }),
                Err((f, Errno::EWOULDBLOCK | Errno::EINTR)) => file = f,
                Err((_, e)) => {
                    return Err(Error::Io {
                        op: "flock",
                        name: self.seg.path().to_string(),
                        source: e.into(),
                    })
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::JoinLockTimeout {
                    ring: ring.to_owned(),
                    waited: started.elapsed(),
                });
            }
            // A join holds the lock for microseconds: a back-off, not data synchronisation.
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Fails with [`Error::ConsumerIdInUse`] if an ACTIVE slot holds `id` for a live process.
    /// Called under the join lock, before the joiner creates or opens its cursor: a refused
    /// joiner touches nothing (SPEC.md §7.3 step 2).
    pub fn check_id(&self, id: &str) -> Result<()> {
        let me = owner_word(process::own_pid(), process::own_start_time());
        for i in 0..self.slots {
            let s = self.slot(i);
            let Some(state) = protocol::slot_state(s).filter(|st| st.holds_id()) else {
                continue;
            };
            if self.slot_id(i).as_deref() == Some(id) {
                let owner = protocol::owner(s);
                if self.holds_id(i, state, owner, me) {
                    return Err(Error::ConsumerIdInUse {
                        id: id.to_owned(),
                        pid: owner_pid(owner),
                    });
                }
            }
        }
        Ok(())
    }

    /// Whether slot `i` (in `state`, owned by `owner`) keeps its id from a joiner `me`: an
    /// ACTIVE slot whose owner may be alive, or a DEAD or EVICTED one whose owner may be alive
    /// and is another process. The producer retires a slot it judges dead, and a judgement by
    /// heartbeat (another pid namespace) can be wrong: that owner still runs, learns it was
    /// retired on its next read (§7.10), and until it leaves, its id is not free. The process
    /// that was refused or retired may re-join its own slot (a resync, §7.3 step 5).
    fn holds_id(&self, i: usize, state: SlotState, owner: u64, me: u64) -> bool {
        if mutant!("consumer.duplicate-id-allowed") && owner != me {
            return false;
        }
        match state {
            SlotState::Active => mutant!("consumer.no-takeover") || self.slot_alive_word(i, owner),
            _ => owner != me && self.slot_alive_word(i, owner),
        }
    }

    /// Joins as consumer `id`: takes over its slot if its previous owner died while the slot
    /// still gated the producer, re-joins a slot the producer marked dead or evicted, or claims
    /// a free slot. For a re-join or a fresh join, `before_gating` runs once the slot is ours and
    /// before it gates (the consumer marks its cursor as joining there, SPEC.md §7.3 step 4).
    ///
    /// The caller holds the join lock ([`lock_joins`](Self::lock_joins)), so no other joiner
    /// runs; the producer may still retire or reap a slot meanwhile. Each claim is a CAS, and
    /// one lost to the producer makes the join look again rather than fail.
    pub fn join(
        &self,
        id: &str,
        ring: &str,
        before_gating: impl FnOnce(),
    ) -> Result<(usize, Join)> {
        let pid = process::own_pid();
        let start = process::own_start_time();
        let me = owner_word(pid, start);
        let mut lost = None;
        'retry: for attempt in 0..JOIN_ATTEMPTS {
            for i in 0..self.slots {
                let s = self.slot(i);
                let Some(state) = protocol::slot_state(s).filter(|st| st.holds_id()) else {
                    continue;
                };
                if self.slot_id(i).as_deref() != Some(id) {
                    continue;
                }
                let owner = protocol::owner(s);
                if self.holds_id(i, state, owner, me) {
                    return Err(Error::ConsumerIdInUse {
                        id: id.to_owned(),
                        pid: owner_pid(owner),
                    });
                }
                if owner == 0 && attempt + 1 < JOIN_ATTEMPTS {
                    // A reap (§7.6) between its owner CAS and its FREE store: claiming the slot
                    // now could see it freed under us. Let it finish (a reaper that died there
                    // left the slot to whoever comes: the last attempt takes it).
                    std::thread::yield_now();
                    continue 'retry;
                }
                // Whoever swaps the dead owner out wins the slot; a reap (owner to 0) that got
                // there first freed it, so look again.
                if let Err(now) = protocol::take_owner(s, owner, me) {
                    lost = Some(now);
                    continue 'retry;
                }
                // The dead owner may have died parked: its count is ours to take back.
                self.take_back_parked(i);
                protocol::record_owner(s, start, process::boottime_ns(), process::own_pid_ns());
                protocol::new_incarnation(s);
                // The producer may have retired the dead owner's ACTIVE slot while we took it
                // over: it stopped gating, so this is a re-join after all. (A word no
                // participant writes counts as retired: the slot is re-activated.)
                let state = if state == SlotState::Active {
                    protocol::slot_state(s)
                } else {
                    Some(state)
                };
                if state != Some(SlotState::Active) {
                    before_gating();
                    protocol::activate(s);
                }
                self.bump();
                return Ok((
                    i,
                    match state {
                        Some(SlotState::Active) => Join::TakeOver,
                        Some(SlotState::Evicted) => Join::Rejoin { evicted: true },
                        _ => Join::Rejoin { evicted: false },
                    },
                ));
            }
            for i in 0..self.slots {
                let s = self.slot(i);
                let overwrite = mutant!("registry.full-overwrites") && i + 1 == self.slots;
                if protocol::claim_free(s) || overwrite {
                    // A FREE slot holds no mark, unless a consumer that lost it (reaped) parked
                    // on it anyway and died before it took its count back.
                    self.take_back_parked(i);
                    // SAFETY: CLAIMING gives this process sole ownership of the id bytes (the
                    // `overwrite` mutant breaks that on purpose); `id` is a validated id of at
                    // most MAX_ID_LEN bytes.
                    unsafe {
                        protocol::fill_claimed(
                            s,
                            id.as_bytes(),
                            me,
                            start,
                            process::boottime_ns(),
                            process::own_pid_ns(),
                        )
                    };
                    before_gating();
                    protocol::activate(s);
                    if !mutant!("consumer.join-no-generation") {
                        self.bump();
                    }
                    return Ok((i, Join::Fresh));
                }
            }
            return Err(Error::RegistryFull {
                ring: ring.to_owned(),
                slots: self.slots,
            });
        }
        // Only a participant that ignores the join lock can keep winning our CASes.
        Err(Error::ConsumerIdInUse {
            id: id.to_owned(),
            pid: lost.map_or(0, owner_pid),
        })
    }

    /// Refuses a join that took slot `i` (its cursor was lapped, or it was evicted): the slot
    /// stops gating and goes back to DEAD (EVICTED if `evicted`), so a retry is refused the same
    /// way and the closing producer frees it and removes its cursor once the refused process is
    /// gone (SPEC.md §7.3 step 5, §7.6).
    pub fn refuse(&self, i: usize, evicted: bool) {
        protocol::step_down(
            self.slot(i),
            self.control(),
            if evicted {
                SlotState::Evicted
            } else {
                SlotState::Dead
            },
        );
    }

    /// Leaves slot `i` if its owner word is still `me` (the word [`join`](Self::join) stored):
    /// the consumer stops gating. Returns whether the slot was
    /// ours or nobody's; a slot another process took over (this one was judged dead and a
    /// restart under its id took the slot and its cursor) is left alone, and so is the cursor
    /// (SPEC.md §7.5).
    pub fn leave(&self, i: usize, me: u64) -> bool {
        let s = self.slot(i);
        match protocol::owner(s) {
            // Planted defects (each drops one step of `protocol::leave`).
            owner if owner == me && mutant!("consumer.leave-no-generation") => {
                protocol::release_owner(s);
                protocol::free(s);
                true
            }
            owner if owner == me && mutant!("consumer.leave-keeps-active") => {
                protocol::release_owner(s);
                protocol::announce(self.control());
                true
            }
            owner if owner == me => {
                protocol::leave(s, self.control());
                true
            }
            0 => true,
            _ => false,
        }
    }
}
