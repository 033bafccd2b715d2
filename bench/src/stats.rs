//! What one case produced ([`ScenarioRun`]) and its statistics: per subject and metric, the
//! ratio to the adjacent floors in every bracket, their median, worst and best, and whether
//! the target is met ([`MetricSummary`]).

use crate::plan::Case;
use crate::role::Kind;
use crate::run::RunOutcome;
use crate::scenario::{placement, Metric, Scenario, Target};
use serde_json::Value;

/// The floor against itself (an A/A comparison) in one metric: each floor run that has a floor
/// run on either side, over the mean of those two. This is what a subject identical to the
/// floor scores in this run, so a subject's ratio inside this spread is not a difference the
/// run can show (the two vCPUs move, and a 1.3 G events/s stream swings with them).
#[derive(Debug, Clone)]
pub struct FloorSpread {
    pub ratios: Vec<f64>,
    pub median: f64,
    /// Lowest ratio for rates, highest for latencies (as [`MetricSummary::worst`]).
    pub worst: f64,
    pub best: f64,
}

/// `(worst, best)` of `ratios`: the lowest is the worst for rates, the highest for latencies.
fn worst_best(ratios: &[f64], m: Metric) -> (f64, f64) {
    let (lo, hi) = ratios
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &r| {
            (lo.min(r), hi.max(r))
        });
    if m.higher_is_better() {
        (lo, hi)
    } else {
        (hi, lo)
    }
}

/// Everything one case produced.
pub struct ScenarioRun {
    pub case: Case,
    pub scenario: &'static Scenario,
    /// The contention threshold the runs were held to.
    pub max_preemptions: i64,
    /// `floors[k]` and `floors[k + 1]` bracket `subjects[k]`.
    pub floors: Vec<RunOutcome>,
    pub subjects: Vec<(Kind, RunOutcome)>,
}

/// One metric of one subject across its brackets.
#[derive(Debug, Clone)]
pub struct MetricSummary {
    pub subject: Kind,
    pub metric: Metric,
    pub floor_median: f64,
    pub subject_median: f64,
    /// Per bracket: subject / mean(adjacent floors).
    pub ratios: Vec<f64>,
    pub ratio_median: f64,
    /// Lowest ratio for rates, highest for latencies.
    pub worst: f64,
    pub best: f64,
    pub target: Option<Target>,
    /// Whether the worst bracket meets the target (stable, not lucky).
    pub met: Option<bool>,
    /// Bytes per second (streams): subject median rate times the event size.
    pub bytes_per_s: Option<f64>,
}

impl ScenarioRun {
    /// The bracket indices (into `subjects`) of `kind`.
    fn indices(&self, kind: Kind) -> Vec<usize> {
        self.subjects
            .iter()
            .enumerate()
            .filter(|(_, (k, _))| *k == kind)
            .map(|(i, _)| i)
            .collect()
    }

    /// Placement of bracket `i`: its floors' common class, or "mixed".
    pub fn placement(&self, i: usize) -> &'static str {
        let (a, b) = (
            placement(self.scenario, &self.floors[i]),
            placement(self.scenario, &self.floors[i + 1]),
        );
        if a == b {
            a
        } else {
            "mixed"
        }
    }

    /// Placements of `kind`'s brackets.
    pub fn placements(&self, kind: Kind) -> Vec<&'static str> {
        self.indices(kind)
            .into_iter()
            .map(|i| self.placement(i))
            .collect()
    }

    /// Every subject's summaries, subjects in schedule order.
    pub fn summaries(&self) -> Vec<MetricSummary> {
        self.case
            .subjects
            .iter()
            .flat_map(|&k| {
                self.scenario
                    .metrics()
                    .iter()
                    .map(move |&m| self.summary(k, m))
            })
            .collect()
    }

    pub fn summary(&self, kind: Kind, m: Metric) -> MetricSummary {
        let sc = self.scenario;
        let idx = self.indices(kind);
        let floors: Vec<f64> = self.floors.iter().map(|o| sc.value(m, o)).collect();
        let subjects: Vec<f64> = idx
            .iter()
            .map(|&i| sc.value(m, &self.subjects[i].1))
            .collect();
        let ratios: Vec<f64> = idx
            .iter()
            .zip(&subjects)
            .map(|(&i, s)| s / ((floors[i] + floors[i + 1]) / 2.0))
            .collect();
        let (worst, best) = worst_best(&ratios, m);
        let ratio_median = median(&ratios);
        let target = if kind == sc.subjects[0] {
            sc.target(m)
        } else {
            None
        };
        let subject_median = median(&subjects);
        MetricSummary {
            subject: kind,
            metric: m,
            floor_median: median(&floors),
            subject_median,
            met: target.map(|t| t.met(worst)),
            ratios,
            ratio_median,
            worst,
            best,
            target,
            bytes_per_s: (m == Metric::Rate).then_some(subject_median * self.case.size as f64),
        }
    }

    /// The floor's A/A spread in metric `m` ([`FloorSpread`]); `None` below three floor runs
    /// (two brackets), where no floor run has a neighbour on either side.
    pub fn floor_spread(&self, m: Metric) -> Option<FloorSpread> {
        let floors: Vec<f64> = self
            .floors
            .iter()
            .map(|o| self.scenario.value(m, o))
            .collect();
        let ratios: Vec<f64> = floors
            .windows(3)
            .map(|w| w[1] / ((w[0] + w[2]) / 2.0))
            .collect();
        if ratios.is_empty() {
            return None;
        }
        let (worst, best) = worst_best(&ratios, m);
        Some(FloorSpread {
            median: median(&ratios),
            ratios,
            worst,
            best,
        })
    }

    fn all(&self) -> impl Iterator<Item = &RunOutcome> {
        self.floors
            .iter()
            .chain(self.subjects.iter().map(|(_, o)| o))
    }

    /// Payload, sequence or ordering errors over all runs.
    pub fn errors(&self) -> u64 {
        self.all().map(RunOutcome::errors).sum()
    }

    /// Runs where a child could not pin itself.
    pub fn unpinned(&self) -> usize {
        self.all().filter(|o| o.pinned == Some(false)).count()
    }

    /// Kept runs that were still contended after all their tries.
    pub fn contended(&self) -> usize {
        self.all()
            .filter(|o| !o.oversubscribed && o.preemptions() > self.max_preemptions)
            .count()
    }

    pub fn oversubscribed(&self) -> bool {
        self.all().any(|o| o.oversubscribed)
    }

    /// Events a subject's peer did not deliver (by subject).
    pub fn dropped(&self) -> Vec<(Kind, u64)> {
        self.case
            .subjects
            .iter()
            .map(|&k| {
                (
                    k,
                    self.subjects
                        .iter()
                        .filter(|(s, _)| *s == k)
                        .map(|(_, o)| o.dropped())
                        .sum(),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    pub fn leaked(&self) -> Vec<String> {
        self.all().flat_map(|o| o.leaked.clone()).collect()
    }

    pub fn run_count(&self) -> usize {
        self.floors.len() + self.subjects.len()
    }

    /// Every run's raw reports, in schedule order, for the JSON file.
    pub fn runs_json(&self) -> Value {
        let one = |kind: Kind, o: &RunOutcome, placement: Option<&str>| {
            serde_json::json!({
                "kind": kind.name(), "who": kind.who(), "wall_s": o.wall.as_secs_f64(), "pinned": o.pinned,
                "leaked": o.leaked, "attempts": o.attempts, "preemptions": o.preemptions(),
                "oversubscribed": o.oversubscribed, "placement": placement,
                "quiet_before": o.quiet, "quiet_wait_s": o.quiet_wait_s, "a": o.a, "b": o.b,
            })
        };
        let mut v = Vec::new();
        for (i, f) in self.floors.iter().enumerate() {
            v.push(one(self.scenario.floor, f, None));
            if let Some((k, s)) = self.subjects.get(i) {
                v.push(one(*k, s, Some(self.placement(i))));
            }
        }
        Value::Array(v)
    }
}

pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}
