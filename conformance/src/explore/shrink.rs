//! Shrinking a failing lifecycle to a minimal one that breaks the same rule.

use super::{run_lifecycle, Lifecycle, Mismatch, Op, Outcome, Side, SHRINK_TIME};
use crate::protocol::Mode;
use crate::schema::Schema;
use std::sync::Arc;
use std::time::Instant;

/// Shrinks `lc`, whose run broke `rule`, to a shorter lifecycle that still breaks it;
/// deterministic for deterministic testees. Returns the smallest found, its mismatch, and how
/// many lifecycles it ran.
pub fn shrink(
    producer: &Side,
    consumer: &Side,
    schema: &Arc<Schema>,
    lc: &Lifecycle,
    first: &Outcome,
    budget: u32,
) -> (Lifecycle, Mismatch, u32) {
    let deadline = Instant::now() + SHRINK_TIME;
    // Out of runs or out of time: what is left of the budget.
    let budget = move |runs: u32| runs < budget && Instant::now() < deadline;
    let Err(m) = &first.result else {
        panic!("shrink needs a failing lifecycle")
    };
    let rule = m.rule.clone();
    let mut best = lc.clone();
    let mut best_m = m.clone();
    let mut runs = 0u32;
    // Keep only the ops that were carried out, up to the failing one: the others changed
    // nothing, so the applied sequence is the same.
    let cut = |lc: &Lifecycle, o: &Outcome, m: &Mismatch| -> Lifecycle {
        let end = m.step.map_or(lc.ops.len(), |s| s + 1);
        Lifecycle {
            backend: lc.backend,
            ops: lc.ops[..end]
                .iter()
                .zip(&o.applied)
                .filter(|(_, a)| **a)
                .map(|(op, _)| *op)
                .collect(),
        }
    };
    best = cut(&best, first, &best_m);
    let try_it = |cand: Lifecycle, runs: &mut u32| -> Option<(Lifecycle, Mismatch)> {
        *runs += 1;
        let o = run_lifecycle(producer, consumer, schema, &cand);
        match &o.result {
            Err(m) if m.rule == rule => Some((cut(&cand, &o, m), m.clone())),
            _ => None,
        }
    };
    // Drop runs of ops, halving the run length down to single ops.
    let mut chunk = best.ops.len().div_ceil(2).max(1);
    loop {
        let mut i = 0;
        while i < best.ops.len() && budget(runs) {
            let mut ops = best.ops.clone();
            ops.drain(i..(i + chunk).min(ops.len()));
            match try_it(
                Lifecycle {
                    backend: best.backend,
                    ops,
                },
                &mut runs,
            ) {
                Some((l, m)) => {
                    best = l;
                    best_m = m;
                }
                None => i += chunk,
            }
        }
        if chunk == 1 || !budget(runs) {
            break;
        }
        chunk = chunk.div_ceil(2);
    }
    // Make what is left simpler: smaller counts, single-event batches, copy reads.
    let mut i = 0;
    while i < best.ops.len() && budget(runs) {
        let simpler: Vec<Op> = match best.ops[i] {
            Op::Publish { n } if n > 1 => vec![
                Op::Publish { n: 1 },
                Op::Publish { n: n / 2 },
                Op::Publish { n: n - 1 },
            ],
            Op::PublishWaiting { n, batch } => {
                let mut v = Vec::new();
                if batch > 1 {
                    v.push(Op::PublishWaiting { n, batch: 1 });
                }
                if n > 1 {
                    v.extend([
                        Op::PublishWaiting { n: 1, batch: 1 },
                        Op::PublishWaiting {
                            n: n / 2,
                            batch: batch.min(n / 2),
                        },
                        Op::PublishWaiting {
                            n: n - 1,
                            batch: batch.min(n - 1),
                        },
                    ]);
                }
                v
            }
            Op::Consume { c, n, mode } => {
                let mut v = Vec::new();
                if mode != Mode::Copy {
                    v.push(Op::Consume {
                        c,
                        n,
                        mode: Mode::Copy,
                    });
                }
                if n > 1 {
                    v.extend([
                        Op::Consume { c, n: 1, mode },
                        Op::Consume { c, n: n / 2, mode },
                        Op::Consume { c, n: n - 1, mode },
                    ]);
                }
                v
            }
            _ => Vec::new(),
        };
        let mut changed = false;
        for op in simpler {
            if !budget(runs) {
                break;
            }
            let mut ops = best.ops.clone();
            ops[i] = op;
            if let Some((l, m)) = try_it(
                Lifecycle {
                    backend: best.backend,
                    ops,
                },
                &mut runs,
            ) {
                if l.ops.len() <= best.ops.len() {
                    best = l;
                    best_m = m;
                    changed = true;
                    break;
                }
            }
        }
        if !changed {
            i += 1;
        }
    }
    (best, best_m, runs)
}
