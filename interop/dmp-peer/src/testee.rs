//! `dmp-peer testee`: a conformance testee (conformance/PROTOCOL.md) over disruptor-mp
//! 0.1.0-alpha.2.
//!
//! Its purpose is to let `ringproof conform` find where disruptor-mp breaks ringproof's
//! contract, so every ring operation is disruptor-mp's own, with its own semantics: no
//! workaround hides one of its behaviours from the harness. What this module adds is only what
//! keeps the testee usable:
//!
//! - stdout: disruptor-mp prints to stdout, so `main` points fd 1 at stderr and protocol lines go
//!   to a duplicate of the original stdout (the `File` handed to [`run`]);
//! - panics inside disruptor-mp (it asserts on some inputs) are caught per command and reported
//!   as `error` kind `other`;
//! - `publish` spins on `try_publish` / `try_batch_publish` instead of calling `publish` (which
//!   spins forever with no way out), so it can send `progress` and give up after a bounded stall
//!   with `error` kind `timeout`;
//! - `attach_consumer` needs the ring's capacity, which disruptor-mp's attach takes as an
//!   argument: it is read from the ring's LayoutV1 header (disruptor-mp validates it again).
//!
//! Capability notes: no `wait-block` (its `Block` wait is a yield loop), no `close` (it has no
//! end-of-stream). The mmap backend has no builder: its producer discovers consumers by listing
//! `{root}/{name}.consumers/*.cursor` (so `discover` is not used there) and `wait_consumers`
//! maps to `MmapProducer::wait_for_consumers_ready`, whose `false` is reported as
//! `consumers_missing`. On shm, `wait_consumers` maps to the builder's `WaitForConsumers`, which
//! only prints a warning on timeout and builds the producer anyway: the reply is then `ok`.

use std::fs::File;
use std::io::{BufRead, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Args;
use disruptor_mp::{
    attach_shared_consumer, build_shared_single_producer, CoordinationMode, MmapConsumer,
    MmapCursor, MmapProducer, MmapTransportLayout, MultiProcessError, SharedConsumer,
    SharedProducer,
};
use ringproof::kit::layout::{LayoutHeader, HEADER_SIZE};
use ringproof::kit::payload::fill;
use ringproof_conformance::protocol::{
    Backend, Command, ErrorKind, Message, Mode, OkFields, RingAddr, Wait, WaitConsumers,
    PROTOCOL_VERSION,
};
use ringproof_conformance::testee_io::{EventsReporter, TesteeIo};
use serde_json::Value;

use super::Ev;

/// What this testee offers (PROTOCOL.md, "Capabilities").
pub const CAPABILITIES: &[&str] = &[
    "shm",
    "mmap",
    "producer",
    "consumer",
    "batch",
    "try-publish",
    "lease",
];

#[derive(Args, Debug, Clone)]
pub struct TesteeArgs {
    /// `publish` gives up with `error` kind `timeout` after this long without a free slot
    /// (disruptor-mp's own `publish` would spin forever; 0 = spin forever as it does).
    #[arg(long, default_value_t = 30_000)]
    pub publish_stall_ms: u64,
    /// The same bound for a batch larger than the ring, which disruptor-mp can never publish.
    #[arg(long, default_value_t = 2_000)]
    pub oversized_batch_stall_ms: u64,
}

/// How often progress and run messages go out at the latest (PROTOCOL.md).
const MAX_MESSAGE_AGE: Duration = Duration::from_millis(50);
/// `progress` at least every this many events.
const PROGRESS_EVERY: u64 = 65_536;
/// How long an attach keeps retrying an element-size or capacity mismatch against a complete
/// ring header before reporting it (other errors are retried until the attach deadline).
const LAYOUT_GRACE: Duration = Duration::from_millis(100);

/// A failed command: the `error` reply's kind and message.
#[derive(Debug)]
struct Fail(ErrorKind, String);

type Res<T> = Result<T, Fail>;

fn fail<T>(kind: ErrorKind, msg: impl Into<String>) -> Res<T> {
    Err(Fail(kind, msg.into()))
}

// ---------------------------------------------------------------------------------------------
// Roles over disruptor-mp, object-safe so one state holds any event size and backend.
// ---------------------------------------------------------------------------------------------

trait ProducerOps {
    /// One `try_publish` of the TP1 payload of `seq`: the sequence disruptor-mp assigned, or
    /// `None` for `RingBufferFull`.
    fn try_publish(&mut self, seq: i64) -> Option<i64>;
    /// One `try_batch_publish(n)` of sequences `first..first + n`: the last sequence assigned,
    /// or the missing slot count.
    fn try_batch(&mut self, first: i64, n: usize) -> Result<i64, u64>;
    /// The producer cursor (`last_published_sequence`).
    fn cursor(&self) -> i64;
    /// `min_gating_sequence` (for diagnostics in error messages).
    fn min_gating(&mut self) -> i64;
}

macro_rules! impl_producer_ops {
    ($ty:ident) => {
        impl<const W: usize> ProducerOps for $ty<Ev<W>> {
            fn try_publish(&mut self, seq: i64) -> Option<i64> {
                $ty::try_publish(self, |e: &mut Ev<W>| {
                    // Cannot fail: the size is a positive multiple of 8.
                    let _ = fill(seq as u64, e.bytes_mut());
                })
                .ok()
            }

            fn try_batch(&mut self, first: i64, n: usize) -> Result<i64, u64> {
                $ty::try_batch_publish(self, n, |e: &mut Ev<W>, i: usize| {
                    let _ = fill((first + i as i64) as u64, e.bytes_mut());
                })
                .map_err(|m| m.0)
            }

            fn cursor(&self) -> i64 {
                self.last_published_sequence()
            }

            fn min_gating(&mut self) -> i64 {
                self.min_gating_sequence()
            }
        }
    };
}

impl_producer_ops!(SharedProducer);
impl_producer_ops!(MmapProducer);

trait ConsumerOps {
    /// One read in `mode`; calls `sink(seq, bytes)` per delivered event and returns how many.
    /// `copy` and `lease` read at most one event; `batch` is `process_available`, which takes
    /// everything available (disruptor-mp offers no bound).
    fn poll(&mut self, mode: Mode, sink: &mut dyn FnMut(i64, &[u8])) -> usize;
    /// The last sequence this consumer processed (`current_sequence`).
    fn current(&self) -> i64;
    /// The producer cursor as this consumer sees it.
    fn producer_cursor(&self) -> Option<i64>;
    /// This consumer's committed cursor (the shared cursor's value).
    fn committed(&self) -> i64;
}

impl<const W: usize> ConsumerOps for SharedConsumer<Ev<W>> {
    fn poll(&mut self, mode: Mode, sink: &mut dyn FnMut(i64, &[u8])) -> usize {
        match mode {
            Mode::Copy => match self.try_consume_next() {
                Some((seq, ev)) => {
                    sink(seq, ev.bytes());
                    1
                }
                None => 0,
            },
            Mode::Lease => match self.try_consume_next_leased() {
                Some(lease) => {
                    let seq = lease.sequence();
                    sink(seq, (*lease).bytes());
                    drop(lease); // commits the cursor
                    1
                }
                None => 0,
            },
            Mode::Batch => self.process_available(|ev: &Ev<W>, seq| sink(seq, ev.bytes())),
        }
    }

    fn current(&self) -> i64 {
        self.current_sequence()
    }

    fn producer_cursor(&self) -> Option<i64> {
        Some(self.producer_sequence())
    }

    fn committed(&self) -> i64 {
        self.consumer_sequence()
    }
}

/// The mmap consumer has no accessors for the shared cursors, so the testee maps them once more
/// (plain `MmapCursor::attach`, read-only use) to answer `cursors`.
struct MmapCons<const W: usize> {
    c: MmapConsumer<Ev<W>>,
    producer: Option<MmapCursor>,
    mine: Option<MmapCursor>,
}

impl<const W: usize> ConsumerOps for MmapCons<W> {
    fn poll(&mut self, mode: Mode, sink: &mut dyn FnMut(i64, &[u8])) -> usize {
        match mode {
            Mode::Copy => match self.c.try_consume_next() {
                Some((seq, ev)) => {
                    sink(seq, ev.bytes());
                    1
                }
                None => 0,
            },
            Mode::Lease => match self.c.try_consume_next_leased() {
                Some(lease) => {
                    let seq = lease.sequence();
                    sink(seq, (*lease).bytes());
                    drop(lease);
                    1
                }
                None => 0,
            },
            Mode::Batch => self
                .c
                .process_available(|ev: &Ev<W>, seq| sink(seq, ev.bytes())),
        }
    }

    fn current(&self) -> i64 {
        self.c.current_sequence()
    }

    fn producer_cursor(&self) -> Option<i64> {
        self.producer.as_ref().map(|c| c.load(Ordering::Acquire))
    }

    fn committed(&self) -> i64 {
        self.mine
            .as_ref()
            .map_or_else(|| self.c.current_sequence(), |c| c.load(Ordering::Acquire))
    }
}

enum Role {
    Producer {
        p: Box<dyn ProducerOps>,
        /// The next sequence disruptor-mp will assign (it numbers from 0 and never skips).
        next: i64,
        capacity: u64,
        wait: Wait,
    },
    Consumer {
        c: Box<dyn ConsumerOps>,
        wait: Wait,
    },
}

/// Calls `$f::<W>($args...)` for the `W` with `8 * W == $size`, or fails with `unsupported`.
macro_rules! by_size {
    ($size:expr, $f:ident($($a:expr),*)) => {
        match $size {
            8 => $f::<1>($($a),*),
            16 => $f::<2>($($a),*),
            24 => $f::<3>($($a),*),
            32 => $f::<4>($($a),*),
            48 => $f::<6>($($a),*),
            64 => $f::<8>($($a),*),
            96 => $f::<12>($($a),*),
            128 => $f::<16>($($a),*),
            256 => $f::<32>($($a),*),
            512 => $f::<64>($($a),*),
            1024 => $f::<128>($($a),*),
            2048 => $f::<256>($($a),*),
            4096 => $f::<512>($($a),*),
            s => fail(
                ErrorKind::Unsupported,
                format!("event_size {s}: this testee supports 8, 16, 24, 32, 48, 64, 96, 128, 256, 512, 1024, 2048 and 4096"),
            ),
        }
    };
}

// ---------------------------------------------------------------------------------------------
// The command loop.
// ---------------------------------------------------------------------------------------------

struct Testee {
    io: TesteeIo<File>,
    args: TesteeArgs,
    role: Option<Role>,
    /// Set when stdout is gone: the loop ends as at EOF.
    broken: bool,
}

impl Testee {
    fn send(&mut self, m: &Message) {
        if self.io.send(m).is_err() {
            self.broken = true;
        }
    }
}

/// Runs the testee on stdin and `out` (the original stdout); returns the exit status.
pub fn run(args: TesteeArgs, out: File) -> i32 {
    let mut t = Testee {
        io: TesteeIo::new(out),
        args,
        role: None,
        broken: false,
    };
    t.send(&Message::Hello {
        protocol: PROTOCOL_VERSION,
        implementation: "disruptor-mp".into(),
        version: "0.1.0-alpha.2".into(),
        capabilities: CAPABILITIES
            .iter()
            .chain(crate::testee_bench::CAPABILITIES)
            .map(|s| (*s).to_string())
            .collect(),
    });
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = String::new();
    while !t.broken {
        line.clear();
        match input.read_line(&mut line) {
            Ok(0) | Err(_) => break, // EOF: same as exit
            Ok(_) => {}
        }
        if line.trim().is_empty() {
            continue;
        }
        let (id, cmd) = match parse(&line) {
            Ok(c) => (c.id(), c),
            Err((Some(id), kind, msg)) => {
                t.send(&Message::Error {
                    id,
                    kind,
                    message: msg,
                    missed: None,
                });
                continue;
            }
            Err((None, _, msg)) => {
                eprintln!("dmp-peer testee: ignoring a line without an id: {msg}");
                continue;
            }
        };
        let Some(id) = id else { break }; // exit
        let result = catch_unwind(AssertUnwindSafe(|| handle(&mut t, id, cmd)));
        let reply = match result {
            Ok(Ok(fields)) => Message::Ok { id, fields },
            Ok(Err(Fail(kind, message))) => Message::Error {
                id,
                kind,
                message,
                missed: None,
            },
            Err(panic) => Message::Error {
                id,
                kind: ErrorKind::Other,
                message: format!("disruptor-mp panicked: {}", panic_text(&*panic)),
                missed: None,
            },
        };
        t.send(&reply);
    }
    // exit or EOF: release everything as a normal program would (a shm producer unlinks its
    // segments; a consumer leaves its cursor behind, which is disruptor-mp's own behaviour).
    if let Some(role) = t.role.take() {
        if catch_unwind(AssertUnwindSafe(move || drop(role))).is_err() {
            eprintln!("dmp-peer testee: disruptor-mp panicked while dropping the role");
        }
    }
    0
}

/// Parses one line; on failure returns the id (if the line has one), the kind and a message.
fn parse(line: &str) -> Result<Command, (Option<u64>, ErrorKind, String)> {
    let v: Value = serde_json::from_str(line).map_err(|e| {
        (
            None,
            ErrorKind::Other,
            format!("not JSON: {e}: {}", line.trim_end()),
        )
    })?;
    let id = v.get("id").and_then(Value::as_u64);
    let cmd_name = v
        .get("cmd")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    serde_json::from_value::<Command>(v).map_err(|e| {
        const KNOWN: &[&str] = &[
            "create_producer",
            "attach_consumer",
            "publish",
            "try_publish",
            "consume",
            "cursors",
            "leave",
            "bench",
            "exit",
        ];
        let kind = if KNOWN.contains(&cmd_name.as_str()) {
            ErrorKind::Other
        } else {
            ErrorKind::Unsupported
        };
        (id, kind, format!("cannot parse command {cmd_name:?}: {e}"))
    })
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload (see stderr)".into()
    }
}

fn handle(t: &mut Testee, id: u64, cmd: Command) -> Res<OkFields> {
    match cmd {
        Command::CreateProducer {
            ring,
            capacity,
            event_size,
            wait_consumers,
            discover,
            wait,
            ..
        } => {
            if t.role.is_some() {
                return fail(
                    ErrorKind::Other,
                    "this testee already holds a role (send leave first)",
                );
            }
            let wait = check_wait(wait)?;
            let capacity_usize = usize::try_from(capacity).map_err(|_| {
                Fail(
                    ErrorKind::Capacity,
                    format!("capacity {capacity} does not fit usize"),
                )
            })?;
            let discover = discover.map(|d| (d.max, d.prefix));
            let p = by_size!(
                event_size,
                create_producer(
                    &ring,
                    capacity_usize,
                    wait_consumers.as_ref(),
                    discover.as_ref()
                )
            )?;
            t.role = Some(Role::Producer {
                p,
                next: 0,
                capacity,
                wait,
            });
            Ok(OkFields::default())
        }
        Command::AttachConsumer {
            ring,
            consumer_id,
            event_size,
            timeout_ms,
            wait,
            ..
        } => {
            if t.role.is_some() {
                return fail(
                    ErrorKind::Other,
                    "this testee already holds a role (send leave first)",
                );
            }
            let wait = check_wait(wait)?;
            let deadline = Instant::now() + Duration::from_millis(timeout_ms);
            let c = by_size!(event_size, attach_consumer(&ring, &consumer_id, deadline))?;
            let start_seq = c.current() + 1;
            t.role = Some(Role::Consumer { c, wait });
            Ok(OkFields {
                start_seq: Some(start_seq),
                ..OkFields::default()
            })
        }
        Command::Publish { count, batch, .. } => publish(t, id, count, batch.unwrap_or(1)),
        Command::TryPublish { count, .. } => {
            let Some(Role::Producer { p, next, .. }) = &mut t.role else {
                return fail(
                    ErrorKind::Other,
                    "try_publish needs a producer (create_producer first)",
                );
            };
            let mut published = 0u64;
            let mut full = false;
            while published < count {
                match p.try_publish(*next) {
                    Some(seq) => {
                        check_assigned(seq, *next)?;
                        *next += 1;
                        published += 1;
                    }
                    None => {
                        full = true;
                        break;
                    }
                }
            }
            Ok(OkFields {
                published: Some(published),
                full: Some(full),
                ..OkFields::default()
            })
        }
        Command::Consume {
            count,
            mode,
            timeout_ms,
            ..
        } => consume(t, id, count, mode, timeout_ms),
        Command::Cursors { .. } => match &t.role {
            Some(Role::Producer { p, .. }) => Ok(OkFields {
                producer: Some(p.cursor()),
                consumer: None,
                ..OkFields::default()
            }),
            Some(Role::Consumer { c, .. }) => Ok(OkFields {
                producer: c.producer_cursor(),
                consumer: Some(c.committed()),
                ..OkFields::default()
            }),
            None => fail(
                ErrorKind::Other,
                "cursors needs a role (create_producer or attach_consumer first)",
            ),
        },
        Command::Leave { .. } => {
            // A shm producer's drop unlinks its segments; a consumer's drop leaves its cursor
            // (disruptor-mp never unlinks consumer cursors, nor any mmap file).
            match t.role.take() {
                Some(role) => {
                    drop(role);
                    Ok(OkFields::default())
                }
                None => fail(ErrorKind::Other, "leave needs a role"),
            }
        }
        Command::Bench(b) => crate::testee_bench::run(&b)
            .map(|r| OkFields {
                bench: Some(r),
                ..Default::default()
            })
            .map_err(|(kind, msg)| Fail(kind, msg)),
        Command::Exit => unreachable!("exit is handled by the loop"),
    }
}

fn check_wait(w: Option<Wait>) -> Res<Wait> {
    // Default: yield between empty polls (testees share CPUs with the harness and each other).
    match w.unwrap_or(Wait::Yield) {
        Wait::Block => fail(
            ErrorKind::Unsupported,
            "wait \"block\": disruptor-mp has no blocking wait (its Block strategy is a yield loop)",
        ),
        w => Ok(w),
    }
}

/// One back-off step of a polling loop under `wait`.
#[inline]
fn back_off(wait: Wait) {
    match wait {
        Wait::Spin | Wait::Block => std::hint::spin_loop(),
        Wait::Yield => std::thread::yield_now(),
        Wait::Sleep => std::thread::sleep(Duration::from_micros(50)),
    }
}

fn check_assigned(got: i64, want: i64) -> Res<()> {
    if got != want {
        return fail(
            ErrorKind::Other,
            format!("disruptor-mp assigned sequence {got} where {want} was expected (the payload was written for {want})"),
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// create_producer / attach_consumer
// ---------------------------------------------------------------------------------------------

/// Maps a disruptor-mp error to a protocol error kind.
fn kind_of(e: &MultiProcessError) -> ErrorKind {
    match e {
        MultiProcessError::SegmentNotFound(_) => ErrorKind::NotFound,
        MultiProcessError::SharedMemoryError(m)
            if m.contains("already exists") || m.contains("File exists") =>
        {
            ErrorKind::AlreadyExists
        }
        MultiProcessError::IncompatibleLayout(m) if m.contains("element size") => {
            ErrorKind::ElementSize
        }
        MultiProcessError::IncompatibleLayout(m)
            if m.contains("capacity") || m.contains("power-of-two") =>
        {
            ErrorKind::Capacity
        }
        MultiProcessError::IncompatibleLayout(_) => ErrorKind::Layout,
        _ => ErrorKind::Other,
    }
}

fn mmap_layout(ring: &RingAddr) -> Res<MmapTransportLayout> {
    let Some(root) = &ring.root else {
        return fail(ErrorKind::Other, "an mmap ring needs \"root\"");
    };
    MmapTransportLayout::new(root, ring.name.as_str()).map_err(|e| {
        Fail(
            kind_of(&e),
            format!("MmapTransportLayout::new({root}, {}): {e}", ring.name),
        )
    })
}

fn create_producer<const W: usize>(
    ring: &RingAddr,
    capacity: usize,
    wait_consumers: Option<&WaitConsumers>,
    discover: Option<&(u64, String)>,
) -> Res<Box<dyn ProducerOps>> {
    match ring.backend {
        Backend::Shm => {
            let mut b = build_shared_single_producer::<Ev<W>>(&ring.name, capacity);
            if let Some((max, prefix)) = discover {
                b = b.discover_consumer_with_prefix(*max as usize, prefix);
            }
            // Without wait_consumers the coordination is explicitly Immediate: with discovery
            // enabled, disruptor-mp would otherwise wait for `max` consumers (up to 30 s).
            b = match wait_consumers {
                Some(w) => b.wait_for_consumers(w.min as i64, Duration::from_millis(w.timeout_ms)),
                None => b.with_coordination(CoordinationMode::Immediate),
            };
            // WaitForConsumers prints a warning and builds the producer anyway on timeout.
            let p = b
                .build_producer(Ev::<W>::default)
                .map_err(|e| Fail(kind_of(&e), format!("build_producer({}): {e}", ring.name)))?;
            Ok(Box::new(p))
        }
        Backend::Mmap => {
            let layout = mmap_layout(ring)?;
            // The mmap producer has no discovery modes: it gates on every
            // `{name}.consumers/*.cursor` file it lists, so `discover` has no counterpart.
            let p =
                MmapProducer::<Ev<W>>::create(layout, capacity, Ev::<W>::default).map_err(|e| {
                    Fail(
                        kind_of(&e),
                        format!("MmapProducer::create({}): {e}", ring.name),
                    )
                })?;
            if let Some(w) = wait_consumers {
                if !p.wait_for_consumers_ready(w.min as i64, Duration::from_millis(w.timeout_ms)) {
                    return fail(
                        ErrorKind::ConsumersMissing,
                        format!(
                            "MmapProducer::wait_for_consumers_ready({}, {} ms) returned false (readiness count below {})",
                            w.min, w.timeout_ms, w.min
                        ),
                    );
                }
            }
            Ok(Box::new(p))
        }
    }
}

/// What the ring's header file says, read without disruptor-mp (it needs the capacity as an
/// argument to attach).
enum RingFile {
    Missing,
    /// Exists but its header is not complete yet (or never will be).
    Incomplete,
    Header(LayoutHeader),
}

fn read_ring_header(ring: &RingAddr) -> RingFile {
    let path = match ring.backend {
        Backend::Shm => std::path::PathBuf::from(format!("/dev/shm/{}", ring.name)),
        Backend::Mmap => std::path::Path::new(ring.root.as_deref().unwrap_or(""))
            .join(format!("{}.ring", ring.name)),
    };
    let mut f = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return RingFile::Missing,
        Err(_) => return RingFile::Incomplete,
    };
    let mut buf = [0u8; HEADER_SIZE];
    if f.read_exact(&mut buf).is_err() || buf[..8] == [0u8; 8] {
        return RingFile::Incomplete;
    }
    match LayoutHeader::from_bytes(&buf) {
        Ok(h) => RingFile::Header(h),
        Err(_) => RingFile::Incomplete,
    }
}

fn attach_consumer<const W: usize>(
    ring: &RingAddr,
    id: &str,
    deadline: Instant,
) -> Res<Box<dyn ConsumerOps>> {
    let size = 8 * W as u64;
    let mut layout_since: Option<Instant> = None;
    let mut last: Fail;
    loop {
        let header = read_ring_header(ring);
        let attempt: Result<Box<dyn ConsumerOps>, MultiProcessError> = match &header {
            RingFile::Missing => Err(MultiProcessError::SegmentNotFound(format!(
                "ring {} does not exist",
                ring.name
            ))),
            RingFile::Incomplete => Err(MultiProcessError::IncompatibleLayout(format!(
                "ring {} exists but its LayoutV1 header is incomplete",
                ring.name
            ))),
            RingFile::Header(h) => {
                // A capacity that is not a power of two is passed as 1 so that disruptor-mp's
                // own header check, not its argument check, rejects the ring.
                let cap = usize::try_from(h.capacity)
                    .ok()
                    .filter(|c| c.is_power_of_two())
                    .unwrap_or(1);
                match ring.backend {
                    Backend::Shm => attach_shared_consumer::<Ev<W>>(&ring.name, cap)
                        .with_consumer_id(id)
                        .build_consumer()
                        .map(|c| Box::new(c) as Box<dyn ConsumerOps>),
                    Backend::Mmap => {
                        let layout = mmap_layout(ring)?;
                        MmapConsumer::<Ev<W>>::attach(layout.clone(), cap, id).map(|c| {
                            let producer =
                                MmapCursor::attach(layout.producer_cursor_config(false)).ok();
                            let mine = layout
                                .consumer_cursor_config(id, false)
                                .and_then(MmapCursor::attach)
                                .ok();
                            Box::new(MmapCons { c, producer, mine }) as Box<dyn ConsumerOps>
                        })
                    }
                }
            }
        };
        let e = match attempt {
            Ok(c) => return Ok(c),
            Err(e) => e,
        };
        let mut kind = kind_of(&e);
        // disruptor-mp checks the payload size (element size x capacity) before the element
        // size, so an element-size mismatch reads "payload size mismatch": classify it by the
        // header, which the capacity was taken from.
        if let (MultiProcessError::IncompatibleLayout(_), RingFile::Header(h)) = (&e, &header) {
            if h.element_size != size {
                kind = ErrorKind::ElementSize;
            }
        }
        let what = match ring.backend {
            Backend::Shm => "attach_shared_consumer(..).build_consumer()",
            Backend::Mmap => "MmapConsumer::attach",
        };
        let extra = match &header {
            RingFile::Header(h) => format!(
                " (ring header: element_size {}, capacity {}; this consumer: element_size {size})",
                h.element_size, h.capacity
            ),
            _ => String::new(),
        };
        last = Fail(kind, format!("{what} on {}: {e}{extra}", ring.name));
        let now = Instant::now();
        if matches!(e, MultiProcessError::IncompatibleLayout(_))
            && matches!(header, RingFile::Header(_))
            && matches!(kind, ErrorKind::ElementSize | ErrorKind::Capacity)
        {
            // A geometry mismatch with a complete ring header stays: report it after a short
            // grace instead of at the deadline. Other layout errors (a segment still being
            // written fails validation for an instant) are retried until the deadline.
            if now.duration_since(*layout_since.get_or_insert(now)) >= LAYOUT_GRACE {
                return Err(last);
            }
        } else {
            layout_since = None;
        }
        if now >= deadline {
            if matches!(header, RingFile::Missing) {
                last.1 = format!("ring {} not found before the timeout", ring.name);
            }
            return Err(last);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

// ---------------------------------------------------------------------------------------------
// publish / consume
// ---------------------------------------------------------------------------------------------

fn publish(t: &mut Testee, id: u64, count: u64, batch: u64) -> Res<OkFields> {
    let Some(Role::Producer {
        p,
        next,
        capacity,
        wait,
    }) = &mut t.role
    else {
        return fail(
            ErrorKind::Other,
            "publish needs a producer (create_producer first)",
        );
    };
    let (capacity, wait) = (*capacity, *wait);
    let batch = batch.max(1);
    let stall_for = |n: u64| {
        let ms = if n > capacity {
            t.args.oversized_batch_stall_ms
        } else {
            t.args.publish_stall_ms
        };
        (ms > 0).then(|| Duration::from_millis(ms))
    };
    let first = *next;
    let mut remaining = count;
    let mut since_progress = 0u64;
    let mut last_progress = Instant::now();
    let mut stalled_since: Option<Instant> = None;
    let mut tick = 0u32;
    while remaining > 0 {
        let n = batch.min(remaining);
        let r = if batch == 1 {
            p.try_publish(*next).ok_or(1)
        } else {
            p.try_batch(*next, n as usize)
        };
        tick = tick.wrapping_add(1);
        match r {
            Ok(last) => {
                check_assigned(last, *next + n as i64 - 1)?;
                *next += n as i64;
                remaining -= n;
                since_progress += n;
                stalled_since = None;
            }
            Err(_) => {
                back_off(wait);
                if tick & 255 == 0 {
                    if let Some(limit) = stall_for(n) {
                        let now = Instant::now();
                        if now.duration_since(*stalled_since.get_or_insert(now)) >= limit {
                            let published = *next - first;
                            let min = p.min_gating();
                            let msg = if n > capacity {
                                format!(
                                    "a batch of {n} can never fit a ring of {capacity} slots: try_batch_publish \
                                     returned MissingFreeSlots for {limit:?} ({published} events published before)"
                                )
                            } else {
                                format!(
                                    "publish stalled for {limit:?} at sequence {} (batch {n}): no free slot; \
                                     min gating sequence {min}; {published} of {count} events published",
                                    *next
                                )
                            };
                            return fail(ErrorKind::Timeout, msg);
                        }
                    }
                }
            }
        }
        if since_progress >= PROGRESS_EVERY
            || (tick & 63 == 0 && last_progress.elapsed() >= MAX_MESSAGE_AGE)
        {
            let m = Message::Progress {
                id,
                published_through: *next - 1,
            };
            if t.io.send(&m).is_err() {
                t.broken = true;
            }
            since_progress = 0;
            last_progress = Instant::now();
            // Re-borrow after the send (the role is untouched).
        }
    }
    Ok(OkFields {
        first_seq: Some(first),
        last_seq: Some(*next - 1),
        ..OkFields::default()
    })
}

fn consume(t: &mut Testee, id: u64, count: u64, mode: Mode, timeout_ms: u64) -> Res<OkFields> {
    let Some(Role::Consumer { c, wait }) = &mut t.role else {
        return fail(
            ErrorKind::Other,
            "consume needs a consumer (attach_consumer first)",
        );
    };
    let wait = *wait;
    let timeout = Duration::from_millis(timeout_ms);
    let io = &mut t.io;
    let broken = &mut t.broken;
    let mut reporter = EventsReporter::new(id);
    let mut consumed = 0u64;
    let mut pending = false;
    let mut last_sent = Instant::now();
    let mut empty_polls = 0u64;
    let mut idle_since = Instant::now();
    while consumed < count {
        let n = c.poll(mode, &mut |seq, bytes| {
            consumed += 1;
            pending = true;
            if let Some(m) = reporter.record(seq, bytes) {
                if io.send(&m).is_err() {
                    *broken = true;
                }
                last_sent = Instant::now();
            }
        });
        if n > 0 {
            empty_polls = 0;
            continue;
        }
        empty_polls += 1;
        if empty_polls & 255 == 1 {
            let now = Instant::now();
            if empty_polls == 1 {
                idle_since = now;
            } else if now.duration_since(idle_since) >= timeout {
                break;
            }
            // An idle stream still reports its last run within about 50 ms.
            if pending && now.duration_since(last_sent) >= MAX_MESSAGE_AGE {
                if let Some(m) = reporter.flush() {
                    if io.send(&m).is_err() {
                        *broken = true;
                    }
                }
                pending = false;
                last_sent = now;
            }
        }
        back_off(wait);
    }
    if let Some(m) = reporter.flush() {
        if io.send(&m).is_err() {
            *broken = true;
        }
    }
    // No end-of-stream in disruptor-mp: closed_at is always absent.
    Ok(OkFields {
        consumed: Some(consumed),
        ..OkFields::default()
    })
}
