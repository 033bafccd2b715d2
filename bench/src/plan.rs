//! What a bench run does: the run sizes and machine settings every run shares ([`Plan`]) and
//! the cases (a scenario at one event size, with the subjects that run) the options select.

use crate::role::{Kind, Peer};
use crate::scenario::{Readers, Scenario, SCENARIOS};
use std::time::Duration;

/// Run sizes and machine settings shared by every run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub brackets: usize,
    pub capacity: usize,
    pub batch: usize,
    /// Fixed stream size (the same count for every subject); `None`: each kind sized to
    /// `target_secs` from its previous run.
    pub events: Option<u64>,
    pub min_events: u64,
    /// Scales the first run's event count of each kind (before its rate is known).
    pub first_scale: f64,
    pub target_secs: f64,
    pub rounds: u64,
    pub ping_warmup: u64,
    pub paced_rounds: u64,
    pub paced_warmup: u64,
    pub gap_ns: u64,
    pub open_loop_rounds: u64,
    pub interval_ns: u64,
    pub spins: u32,
    pub ticks_per_ns: f64,
    pub cpus: Vec<usize>,
    pub timeout: Duration,
    /// Tries per run: a try in which the sides were preempted more than `max_preemptions`
    /// times is repeated (the last try is kept, and flagged).
    pub attempts: u32,
    pub max_preemptions: i64,
    /// How long to wait for other tasks to stop running before each try.
    pub quiet_wait: Duration,
    /// SCHED_FIFO priority for the children (a shared machine), and the pause after each
    /// try, as a fraction of its wall time, that gives the CPUs back to everyone else.
    pub rt_priority: Option<i32>,
    pub cooldown: f64,
    /// Readers of the 1 -> N scenario.
    pub many_readers: Option<usize>,
}

/// One scenario at one event size: what runs.
#[derive(Debug, Clone)]
pub struct Case {
    pub scenario: &'static Scenario,
    pub size: usize,
    pub readers: usize,
    /// The subjects that run (peers filtered by `--peers`).
    pub subjects: Vec<Kind>,
}

impl Case {
    /// Runs it takes: floor, subject, floor, subject, ..., floor.
    pub fn runs(&self, brackets: usize) -> usize {
        2 * brackets * self.subjects.len() + 1
    }

    pub fn title(&self) -> String {
        if self.scenario.sized {
            format!("{} {}B", self.scenario.name, self.size)
        } else {
            self.scenario.name.to_owned()
        }
    }
}

/// The cases to run: `scenarios` (all when empty) at `sizes` (sized scenarios) with `peers`.
/// Returns them and a note per scenario left out.
pub fn cases(
    scenarios: &[String],
    sizes: &[usize],
    peers: &[Peer],
    plan: &Plan,
) -> (Vec<Case>, Vec<String>) {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for sc in SCENARIOS
        .iter()
        .filter(|s| scenarios.is_empty() || scenarios.iter().any(|n| n == s.name))
    {
        let readers = match sc.readers {
            Readers::One => 1,
            Readers::Two => 2,
            Readers::Many => {
                match plan.many_readers {
                    Some(n) => n,
                    None if plan.cpus.len() >= 4 => {
                        (plan.cpus.len() - 1).min(crate::floors::MAX_READERS)
                    }
                    None => {
                        notes.push(format!("{}: skipped, needs 4 or more cores (have {}); force it with --readers N", sc.name, plan.cpus.len()));
                        continue;
                    }
                }
            }
        };
        let subjects: Vec<Kind> = sc
            .subjects
            .iter()
            .copied()
            .filter(|k| k.peer().is_none_or(|p| peers.contains(&p)))
            .collect();
        let sizes: &[usize] = if sc.sized { sizes } else { &[8] };
        for &size in sizes {
            out.push(Case {
                scenario: sc,
                size,
                readers,
                subjects: subjects.clone(),
            });
        }
    }
    (out, notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    fn plan(cpus: usize) -> Plan {
        Plan {
            brackets: 2,
            capacity: 1024,
            batch: 64,
            events: None,
            min_events: 1,
            first_scale: 1.0,
            target_secs: 0.1,
            rounds: 1,
            ping_warmup: 0,
            paced_rounds: 1,
            paced_warmup: 0,
            gap_ns: 0,
            open_loop_rounds: 1,
            interval_ns: 1,
            spins: 1,
            ticks_per_ns: 1.0,
            cpus: (0..cpus).collect(),
            timeout: Duration::from_secs(1),
            attempts: 1,
            max_preemptions: 0,
            quiet_wait: Duration::ZERO,
            rt_priority: None,
            cooldown: 0.0,
            many_readers: None,
        }
    }

    #[test]
    fn cases_follow_sizes_peers_and_cores() {
        let names = |v: &[Case]| {
            v.iter()
                .map(|c| (c.title(), c.subjects.len()))
                .collect::<Vec<_>>()
        };
        let (c, notes) = cases(
            &["stream-single".into(), "spmc-n".into()],
            &[8, 64],
            &[Peer::Dmp],
            &plan(2),
        );
        assert_eq!(
            names(&c),
            vec![
                ("stream-single 8B".to_owned(), 2),
                ("stream-single 64B".to_owned(), 2)
            ]
        );
        assert_eq!(notes.len(), 1, "1 -> N skipped below 4 cores: {notes:?}");
        let (c, notes) = cases(
            &["spmc-n".into(), "pingpong-spin".into()],
            &[8, 64],
            &[],
            &plan(8),
        );
        assert!(notes.is_empty());
        assert_eq!(c[0].readers, 7);
        assert_eq!(
            names(&c),
            vec![("spmc-n".to_owned(), 1), ("pingpong-spin".to_owned(), 1)],
            "unsized scenarios run once, at 8 bytes"
        );
        assert_eq!(c[1].runs(2), 5);
    }
}
