//! The bench's command-line options ([`Opts`]) and what they imply: the event sizes, the
//! peers, the cores, the [`Plan`] every run shares and the cases to run.

use crate::plan::{self, Case, Plan};
use crate::role::Peer;
use crate::scenario::SCENARIOS;
use crate::{clock, testee_report};
use clap::{builder::PossibleValuesParser, Args};
use std::path::PathBuf;
use std::time::Duration;

/// Event sizes of the default run.
pub const DEFAULT_SIZES: [usize; 5] = [8, 64, 256, 1024, 4096];

#[derive(Args, Debug, Clone)]
pub struct Opts {
    /// Short run (about a minute): runs of ~0.1 s, two brackets, sizes 8 and 1024; verifies
    /// every payload and exits 0 unless something is wrong (targets are reported, never
    /// enforced).
    #[arg(long)]
    pub quick: bool,
    /// Run only this scenario (repeatable; see --list).
    #[arg(long, value_parser = PossibleValuesParser::new(SCENARIOS.iter().map(|s| s.name)))]
    pub scenario: Vec<String>,
    /// Event size in bytes for the sized stream scenarios (repeatable; a multiple of 8;
    /// default 8, 64, 256, 1024, 4096; with --quick 8 and 1024).
    #[arg(long, value_parser = parse_size)]
    pub size: Vec<usize>,
    /// Peers to run next to ringproof (repeatable or comma-separated; default all; `none`
    /// for ringproof against the floors only).
    #[arg(long, value_delimiter = ',', value_parser = PossibleValuesParser::new(["dmp", "iox2", "uds", "pipe", "none"]))]
    pub peers: Vec<String>,
    /// Readers of the 1 -> N broadcast (default: one per core besides the producer's; the
    /// scenario is skipped below 4 cores unless this is given).
    #[arg(long)]
    pub readers: Option<usize>,
    /// Also write everything (every run's raw report, serialised histograms) to this JSON file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write SVG plots here (latency percentile curves per subject, throughput against size).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Brackets per subject (default 3; 2 with --quick).
    #[arg(long)]
    pub brackets: Option<usize>,
    /// Ring capacity in slots, for floors, subjects and peers alike.
    #[arg(long, default_value_t = 1024)]
    pub capacity: usize,
    /// Events per floor cursor store and per publish_batch.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Fixed measured events per stream run, the same for every subject (default: each
    /// subject sized to --target-secs).
    #[arg(long)]
    pub events: Option<u64>,
    /// Wanted duration of one stream run, in seconds.
    #[arg(long, default_value_t = 0.4)]
    pub target_secs: f64,
    /// Measured round trips per closed-loop ping-pong run (default 100000; 5000 with --quick).
    #[arg(long)]
    pub rounds: Option<u64>,
    /// Measured round trips per wake-up run (default 3000; 200 with --quick).
    #[arg(long)]
    pub paced_rounds: Option<u64>,
    /// Idle gap before each wake-up round trip, in microseconds (default 200; 50 with --quick).
    #[arg(long)]
    pub gap_us: Option<u64>,
    /// Round trips per open-loop (paced-spin) run (default 20000; 2000 with --quick).
    #[arg(long)]
    pub open_loop_rounds: Option<u64>,
    /// Open-loop schedule: one round trip due every this many microseconds.
    #[arg(long, default_value_t = 20)]
    pub interval_us: u64,
    /// Cores to use, e.g. "0,1" (A on the first, readers on the rest; default: every core
    /// this process may use).
    #[arg(long)]
    pub cores: Option<String>,
    /// Do not pin.
    #[arg(long)]
    pub no_pin: bool,
    /// Exit 3 when a target is missed (never with --quick).
    #[arg(long)]
    pub enforce_targets: bool,
    /// Tries per run while a try is contended (default 3; 1 with --quick).
    #[arg(long)]
    pub attempts: Option<u32>,
    /// Involuntary context switches (all sides together) above which a try counts as
    /// contended: the machine is shared, and a preempted spinning side ruins the numbers.
    #[arg(long, default_value_t = 20)]
    pub max_preemptions: i64,
    /// Seconds to wait before each try for other runnable tasks to go away (default 10; 0 with --quick).
    #[arg(long)]
    pub quiet_wait_s: Option<f64>,
    /// Run every side under SCHED_FIFO at this priority (1-99; needs CAP_SYS_NICE), so other
    /// tasks on a shared machine cannot preempt them; the runs then leave the CPUs idle for
    /// --rt-cooldown times their duration after each run.
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=99))]
    pub rt: Option<i32>,
    /// Idle time after each run under --rt, as a fraction of the run's wall time.
    #[arg(long, default_value_t = 1.0)]
    pub rt_cooldown: f64,
    /// Run timeout in seconds (default 120; 60 with --quick).
    #[arg(long)]
    pub timeout_s: Option<u64>,
    /// List the scenarios and exit (with --impl: also what each testee offers and which
    /// scenarios it joins).
    #[arg(long)]
    pub list: bool,
    /// Also benchmark this implementation through its conformance testee's `bench` capability
    /// (conformance/PROTOCOL.md): `ringproof` (the reference testee), `disruptor-mp`, or the
    /// path of a testee executable. Repeatable. Its rows join stream-single, stream-batch,
    /// spmc-2, spmc-n, pingpong-spin and paced-spin (as it offers them) next to the built-in
    /// subjects; without --scenario only those run, and without --peers no built-in peers.
    #[arg(long = "impl", value_name = "NAME|PATH")]
    pub impls: Vec<String>,
    /// A testee result beating the case's best uncontended floor by more than this factor (or
    /// the floors' own spread, if larger) is refused as impossible.
    #[arg(long, default_value_t = testee_report::LIE_FACTOR)]
    pub lie_factor: f64,
}

fn parse_size(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|e| format!("{s:?}: {e}"))?;
    if n == 0 || (n / 8) * 8 != n || n > 1 << 20 {
        return Err(format!(
            "event size {n} must be a positive multiple of 8, at most 1 MiB"
        ));
    }
    Ok(n)
}

pub(crate) fn peers(o: &Opts) -> Vec<Peer> {
    if o.peers.is_empty() {
        return Peer::ALL.to_vec();
    }
    let mut v: Vec<Peer> = o
        .peers
        .iter()
        .filter_map(|p| match p.as_str() {
            "dmp" => Some(Peer::Dmp),
            "iox2" => Some(Peer::Iox2),
            "uds" => Some(Peer::Uds),
            "pipe" => Some(Peer::Pipe),
            _ => None,
        })
        .collect();
    v.dedup();
    v
}

pub(crate) fn cpus(o: &Opts) -> Result<(Vec<usize>, String), String> {
    if o.no_pin {
        return Ok((Vec::new(), "not pinned (--no-pin)".into()));
    }
    let chosen: Vec<usize> = match &o.cores {
        Some(s) => s
            .split(',')
            .map(|c| {
                c.trim()
                    .parse::<usize>()
                    .map_err(|e| format!("--cores {s:?}: {e}"))
            })
            .collect::<Result<_, _>>()?,
        None => clock::allowed_cpus(),
    };
    let mut distinct = chosen.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 2 || distinct.len() != chosen.len() {
        return Ok((
            Vec::new(),
            format!(
                "PINNING FAILED: need two or more distinct cpus, have {chosen:?}; running unpinned"
            ),
        ));
    }
    Ok((
        chosen.clone(),
        format!(
            "A on cpu {}, B (readers) on cpus {:?} (reader i on the (1+i)-th, wrapping)",
            chosen[0],
            &chosen[1..]
        ),
    ))
}

pub(crate) fn plan(o: &Opts, cpus: Vec<usize>, ticks_per_ns: f64) -> Plan {
    let q = o.quick;
    Plan {
        brackets: o.brackets.unwrap_or(if q { 2 } else { 3 }).max(1),
        capacity: o.capacity,
        batch: o.batch,
        events: o.events,
        min_events: if q { 10_000 } else { 200_000 },
        first_scale: if q { 0.1 } else { 1.0 },
        target_secs: if q {
            o.target_secs.min(0.1)
        } else {
            o.target_secs
        },
        rounds: o.rounds.unwrap_or(if q { 5_000 } else { 100_000 }),
        ping_warmup: if q { 500 } else { 10_000 },
        paced_rounds: o.paced_rounds.unwrap_or(if q { 200 } else { 3_000 }),
        paced_warmup: if q { 20 } else { 300 },
        gap_ns: o.gap_us.unwrap_or(if q { 50 } else { 200 }) * 1000,
        open_loop_rounds: o.open_loop_rounds.unwrap_or(if q { 2_000 } else { 20_000 }),
        interval_ns: o.interval_us.max(1) * 1000,
        spins: 1000,
        ticks_per_ns,
        cpus,
        timeout: Duration::from_secs(o.timeout_s.unwrap_or(if q { 60 } else { 120 })),
        attempts: o.attempts.unwrap_or(if q { 1 } else { 3 }).max(1),
        max_preemptions: o.max_preemptions,
        quiet_wait: Duration::from_secs_f64(o.quiet_wait_s.unwrap_or(if q || o.rt.is_some() {
            0.0
        } else {
            10.0
        })),
        rt_priority: o.rt,
        cooldown: if o.rt.is_some() {
            o.rt_cooldown.max(0.0)
        } else {
            0.0
        },
        many_readers: o.readers,
    }
}

/// The event sizes of the sized scenarios: `--size`, else 8 and 1024 with --quick, else
/// [`DEFAULT_SIZES`].
pub(crate) fn sizes(o: &Opts) -> Vec<usize> {
    if !o.size.is_empty() {
        o.size.clone()
    } else if o.quick {
        vec![8, 1024]
    } else {
        DEFAULT_SIZES.to_vec()
    }
}

/// The cases a run with these options would do, and their run count (for `--list`-like
/// planning and tests).
pub fn planned_cases(o: &Opts) -> Vec<Case> {
    let plan = plan(o, clock::allowed_cpus(), 1.0);
    let sizes = if o.size.is_empty() {
        DEFAULT_SIZES.to_vec()
    } else {
        o.size.clone()
    };
    plan::cases(&o.scenario, &sizes, &peers(o), &plan).0
}
