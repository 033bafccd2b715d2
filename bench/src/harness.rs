//! Running one measurement: two processes (this binary re-executed with the hidden `role`
//! subcommand), each pinned to its own core, plus the names they share, removed afterwards on
//! every path.
//!
//! The orchestrator waits in `waitpid` (no polling that would steal a pinned core); SIGINT,
//! SIGTERM and a per-run SIGALRM deadline interrupt the wait, kill both children, and the
//! run's names are unlinked by an [`UnlinkGuard`]. The sides themselves run in `child.rs`.

use crate::launcher::Launcher;
use crate::role::Kind;
use crate::run::{RunOutcome, RunSpec};
use crate::shm::{self, UnlinkGuard};
use crate::signals::{clear_signalled, interrupted, signalled};
use crate::{floors, subjects};
use nix::errno::Errno;
use nix::sys::signal::{self, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use serde_json::Value;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What the peers binary (`ringproof-bench-peers`) takes from here.
pub use crate::child::{run_role, PeerRunner};
pub use crate::role::{RoleArgs, Side};

/// Runs every side of `spec` under run name `name` and collects their reports.
pub fn run_pair(spec: &RunSpec, name: &str, launcher: &Launcher) -> Result<RunOutcome, String> {
    if let Kind::Testee(t) = spec.kind {
        return crate::testee_subject::run(spec, name, t);
    }
    if interrupted() {
        return Err("interrupted".into());
    }
    let dir = std::env::temp_dir().join(name);
    std::fs::create_dir(&dir).map_err(|e| format!("create run dir {}: {e}", dir.display()))?;
    let mut guard = UnlinkGuard::new(shm_names(spec, name), Some(dir.clone()));
    if spec.kind.is_raw() {
        let len = floors::segment_len(spec.kind.is_stream(), spec.capacity, spec.size);
        shm::Shm::create(name, len).map_err(|e| format!("create shm {name}: {e}"))?;
    }
    let start = Instant::now();
    let mut children = spawn_sides(spec, name, &dir, launcher)?;
    let waited = wait_all(&children, spec.timeout);
    let wall = start.elapsed();
    let reports: Vec<Result<Value, String>> = children.iter_mut().map(read_report).collect();
    let leaked = guard.cleanup();
    waited?;
    let reports = reports
        .into_iter()
        .collect::<Result<Vec<Value>, String>>()?;
    outcome(spec, reports, wall, leaked)
}

/// The arguments of one side of `spec`'s run `name`: A (`reader` None) or reader `i`.
fn role_args(spec: &RunSpec, name: &str, dir: &Path, reader: Option<usize>) -> RoleArgs {
    RoleArgs {
        kind: spec.kind,
        side: if reader.is_none() { Side::A } else { Side::B },
        name: name.to_owned(),
        dir: Some(dir.to_path_buf()),
        mmap: spec.mmap,
        cpu: spec.cpu_of(reader),
        capacity: spec.capacity,
        size: spec.size,
        readers: spec.readers,
        reader: reader.unwrap_or(0),
        events: spec.events,
        warmup: spec.warmup,
        batch: spec.batch,
        gap_ns: spec.gap_ns,
        interval_ns: spec.interval_ns,
        spins: spec.spins,
        ticks_per_ns: spec.ticks_per_ns,
        rt_priority: spec.rt_priority,
    }
}

/// Starts side A, then every reader (one side B for ping-pong); if one does not start, the
/// ones that did are killed.
fn spawn_sides(
    spec: &RunSpec,
    name: &str,
    dir: &Path,
    launcher: &Launcher,
) -> Result<Vec<Child>, String> {
    let cmd = launcher.for_kind(spec.kind);
    let spawn = |args: RoleArgs| {
        Command::new(&cmd.program)
            .args(&cmd.prefix)
            .args(args.to_argv())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", cmd.program.display()))
    };
    let readers = if spec.kind.is_stream() {
        spec.readers.max(1)
    } else {
        1
    };
    let mut children: Vec<Child> = Vec::new();
    for i in 0..=readers {
        let reader = i.checked_sub(1);
        match spawn(role_args(spec, name, dir, reader)) {
            Ok(c) => children.push(c),
            Err(e) => {
                kill_and_reap(&children.iter().collect::<Vec<_>>());
                return Err(e);
            }
        }
    }
    Ok(children)
}

/// The run's outcome from every side's report (A first), refused if `--rt` was asked for and a
/// side could not switch to SCHED_FIFO.
fn outcome(
    spec: &RunSpec,
    mut reports: Vec<Value>,
    wall: Duration,
    leaked: Vec<String>,
) -> Result<RunOutcome, String> {
    let a = reports.remove(0);
    let b = reports;
    let pinned = std::iter::once(&a)
        .chain(&b)
        .map(|s| s["pinned"].as_bool())
        .try_fold(true, |all, p| p.map(|p| all && p));
    if spec.rt_priority.is_some()
        && !std::iter::once(&a)
            .chain(&b)
            .all(|s| s["rt"].as_bool() == Some(true))
    {
        return Err(
            "a child could not switch to SCHED_FIFO (needs CAP_SYS_NICE); run without --rt".into(),
        );
    }
    Ok(RunOutcome {
        a,
        b,
        wall,
        pinned,
        leaked,
        attempts: 1,
        quiet_wait_s: 0.0,
        quiet: true,
        oversubscribed: spec.oversubscribed(),
    })
}

/// Every shm name a run of `spec` named `name` may create (removed afterwards, reported if a
/// child left it).
fn shm_names(spec: &RunSpec, name: &str) -> Vec<String> {
    let readers: Vec<String> = (0..spec.readers.max(1))
        .map(subjects::stream_consumer_id)
        .collect();
    let ids: Vec<&str> = readers.iter().map(String::as_str).collect();
    match spec.kind {
        k if k.is_raw() => vec![name.to_owned()],
        _ if spec.mmap => Vec::new(),
        Kind::RpStreamSingle
        | Kind::RpStreamBatch
        | Kind::RpStreamCoalesced
        | Kind::RpStreamSingleBackoff
        | Kind::RpStreamBatchNoCounters
        | Kind::RpStreamSingleNoCounters => shm::ring_names(name, &ids),
        Kind::RpPingSpin | Kind::RpPingSpinNoCounters | Kind::RpPingBlocking => {
            let [ab, ba] = subjects::ping_rings(name);
            let mut v = shm::ring_names(&ab, &[subjects::PING_CONSUMERS[1]]);
            v.extend(shm::ring_names(&ba, &[subjects::PING_CONSUMERS[0]]));
            v
        }
        Kind::DmpStream => dmp_names(name, spec.readers.max(1)),
        Kind::DmpPing => {
            let [ab, ba] = subjects::ping_rings(name);
            let mut v = dmp_names(&ab, 1);
            v.extend(dmp_names(&ba, 1));
            v
        }
        _ => Vec::new(),
    }
}

/// What a disruptor-mp ring `ring` with consumers `cp_0..cp_{n-1}` puts in /dev/shm.
pub fn dmp_names(ring: &str, consumers: usize) -> Vec<String> {
    let mut v = vec![
        ring.to_owned(),
        format!("{ring}_producer_seq"),
        format!("{ring}_cr"),
    ];
    v.extend((0..consumers).map(|i| format!("{ring}_{DMP_PREFIX}_{i}_seq")));
    v
}

/// disruptor-mp consumer ids are `{DMP_PREFIX}_{i}` (its discovery only knows that form).
pub const DMP_PREFIX: &str = "cp";

/// The shm name prefix iceoryx2 uses in a run named `name` (its `global.prefix`): the
/// orchestrator removes everything that starts with it.
pub fn iox2_prefix(name: &str) -> String {
    format!("{name}-iox2_")
}

/// Runnable tasks on the machine other than this one (`procs_running` in /proc/stat).
pub fn others_running() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("procs_running ")
                    .and_then(|n| n.trim().parse::<u64>().ok())
            })
        })
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

fn read_report(child: &mut Child) -> Result<Value, String> {
    let mut s = String::new();
    if let Some(out) = child.stdout.as_mut() {
        out.read_to_string(&mut s)
            .map_err(|e| format!("read child report: {e}"))?;
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

/// Waits for every child; if one fails, or a signal or the deadline comes, kills the rest.
fn wait_all(children: &[Child], timeout: Duration) -> Result<(), String> {
    let pids: Vec<Pid> = children.iter().map(pid_of).collect();
    let side = |i: usize| {
        if i == 0 {
            "side A".to_owned()
        } else {
            format!("side B (reader {})", i - 1)
        }
    };
    let mut done = vec![false; pids.len()];
    let mut failure: Option<String> = None;
    let kill_rest = |done: &[bool]| {
        for (i, pid) in pids.iter().enumerate() {
            if !done[i] {
                let _ = signal::kill(*pid, Signal::SIGKILL);
            }
        }
    };
    // SAFETY: plain syscall; SIGALRM's handler only records the signal.
    unsafe { libc::alarm(timeout.as_secs().max(1) as libc::c_uint) };
    while done.iter().any(|d| !d) {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(status) => {
                let Some(pid) = status.pid() else { continue };
                let Some(i) = pids.iter().position(|p| *p == pid) else {
                    continue;
                };
                let bad = match status {
                    WaitStatus::Exited(_, 0) => None,
                    WaitStatus::Exited(_, code) => Some(format!("{} exited with {code}", side(i))),
                    WaitStatus::Signaled(_, sig, _) => Some(format!("{} killed by {sig}", side(i))),
                    _ => continue,
                };
                done[i] = true;
                if let Some(why) = bad {
                    failure.get_or_insert(why);
                    kill_rest(&done);
                }
            }
            Err(Errno::EINTR) => {
                let sig = signalled();
                if sig != 0 {
                    kill_rest(&done);
                    if sig == libc::SIGALRM {
                        clear_signalled();
                        failure
                            .get_or_insert(format!("run exceeded {} s; killed", timeout.as_secs()));
                    } else {
                        failure.get_or_insert("interrupted".into());
                    }
                }
            }
            Err(e) => {
                // ECHILD or worse: nothing left we can wait for; make sure nothing runs on.
                kill_rest(&done);
                failure.get_or_insert(format!("waitpid: {e}"));
                break;
            }
        }
    }
    // SAFETY: cancels the deadline.
    unsafe { libc::alarm(0) };
    failure.map_or(Ok(()), Err)
}
