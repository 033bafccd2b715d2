//! The mutation score of the catalogue: planted defects in the reference implementation
//! (`ring/src/mutant.rs`, feature `mutants`) and the cases that must kill each one.
//!
//! A mutant is *killed* when at least one instance of its killer cases does not pass (fail,
//! error or timeout) with the mutant in both roles. The `mutants` test fails for every mutant
//! that survives unless [`SURVIVORS`] lists it with a reason, and for every listed survivor
//! that is killed after all. `ringproof conform --mutants` (a CLI built with `--features
//! mutants`) prints the score; `--mutants --all` runs the whole catalogue against each mutant
//! instead of its killers, to find which other cases catch it.

use crate::cases::Case;
use crate::driver::Implementation;
use crate::expected::glob_match;
use crate::protocol::Backend;
use crate::runner::{self, InstanceResult, Probed, Status};
use crate::schema::Schema;
use std::sync::Arc;

/// One planted defect.
pub struct Mutant {
    /// The value of `RINGPROOF_MUTANT` that switches it on; also the literal at its mutation
    /// point (`mutant!("...")` in the ring crate).
    pub name: &'static str,
    /// The SPEC.md rules it breaks.
    pub rules: &'static [&'static str],
    /// What the defective implementation does, in one line.
    pub what: &'static str,
    /// Case id globs that must kill it.
    pub killers: &'static [&'static str],
}

/// Every planted defect, grouped by the part of the protocol it breaks.
pub const MUTANTS: &[Mutant] = &[
    // ---- exploration: found by --explore (conformance/src/explore/)
    Mutant { name: "consumer.resume-off-by-one", rules: &["R7.3.5"], what: "a consumer taking over its crashed incarnation's slot resumes at committed + 2, losing one event", killers: &["restart.consumer-resumes"] },
    Mutant { name: "producer.close-final-off-by-one", rules: &["R7.6"], what: "the clean close records the final sequence one too low: consumers stop before the last event", killers: &["close.consumer-drains"] },
    Mutant { name: "producer.no-gating", rules: &["R7.2"], what: "the producer never waits for consumers and overwrites unread slots", killers: &["backpressure.no-overwrite"] },
    Mutant { name: "producer.gate-off-by-one", rules: &["R7.2.3"], what: "the producer's limit is one past min + capacity: it overwrites the slot the slowest consumer is about to read", killers: &["backpressure.no-overwrite"] },
    Mutant { name: "producer.batch-store-per-event", rules: &["R7.1.3"], what: "a batch stores the producer cursor after every event instead of once", killers: &["batch.one-store"] },
    Mutant { name: "producer.header-magic-first", rules: &["R2.1"], what: "every segment's magic is stored before the rest of its header (the creator then pauses 30 ms, so a watcher sees the gap)", killers: &["layout.header-write-order"] },
    Mutant { name: "producer.checksum-range", rules: &["R2"], what: "the header checksum is FNV-1a of bytes 0..48 instead of the 56 bytes with the checksum field zeroed", killers: &["layout.header.checksum"] },
    Mutant { name: "producer.cursor-initial-zero", rules: &["R5"], what: "a new producer cursor holds 0 instead of -1 (as if event 0 were published)", killers: &["layout.cursor.initial"] },
    Mutant { name: "producer.file-mode-0644", rules: &["R3.1"], what: "segments are created with mode 0644 instead of 0600", killers: &["layout.names"] },
    Mutant { name: "producer.stale-epoch-gating", rules: &["R7.2.2", "R10.2"], what: "the producer gates on discovered cursors of any epoch, not just disruptor-mp's (epoch 0)", killers: &["stale.epoch-no-gating"] },
    Mutant { name: "producer.no-wake", rules: &["R7.1.4", "R8"], what: "the producer never FUTEX_WAKEs sleeping consumers after a cursor store (they wake on the 10 ms backstop)", killers: &["wait.wake-latency"] },
    Mutant { name: "producer.publish-before-write", rules: &["R7.1.2", "R7.1.3"], what: "the producer stores the cursor before writing the slot", killers: &["spsc.wraparound*", "spsc.lease", "spmc.broadcast"] },
    Mutant { name: "producer.wake-word-on-cursor", rules: &["R7.1.4", "R8.c"], what: "the producer reads its cursor cell's `waiters` after a store, not the registry's `consumers_parked` where consumers announce themselves (parked consumers wake on the backstop)", killers: &["wait.wake-latency"] },
    Mutant { name: "registry.parked-count-kept", rules: &["R8.d", "R7.10.c"], what: "retiring, reaping or taking over a slot leaves its park mark and count: a consumer killed while parked stays counted in `consumers_parked`, and the producer makes a FUTEX_WAKE per publish", killers: &["wait.killed-parked-consumer-uncounted"] },
    Mutant { name: "producer.no-parked-look", rules: &["R8.d"], what: "the producer's wake path never judges marked gating consumers: one killed while parked is uncounted only once the ring fills", killers: &["wait.killed-parked-consumer-uncounted-soon"] },
    Mutant { name: "producer.restart-keeps-waiters", rules: &["R7.9.a"], what: "a restart leaves the consumer cursors' `waiters` as its dead predecessor left them: a producer killed while parked for room stays counted, and the consumer makes a FUTEX_WAKE per commit", killers: &["wait.killed-parked-producer-uncounted"] },
    Mutant { name: "consumer.no-waiters-announce", rules: &["R8"], what: "a sleeper parks on the futex without incrementing `waiters`, so no waker ever wakes it (backstop only)", killers: &["wait.wake-latency", "wait.producer-wakes"] },
    Mutant { name: "consumer.no-wake", rules: &["R7.4.4", "R8"], what: "a consumer's commit never FUTEX_WAKEs a producer waiting for room", killers: &["wait.producer-wakes"] },
    Mutant { name: "consumer.commit-before-read", rules: &["R7.4"], what: "a copying read commits the cursor before it reads the slot, so the producer may rewrite it meanwhile", killers: &["spsc.wraparound*"] },
    Mutant { name: "consumer.reads-past-cursor", rules: &["R7.4"], what: "the consumer takes the producer cursor as one more than it is and reads a slot not yet published", killers: &["spsc.wraparound*"] },
    Mutant { name: "consumer.no-checksum-check", rules: &["R2.2.5"], what: "header validation skips the checksum (step 5)", killers: &["reject.bad-checksum"] },
    Mutant { name: "consumer.no-magic-check", rules: &["R2.2.3"], what: "header validation accepts any non-zero magic (step 3)", killers: &["reject.bad-magic", "reject.producer-cursor-bad-magic"] },
    Mutant { name: "consumer.no-length-check", rules: &["R2.2.13"], what: "header validation skips the segment length check (step 13) and maps a truncated ring", killers: &["reject.truncated"] },
    Mutant { name: "consumer.no-element-size-check", rules: &["R2.2.10"], what: "header validation ignores a ring of another event size (step 10)", killers: &["reject.element-size-mismatch"] },
    Mutant { name: "consumer.alignment-ignored", rules: &["R2", "R4"], what: "the consumer reads slots at offset 56 whatever the ring's alignment (the payload offset of alignment 8)", killers: &["spsc.aligned*"] },
    Mutant { name: "consumer.counters-unflushed", rules: &["R12.6.c"], what: "a consumer adds to events_consumed once per 64 events but never catches up with its cursor (no flush, not at an empty poll)", killers: &["counters.layout"] },
    Mutant { name: "producer.counters-bytes-uncounted", rules: &["R12.6"], what: "the producer counts published events but never adds to events_published_bytes", killers: &["counters.layout"] },
    // ---- names and permissions (cases/names.rs)
    Mutant { name: "names.no-ending-check", rules: &["R3.a"], what: "ring names ending in _seq, _cr, _registry or _counters are accepted", killers: &["names.illegal-ring-refused"] },
    Mutant { name: "names.producer-id-allowed", rules: &["R3.b"], what: "the consumer ids `producer` and `*_producer` are accepted", killers: &["names.illegal-id-refused"] },
    Mutant { name: "segment.follows-symlinks", rules: &["R3.1.b"], what: "segments are opened through symbolic links", killers: &["reject.symlink"] },
    Mutant { name: "segment.no-owner-mode-check", rules: &["R3.1.b", "R3.1.c", "R3.1.d"], what: "segments and consumers directories others may write are accepted", killers: &["reject.group-writable"] },
    Mutant { name: "segment.consumers-dir-0755", rules: &["R3.1.d"], what: "the consumers directory is created with mode 0755", killers: &["reject.consumers-dir-writable"] },
    Mutant { name: "segment.keeps-dead-temps", rules: &["R3.3.b"], what: "temporaries of dead creators are never removed", killers: &["cleanup.dead-temporaries"] },
    // ---- the registry from outside (cases/registry.rs)
    Mutant { name: "consumer.corrupt-cursor-accepted", rules: &["R7.3.a"], what: "a cursor value below -1 is used as a position", killers: &["reject.corrupt-cursor"] },
    Mutant { name: "consumer.unfinished-cursor-kept", rules: &["R7.3.b"], what: "an unfinished cursor under the id is never replaced: the join fails", killers: &["join.unfinished-cursor-replaced"] },
    Mutant { name: "consumer.adopts-alias", rules: &["R3.5.2"], what: "an existing cursor of another ring's epoch is reset and used although that ring exists", killers: &["names.cursor-alias"] },
    Mutant { name: "registry.no-join-lock", rules: &["R7.3.2"], what: "joins and leaves take no join lock", killers: &["join.lock-respected"] },
    Mutant { name: "registry.unvalidated-id", rules: &["R7.6.a"], what: "registry ids are used to build paths without validation", killers: &["close.hostile-registry-id"] },
    Mutant { name: "producer.restart-adopts-readable", rules: &["R3.1.c"], what: "a restart adopts a registry that others may read", killers: &["restart.refuses-readable-registry"] },
    Mutant { name: "producer.gates-when-alone", rules: &["R7.8.a", "R7.2.2"], what: "with no gate at all, the producer stops at its first limit instead of publishing to nobody", killers: &["coordination.immediate"] },
    Mutant { name: "producer.close-no-reap", rules: &["R7.6.4"], what: "the closing producer frees no dead consumer's slot and removes no dead consumer's cursor", killers: &["cleanup.dead-consumer-reaped"] },
    // ---- disruptor-mp peers (cases/compat.rs)
    Mutant { name: "producer.no-foreign-discovery", rules: &["R10.2.a"], what: "the producer never probes N_{prefix}_{k}_seq, so it does not gate on disruptor-mp consumers", killers: &["compat.foreign-gate"] },
    Mutant { name: "consumer.no-ready-count", rules: &["R10.1.a"], what: "a consumer of a registry-less ring never increments N_cr", killers: &["compat.registryless-ring"] },
    // ---- unfinished headers (cases/header.rs)
    Mutant { name: "consumer.unfinished-ring-final", rules: &["R2.2.2", "R2.2.b"], what: "a ring whose magic is still 0 is refused at once instead of retried until the attach deadline", killers: &["join.waits-for-unfinished-ring"] },
    // ---- lifecycle: joins, leaves, liveness, restarts, the registry
    Mutant { name: "consumer.rejoin-skips-lapped-check", rules: &["R7.3.5"], what: "a re-join whose cursor did not gate resumes at its old cursor instead of failing with lapped/evicted, reading overwritten slots", killers: &["rejoin.after-retirement", "required.evict"] },
    Mutant { name: "consumer.join-skips-second-load", rules: &["R7.3.5"], what: "a fresh join starts after the head it loaded before joining, not after a second load of the producer cursor made after the join was announced", killers: &["join.racing-rescan"] },
    Mutant { name: "producer.no-retire-dead", rules: &["R7.10"], what: "the producer never retires a dead non-required consumer, which gates it forever", killers: &["liveness.dead-retired", "rejoin.after-retirement"] },
    Mutant { name: "consumer.leave-keeps-active", rules: &["R7.5"], what: "a clean leave stores owner 0 but leaves the slot ACTIVE (only the producer's liveness check ever frees it)", killers: &["leave.frees-slot"] },
    Mutant { name: "registry.generation-starts-1", rules: &["R6.1"], what: "a fresh registry's generation is 1, not 0", killers: &["registry.generation"] },
    Mutant { name: "consumer.duplicate-id-allowed", rules: &["R7.3.2"], what: "a join under the id of a live consumer takes its slot over instead of failing with id in use", killers: &["join.duplicate-id"] },
    Mutant { name: "producer.restart-at-0", rules: &["R7.9.5"], what: "a restarted producer publishes from sequence 0 instead of after the dead producer's cursor", killers: &["restart.producer-resumes"] },
    Mutant { name: "consumer.no-stale-reset", rules: &["R7.3.3"], what: "a consumer adopts a cursor of an earlier epoch as its own and resumes from its value", killers: &["stale.cursor-ignored", "stale.epoch-late-join"] },
    Mutant { name: "producer.required-no-alert", rules: &["R7.10"], what: "the producer never raises an alert for a stalled or dead required consumer, so no action ever runs", killers: &["required.stall-alert", "required.shutdown"] },
    Mutant { name: "consumer.evicted-wrong-range", rules: &["R7.10"], what: "an evicted consumer names the missed range from next + 1 instead of next", killers: &["required.evict"] },
    Mutant { name: "consumer.producer-gone-sticky", rules: &["R7.10"], what: "once a consumer saw its producer gone it keeps reporting producer gone after a restarted producer is back", killers: &["liveness.producer-gone"] },
    Mutant { name: "registry.full-overwrites", rules: &["R7.3.4"], what: "a join into a full registry overwrites the last slot instead of failing with registry full", killers: &["registry.full"] },
    Mutant { name: "consumer.no-takeover", rules: &["R7.3.4"], what: "a restart under the id of a dead consumer whose slot is ACTIVE is refused as id in use instead of taking the slot over", killers: &["rejoin.after-death", "restart.consumer-resumes"] },
    Mutant { name: "producer.close-no-final", rules: &["R7.6.1"], what: "the closing producer leaves final_sequence at -1", killers: &["close.consumer-drains"] },
    Mutant { name: "producer.close-leaks", rules: &["R7.6.3"], what: "the closing producer does not remove the ring segment's name", killers: &["cleanup.no-leak"] },
    Mutant { name: "consumer.leave-keeps-cursor", rules: &["R7.5"], what: "a clean leave frees the slot but leaves the cursor segment behind", killers: &["leave.frees-slot", "cleanup.no-leak"] },
    Mutant { name: "consumer.leave-no-generation", rules: &["R7.5"], what: "a clean leave frees its slot without incrementing the generation, so the producer keeps gating on it", killers: &["leave.frees-slot", "leave.stops-gating"] },
    Mutant { name: "consumer.join-no-generation", rules: &["R7.3.4"], what: "a fresh join claims its slot without incrementing the generation, so a producer that already rescanned never gates on it", killers: &["registry.generation", "join.racing-rescan"] },
    Mutant { name: "consumer.takeover-resumes-at-head", rules: &["R7.3.4"], what: "a takeover of a completed join resumes at the head instead of after the dead owner's committed cursor, skipping its unread events", killers: &["rejoin.after-death"] },
    Mutant { name: "consumer.resync-ignored", rules: &["R7.3.5"], what: "a re-join asked to resync fails with lapped/evicted anyway", killers: &["rejoin.after-retirement", "required.evict"] },
    Mutant { name: "consumer.ignores-eviction", rules: &["R7.10"], what: "a consumer does not check its slot state when it refreshes the producer cursor and after reading, so an evicted consumer reads overwritten slots", killers: &["required.evict"] },
    Mutant { name: "producer.retire-required-dead", rules: &["R7.10"], what: "a dead required consumer under the alert action is retired like a non-required one and stops gating", killers: &["required.alert-keeps-gating"] },
    Mutant { name: "producer.evict-ignored", rules: &["R7.10"], what: "the evict action never evicts: the producer stays blocked on the stalled required consumer", killers: &["required.evict"] },
    Mutant { name: "producer.shutdown-ignored", rules: &["R7.10"], what: "the shutdown action never fails the blocked publish", killers: &["required.shutdown"] },
    Mutant { name: "producer.restart-refused", rules: &["R7.9.1"], what: "a producer restarting over a ring whose producer died is refused as producer alive", killers: &["restart.producer-resumes", "liveness.producer-gone"] },
    Mutant { name: "producer.close-keeps-open", rules: &["R7.6.1"], what: "the closing producer never marks the ring CLOSED", killers: &["close.consumer-drains"] },
    Mutant { name: "consumer.refused-join-touches-cursor", rules: &["R7.3.2"], what: "a join refused as id in use first resets the live owner's cursor", killers: &["join.duplicate-id"] },
    Mutant { name: "producer.startup-timeout-leaks", rules: &["R7.8"], what: "a producer whose wait for consumers timed out fails but leaves its segments behind", killers: &["liveness.startup-timeout"] },
];

/// Mutants no case kills, each with the reason (none today: keep it that way).
pub const SURVIVORS: &[(&str, &str)] = &[];

/// How one mutant fared.
pub struct Verdict {
    pub mutant: &'static Mutant,
    /// The first instance that did not pass.
    pub killed_by: Option<InstanceResult>,
    /// Every instance run, in order.
    pub ran: Vec<InstanceResult>,
}

/// The implementation `reference` with `mutant` switched on.
pub fn mutated(reference: &Implementation, mutant: &Mutant) -> Implementation {
    let mut imp = reference.clone();
    imp.name = format!("mutant:{}", mutant.name);
    imp.env
        .push(("RINGPROOF_MUTANT".into(), mutant.name.into()));
    imp
}

/// Runs `mutant` (in both roles) through its killer cases, or through every case with
/// `all`, stopping at the first instance that does not pass.
pub fn judge(
    mutant: &'static Mutant,
    reference: &Implementation,
    cases: &[Case],
    schema: &Arc<Schema>,
    backends: &[Backend],
    all: bool,
) -> Result<Verdict, String> {
    let probed = runner::probe(&mutated(reference, mutant), schema)?;
    let impls = vec![Probed {
        imp: mutated(reference, mutant),
        ..probed
    }];
    let none = vec![Vec::new()];
    let mut ran = Vec::new();
    let mut order: Vec<usize> = (0..cases.len())
        .filter(|&i| mutant.killers.iter().any(|k| glob_match(k, cases[i].id)))
        .collect();
    if all {
        let rest: Vec<usize> = (0..cases.len()).filter(|i| !order.contains(i)).collect();
        order.extend(rest);
    }
    for ci in order {
        for inst in runner::plan(std::slice::from_ref(&cases[ci]), &impls, backends, None) {
            let inst = runner::Instance { case: 0, ..inst };
            let r = runner::run_instance(&cases[ci], &inst, &impls, schema, &none);
            let killed = matches!(r.status, Status::Fail | Status::Error | Status::Timeout);
            ran.push(r);
            if killed {
                let killed_by = ran.last().cloned();
                return Ok(Verdict {
                    mutant,
                    killed_by,
                    ran,
                });
            }
        }
    }
    Ok(Verdict {
        mutant,
        killed_by: None,
        ran,
    })
}
