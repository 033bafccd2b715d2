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
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// What a group of processes runs.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Raw ring of u64 (or `--size`-byte) slots, batched cursor stores; with several readers,
    /// the raw broadcast stream (one consumed-count per reader).
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
    /// ringproof `publish` per event (one or more consumers).
    RpStreamSingle,
    /// ringproof `publish_batch`.
    RpStreamBatch,
    /// ringproof `publish` per event with `coalesce(--batch)`: cursor stored every N events.
    RpStreamCoalesced,
    /// ringproof `publish` per event, the reader waiting with `WaitStrategy::backoff()`.
    RpStreamSingleBackoff,
    /// ringproof `publish_batch` with counters off (the counters' cost).
    RpStreamBatchNoCounters,
    /// ringproof `publish` per event with counters off (the counters' cost per event).
    RpStreamSingleNoCounters,
    /// ringproof ping-pong, BusySpin consumers.
    RpPingSpin,
    /// ringproof ping-pong, `WaitStrategy::blocking()` consumers.
    RpPingBlocking,
    /// Peer: disruptor-mp 0.1.0-alpha.2, `try_publish` per event, `try_consume_next`.
    DmpStream,
    /// Peer: disruptor-mp ping-pong over two rings, busy-spin.
    DmpPing,
    /// Peer: iceoryx2 publish-subscribe (`[u8]` slices, back-pressure), one sample per event.
    IoxStream,
    /// Peer: iceoryx2 ping-pong over two services, busy-polling `receive`.
    IoxPing,
    /// Peer: Unix domain stream socket, one `write` per event.
    UdsStream,
    /// Peer: Unix domain socket ping-pong, non-blocking reads spun on.
    UdsPingSpin,
    /// Peer: Unix domain socket ping-pong, blocking reads.
    UdsPingBlocking,
    /// Peer: named pipe (FIFO), one `write` per event.
    PipeStream,
    /// Peer: ping-pong over two FIFOs, non-blocking reads spun on.
    PipePingSpin,
    /// Peer: ping-pong over two FIFOs, blocking reads.
    PipePingBlocking,
    /// Any implementation's testee, through the protocol's `bench` command (`--impl`).
    #[value(skip)]
    Testee(crate::testee_subject::TesteeKind),
}

/// The peers the bench can put next to ringproof (each in `ringproof-bench-peers`).
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    /// disruptor-mp 0.1.0-alpha.2 (crates.io).
    Dmp,
    /// iceoryx2 0.10 (crates.io), `ipc::Service`.
    Iox2,
    /// A Unix domain stream socket.
    Uds,
    /// A named pipe (FIFO).
    Pipe,
}

impl Peer {
    pub const ALL: [Peer; 4] = [Peer::Dmp, Peer::Iox2, Peer::Uds, Peer::Pipe];

    pub fn name(self) -> &'static str {
        match self {
            Peer::Dmp => "disruptor-mp",
            Peer::Iox2 => "iceoryx2",
            Peer::Uds => "unix-socket",
            Peer::Pipe => "pipe",
        }
    }
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
            Kind::RpStreamSingleBackoff => "ringproof publish, backoff reader",
            Kind::RpStreamBatchNoCounters => "ringproof publish_batch, counters off",
            Kind::RpStreamSingleNoCounters => "ringproof publish, counters off",
            Kind::RpPingSpin => "ringproof pingpong BusySpin",
            Kind::RpPingBlocking => "ringproof pingpong blocking()",
            Kind::DmpStream => "disruptor-mp try_publish",
            Kind::DmpPing => "disruptor-mp pingpong spin",
            Kind::IoxStream => "iceoryx2 send",
            Kind::IoxPing => "iceoryx2 pingpong spin",
            Kind::UdsStream => "unix-socket write",
            Kind::UdsPingSpin => "unix-socket pingpong spin",
            Kind::UdsPingBlocking => "unix-socket pingpong blocking",
            Kind::PipeStream => "pipe write",
            Kind::PipePingSpin => "pipe pingpong spin",
            Kind::PipePingBlocking => "pipe pingpong blocking",
            Kind::Testee(t) => crate::testee_subject::name(t),
        }
    }

    /// The short name in tables and plots: "ringproof", "floor", or the peer.
    pub fn who(self) -> &'static str {
        match self.peer() {
            Some(p) => p.name(),
            None if matches!(self, Kind::Testee(_)) => {
                crate::testee_subject::who(self.testee().expect("testee"))
            }
            None if self.is_floor() => "floor",
            None => "ringproof",
        }
    }

    pub fn is_floor(self) -> bool {
        matches!(
            self,
            Kind::FloorStream
                | Kind::FloorPing
                | Kind::FloorFutex
                | Kind::FloorStreamPerEvent
                | Kind::FloorRingPing
                | Kind::FloorRingPingTouch
        )
    }

    pub fn is_stream(self) -> bool {
        matches!(
            self,
            Kind::FloorStream
                | Kind::FloorStreamPerEvent
                | Kind::RpStreamSingle
                | Kind::RpStreamBatch
                | Kind::RpStreamCoalesced
                | Kind::RpStreamSingleBackoff
                | Kind::RpStreamBatchNoCounters
                | Kind::RpStreamSingleNoCounters
                | Kind::DmpStream
                | Kind::IoxStream
                | Kind::UdsStream
                | Kind::PipeStream
        ) || matches!(self, Kind::Testee(t) if t.mode == ringproof_conformance::protocol::BenchMode::Stream)
    }

    /// The testee subject this kind is, if it runs through the protocol.
    pub fn testee(self) -> Option<crate::testee_subject::TesteeKind> {
        match self {
            Kind::Testee(t) => Some(t),
            _ => None,
        }
    }

    /// The peer this kind runs, if it is one (spawned from `ringproof-bench-peers`).
    pub fn peer(self) -> Option<Peer> {
        match self {
            Kind::DmpStream | Kind::DmpPing => Some(Peer::Dmp),
            Kind::IoxStream | Kind::IoxPing => Some(Peer::Iox2),
            Kind::UdsStream | Kind::UdsPingSpin | Kind::UdsPingBlocking => Some(Peer::Uds),
            Kind::PipeStream | Kind::PipePingSpin | Kind::PipePingBlocking => Some(Peer::Pipe),
            _ => None,
        }
    }

    /// Whether the orchestrator creates a raw shm segment for it.
    fn is_raw(self) -> bool {
        self.is_floor()
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
    /// shm segment (floors), ring base name (subjects) or peer resource base name.
    #[arg(long)]
    pub name: String,
    /// A private directory of this run (mmap-backed rings, sockets, FIFOs, iceoryx2's root),
    /// removed by the orchestrator afterwards.
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
    /// ringproof rings as mmap'd files in `--dir` instead of POSIX shm.
    #[arg(long)]
    pub mmap: bool,
    /// Core to pin to.
    #[arg(long)]
    pub cpu: Option<usize>,
    #[arg(long, default_value_t = 1024)]
    pub capacity: usize,
    /// Event size in bytes (a multiple of 8; TP1 payload, `ringproof::kit::payload`).
    #[arg(long, default_value_t = 8)]
    pub size: usize,
    /// Stream readers (SPMC broadcast when > 1).
    #[arg(long, default_value_t = 1)]
    pub readers: usize,
    /// Which reader this side B is (0-based).
    #[arg(long, default_value_t = 0)]
    pub reader: usize,
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
    /// Open-loop schedule: one round trip started every this many ns, latency counted from
    /// the intended start (coordinated-omission corrected); 0: closed loop.
    #[arg(long, default_value_t = 0)]
    pub interval_ns: u64,
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

    pub fn interval_ticks(&self) -> u64 {
        (self.interval_ns as f64 * self.ticks_per_ns) as u64
    }

    /// The argument list of the `role` subcommand that recreates `self`.
    pub fn to_argv(&self) -> Vec<String> {
        let mut v = vec![
            "--kind".into(),
            self.kind
                .to_possible_value()
                .expect("not skipped")
                .get_name()
                .into(),
            "--side".into(),
            self.side
                .to_possible_value()
                .expect("not skipped")
                .get_name()
                .into(),
            "--name".into(),
            self.name.clone(),
        ];
        if let Some(dir) = &self.dir {
            v.extend(["--dir".into(), dir.display().to_string()]);
        }
        if self.mmap {
            v.push("--mmap".into());
        }
        if let Some(cpu) = self.cpu {
            v.extend(["--cpu".into(), cpu.to_string()]);
        }
        if let Some(p) = self.rt_priority {
            v.extend(["--rt-priority".into(), p.to_string()]);
        }
        for (flag, value) in [
            ("--capacity", self.capacity.to_string()),
            ("--size", self.size.to_string()),
            ("--readers", self.readers.to_string()),
            ("--reader", self.reader.to_string()),
            ("--events", self.events.to_string()),
            ("--warmup", self.warmup.to_string()),
            ("--batch", self.batch.to_string()),
            ("--gap-ns", self.gap_ns.to_string()),
            ("--interval-ns", self.interval_ns.to_string()),
            ("--spins", self.spins.to_string()),
            ("--ticks-per-ns", self.ticks_per_ns.to_string()),
        ] {
            v.extend([flag.into(), value]);
        }
        v
    }
}

/// Runs a peer kind's side (what `ringproof-bench-peers` supplies).
pub type PeerRunner = fn(&RoleArgs) -> Result<Value, String>;

/// Entry point of a child: pin, run one side, print one JSON line. Peer kinds go to `peers`
/// (None in a binary without them: an error naming the binary that has them).
pub fn run_role(a: RoleArgs, peers: Option<PeerRunner>) -> ExitCode {
    let pinned = a.cpu.map(clock::pin);
    let rt = a.rt_priority.map(clock::set_fifo);
    let usage = crate::measure::Usage::now();
    let result = if a.size == 0 || (a.size / 8) * 8 != a.size {
        Err(format!("--size {} is not a positive multiple of 8", a.size))
    } else {
        match a.kind {
            Kind::FloorStream => floors::stream(&a),
            Kind::FloorStreamPerEvent => floors::stream(&RoleArgs {
                batch: 1,
                ..a.clone()
            }),
            Kind::FloorRingPing => floors::ring_ping(&a, false),
            Kind::FloorRingPingTouch => floors::ring_ping(&a, true),
            Kind::FloorPing => floors::ping(&a),
            Kind::FloorFutex => floors::futex(&a),
            Kind::RpStreamSingle => subjects::stream(&a, subjects::Publish::Single),
            Kind::RpStreamBatch => subjects::stream(&a, subjects::Publish::Batch),
            Kind::RpStreamCoalesced => subjects::stream(&a, subjects::Publish::Coalesced),
            Kind::RpStreamSingleBackoff => subjects::stream(&a, subjects::Publish::SingleBackoff),
            Kind::RpStreamBatchNoCounters => {
                subjects::stream(&a, subjects::Publish::BatchNoCounters)
            }
            Kind::RpStreamSingleNoCounters => {
                subjects::stream(&a, subjects::Publish::SingleNoCounters)
            }
            Kind::RpPingSpin => subjects::ping(&a, WaitStrategy::BusySpin),
            Kind::RpPingBlocking => subjects::ping(&a, WaitStrategy::blocking()),
            k => match peers {
                Some(run) => run(&a),
                None => Err(format!(
                    "{} is a peer: it runs in {PEERS_BIN}, not in this binary",
                    k.name()
                )),
            },
        }
    };
    match result {
        Ok(r) => {
            println!(
                "{}",
                json!({ "cpu": a.cpu, "pinned": pinned, "rt": rt, "usage": usage.since(), "result": r })
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ringproof-bench role {:?}/{:?}: {e}", a.kind, a.side);
            ExitCode::FAILURE
        }
    }
}

/// The binary with the peers in it (its own crate, so the core builds fast).
pub const PEERS_BIN: &str = "ringproof-bench-peers";
/// Environment variable naming the peers binary (default: next to the running binary).
pub const PEERS_ENV: &str = "RINGPROOF_BENCH_PEERS";

/// How to start one side: a program and the arguments that precede the role's own.
#[derive(Debug, Clone)]
pub struct Command0 {
    pub program: PathBuf,
    pub prefix: Vec<String>,
}

/// Which programs run the roles: ringproof and floor kinds in one, peers in another.
#[derive(Debug, Clone)]
pub struct Launcher {
    pub core: Command0,
    /// `None`: this binary serves peer kinds too (`core` runs everything).
    pub peers: Option<Command0>,
}

impl Launcher {
    /// The running binary serves every kind with subcommand `role_subcommand`.
    pub fn this_binary_serves_all(role_subcommand: &str) -> Result<Launcher, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        Ok(Launcher {
            core: Command0 {
                program: exe,
                prefix: vec![role_subcommand.into()],
            },
            peers: None,
        })
    }

    /// The running binary serves ringproof and floor kinds with `role_subcommand`; peers run
    /// in [`PEERS_BIN`] (`$RINGPROOF_BENCH_PEERS`, else next to the running binary).
    pub fn with_peer_binary(role_subcommand: &str) -> Result<Launcher, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let peers = match std::env::var_os(PEERS_ENV) {
            Some(p) => PathBuf::from(p),
            None => exe.with_file_name(PEERS_BIN),
        };
        Ok(Launcher {
            core: Command0 {
                program: exe,
                prefix: vec![role_subcommand.into()],
            },
            peers: Some(Command0 {
                program: peers,
                prefix: vec!["role".into()],
            }),
        })
    }

    /// Checks that the peers binary exists (before anything runs), with what to do if not.
    pub fn check_peers(&self) -> Result<(), String> {
        match &self.peers {
            Some(c) if !c.program.is_file() => Err(format!(
                "peer binary {} not found: the bench peers are optional; build them with `cargo build --release -p {PEERS_BIN}` \
                 (an installed ringproof: `cargo install --locked --path bench/peers` from a checkout, same --root), \
                 or set ${PEERS_ENV} to it, or run with --peers none",
                c.program.display()
            )),
            _ => Ok(()),
        }
    }

    fn for_kind(&self, kind: Kind) -> &Command0 {
        match (&self.peers, kind.peer()) {
            (Some(p), Some(_)) => p,
            _ => &self.core,
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
    pub size: usize,
    pub readers: usize,
    pub mmap: bool,
    pub batch: usize,
    pub gap_ns: u64,
    pub interval_ns: u64,
    pub spins: u32,
    pub ticks_per_ns: f64,
    /// Cores to pin to: A on the first, reader i on `cpus[(1 + i) % len]`; empty: unpinned.
    pub cpus: Vec<usize>,
    pub timeout: Duration,
    pub rt_priority: Option<i32>,
}

impl RunSpec {
    /// The core of side A (`reader` None) or of reader `i`.
    pub fn cpu_of(&self, reader: Option<usize>) -> Option<usize> {
        if self.cpus.is_empty() {
            return None;
        }
        let i = reader.map_or(0, |r| (1 + r) % self.cpus.len());
        Some(self.cpus[i])
    }

    /// Whether more processes spin than there are cores for them (unpinned runs are taken
    /// to have two).
    pub fn oversubscribed(&self) -> bool {
        1 + self.readers > self.cpus.len().max(2)
    }
}

/// What one run gave back.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub a: Value,
    /// Side B, one report per reader.
    pub b: Vec<Value>,
    pub wall: Duration,
    /// Whether every child pinned itself (None: pinning not requested).
    pub pinned: Option<bool>,
    /// Names a child left behind (removed by the orchestrator).
    pub leaked: Vec<String>,
    /// Tries it took (contended tries are repeated).
    pub attempts: u32,
    /// Seconds spent waiting for the machine to go quiet before the kept try.
    pub quiet_wait_s: f64,
    /// Whether other tasks were runnable when the kept try started.
    pub quiet: bool,
    /// More spinning processes than cores.
    pub oversubscribed: bool,
}

impl RunOutcome {
    fn sides(&self) -> impl Iterator<Item = &Value> {
        std::iter::once(&self.a).chain(&self.b)
    }

    /// Payload / ordering errors any side saw.
    pub fn errors(&self) -> u64 {
        self.sides()
            .map(|s| s["result"]["errors"].as_u64().unwrap_or(0))
            .sum()
    }

    /// Events (stream) or round trips (ping) the consuming sides verified.
    pub fn verified(&self) -> u64 {
        self.b
            .iter()
            .map(|s| {
                s["result"]["consumed"]
                    .as_u64()
                    .or(s["result"]["rounds"].as_u64())
                    .unwrap_or(0)
            })
            .sum()
    }

    /// Events a peer did not deliver to a reader (iceoryx2 broadcasts under back-pressure);
    /// reported next to the numbers, not counted as payload errors.
    pub fn dropped(&self) -> u64 {
        self.b
            .iter()
            .map(|s| s["result"]["dropped"].as_u64().unwrap_or(0))
            .sum()
    }

    /// Involuntary context switches of all sides: each one is a moment a side did not have
    /// its core (another task ran there), which a spinning peer pays for in full.
    pub fn preemptions(&self) -> i64 {
        self.sides()
            .map(|s| s["usage"]["involuntary_switches"].as_i64().unwrap_or(0))
            .sum()
    }

    /// The slowest reader's stream rate (events/s).
    pub fn min_rate(&self) -> f64 {
        self.b
            .iter()
            .map(|s| s["result"]["rate"].as_f64().unwrap_or(f64::NAN))
            .fold(f64::INFINITY, f64::min)
    }
}

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
    let role = |side: Side, reader: usize, cpu: Option<usize>| RoleArgs {
        kind: spec.kind,
        side,
        name: name.to_owned(),
        dir: Some(dir.clone()),
        mmap: spec.mmap,
        cpu,
        capacity: spec.capacity,
        size: spec.size,
        readers: spec.readers,
        reader,
        events: spec.events,
        warmup: spec.warmup,
        batch: spec.batch,
        gap_ns: spec.gap_ns,
        interval_ns: spec.interval_ns,
        spins: spec.spins,
        ticks_per_ns: spec.ticks_per_ns,
        rt_priority: spec.rt_priority,
    };
    let cmd = launcher.for_kind(spec.kind);
    let start = Instant::now();
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
        let args = if i == 0 {
            role(Side::A, 0, spec.cpu_of(None))
        } else {
            role(Side::B, i - 1, spec.cpu_of(Some(i - 1)))
        };
        match spawn(args) {
            Ok(c) => children.push(c),
            Err(e) => {
                kill_and_reap(&children.iter().collect::<Vec<_>>());
                return Err(e);
            }
        }
    }
    let waited = wait_all(&children, spec.timeout);
    let wall = start.elapsed();
    let reports: Vec<Result<Value, String>> = children.iter_mut().map(read_report).collect();
    let leaked = guard.cleanup();
    waited?;
    let mut reports = reports
        .into_iter()
        .collect::<Result<Vec<Value>, String>>()?;
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
        Kind::RpPingSpin | Kind::RpPingBlocking => {
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

static SIGNALLED: AtomicI32 = AtomicI32::new(0);
/// The first SIGINT/SIGTERM (a later SIGALRM does not hide it).
static STOPPED_BY: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNALLED.store(sig, Ordering::SeqCst);
    if sig != libc::SIGALRM {
        let _ = STOPPED_BY.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    }
}

/// The SIGINT or SIGTERM that interrupted the run, if one did (the run exits 128 + it).
pub fn interrupting_signal() -> Option<i32> {
    Some(STOPPED_BY.load(Ordering::SeqCst)).filter(|s| *s != 0)
}

/// Installs SIGINT/SIGTERM/SIGALRM handlers without SA_RESTART, so they interrupt `waitpid`.
/// Children get default dispositions back at exec.
pub fn install_signal_handlers() {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGALRM] {
        // SAFETY: the handler only stores to an atomic (async-signal-safe).
        unsafe { signal::sigaction(sig, &action) }.expect("sigaction");
    }
}

/// SIGINT or SIGTERM arrived (the run should stop after cleaning up).
pub fn interrupted() -> bool {
    interrupting_signal().is_some()
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
                let sig = SIGNALLED.load(Ordering::SeqCst);
                if sig != 0 {
                    kill_rest(&done);
                    if sig == libc::SIGALRM {
                        SIGNALLED.store(0, Ordering::SeqCst);
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
