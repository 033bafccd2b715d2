//! The checker: judges a recorded [`History`] against the campaign's rules, without trusting
//! any testee's own judgement (every delivered run is re-digested from TP1).
//!
//! Rules, per consumer id (its lives in order):
//! - within a life, runs are contiguous from its start sequence, each carrying its TP1 bytes
//!   (a gap is **lost**, going back is **out of order**, a wrong digest is **torn or stale**);
//! - across a crash (no gap declared by the implementation), the next life must start no later
//!   than one past the dead life's committed cursor (else **lost**), and may re-deliver only
//!   what the dead life delivered but had not committed (else **duplicated**);
//! - the last life reaches the final published sequence within the heal bound (else **hung**),
//!   unless the implementation refused every bounded attempt to attach it again (**refused**);
//! - no life dies by itself unless armed with a failpoint (else **crashed**);
//! - nothing of the ring remains after the final clean shutdown (else **leaked**);
//! - every observed dead-peer detection is within the configured bound (else **late**).

use crate::history::{ConsumerLife, End, History};
use crate::schedule::{Fault, FaultFamily, Target};
use crate::verdict::latency;
use hdrhistogram::Histogram;
use ringproof_conformance::ctx::expected_digest;
use ringproof_conformance::protocol::LivenessAction;

/// The verdict's types, where the checker's users have always found them.
pub use crate::verdict::{Latency, MergeError, Stats, Verdict, Violation, ROWS};

/// Judges `h`.
pub fn check(h: &History) -> Verdict {
    let mut v = Verdict::default();
    for f in &h.faults {
        if f.at_ns.is_some() {
            *v.stats
                .injected
                .entry(f.fault.family().as_str().to_owned())
                .or_default() += 1;
        } else {
            v.stats.faults_skipped += 1;
        }
    }
    v.stats.producer_lives = h.producer.len() as u64;
    let mut published: Option<(u32, i64)> = None;
    for p in &h.producer {
        judge_end(h, "producer", &p.end, &mut v);
        // A restarted producer resumes after what its predecessor published (SPEC.md §7.9):
        // its cursor never goes back.
        if let (Some((pid, before)), Some(now)) = (published, p.published_through) {
            if now < before {
                v.violations.push(Violation::OutOfOrder {
                    consumer: "producer".into(),
                    detail: format!("pid {pid} had published through {before}; its successor pid {} only through {now}: the sequence went back", p.pid),
                });
            }
        }
        if let Some(now) = p.published_through {
            published = Some((p.pid, published.map_or(now, |(_, b)| b.max(now))));
        }
    }
    for (id, _, end) in &h.early_deaths {
        judge_end(h, id, end, &mut v);
    }
    for (id, lives) in &h.consumers {
        v.stats.consumer_lives += lives.len() as u64;
        judge_consumer(h, id, lives, &mut v);
    }
    for e in &h.harness_errors {
        v.violations.push(Violation::Harness { detail: e.clone() });
    }
    for (consumer, detail) in &h.refused {
        v.violations.push(Violation::Refused {
            consumer: consumer.clone(),
            detail: detail.clone(),
        });
    }
    if !h.interrupted {
        judge_final(h, &mut v);
    }
    for name in &h.leaks {
        v.violations.push(Violation::Leaked { name: name.clone() });
    }
    judge_detection(h, &mut v);
    v
}

fn judge_end(h: &History, who: &str, end: &End, v: &mut Verdict) {
    match end {
        End::Crashed { .. } if h.interrupted => {}
        End::Crashed { detail } => v.violations.push(Violation::Crashed {
            who: who.to_owned(),
            detail: detail.clone(),
        }),
        End::FailpointCrash { .. } => v.stats.failpoints_fired += 1,
        _ => {}
    }
}

fn judge_consumer(h: &History, id: &str, lives: &[ConsumerLife], v: &mut Verdict) {
    let mut prev: Option<&ConsumerLife> = None;
    // When the latest life that started without a declared gap attached: whatever caused a
    // declared gap (an eviction, a retirement) happened after it.
    let mut chain_start_ns = lives.first().map_or(0, |l| l.attached_ns);
    for life in lives {
        judge_end(h, id, &life.end, v);
        if let Some(p) = prev {
            judge_handoff(h, id, p, life, chain_start_ns, v);
            if !life.declared_gap_before {
                chain_start_ns = life.attached_ns;
            }
        }
        let mut expected = life.start_seq;
        for run in &life.runs {
            if run.last < run.first {
                v.violations.push(Violation::OutOfOrder {
                    consumer: id.to_owned(),
                    detail: format!("malformed run {}..={}", run.first, run.last),
                });
                continue;
            }
            v.stats.events_delivered += (run.last - run.first + 1) as u64;
            if run.digest != expected_digest(run.first, run.last, h.event_size) {
                v.stats.torn_runs += 1;
                v.violations.push(Violation::Torn {
                    consumer: id.to_owned(),
                    first: run.first,
                    last: run.last,
                });
            }
            if run.first > expected {
                v.stats.lost_events += (run.first - expected) as u64;
                v.violations.push(Violation::Lost {
                    consumer: id.to_owned(),
                    from: expected,
                    to: run.first - 1,
                    detail: format!(
                        "pid {}: delivered up to {}, then jumped to {}",
                        life.pid,
                        expected - 1,
                        run.first
                    ),
                });
            } else if run.first < expected {
                v.violations.push(Violation::OutOfOrder {
                    consumer: id.to_owned(),
                    detail: format!(
                        "pid {}: after {}, delivered {}..={} (went back within one life)",
                        life.pid,
                        expected - 1,
                        run.first,
                        run.last
                    ),
                });
            }
            expected = expected.max(run.last + 1);
        }
        prev = Some(life);
    }
}

/// A life ended and the next one started: what may it skip and what may it re-deliver?
fn judge_handoff(
    h: &History,
    id: &str,
    p: &ConsumerLife,
    life: &ConsumerLife,
    chain_start_ns: u64,
    v: &mut Verdict,
) {
    let announced = life.declared_gap_before || matches!(p.end, End::Lapped { .. } | End::Left);
    let declared = announced && gap_allowed(h, id, p, (chain_start_ns, life.attached_ns));
    let reported = p.last_reported().unwrap_or(p.start_seq - 1);
    // What the dead life committed; a testee commits what it reports before reporting it
    // (PROTOCOL.md), so without a readable cursor the reported prefix is the committed one.
    let committed = p.committed_at_end.unwrap_or(reported);
    let resume_after = committed.max(reported);
    if life.start_seq > resume_after + 1 {
        let (from, to) = (resume_after + 1, life.start_seq - 1);
        if declared {
            v.stats.declared_gap_events += (to - from + 1) as u64;
        } else {
            v.stats.lost_events += (to - from + 1) as u64;
            v.violations.push(Violation::Lost {
                consumer: id.to_owned(),
                from,
                to,
                detail: format!(
                    "pid {} ended ({:?}) with cursor {:?} after reporting {reported}; pid {} resumed at {} {}",
                    p.pid,
                    p.end,
                    p.committed_at_end,
                    life.pid,
                    life.start_seq,
                    if announced {
                        "with a declared gap, but it is a required consumer and no producer that could evict it ran meanwhile (action alert)"
                    } else {
                        "with no gap declared"
                    }
                ),
            });
        }
    }
    // Re-delivered sequences: what this life reported that the previous life reported too.
    let redelivered = |lo: i64, hi: i64| -> u64 {
        life.runs
            .iter()
            .map(|r| (r.last.min(hi) - r.first.max(lo) + 1).max(0) as u64)
            .sum()
    };
    let allowed = redelivered(committed + 1, reported);
    v.stats.redelivered_allowed += allowed;
    let bad = redelivered(i64::MIN / 2, committed.min(reported));
    if bad > 0 {
        v.stats.duplicated_events += bad;
        v.violations.push(Violation::Duplicated {
            consumer: id.to_owned(),
            from: life.start_seq,
            to: committed.min(reported),
            detail: format!("pid {} had committed {committed} and reported {reported}; pid {} delivered {bad} of those again", p.pid, life.pid),
        });
    }
}

/// Whether consumer `id` may have missed events between two lives, as the implementation
/// declared: a non-required consumer may (a dead one is retired and lapped, SPEC.md §7.10), so
/// may one that left (it joins again at the head), but a required one only if a producer that
/// could evict it ran between `window.0` and `window.1`. Under the `alert` action a required
/// consumer gates the producer dead or stalled, and its restart resumes without loss: a gap
/// declared there is a lost event, however politely announced.
fn gap_allowed(h: &History, id: &str, p: &ConsumerLife, window: (u64, u64)) -> bool {
    let left = matches!(p.end, End::Left)
        || p.armed
            .as_deref()
            .is_some_and(|a| a.starts_with("consumer.leave"));
    if left || !h.required.iter().any(|r| r == id) {
        return true;
    }
    h.producer.iter().enumerate().any(|(k, pl)| {
        let until = h
            .producer
            .get(k + 1)
            .map_or(u64::MAX, |next| next.started_ns);
        let overlaps = pl.started_ns <= window.1 && until >= window.0;
        // A history that did not record the action cannot rule an eviction out.
        overlaps && pl.action != Some(LivenessAction::Alert)
    })
}

fn judge_final(h: &History, v: &mut Verdict) {
    let Some(final_seq) = h.heal.final_seq else {
        v.violations.push(Violation::Hung {
            who: "producer".into(),
            detail: format!(
                "its final publish did not complete within the heal bound ({} ms)",
                h.heal.bound_ms
            ),
        });
        return;
    };
    for (id, lives) in &h.consumers {
        let Some(last) = lives.last() else { continue };
        // The harness gave up attaching it again: judged `refused`, not hung.
        if h.refused.iter().any(|(c, _)| c == id) {
            continue;
        }
        let reached =
            last.start_seq > final_seq || last.last_reported().is_some_and(|r| r >= final_seq);
        let in_time = match h.heal.reached_ns.get(id) {
            Some(Some(at)) => at.saturating_sub(h.heal.started_ns) <= h.heal.bound_ms * 1_000_000,
            Some(None) => false,
            None => true,
        };
        if !(reached && in_time) {
            v.violations.push(Violation::Hung {
                who: id.clone(),
                detail: format!(
                    "did not deliver through the final sequence {final_seq} within {} ms of healing (reported up to {:?})",
                    h.heal.bound_ms,
                    last.last_reported()
                ),
            });
        }
    }
}

fn judge_detection(h: &History, v: &mut Verdict) {
    let bound_ns = h.detect_bound_ms * 1_000_000;
    let mut prod = Histogram::<u64>::new(3).expect("histogram");
    let mut cons = Histogram::<u64>::new(3).expect("histogram");
    let (mut prod_unseen, mut cons_unseen) = (0, 0);
    for f in &h.faults {
        let (Some(kill_ns), true) = (
            f.at_ns,
            matches!(f.fault, Fault::Kill { .. } | Fault::Failpoint { .. }),
        ) else {
            continue;
        };
        match f.fault.target() {
            Target::Producer => {
                // Until a restarted producer takes over, consumers that caught up must say so.
                let until = h
                    .producer
                    .iter()
                    .map(|p| p.started_ns)
                    .filter(|s| *s > kill_ns)
                    .min()
                    .unwrap_or(u64::MAX);
                let seen = h
                    .consumers
                    .iter()
                    .flat_map(|(id, lives)| {
                        lives
                            .iter()
                            .flat_map(move |l| l.producer_gone_ns.iter().map(move |t| (id, *t)))
                    })
                    .filter(|(_, t)| *t > kill_ns && *t < until)
                    .min_by_key(|(_, t)| *t);
                match seen {
                    Some((id, t)) => {
                        let lat = t - kill_ns;
                        let _ = prod.record(lat / 1_000);
                        if lat > bound_ns {
                            v.violations.push(Violation::LateDetection {
                                peer: "producer".into(),
                                observer: id.clone(),
                                latency_ms: lat as f64 / 1e6,
                                bound_ms: h.detect_bound_ms,
                            });
                        }
                    }
                    None => prod_unseen += 1,
                }
            }
            Target::Consumer(k) => {
                let id = crate::schedule::consumer_id(k);
                let until = h
                    .consumers
                    .get(&id)
                    .and_then(|ls| {
                        ls.iter()
                            .map(|l| l.attached_ns)
                            .filter(|a| *a > kill_ns)
                            .min()
                    })
                    .unwrap_or(u64::MAX);
                let seen = h
                    .producer
                    .iter()
                    .flat_map(|p| p.alerts.iter())
                    .filter(|(c, dead, t)| *c == id && *dead && *t > kill_ns && *t < until)
                    .map(|(_, _, t)| *t)
                    .min();
                match seen {
                    Some(t) => {
                        let lat = t - kill_ns;
                        let _ = cons.record(lat / 1_000);
                        if lat > bound_ns {
                            v.violations.push(Violation::LateDetection {
                                peer: id,
                                observer: "producer".into(),
                                latency_ms: lat as f64 / 1e6,
                                bound_ms: h.detect_bound_ms,
                            });
                        }
                    }
                    None => cons_unseen += 1,
                }
            }
        }
    }
    v.stats.detect_producer = latency(&prod, prod_unseen);
    v.stats.detect_consumer = latency(&cons, cons_unseen);
}

/// Families as the verdict table names them, for reports.
pub fn family_names() -> Vec<&'static str> {
    [
        FaultFamily::Kill,
        FaultFamily::Stop,
        FaultFamily::Failpoints,
    ]
    .iter()
    .map(|f| f.as_str())
    .collect()
}
