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
//!
//! The command loop is conformance's ([`serve::serve`]); this module is the testee's
//! [`Handler`]. `role` holds the producer or consumer, `open` creates and attaches, `stream`
//! publishes and consumes, `bench` runs the `bench` command.

mod bench;
mod open;
mod role;
mod stream;

pub use stream::TesteeArgs;

use std::fs::File;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use ringproof_conformance::protocol::{Command, ErrorKind, OkFields, Wait};
use ringproof_conformance::serve::{self, Failure, Handler, Hello, Outcome};
use ringproof_conformance::testee_io::TesteeIo;
use ringproof_dmp_adapter::by_size;

use open::{attach_consumer, create_producer};
use role::{check_assigned, fail, Res, Role};

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

/// Runs the testee on stdin and `out` (the original stdout); returns the exit status.
pub fn run(args: TesteeArgs, out: File) -> i32 {
    let hello = Hello::new(
        "disruptor-mp",
        "0.1.0-alpha.2",
        &[CAPABILITIES, bench::CAPABILITIES],
    );
    let testee = Testee { args, role: None };
    serve::serve(hello, testee, std::io::stdin().lock(), out)
}

/// The testee's state: its options and the role it holds.
struct Testee {
    args: TesteeArgs,
    role: Option<Role>,
}

impl Handler for Testee {
    /// Panics inside disruptor-mp (it asserts on some inputs) are caught per command and
    /// reported as `error` kind `other`.
    fn handle<W: Write>(&mut self, id: u64, cmd: Command, io: &mut TesteeIo<W>) -> Outcome {
        match catch_unwind(AssertUnwindSafe(|| handle(self, id, cmd, io))) {
            Ok(outcome) => outcome,
            Err(panic) => Err(Failure::other(format!(
                "disruptor-mp panicked: {}",
                panic_text(&*panic)
            ))),
        }
    }
}

impl Drop for Testee {
    /// At `exit` or EOF: release everything as a normal program would (a shm producer unlinks
    /// its segments; a consumer leaves its cursor behind, which is disruptor-mp's own
    /// behaviour).
    fn drop(&mut self) {
        if let Some(role) = self.role.take() {
            if catch_unwind(AssertUnwindSafe(move || drop(role))).is_err() {
                eprintln!("dmp-peer testee: disruptor-mp panicked while dropping the role");
            }
        }
    }
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

/// `event_size` values this testee takes, and its answer to any other.
macro_rules! by_event_size {
    ($size:expr, $f:ident $args:tt) => {
        by_size!(
            $size,
            [8, 16, 24, 32, 48, 64, 96, 128, 256, 512, 1024, 2048, 4096],
            $f $args,
            |s, sizes| fail(
                ErrorKind::Unsupported,
                format!("event_size {s}: this testee supports {sizes}"),
            )
        )
    };
}

fn handle<W: Write>(t: &mut Testee, id: u64, cmd: Command, io: &mut TesteeIo<W>) -> Outcome {
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
                Failure::new(
                    ErrorKind::Capacity,
                    format!("capacity {capacity} does not fit usize"),
                )
            })?;
            let discover = discover.map(|d| (d.max, d.prefix));
            let p = by_event_size!(
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
            let c = by_event_size!(event_size, attach_consumer(&ring, &consumer_id, deadline))?;
            let start_seq = c.current() + 1;
            t.role = Some(Role::Consumer { c, wait });
            Ok(OkFields {
                start_seq: Some(start_seq),
                ..OkFields::default()
            })
        }
        Command::Publish { count, batch, .. } => {
            stream::publish(&mut t.role, &t.args, id, count, batch.unwrap_or(1), io)
        }
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
        } => stream::consume(&mut t.role, id, count, mode, timeout_ms, io),
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
        Command::Bench(b) => bench::run(&b)
            .map(|r| OkFields {
                bench: Some(r),
                ..Default::default()
            })
            .map_err(Failure::from),
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
