//! The reference testee: ringproof itself behind the protocol (`ringproof testee`).

use crate::protocol::{
    Backend, Command, ErrorKind, Message, Mode, OkFields, RingAddr, Wait, PROTOCOL_VERSION,
};
use crate::testee_io::{read_command, EventsReporter, TesteeIo};
use ringproof::kit::layout::LayoutError;
use ringproof::{
    ConsumerBuilder, Coordination, Error, LivenessAction, OnLapped, ProducerBuilder, RawConsumer,
    RawProducer, RequiredConsumers, RingName, WaitStrategy,
};
use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Capabilities the reference implementation offers.
pub const CAPABILITIES: &[&str] = &[
    "shm",
    "mmap",
    "producer",
    "consumer",
    "batch",
    "try-publish",
    "lease",
    "wait-block",
    "close",
    "registry",
    "required",
    "producer-gone",
    "counters",
    "failpoints",
];

thread_local! {
    /// The range the last lapped/evicted error named (see [`kind_of`]), for its reply.
    static MISSED: std::cell::Cell<Option<crate::protocol::Missed>> = const { std::cell::Cell::new(None) };
}

enum Role {
    None,
    Producer(RawProducer, Alerts),
    Consumer(RawConsumer),
}

/// Liveness alerts the producer's hook raised, stamped when raised, reported during `publish`.
type Alerts = Arc<Mutex<Vec<Message>>>;

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process of the machine, so a harness
/// can compare the moment an alert was raised with the moment it killed the consumer.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The argument that makes a test binary act as the reference testee (see [`serve_if_asked`]).
pub const TESTEE_ARG: &str = "--ringproof-testee";

/// For test binaries that are also the reference testee: when started with [`TESTEE_ARG`],
/// serves the protocol on stdin/stdout and exits; otherwise returns.
pub fn serve_if_asked() {
    if std::env::args().any(|a| a == TESTEE_ARG) {
        std::process::exit(serve(std::io::stdin().lock(), std::io::stdout().lock()));
    }
}

/// The reference testee as this (test) executable started with [`TESTEE_ARG`].
pub fn this_executable() -> crate::driver::Implementation {
    crate::driver::Implementation {
        name: "ringproof".into(),
        program: std::env::current_exe().expect("this executable"),
        args: vec![TESTEE_ARG.into()],
        env: Vec::new(),
    }
}

/// Serves the protocol on `input`/`output` until `exit` or EOF. Returns the exit status.
pub fn serve(mut input: impl BufRead, output: impl Write) -> i32 {
    let mut io = TesteeIo::new(output);
    let hello = Message::Hello {
        protocol: PROTOCOL_VERSION,
        implementation: "ringproof".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        capabilities: CAPABILITIES
            .iter()
            .chain(crate::testee_bench::CAPABILITIES)
            .map(|s| s.to_string())
            .collect(),
    };
    if io.send(&hello).is_err() {
        return 1;
    }
    let mut role = Role::None;
    while let Some(cmd) = read_command(&mut input) {
        let cmd = match cmd {
            Ok(c) => c,
            Err(e) => {
                let _ = io.send(&Message::Error {
                    id: 0,
                    kind: ErrorKind::Other,
                    message: format!("unparsable command: {e}"),
                    missed: None,
                });
                continue;
            }
        };
        let Some(id) = cmd.id() else { break };
        let result = execute(&mut role, cmd, id, &mut io);
        let reply = match result {
            Ok(fields) => Message::Ok { id, fields },
            Err((kind, message)) => {
                let missed = MISSED
                    .take()
                    .filter(|_| matches!(kind, ErrorKind::Lapped | ErrorKind::Evicted));
                Message::Error {
                    id,
                    kind,
                    message,
                    missed,
                }
            }
        };
        if io.send(&reply).is_err() {
            return 1;
        }
    }
    drop(role);
    0
}

type Outcome = Result<OkFields, (ErrorKind, String)>;

fn execute<W: Write>(role: &mut Role, cmd: Command, id: u64, io: &mut TesteeIo<W>) -> Outcome {
    match cmd {
        Command::CreateProducer {
            ring,
            capacity,
            event_size,
            wait_consumers,
            discover,
            wait,
            required,
            ..
        } => {
            let mut b = ProducerBuilder::new(ring_name(&ring)?)
                .capacity(capacity as usize)
                .wait(strategy(wait));
            if let Some(w) = wait_consumers {
                b = b.coordination(Coordination::WaitForConsumers {
                    min: w.min as usize,
                    timeout: Duration::from_millis(w.timeout_ms),
                });
            }
            if let Some(d) = discover {
                b = b.discover_prefix(&d.prefix, d.max as usize);
            }
            let alerts: Alerts = Arc::default();
            if let Some(r) = required {
                let action = match r.action.as_str() {
                    "alert" => LivenessAction::AlertOnly,
                    "evict" => LivenessAction::Evict,
                    _ => LivenessAction::GracefulShutdown,
                };
                let sink = Arc::clone(&alerts);
                let mut config = RequiredConsumers::new(r.ids)
                    .with_action(action)
                    .with_startup_wait_timeout(Duration::from_secs(10))
                    .with_alert_hook(move |a| {
                        let m = Message::Liveness {
                            id: 0,
                            consumer_id: a.consumer_id.clone(),
                            dead: a.dead,
                            mono_ns: monotonic_ns(),
                        };
                        sink.lock().expect("alerts").push(m);
                    });
                if let Some(ms) = r.progress_timeout_ms {
                    config = config.with_progress_timeout(Duration::from_millis(ms));
                }
                if let Some(ms) = r.grace_ms {
                    config = config.with_shutdown_grace_period(Duration::from_millis(ms));
                }
                b = b.required_consumers(config);
            }
            *role = Role::None;
            *role = Role::Producer(b.create_raw(event_size as usize).map_err(kind_of)?, alerts);
            Ok(OkFields::default())
        }
        Command::AttachConsumer {
            ring,
            consumer_id,
            event_size,
            timeout_ms,
            wait,
            resync,
            ..
        } => {
            // Leave first: a consumer that re-attaches under its own id must not have its old
            // self free the slot it has just taken.
            *role = Role::None;
            let c = ConsumerBuilder::new(ring_name(&ring)?, &consumer_id)
                .wait(strategy(wait))
                .attach_timeout(Duration::from_millis(timeout_ms))
                .on_lapped(if resync == Some(true) {
                    OnLapped::Resync
                } else {
                    OnLapped::Fail
                })
                .attach_raw(event_size as usize)
                .map_err(kind_of)?;
            let start_seq = c.next_sequence();
            *role = Role::Consumer(c);
            Ok(OkFields {
                start_seq: Some(start_seq),
                ..Default::default()
            })
        }
        Command::Publish { count, batch, .. } => {
            let Role::Producer(p, alerts) = role else {
                return Err(no_role("publish", "producer"));
            };
            let first = p.last_published() + 1;
            let mut last_progress = Instant::now();
            let mut reported = first - 1;
            let report_alerts = |io: &mut TesteeIo<W>| {
                for m in alerts.lock().expect("alerts").drain(..) {
                    if let Message::Liveness {
                        consumer_id,
                        dead,
                        mono_ns,
                        ..
                    } = m
                    {
                        let _ = io.send(&Message::Liveness {
                            id,
                            consumer_id,
                            dead,
                            mono_ns,
                        });
                    }
                }
            };
            let produced =
                ringproof::kit::testkit::produce(p, count, batch.unwrap_or(1) as usize, |last| {
                    if last - reported >= 65_536
                        || last_progress.elapsed() >= Duration::from_millis(50)
                    {
                        report_alerts(io);
                        let _ = io.send(&Message::Progress {
                            id,
                            published_through: last,
                        });
                        reported = last;
                        last_progress = Instant::now();
                    }
                });
            report_alerts(io);
            produced.map_err(kind_of)?;
            Ok(OkFields {
                first_seq: Some(first),
                last_seq: Some(p.last_published()),
                ..Default::default()
            })
        }
        Command::TryPublish { count, .. } => {
            let Role::Producer(p, _) = role else {
                return Err(no_role("try_publish", "producer"));
            };
            let mut published = 0;
            let mut full = false;
            while published < count {
                let seq = (p.last_published() + 1) as u64;
                match p.try_publish_with(|slot| drop(ringproof::kit::payload::fill(seq, slot))) {
                    Ok(_) => published += 1,
                    Err(Error::Full { .. }) => {
                        full = true;
                        break;
                    }
                    Err(e) => return Err(kind_of(e)),
                }
            }
            Ok(OkFields {
                published: Some(published),
                full: Some(full),
                ..Default::default()
            })
        }
        Command::Consume {
            count,
            mode,
            timeout_ms,
            ..
        } => {
            let Role::Consumer(c) = role else {
                return Err(no_role("consume", "consumer"));
            };
            consume(c, id, count, mode, Duration::from_millis(timeout_ms), io)
        }
        Command::Cursors { .. } => Ok(match role {
            Role::Producer(p, _) => OkFields {
                producer: Some(p.last_published()),
                ..Default::default()
            },
            Role::Consumer(c) => OkFields {
                producer: Some(c.producer_sequence()),
                consumer: Some(c.next_sequence() - 1),
                ..Default::default()
            },
            Role::None => OkFields::default(),
        }),
        Command::Leave { .. } => {
            *role = Role::None;
            Ok(OkFields::default())
        }
        Command::Bench(b) => {
            *role = Role::None;
            let report = crate::testee_bench::run_reference(&b)?;
            Ok(OkFields {
                bench: Some(report),
                ..Default::default()
            })
        }
        Command::Exit => unreachable!("handled by the caller"),
    }
}

/// Reads up to `count` events, reporting them; stops early when nothing arrives for `idle`.
fn consume<W: Write>(
    c: &mut RawConsumer,
    id: u64,
    count: u64,
    mode: Mode,
    idle: Duration,
    io: &mut TesteeIo<W>,
) -> Outcome {
    let mut reporter = EventsReporter::new(id);
    let result = consume_into(c, &mut reporter, count, mode, idle, io);
    // Whatever was delivered is reported, even when the call ends in an error (producer gone,
    // evicted): the harness must see every event the consumer committed.
    if let Some(m) = reporter.flush() {
        io.send(&m).map_err(|e| (ErrorKind::Other, e.to_string()))?;
    }
    result
}

fn consume_into<W: Write>(
    c: &mut RawConsumer,
    reporter: &mut EventsReporter,
    count: u64,
    mode: Mode,
    idle: Duration,
    io: &mut TesteeIo<W>,
) -> Outcome {
    let mut consumed = 0u64;
    let mut closed_at = None;
    let mut last_event = Instant::now();
    let mut outbox = Vec::new();
    while consumed < count {
        // An evicted read may hand over overwritten slots before it fails (SPEC.md §7.10):
        // what that call delivered is discarded, so keep the state from before it.
        let before = reporter.clone();
        let step = match mode {
            Mode::Copy => c
                .try_read(|seq, bytes| outbox.extend(reporter.record(seq, bytes)))
                .map(|r| r.map_or(0, |_| 1)),
            Mode::Lease => c.try_lease().and_then(|lease| match lease {
                Some(l) => {
                    let m = reporter.record(l.sequence(), &l);
                    // Evicted while reading: the bytes may be rewritten (discarded below).
                    l.verify()?;
                    outbox.extend(m);
                    Ok(1)
                }
                None => Ok(0),
            }),
            Mode::Batch => c.poll_batch((count - consumed) as usize, |seq, bytes, _| {
                outbox.extend(reporter.record(seq, bytes))
            }),
        };
        if let Err(Error::Evicted { .. } | Error::Lapped { .. }) = &step {
            *reporter = before;
            outbox.clear();
        }
        for m in outbox.drain(..) {
            io.send(&m).map_err(|e| (ErrorKind::Other, e.to_string()))?;
        }
        match step {
            Ok(0) => {
                // Wait with the consumer's own strategy (blocking sleeps in the kernel).
                match c.wait_for_event(idle.saturating_sub(last_event.elapsed())) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(Error::Closed { final_sequence }) => {
                        closed_at = Some(final_sequence);
                        break;
                    }
                    Err(e) => return Err(kind_of(e)),
                }
            }
            Ok(n) => {
                consumed += n as u64;
                last_event = Instant::now();
            }
            Err(Error::Closed { final_sequence }) => {
                closed_at = Some(final_sequence);
                break;
            }
            Err(e) => return Err(kind_of(e)),
        }
    }
    Ok(OkFields {
        consumed: Some(consumed),
        closed_at,
        ..Default::default()
    })
}

pub(crate) fn ring_name(r: &RingAddr) -> Result<RingName, (ErrorKind, String)> {
    match (r.backend, &r.root) {
        (Backend::Shm, _) => RingName::shm(&r.name),
        (Backend::Mmap, Some(root)) => RingName::dir(root, &r.name),
        (Backend::Mmap, None) => return Err((ErrorKind::Other, "mmap ring without a root".into())),
    }
    .map_err(kind_of)
}

fn strategy(w: Option<Wait>) -> WaitStrategy {
    match w {
        None | Some(Wait::Yield) => WaitStrategy::default(),
        Some(Wait::Spin) => WaitStrategy::BusySpin,
        Some(Wait::Sleep) => WaitStrategy::Sleep(Duration::from_micros(100)),
        Some(Wait::Block) => WaitStrategy::blocking(),
    }
}

fn no_role(cmd: &str, needs: &str) -> (ErrorKind, String) {
    (
        ErrorKind::Other,
        format!("{cmd} needs a {needs} (create or attach one first)"),
    )
}

/// The protocol's error kind for a ringproof error.
pub fn kind_of(e: Error) -> (ErrorKind, String) {
    MISSED.set(match &e {
        Error::Lapped { from, to, .. } | Error::Evicted { from, to, .. } => {
            Some(crate::protocol::Missed {
                from: *from,
                to: *to,
            })
        }
        _ => None,
    });
    let kind = match &e {
        Error::NotFound { .. } | Error::RingRemoved { .. } => ErrorKind::NotFound,
        Error::AlreadyExists { .. } | Error::ProducerAlive { .. } => ErrorKind::AlreadyExists,
        Error::Layout {
            source: LayoutError::ElementSize { .. },
            ..
        }
        | Error::EventSize { .. } => ErrorKind::ElementSize,
        Error::Layout {
            source: LayoutError::Capacity { .. },
            ..
        } => ErrorKind::Capacity,
        Error::Layout { .. } | Error::Damaged { .. } | Error::NotRegularFile { .. } => {
            ErrorKind::Layout
        }
        Error::BatchTooLarge { .. } => ErrorKind::BatchTooLarge,
        Error::Full { .. } => ErrorKind::Full,
        Error::ConsumersMissing { .. } | Error::StartupTimeout { .. } => {
            ErrorKind::ConsumersMissing
        }
        Error::Closed { .. } => ErrorKind::Closed,
        Error::Lapped { .. } => ErrorKind::Lapped,
        Error::Evicted { .. } => ErrorKind::Evicted,
        Error::ConsumerIdInUse { .. } => ErrorKind::IdInUse,
        Error::RegistryFull { .. } => ErrorKind::RegistryFull,
        Error::GracefulShutdown { .. } => ErrorKind::Shutdown,
        Error::ProducerGone { .. } => ErrorKind::ProducerGone,
        Error::CorruptCursor { .. } => ErrorKind::Layout,
        Error::JoinLockTimeout { .. } => ErrorKind::Timeout,
        Error::NameAlias { .. } => ErrorKind::NameAlias,
        Error::InvalidName { .. } => ErrorKind::InvalidName,
        Error::Insecure { .. } => ErrorKind::Insecure,
        _ => ErrorKind::Other,
    };
    (kind, e.to_string())
}
