//! The checker must catch every kind of violation on hand-made histories, and accept a clean
//! one (a checker that cannot fail is worthless).

use ringproof_chaos::checker::{check, Violation};
use ringproof_chaos::history::{ConsumerLife, End, FaultRecord, History, ProducerLife, Run};
use ringproof_chaos::schedule::{Fault, Target};
use ringproof_conformance::ctx::expected_digest;

const SIZE: usize = 64;
const MS: u64 = 1_000_000;

fn run(first: i64, last: i64) -> Run {
    Run {
        first,
        last,
        digest: expected_digest(first, last, SIZE),
        at_ns: 0,
    }
}

fn life(pid: u32, start: i64, runs: Vec<Run>, end: End, committed: Option<i64>) -> ConsumerLife {
    ConsumerLife {
        pid,
        armed: None,
        attached_ns: 0,
        start_seq: start,
        declared_gap_before: false,
        runs,
        producer_gone_ns: Vec::new(),
        end,
        committed_at_end: committed,
    }
}

fn producer(pid: u32, started_ns: u64, end: End) -> ProducerLife {
    ProducerLife {
        pid,
        armed: None,
        started_ns,
        created: true,
        published_through: Some(199),
        alerts: Vec::new(),
        action: None,
        errors: Vec::new(),
        end,
    }
}

/// A clean campaign: c_0 killed after committing 99, restarted at 100, reaches 199.
fn clean() -> History {
    let mut h = History {
        event_size: SIZE,
        detect_bound_ms: 1_000,
        ..Default::default()
    };
    h.producer.push(producer(10, 0, End::Left));
    h.consumers.insert(
        "c_0".into(),
        vec![
            life(20, 0, vec![run(0, 49), run(50, 99)], End::Killed, Some(99)),
            life(21, 100, vec![run(100, 199)], End::Left, None),
        ],
    );
    h.heal.final_seq = Some(199);
    h.heal.bound_ms = 1_000;
    h
}

fn kinds(h: &History) -> Vec<&'static str> {
    check(h).violations.iter().map(Violation::row).collect()
}

#[test]
fn a_clean_history_passes() {
    let v = check(&clean());
    assert!(v.passed(), "{:?}", v.violations);
    assert_eq!(v.stats.events_delivered, 200);
    assert_eq!(v.stats.consumer_lives, 2);
}

#[test]
fn a_gap_within_a_life_is_lost() {
    let mut h = clean();
    h.consumers.get_mut("c_0").unwrap()[0].runs = vec![run(0, 49), run(60, 99)];
    let v = check(&h);
    assert_eq!(kinds(&h), ["lost"]);
    assert_eq!(v.stats.lost_events, 10);
}

#[test]
fn a_restart_past_the_committed_cursor_is_lost_unless_declared() {
    let mut h = clean();
    let lives = h.consumers.get_mut("c_0").unwrap();
    lives[1].start_seq = 120;
    lives[1].runs = vec![run(120, 199)];
    assert_eq!(kinds(&h), ["lost"]);
    // The same gap, declared by the implementation (a lapped attach), is not a loss.
    h.consumers.get_mut("c_0").unwrap()[1].declared_gap_before = true;
    let v = check(&h);
    assert!(v.passed(), "{:?}", v.violations);
    assert_eq!(v.stats.declared_gap_events, 20);
}

/// A required consumer may have a declared gap only if some producer that ran meanwhile could
/// evict it: under the `alert` action a required consumer keeps gating, dead or stalled
/// (SPEC.md §7.10), so an announced gap there is still a lost event.
#[test]
fn a_declared_gap_of_a_required_consumer_needs_a_producer_that_could_evict_it() {
    let mut h = clean();
    h.required = vec!["c_0".into()];
    h.producer[0].action = Some("alert".parse().unwrap());
    let lives = h.consumers.get_mut("c_0").unwrap();
    lives[0].attached_ns = MS;
    lives[1].attached_ns = 50 * MS;
    lives[1].start_seq = 120;
    lives[1].runs = vec![run(120, 199)];
    lives[1].declared_gap_before = true;
    assert_eq!(kinds(&h), ["lost"]);
    // A second producer with the evict action, started within the window: the gap may be real.
    h.producer.push(producer(11, 30 * MS, End::Left));
    h.producer[1].action = Some("evict".parse().unwrap());
    assert!(check(&h).passed(), "{:?}", check(&h).violations);
    // ... but not if it started only after the consumer re-attached.
    h.producer[1].started_ns = 60 * MS;
    assert_eq!(kinds(&h), ["lost"]);
    // A non-required consumer may be retired and lapped under any action.
    h.required.clear();
    assert!(check(&h).passed(), "{:?}", check(&h).violations);
}

#[test]
fn redelivering_committed_events_is_a_duplicate_but_the_uncommitted_window_is_allowed() {
    // Committed 99, reported 99: a restart at 90 re-delivers committed events.
    let mut h = clean();
    let lives = h.consumers.get_mut("c_0").unwrap();
    lives[1].start_seq = 90;
    lives[1].runs = vec![run(90, 199)];
    assert_eq!(kinds(&h), ["duplicated"]);
    assert_eq!(check(&h).stats.duplicated_events, 10);
    // Committed only 89 but reported 99: 90..=99 were uncommitted, so re-delivery is allowed.
    h.consumers.get_mut("c_0").unwrap()[0].committed_at_end = Some(89);
    let v = check(&h);
    assert!(v.passed(), "{:?}", v.violations);
    assert_eq!(v.stats.redelivered_allowed, 10);
}

#[test]
fn a_wrong_digest_is_torn() {
    let mut h = clean();
    h.consumers.get_mut("c_0").unwrap()[1].runs[0].digest = expected_digest(101, 200, SIZE);
    assert_eq!(kinds(&h), ["torn"]);
}

#[test]
fn going_back_within_a_life_is_out_of_order() {
    let mut h = clean();
    h.consumers.get_mut("c_0").unwrap()[0].runs = vec![run(0, 49), run(40, 99)];
    assert_eq!(kinds(&h), ["out-of-order"]);
}

#[test]
fn a_producer_sequence_going_back_across_a_restart_is_out_of_order() {
    let mut h = clean();
    let mut first = producer(9, 0, End::Killed);
    first.published_through = Some(500);
    h.producer.insert(0, first);
    assert_eq!(kinds(&h), ["out-of-order"]);
}

#[test]
fn not_reaching_the_final_sequence_is_a_hang() {
    let mut h = clean();
    h.consumers.get_mut("c_0").unwrap()[1].runs = vec![run(100, 150)];
    assert_eq!(kinds(&h), ["hung"]);
    // Reaching it, but after the heal bound, is a hang too.
    let mut h = clean();
    h.heal.started_ns = 5 * MS;
    h.heal
        .reached_ns
        .insert("c_0".into(), Some(5 * MS + 1_001 * MS));
    assert_eq!(kinds(&h), ["hung"]);
    // A producer that never completed its final publish.
    let mut h = clean();
    h.heal.final_seq = None;
    assert_eq!(kinds(&h), ["hung"]);
}

#[test]
fn leftover_names_are_leaks() {
    let mut h = clean();
    h.leaks = vec!["/dev/shm/x_c_0_seq".into()];
    assert_eq!(kinds(&h), ["leaked"]);
}

#[test]
fn an_unarmed_death_is_a_crash_but_an_armed_one_is_a_fired_failpoint() {
    let mut h = clean();
    h.consumers.get_mut("c_0").unwrap()[0].end = End::Crashed {
        detail: "exited".into(),
    };
    assert_eq!(kinds(&h), ["crashed"]);
    h.consumers.get_mut("c_0").unwrap()[0].end = End::FailpointCrash {
        point: "consumer.leave@1".into(),
    };
    let v = check(&h);
    assert!(v.passed(), "{:?}", v.violations);
    assert_eq!(v.stats.failpoints_fired, 1);
}

#[test]
fn detection_later_than_the_bound_is_late() {
    let kill = |target| FaultRecord {
        index: 0,
        fault: Fault::Kill {
            target,
            restart_after_ms: 0,
        },
        at_ns: Some(100 * MS),
        pid: Some(10),
        skipped: None,
    };
    // The producer died at 100 ms; a consumer saw it gone at 150 ms (in time) ...
    let mut h = clean();
    h.faults.push(kill(Target::Producer));
    h.producer.push(producer(11, 3_000 * MS, End::Left));
    h.consumers.get_mut("c_0").unwrap()[0].producer_gone_ns = vec![150 * MS];
    let v = check(&h);
    assert!(v.passed(), "{:?}", v.violations);
    assert_eq!(v.stats.detect_producer.samples, 1);
    // ... or only at 1.5 s, past the 1 s bound.
    h.consumers.get_mut("c_0").unwrap()[0].producer_gone_ns = vec![1_500 * MS];
    assert_eq!(kinds(&h), ["late-detection"]);
    // A required consumer killed at 100 ms, alerted dead only at 2 s.
    let mut h = clean();
    h.faults.push(kill(Target::Consumer(0)));
    h.consumers.get_mut("c_0").unwrap()[1].attached_ns = 5_000 * MS;
    h.producer[0].alerts.push(("c_0".into(), true, 2_000 * MS));
    assert_eq!(kinds(&h), ["late-detection"]);
    assert_eq!(check(&h).stats.detect_consumer.samples, 1);
}

#[test]
fn harness_problems_fail_the_campaign() {
    let mut h = clean();
    h.harness_errors
        .push("c_0 did not answer consume: hung".into());
    assert_eq!(kinds(&h), ["harness"]);
}

#[test]
fn an_interrupted_history_is_judged_without_its_heal_phase_and_deaths() {
    let mut h = clean();
    h.heal.final_seq = None;
    h.consumers.get_mut("c_0").unwrap()[0].end = End::Crashed {
        detail: "killed by SIGTERM".into(),
    };
    assert_eq!(kinds(&h), ["crashed", "hung"]);
    h.interrupted = true;
    assert!(kinds(&h).is_empty(), "{:?}", kinds(&h));
    // What it did record is still judged.
    h.consumers.get_mut("c_0").unwrap()[1].runs = vec![run(120, 199)];
    assert_eq!(kinds(&h), ["lost"]);
}

#[test]
fn shards_stats_merge_exactly_from_their_histograms() {
    let kill = |at_ms| FaultRecord {
        index: 0,
        fault: Fault::Kill {
            target: Target::Producer,
            restart_after_ms: 0,
        },
        at_ns: Some(at_ms * MS),
        pid: Some(10),
        skipped: None,
    };
    // Two "shards": the producer seen gone 50 ms and 400 ms after its death.
    let shard = |seen_after_ms: u64| {
        let mut h = clean();
        h.faults.push(kill(100));
        h.producer.push(producer(11, 3_000 * MS, End::Left));
        h.consumers.get_mut("c_0").unwrap()[0].producer_gone_ns = vec![(100 + seen_after_ms) * MS];
        check(&h).stats
    };
    let (a, b) = (shard(50), shard(400));
    let mut merged = a.clone();
    merged.absorb(&b).expect("merge");
    assert_eq!(
        merged.events_delivered,
        a.events_delivered + b.events_delivered
    );
    assert_eq!(merged.injected_total(), 2);
    let l = &merged.detect_producer;
    assert_eq!(l.samples, 2);
    assert!(
        (l.max_ms - 400.0).abs() < 1.0 && (l.p50_ms - 50.0).abs() < 1.0,
        "{l:?}"
    );
    assert_eq!(l.histogram().expect("decodes").len(), 2);
    // An edited encoding is refused, not silently dropped.
    let mut broken = b.clone();
    broken.detect_producer.hdr = "zz".into();
    assert!(merged
        .absorb(&broken)
        .unwrap_err()
        .to_string()
        .contains("hdrhistogram"));
}

#[test]
fn junit_has_a_case_per_row_and_per_failing_consumer_life_with_the_replay() {
    use ringproof_chaos::shard::{junit_cases, junit_xml};
    let mut h = clean();
    // c_0's second life (pid 21) resumes past its predecessor's committed cursor.
    h.consumers.get_mut("c_0").unwrap()[1] = life(21, 120, vec![run(120, 199)], End::Left, None);
    let v = check(&h);
    let cases = junit_cases("chaos.seed-9", &v, &h, "ringproof chaos --seed 9", None);
    assert_eq!(
        cases
            .iter()
            .filter(|c| c.name == "lost" && c.failure.is_some())
            .count(),
        1
    );
    assert_eq!(
        cases.iter().filter(|c| c.failure.is_none()).count(),
        ringproof_chaos::checker::ROWS.len() - 1
    );
    let life = cases
        .iter()
        .find(|c| c.name == "c_0 life 2 (pid 21)")
        .expect("a case for the failing life");
    assert!(
        life.failure.as_deref().is_some_and(
            |f| f.contains("lost") && f.ends_with("replay: ringproof chaos --seed 9\n")
        ),
        "{life:?}"
    );
    let xml = junit_xml("ringproof-chaos", &cases);
    assert!(
        xml.contains(&format!("tests=\"{}\" failures=\"", cases.len())),
        "{xml}"
    );
    // An interrupted campaign's rows without violations are skipped, not passed.
    let cases = junit_cases(
        "chaos.seed-9",
        &check(&clean()),
        &clean(),
        "r",
        Some("SIGTERM"),
    );
    assert!(cases.iter().all(|c| c
        .skipped
        .as_deref()
        .is_some_and(|s| s.contains("interrupted by SIGTERM"))));
}

/// Issue 12 item 7: a consumer whose last life ended lapped (evicted) before healing, and that
/// the implementation then never let attach again, was judged hung although the harness had
/// left it without a life. Once the harness gives up (bounded retries), it is `refused`.
#[test]
fn a_consumer_never_let_back_in_is_refused_not_hung() {
    let mut h = clean();
    h.consumers.insert(
        "c_1".into(),
        vec![life(
            30,
            0,
            vec![run(0, 120)],
            End::Lapped {
                message: "evicted".into(),
            },
            Some(120),
        )],
    );
    assert_eq!(
        kinds(&h),
        vec!["hung"],
        "without the give-up record it is still a hang"
    );
    h.refused.push((
        "c_1".into(),
        "attach_consumer failed 100 times in a row, last with Other".into(),
    ));
    assert_eq!(kinds(&h), vec!["refused"]);
}
