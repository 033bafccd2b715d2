//! Running one measurement: two processes (this binary re-executed with the hidden `role`
//! subcommand), each pinned to its own core, plus the names they share, removed afterwards on
//! every path.
//!
//! The orchestrator waits in `waitpid` (no polling that would steal a pinned core); SIGINT,
//! SIGTERM and a per-run SIGALRM deadline interrupt the wait, kill both children, and the
//! run's names are unlinked by an [`UnlinkGuard`].

use crate::shm::{self, UnlinkGuard};
use crate::{clock, floors, subjects};
use clap::{Args, ValueEnum};
use nix::errno::Errno;
use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use ringproof::WaitStrategy;
use serde_json::{json, Value};
use std::io::Read;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// What a pair of processes runs.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Raw ring of u64 slots, batched cursor stores.
    FloorStream,
    /// Raw spin ping-pong.
    FloorPing,
    /// Raw spin-then-futex ping-pong (with a spin ping-pong placement probe first).
    FloorFutex,
    /// Diagnostic: raw stream with one cursor store per event (`--batch` ignored).
    FloorStreamPerEvent,
    /// Diagnostic: raw ping-pong through slot + cursor (two lines per hop).
    FloorRingPing,
    /// Diagnostic: as FloorRingPing, the waiter also loading its next slot while spinning.
    FloorRingPingTouch,
    /// ringproof `publish` per event.
    RpStreamSingle,
    /// ringproof `publish_batch`.
    RpStreamBatch,
    /// ringproof `publish` per event with `coalesce(--batch)`: cursor stored every N events.
    RpStreamCoalesced,
    /// ringproof `publish_batch` with counters off (the counters' cost).
    RpStreamBatchNoCounters,
    /// ringproof ping-pong, BusySpin consumers.
    RpPingSpin,
    /// ringproof ping-pong, `WaitStrategy::blocking()` consumers.
    RpPingBlocking,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::FloorStream => "raw-stream",
            Kind::FloorPing => "raw-pingpong",
            Kind::FloorFutex => "raw-futex-pingpong",
            Kind::FloorStreamPerEvent => "raw-stream per-event store",
            Kind::FloorRingPing => "raw 2-line ring pingpong",
            Kind::FloorRingPingTouch => "raw 2-line pingpong, slot touched",
            Kind::RpStreamSingle => "ringproof publish",
            Kind::RpStreamBatch => "ringproof publish_batch",
            Kind::RpStreamCoalesced => "ringproof publish, coalesced",
            Kind::RpStreamBatchNoCounters => "ringproof publish_batch, counters off",
            Kind::RpPingSpin => "ringproof pingpong BusySpin",
            Kind::RpPingBlocking => "ringproof pingpong blocking()",
        }
    }

    pub fn is_stream(self) -> bool {
        matches!(self, Kind::FloorStream | Kind::FloorStreamPerEvent | Kind::RpStreamSingle | Kind::RpStreamBatch | Kind::RpStreamCoalesced | Kind::RpStreamBatchNoCounters)
    }

    /// Whether the orchestrator creates a raw shm segment for it.
    fn is_raw(self) -> bool {
        !matches!(self, Kind::RpStreamSingle | Kind::RpStreamBatch | Kind::RpStreamCoalesced | Kind::RpStreamBatchNoCounters | Kind::RpPingSpin | Kind::RpPingBlocking)
    }
}

/// Which process of the pair: A produces (stream) or starts and times round trips (ping);
/// B consumes or answers.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

/// Arguments of the hidden `role` subcommand (one side of one run).
#[derive(Args, Debug, Clone)]
pub struct RoleArgs {
    #[arg(long, value_enum)]
    pub kind: Kind,
    #[arg(long, value_enum)]
    pub side: Side,
    /// shm segment (floors) or ring base name (subjects).
    #[arg(long)]
    pub name: String,
    /// Core to pin to.
    #[arg(long)]
    pub cpu: Option<usize>,
    #[arg(long, default_value_t = 1024)]
    pub capacity: usize,
    /// Measured events (stream) or round trips (ping), after the warm-up.
    #[arg(long)]
    pub events: u64,
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// Events per cursor store (floor stream) or per `publish_batch` (subject).
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Idle time before each round trip, in ns (paced ping-pong).
    #[arg(long, default_value_t = 0)]
    pub gap_ns: u64,
    /// Spin phase of the futex floor's waits (ringproof's `blocking()` spins 1000 times).
    #[arg(long, default_value_t = 1000)]
    pub spins: u32,
    #[arg(long, default_value_t = 1.0)]
    pub ticks_per_ns: f64,
    /// Run under SCHED_FIFO at this priority.
    #[arg(long)]
    pub rt_priority: Option<i32>,
}

impl RoleArgs {
    pub fn gap_ticks(&self) -> u64 {
        (self.gap_ns as f64 * self.ticks_per_ns) as u64
    }

    fn to_argv(&self) -> Vec<String> {
        let mut v = vec![
            "role".into(),
            "--kind".into(),
            self.kind.to_possible_value().expect("not skipped").get_name().into(),
            "--side".into(),
            self.side.to_possible_value().expect("not skipped").get_name().into(),
            "--name".into(),
            self.name.clone(),
        ];
        if let Some(cpu) = self.cpu {
            v.extend(["--cpu".into(), cpu.to_string()]);
        }
        if let Some(p) = self.rt_priority {
            v.extend(["--rt-priority".into(), p.to_string()]);
        }
        for (flag, value) in [
            ("--capacity", self.capacity.to_string()),
            ("--events", self.events.to_string()),
            ("--warmup", self.warmup.to_string()),
            ("--batch", self.batch.to_string()),
            ("--gap-ns", self.gap_ns.to_string()),
            ("--spins", self.spins.to_string()),
            ("--ticks-per-ns", self.ticks_per_ns.to_string()),
        ] {
            v.extend([flag.into(), value]);
        }
        v
    }
}

/// Entry point of a child: pin, run one side, print one JSON line.
pub fn run_role(a: RoleArgs) -> ExitCode {
    let pinned = a.cpu.map(clock::pin);
    let rt = a.rt_priority.map(clock::set_fifo);
    let usage = crate::measure::Usage::now();
    let result = match a.kind {
        Kind::FloorStream => floors::stream(&a),
        Kind::FloorStreamPerEvent => floors::stream(&RoleArgs { batch: 1, ..a.clone() }),
        Kind::FloorRingPing => floors::ring_ping(&a, false),
        Kind::FloorRingPingTouch => floors::ring_ping(&a, true),
        Kind::FloorPing => floors::ping(&a),
        Kind::FloorFutex => floors::futex(&a),
        Kind::RpStreamSingle => subjects::stream(&a, subjects::Publish::Single),
        Kind::RpStreamBatch => subjects::stream(&a, subjects::Publish::Batch),
        Kind::RpStreamCoalesced => subjects::stream(&a, subjects::Publish::Coalesced),
        Kind::RpStreamBatchNoCounters => subjects::stream(&a, subjects::Publish::BatchNoCounters),
        Kind::RpPingSpin => subjects::ping(&a, WaitStrategy::BusySpin),
        Kind::RpPingBlocking => subjects::ping(&a, WaitStrategy::blocking()),
    };
    match result {
        Ok(r) => {
            println!("{}", json!({ "cpu": a.cpu, "pinned": pinned, "rt": rt, "usage": usage.since(), "result": r }));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ringproof-bench role {:?}/{:?}: {e}", a.kind, a.side);
            ExitCode::FAILURE
        }
    }
}

/// One run to do: everything but the side.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub kind: Kind,
    pub events: u64,
    pub warmup: u64,
    pub capacity: usize,
    pub batch: usize,
    pub gap_ns: u64,
    pub spins: u32,
    pub ticks_per_ns: f64,
    /// Cores for A and B.
    pub cpus: [Option<usize>; 2],
    pub timeout: Duration,
    pub rt_priority: Option<i32>,
}

/// What one run gave back.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub a: Value,
    pub b: Value,
    pub wall: Duration,
    /// Whether both children pinned themselves (None: pinning not requested).
    pub pinned: Option<bool>,
    /// Names a child left behind (removed by the orchestrator).
    pub leaked: Vec<String>,
    /// Tries it took (contended tries are repeated).
    pub attempts: u32,
    /// Seconds spent waiting for the machine to go quiet before the kept try.
    pub quiet_wait_s: f64,
    /// Whether other tasks were runnable when the kept try started.
    pub quiet: bool,
}

impl RunOutcome {
    /// Payload / ordering errors either side saw.
    pub fn errors(&self) -> u64 {
        self.a["result"]["errors"].as_u64().unwrap_or(0)
            + self.b["result"]["errors"].as_u64().unwrap_or(0)
    }

    /// Involuntary context switches of both sides: each one is a moment a side did not have
    /// its core (another task ran there), which a spinning peer pays for in full.
    pub fn preemptions(&self) -> i64 {
        self.a["usage"]["involuntary_switches"].as_i64().unwrap_or(0) + self.b["usage"]["involuntary_switches"].as_i64().unwrap_or(0)
    }
}

/// Runnable tasks on the machine other than this one (`procs_running` in /proc/stat).
pub fn others_running() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("procs_running ").and_then(|n| n.trim().parse::<u64>().ok())))
        .map_or(0, |n| n.saturating_sub(1))
}

/// Waits (at most `max`) until no other task has been runnable for 100 ms, sampled every
/// 10 ms. Returns whether it got quiet, and how long it waited.
pub fn wait_for_quiet(max: Duration) -> (bool, Duration) {
    let start = Instant::now();
    let mut calm = 0;
    while calm < 10 {
        if interrupted() || start.elapsed() >= max {
            return (false, start.elapsed());
        }
        calm = if others_running() == 0 { calm + 1 } else { 0 };
        std::thread::sleep(Duration::from_millis(10));
    }
    (true, start.elapsed())
}

static SIGNALLED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNALLED.store(sig, Ordering::SeqCst);
}

/// Installs SIGINT/SIGTERM/SIGALRM handlers without SA_RESTART, so they interrupt `waitpid`.
/// Children get default dispositions back at exec.
pub fn install_signal_handlers() {
    let action = SigAction::new(SigHandler::Handler(on_signal), SaFlags::empty(), SigSet::empty());
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGALRM] {
        // SAFETY: the handler only stores to an atomic (async-signal-safe).
        unsafe { signal::sigaction(sig, &action) }.expect("sigaction");
    }
}

/// SIGINT or SIGTERM arrived (the run should stop after cleaning up).
pub fn interrupted() -> bool {
    matches!(SIGNALLED.load(Ordering::SeqCst), libc::SIGINT | libc::SIGTERM)
}

/// Runs both sides of `spec` under run name `name` and collects their reports.
pub fn run_pair(spec: &RunSpec, name: &str) -> Result<RunOutcome, String> {
    if interrupted() {
        return Err("interrupted".into());
    }
    let names = match spec.kind {
        k if k.is_raw() => vec![name.to_owned()],
        Kind::RpStreamSingle | Kind::RpStreamBatch | Kind::RpStreamCoalesced | Kind::RpStreamBatchNoCounters => shm::ring_names(name, &[subjects::STREAM_CONSUMER]),
        Kind::RpPingSpin | Kind::RpPingBlocking => {
            let [ab, ba] = subjects::ping_rings(name);
            let mut v = shm::ring_names(&ab, &[subjects::PING_CONSUMERS[1]]);
            v.extend(shm::ring_names(&ba, &[subjects::PING_CONSUMERS[0]]));
            v
        }
        _ => unreachable!("every ringproof kind is listed"),
    };
    let mut guard = UnlinkGuard::new(names);
    if spec.kind.is_raw() {
        let len = floors::segment_len(spec.kind.is_stream(), spec.capacity);
        shm::Shm::create(name, len).map_err(|e| format!("create shm {name}: {e}"))?;
    }
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let role = |side: Side, cpu: Option<usize>| RoleArgs {
        kind: spec.kind,
        side,
        name: name.to_owned(),
        cpu,
        capacity: spec.capacity,
        events: spec.events,
        warmup: spec.warmup,
        batch: spec.batch,
        gap_ns: spec.gap_ns,
        spins: spec.spins,
        ticks_per_ns: spec.ticks_per_ns,
        rt_priority: spec.rt_priority,
    };
    let start = Instant::now();
    let spawn = |args: RoleArgs| {
        Command::new(&exe).args(args.to_argv()).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn()
    };
    let mut a = spawn(role(Side::A, spec.cpus[0])).map_err(|e| format!("spawn side A: {e}"))?;
    let mut b = match spawn(role(Side::B, spec.cpus[1])) {
        Ok(b) => b,
        Err(e) => {
            kill_and_reap(&[&a]);
            return Err(format!("spawn side B: {e}"));
        }
    };
    let waited = wait_both(&a, &b, spec.timeout);
    let wall = start.elapsed();
    let out_a = read_report(&mut a);
    let out_b = read_report(&mut b);
    let leaked = guard.cleanup();
    waited?;
    let (a, b) = (out_a?, out_b?);
    let pinned = match (a["pinned"].as_bool(), b["pinned"].as_bool()) {
        (Some(x), Some(y)) => Some(x && y),
        _ => None,
    };
    if spec.rt_priority.is_some() && !(a["rt"].as_bool() == Some(true) && b["rt"].as_bool() == Some(true)) {
        return Err("a child could not switch to SCHED_FIFO (needs CAP_SYS_NICE); run without --rt".into());
    }
    Ok(RunOutcome { a, b, wall, pinned, leaked, attempts: 1, quiet_wait_s: 0.0, quiet: true })
}

fn read_report(child: &mut Child) -> Result<Value, String> {
    let mut s = String::new();
    if let Some(out) = child.stdout.as_mut() {
        out.read_to_string(&mut s).map_err(|e| format!("read child report: {e}"))?;
    }
    let line = s.lines().last().ok_or("child printed no report")?;
    serde_json::from_str(line).map_err(|e| format!("child report {line:?}: {e}"))
}

fn pid_of(c: &Child) -> Pid {
    Pid::from_raw(c.id() as i32)
}

fn kill_and_reap(children: &[&Child]) {
    for c in children {
        let _ = signal::kill(pid_of(c), Signal::SIGKILL);
    }
    for c in children {
        let _ = waitpid(pid_of(c), None);
    }
}

/// Waits for both children; if one fails, or a signal or the deadline comes, kills the rest.
fn wait_both(a: &Child, b: &Child, timeout: Duration) -> Result<(), String> {
    let pids = [pid_of(a), pid_of(b)];
    let mut done = [false, false];
    let mut failure: Option<String> = None;
    // SAFETY: plain syscall; SIGALRM's handler only records the signal.
    unsafe { libc::alarm(timeout.as_secs().max(1) as libc::c_uint) };
    while !(done[0] && done[1]) {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(status) => {
                let Some(pid) = status.pid() else { continue };
                let Some(i) = pids.iter().position(|p| *p == pid) else { continue };
                let bad = match status {
                    WaitStatus::Exited(_, 0) => None,
                    WaitStatus::Exited(_, code) => Some(format!("side {} exited with {code}", ["A", "B"][i])),
                    WaitStatus::Signaled(_, sig, _) => Some(format!("side {} killed by {sig}", ["A", "B"][i])),
                    _ => continue,
                };
                done[i] = true;
                if let Some(why) = bad {
                    failure.get_or_insert(why);
                    let other = 1 - i;
                    if !done[other] {
                        let _ = signal::kill(pids[other], Signal::SIGKILL);
                    }
                }
            }
            Err(Errno::EINTR) => {
                let sig = SIGNALLED.load(Ordering::SeqCst);
                if sig != 0 {
                    for (i, pid) in pids.iter().enumerate() {
                        if !done[i] {
                            let _ = signal::kill(*pid, Signal::SIGKILL);
                        }
                    }
                    if sig == libc::SIGALRM {
                        SIGNALLED.store(0, Ordering::SeqCst);
                        failure.get_or_insert(format!("run exceeded {} s; killed", timeout.as_secs()));
                    } else {
                        failure.get_or_insert("interrupted".into());
                    }
                }
            }
            Err(e) => {
                // ECHILD or worse: nothing left we can wait for; make sure nothing runs on.
                for (i, pid) in pids.iter().enumerate() {
                    if !done[i] {
                        let _ = signal::kill(*pid, Signal::SIGKILL);
                    }
                }
                failure.get_or_insert(format!("waitpid: {e}"));
                break;
            }
        }
    }
    // SAFETY: cancels the deadline.
    unsafe { libc::alarm(0) };
    failure.map_or(Ok(()), Err)
}
