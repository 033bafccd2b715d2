//! The reference testee: ringproof itself behind the protocol (`ringproof testee`), one
//! [`Handler`] for [`crate::serve::serve`].

mod bench;
mod errors;

pub use errors::kind_of;
use errors::{no_role, ring_name, strategy};

use crate::protocol::{Command, Message, Mode, OkFields};
use crate::serve::{Failure, Handler, Hello, Outcome};
use crate::testee_bench::monotonic_ns;
use crate::testee_io::{EventsReporter, TesteeIo, PROGRESS_EVERY, PROGRESS_MAX_AGE};
use ringproof::{
    ConsumerBuilder, Coordination, Error, OnLapped, ProducerBuilder, RawConsumer, RawProducer,
    RequiredConsumers,
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

/// What the testee holds: nothing, a producer (with the liveness alerts its hook raised) or
/// a consumer.
enum Role {
    None,
    /// Both roles boxed: each is about a kilobyte, and `None` is nothing.
    Producer(Box<RawProducer>, Alerts),
    Consumer(Box<RawConsumer>),
}

/// Liveness alerts the producer's hook raised, stamped when raised, reported during `publish`.
type Alerts = Arc<Mutex<Vec<Message>>>;

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
pub fn serve(input: impl BufRead, output: impl Write) -> i32 {
    let hello = Hello::new(
        "ringproof",
        env!("CARGO_PKG_VERSION"),
        &[CAPABILITIES, crate::testee_bench::CAPABILITIES],
    );
    crate::serve::serve(hello, Reference(Role::None), input, output)
}

/// The reference testee's [`Handler`]: ringproof behind each command.
struct Reference(Role);

impl Handler for Reference {
    fn handle<W: Write>(&mut self, id: u64, cmd: Command, io: &mut TesteeIo<W>) -> Outcome {
        execute(&mut self.0, cmd, id, io)
    }
}

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
                let sink = Arc::clone(&alerts);
                let mut config = RequiredConsumers::new(r.ids)
                    .with_action(r.action.into())
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
            *role = Role::Producer(
                Box::new(b.create_raw(event_size as usize).map_err(kind_of)?),
                alerts,
            );
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
            *role = Role::Consumer(Box::new(c));
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
                    if last - reported >= PROGRESS_EVERY as i64
                        || last_progress.elapsed() >= PROGRESS_MAX_AGE
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
            let report = bench::run(&b)?;
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
    // The harness may read the counters segment right after the reply (PROTOCOL.md).
    c.flush();
    // Whatever was delivered is reported, even when the call ends in an error (producer gone,
    // evicted): the harness must see every event the consumer committed.
    if let Some(m) = reporter.flush() {
        io.send(&m).map_err(|e| Failure::other(e.to_string()))?;
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
                .try_read_with(|seq, bytes| outbox.extend(reporter.record(seq, bytes)))
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
            io.send(&m).map_err(|e| Failure::other(e.to_string()))?;
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

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// PROTOCOL.md: a command the testee does not implement is answered `unsupported`, with
    /// the command's id (the reference testee once answered `other` with id 0).
    #[test]
    fn an_unknown_command_is_unsupported() {
        let input = "{\"cmd\":\"teleport\",\"id\":4}\n{\"cmd\":\"cursors\",\"id\":5}\n";
        let mut out = Vec::new();
        assert_eq!(super::serve(input.as_bytes(), &mut out), 0);
        let lines: Vec<Value> = out
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0]["impl"], "ringproof");
        assert_eq!(lines[1]["type"], "error");
        assert_eq!(lines[1]["id"], 4);
        assert_eq!(lines[1]["kind"], "unsupported");
        assert_eq!(lines[2]["type"], "ok");
        assert_eq!(lines[2]["id"], 5);
    }
}
