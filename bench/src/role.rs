//! What one side of one run is: the kinds of run ([`Kind`]), the peers ([`Peer`]), which side
//! ([`Side`]) and the hidden `role` subcommand's arguments ([`RoleArgs`]). Every other file of
//! the bench builds on these; this one builds on nothing but the testee registry.

use crate::testee_registry::{self, TesteeKind};
use clap::{Args, ValueEnum};

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
    /// Ablation ladder (`ladder.rs`): FloorRingPing + the wake-word load after each cursor store.
    FloorRingPingWaiter,
    /// Ablation ladder: + single-writer counters (reader per read, writer per 64 events).
    FloorRingPingCounters,
    /// Ablation ladder: + the reader's standing, lag and ring-state looks.
    FloorRingPingLiveness,
    /// Ablation ladder: + the reader's commit (its cursor store and wake-word load).
    FloorRingPingCommit,
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
    /// ringproof ping-pong, BusySpin consumers, counters off on both rings (the counters' cost
    /// per hop).
    RpPingSpinNoCounters,
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
    Testee(TesteeKind),
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
            Kind::FloorRingPingWaiter => "ladder: 2-line + wake word",
            Kind::FloorRingPingCounters => "ladder: + counters",
            Kind::FloorRingPingLiveness => "ladder: + liveness looks",
            Kind::FloorRingPingCommit => "ladder: + commit",
            Kind::RpStreamSingle => "ringproof publish",
            Kind::RpStreamBatch => "ringproof publish_batch",
            Kind::RpStreamCoalesced => "ringproof publish, coalesced",
            Kind::RpStreamSingleBackoff => "ringproof publish, backoff reader",
            Kind::RpStreamBatchNoCounters => "ringproof publish_batch, counters off",
            Kind::RpStreamSingleNoCounters => "ringproof publish, counters off",
            Kind::RpPingSpin => "ringproof pingpong BusySpin",
            Kind::RpPingSpinNoCounters => "ringproof pingpong BusySpin, counters off",
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
            Kind::Testee(t) => testee_registry::name(t),
        }
    }

    /// The short name in tables and plots: "ringproof", "floor", or the peer.
    pub fn who(self) -> &'static str {
        match self.peer() {
            Some(p) => p.name(),
            None if matches!(self, Kind::Testee(_)) => {
                testee_registry::who(self.testee().expect("testee"))
            }
            // The ablation ladder's rungs are told apart in the summary table.
            None if self == Kind::FloorRingPing => "2-line",
            None if self == Kind::FloorRingPingTouch => "2-line touch",
            None if self == Kind::FloorRingPingWaiter => "+wake word",
            None if self == Kind::FloorRingPingCounters => "+counters",
            None if self == Kind::FloorRingPingLiveness => "+liveness",
            None if self == Kind::FloorRingPingCommit => "+commit",
            None if self.is_floor() => "floor",
            None if self.counters_off() => "counters off",
            None => "ringproof",
        }
    }

    /// A ringproof subject with counters off, run beside the same subject with counters on to
    /// measure what the counters cost (the `rp adv` column compares the two).
    pub fn counters_off(self) -> bool {
        matches!(
            self,
            Kind::RpStreamSingleNoCounters
                | Kind::RpStreamBatchNoCounters
                | Kind::RpPingSpinNoCounters
        )
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
                | Kind::FloorRingPingWaiter
                | Kind::FloorRingPingCounters
                | Kind::FloorRingPingLiveness
                | Kind::FloorRingPingCommit
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
    pub fn testee(self) -> Option<TesteeKind> {
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
    pub(crate) fn is_raw(self) -> bool {
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
