//! The mutation score of the catalogue: planted defects in the reference implementation
//! (`ringproof::mutant`, feature `mutants`) and the cases that must kill each one.
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
    Mutant { name: "consumer.no-waiters-announce", rules: &["R8"], what: "a sleeper parks on the futex without incrementing `waiters`, so no waker ever wakes it (backstop only)", killers: &["wait.wake-latency", "wait.producer-wakes"] },
    Mutant { name: "consumer.no-wake", rules: &["R7.4.4", "R8"], what: "a consumer's commit never FUTEX_WAKEs a producer waiting for room", killers: &["wait.producer-wakes"] },
    Mutant { name: "consumer.commit-before-read", rules: &["R7.4"], what: "a copying read commits the cursor before it reads the slot, so the producer may rewrite it meanwhile", killers: &["spsc.wraparound*"] },
    Mutant { name: "consumer.reads-past-cursor", rules: &["R7.4"], what: "the consumer takes the producer cursor as one more than it is and reads a slot not yet published", killers: &["spsc.wraparound*"] },
    Mutant { name: "consumer.no-checksum-check", rules: &["R2.2.5"], what: "header validation skips the checksum (step 5)", killers: &["reject.bad-checksum"] },
    Mutant { name: "consumer.no-magic-check", rules: &["R2.2.3"], what: "header validation accepts any non-zero magic (step 3)", killers: &["reject.bad-magic", "reject.producer-cursor-bad-magic"] },
    Mutant { name: "consumer.no-length-check", rules: &["R2.2.13"], what: "header validation skips the segment length check (step 13) and maps a truncated ring", killers: &["reject.truncated"] },
    Mutant { name: "consumer.no-element-size-check", rules: &["R2.2.10"], what: "header validation ignores a ring of another event size (step 10)", killers: &["reject.element-size-mismatch"] },
    Mutant { name: "consumer.alignment-ignored", rules: &["R2", "R4"], what: "the consumer reads slots at offset 56 whatever the ring's alignment (the payload offset of alignment 8)", killers: &["spsc.aligned*"] },
    Mutant { name: "producer.counters-bytes-uncounted", rules: &["R12.6"], what: "the producer counts published events but never adds to events_published_bytes", killers: &["counters.layout"] },
    Mutant { name: "consumer.stale-epoch-resume", rules: &["R7.3.1", "R10.2"], what: "a joining consumer resumes from a cursor of another epoch (an earlier ring's) instead of resetting it to the head", killers: &["stale.cursor-ignored", "stale.epoch-late-join"] },
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
    imp.env.push(("RINGPROOF_MUTANT".into(), mutant.name.into()));
    imp
}

/// Runs `mutant` (in both roles) through its killer cases, or through every case with
/// `all`, stopping at the first instance that does not pass.
pub fn judge(mutant: &'static Mutant, reference: &Implementation, cases: &[Case], schema: &Arc<Schema>, backends: &[Backend], all: bool) -> Result<Verdict, String> {
    let probed = runner::probe(&mutated(reference, mutant), schema)?;
    let impls = vec![Probed { imp: mutated(reference, mutant), ..probed }];
    let none = vec![Vec::new()];
    let mut ran = Vec::new();
    let mut order: Vec<usize> = (0..cases.len()).filter(|&i| mutant.killers.iter().any(|k| glob_match(k, cases[i].id))).collect();
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
                return Ok(Verdict { mutant, killed_by, ran });
            }
        }
    }
    Ok(Verdict { mutant, killed_by: None, ran })
}
