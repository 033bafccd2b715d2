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
    // ---- exploration: found by --explore (conformance/src/explore.rs)
    Mutant { name: "consumer.resume-off-by-one", rules: &["R7.3.5"], what: "a consumer taking over its crashed incarnation's slot resumes at committed + 2, losing one event", killers: &["restart.consumer-resumes"] },
    Mutant { name: "producer.close-final-off-by-one", rules: &["R7.6"], what: "the clean close records the final sequence one too low: consumers stop before the last event", killers: &["close.consumer-drains"] },
    Mutant { name: "producer.no-gating", rules: &["R7.2"], what: "the producer never waits for consumers and overwrites unread slots", killers: &["backpressure.no-overwrite"] },
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
