//! The fault schedule: everything a campaign will do, drawn up front from its seed, so the same
//! seed gives the same schedule (what the processes do in between is up to the machine).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ringproof_conformance::protocol::LivenessAction;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A participant of the campaign: the producer, or consumer `c_{k}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Producer,
    Consumer(usize),
}

impl Target {
    /// The label used in reports: `producer` or the consumer id.
    pub fn label(self) -> String {
        match self {
            Target::Producer => "producer".into(),
            Target::Consumer(k) => consumer_id(k),
        }
    }
}

/// The consumer ids of a campaign (`c_{k}`, what the conformance protocol uses).
pub fn consumer_id(k: usize) -> String {
    format!("c_{k}")
}

/// Fault families, as `--faults` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultFamily {
    /// SIGKILL at a random moment.
    Kill,
    /// SIGSTOP held past the liveness timeouts, then SIGCONT.
    Stop,
    /// A restart armed with a failpoint: the process SIGKILLs itself at an exact protocol step.
    Failpoints,
}

impl FaultFamily {
    pub fn parse(s: &str) -> Option<FaultFamily> {
        match s {
            "kill" => Some(FaultFamily::Kill),
            "stop" => Some(FaultFamily::Stop),
            "failpoints" | "failpoint" => Some(FaultFamily::Failpoints),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FaultFamily::Kill => "kill",
            FaultFamily::Stop => "stop",
            FaultFamily::Failpoints => "failpoints",
        }
    }
}

/// One scheduled fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// SIGKILL the target; it is restarted under the same id after `restart_after_ms`.
    Kill {
        target: Target,
        restart_after_ms: u64,
    },
    /// SIGSTOP the target for `hold_ms`, then SIGCONT.
    Stop { target: Target, hold_ms: u64 },
    /// SIGKILL the target and restart it armed with `RINGPROOF_FAILPOINT={point}@{pass}`.
    /// `consumer.leave` and `producer.close` fire when the restarted process is told to leave.
    /// `segment.create` on a consumer: the consumer first leaves cleanly, so its restart
    /// creates a fresh cursor segment.
    Failpoint {
        target: Target,
        point: String,
        pass: u64,
    },
}

impl Fault {
    pub fn target(&self) -> Target {
        match self {
            Fault::Kill { target, .. }
            | Fault::Stop { target, .. }
            | Fault::Failpoint { target, .. } => *target,
        }
    }

    pub fn family(&self) -> FaultFamily {
        match self {
            Fault::Kill { .. } => FaultFamily::Kill,
            Fault::Stop { .. } => FaultFamily::Stop,
            Fault::Failpoint { .. } => FaultFamily::Failpoints,
        }
    }
}

/// A fault and when (milliseconds after the fault phase starts) it is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduled {
    pub at_ms: u64,
    pub fault: Fault,
}

/// What a producer incarnation is configured with (drawn per incarnation, so a campaign
/// exercises both liveness actions and both publish shapes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerPlan {
    /// `alert` (keep gating a dead required consumer: its restart resumes exactly) or `evict`.
    pub action: LivenessAction,
    /// Events per publish call.
    pub batch: u64,
}

/// The campaign's whole plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub seed: u64,
    /// `Some(pass)`: the very first producer is armed with `segment.create@pass` (pass 1: the
    /// registry, 2: the producer cursor, 3: the ring), so the campaign starts with a crash
    /// during ring creation.
    pub initial_create_crash: Option<u64>,
    pub faults: Vec<Scheduled>,
    /// Producer incarnation `i` uses `producer_plans[i % len]`.
    pub producer_plans: Vec<ProducerPlan>,
    /// Consumer incarnation `i` of `c_k` reads with `modes[(k + i) % len]`.
    pub modes: Vec<String>,
}

/// Inputs that shape a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleParams {
    pub seed: u64,
    pub duration_ms: u64,
    pub consumers: usize,
    pub families: BTreeSet<FaultFamily>,
    /// Mean time between faults.
    pub mean_interval_ms: u64,
    /// Whether the implementation honours `RINGPROOF_FAILPOINT` (only the reference does).
    pub failpoints_supported: bool,
    /// Stall timeout + grace period of required consumers: stops are held past this.
    pub liveness_ms: u64,
    /// Every producer's liveness action (`alert` or `evict`); `None`: drawn per producer.
    #[serde(default)]
    pub action: Option<LivenessAction>,
}

/// Draws the schedule for `p`. Pure: the same params give the same schedule.
pub fn generate(p: &ScheduleParams) -> Schedule {
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let mut families: Vec<FaultFamily> = p.families.iter().copied().collect();
    if !p.failpoints_supported {
        families.retain(|f| *f != FaultFamily::Failpoints);
    }
    let initial_create_crash = (families.contains(&FaultFamily::Failpoints) && rng.gen_bool(0.5))
        .then(|| rng.gen_range(1..=3));
    let mut faults = Vec::new();
    let mut at = 0u64;
    let mean = p.mean_interval_ms.max(1);
    while !families.is_empty() {
        // Uniform in [mean/2, 3*mean/2): steady pressure without long quiet stretches.
        at += rng.gen_range(mean / 2..mean + mean / 2 + 1);
        if at >= p.duration_ms {
            break;
        }
        let target = if rng.gen_bool(0.3) || p.consumers == 0 {
            Target::Producer
        } else {
            Target::Consumer(rng.gen_range(0..p.consumers))
        };
        let fault = match families[rng.gen_range(0..families.len())] {
            FaultFamily::Kill => Fault::Kill {
                target,
                restart_after_ms: rng.gen_range(0..=300),
            },
            FaultFamily::Stop => Fault::Stop {
                target,
                hold_ms: p.liveness_ms + rng.gen_range(50..=400),
            },
            FaultFamily::Failpoints => {
                let (point, pass) = match target {
                    Target::Producer => match rng.gen_range(0..3) {
                        0 => ("producer.claimed", rng.gen_range(1..=400)),
                        1 => ("producer.written", rng.gen_range(1..=400)),
                        _ => ("producer.close", 1),
                    },
                    Target::Consumer(_) => match rng.gen_range(0..3) {
                        0 => ("consumer.attach", 1),
                        1 => ("consumer.leave", 1),
                        _ => ("segment.create", 1),
                    },
                };
                Fault::Failpoint {
                    target,
                    point: point.into(),
                    pass,
                }
            }
        };
        faults.push(Scheduled { at_ms: at, fault });
    }
    let producer_plans = (0..16)
        .map(|_| {
            let drawn = if rng.gen_bool(0.5) {
                LivenessAction::Alert
            } else {
                LivenessAction::Evict
            };
            ProducerPlan {
                action: p.action.unwrap_or(drawn),
                batch: [1, 1, 4, 16][rng.gen_range(0..4)],
            }
        })
        .collect();
    let modes = (0..7)
        .map(|_| ["copy", "lease", "batch"][rng.gen_range(0..3)].to_string())
        .collect();
    Schedule {
        seed: p.seed,
        initial_create_crash,
        faults,
        producer_plans,
        modes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(seed: u64) -> ScheduleParams {
        ScheduleParams {
            seed,
            duration_ms: 20_000,
            consumers: 3,
            families: [
                FaultFamily::Kill,
                FaultFamily::Stop,
                FaultFamily::Failpoints,
            ]
            .into_iter()
            .collect(),
            mean_interval_ms: 100,
            failpoints_supported: true,
            liveness_ms: 200,
            action: None,
        }
    }

    #[test]
    fn same_seed_same_schedule_other_seed_other_schedule() {
        assert_eq!(generate(&params(7)), generate(&params(7)));
        assert_ne!(generate(&params(7)).faults, generate(&params(8)).faults);
    }

    #[test]
    fn honours_families_and_duration() {
        let mut p = params(3);
        p.families = [FaultFamily::Kill].into_iter().collect();
        let s = generate(&p);
        assert!(
            s.faults.len() > 100,
            "{} faults in 20 s at 100 ms",
            s.faults.len()
        );
        assert!(s
            .faults
            .iter()
            .all(|f| f.fault.family() == FaultFamily::Kill && f.at_ms < 20_000));
        assert_eq!(s.initial_create_crash, None);
        p.families = [FaultFamily::Failpoints].into_iter().collect();
        p.failpoints_supported = false;
        assert!(generate(&p).faults.is_empty());
    }
}
