//! The testee protocol's messages (PROTOCOL.md), as Rust types both sides share.

mod action;
mod bench;

pub use action::{LivenessAction, UnknownLivenessAction};
pub use bench::{BenchCmd, BenchMode, BenchReport, BenchRole};

use serde::{Deserialize, Serialize};

/// Protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// Where a ring lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RingAddr {
    pub backend: Backend,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
}

/// Which backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Shm,
    Mmap,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Shm => "shm",
            Backend::Mmap => "mmap",
        }
    }
}

/// Wait strategy names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Wait {
    Spin,
    Yield,
    Sleep,
    Block,
}

/// Read modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Copy,
    Lease,
    Batch,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitConsumers {
    pub min: u64,
    pub timeout_ms: u64,
}

/// Consumers the producer must keep gating on even if they die (`action: "alert"`), so a
/// restart under the same id resumes exactly (SPEC.md §7.10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Required {
    pub ids: Vec<String>,
    pub action: LivenessAction,
    /// Optional: how long a stalled required consumer may make no progress before the alert
    /// (default: the implementation's, 250 ms for ringproof).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_timeout_ms: Option<u64>,
    /// Optional: after the alert, how long before the action runs (default: the
    /// implementation's, 1 s for ringproof).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discover {
    pub prefix: String,
    pub max: u64,
}

/// Harness to testee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Command {
    CreateProducer {
        id: u64,
        ring: RingAddr,
        capacity: u64,
        event_size: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wait_consumers: Option<WaitConsumers>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        discover: Option<Discover>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wait: Option<Wait>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        required: Option<Required>,
    },
    AttachConsumer {
        id: u64,
        ring: RingAddr,
        consumer_id: String,
        event_size: u64,
        timeout_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wait: Option<Wait>,
        /// Optional: a re-join whose cursor was not gating (SPEC.md §7.3) continues at the
        /// head instead of failing with `lapped`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resync: Option<bool>,
    },
    Publish {
        id: u64,
        count: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        batch: Option<u64>,
    },
    TryPublish {
        id: u64,
        count: u64,
    },
    Consume {
        id: u64,
        count: u64,
        mode: Mode,
        timeout_ms: u64,
    },
    Cursors {
        id: u64,
    },
    Leave {
        id: u64,
    },
    /// `bench` capability (PROTOCOL.md, "Benchmarks"): set up one side of a benchmark run,
    /// run its hot loop, and answer with what it measured (`ok` with `bench`).
    Bench(Box<BenchCmd>),
    Exit,
}

impl Command {
    /// The command's id (`None` for `exit`).
    pub fn id(&self) -> Option<u64> {
        match self {
            Command::CreateProducer { id, .. }
            | Command::AttachConsumer { id, .. }
            | Command::Publish { id, .. }
            | Command::TryPublish { id, .. }
            | Command::Consume { id, .. }
            | Command::Cursors { id }
            | Command::Leave { id } => Some(*id),
            Command::Bench(b) => Some(b.id),
            Command::Exit => None,
        }
    }

    /// A `create_producer` of `ring` with the protocol's defaults for everything optional (no
    /// wait for consumers, no discovery, the testee's wait strategy, no required consumers);
    /// the setters of [`CreateProducer`] change them, [`CreateProducer::command`] gives the
    /// command.
    pub fn create_producer(ring: RingAddr, capacity: u64, event_size: u64) -> CreateProducer {
        CreateProducer {
            ring,
            capacity,
            event_size,
            wait_consumers: None,
            discover: None,
            wait: None,
            required: None,
        }
    }
}

/// The fields of [`Command::CreateProducer`] but its id, so a harness can say only what
/// differs from the defaults: `Command::create_producer(ring, 64, 64).discover("c", 8)`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a CreateProducer does nothing until it is made a command"]
pub struct CreateProducer {
    pub ring: RingAddr,
    pub capacity: u64,
    pub event_size: u64,
    pub wait_consumers: Option<WaitConsumers>,
    pub discover: Option<Discover>,
    pub wait: Option<Wait>,
    pub required: Option<Required>,
}

impl CreateProducer {
    /// Wait for `min` consumers for up to `timeout_ms` before answering.
    pub fn wait_consumers(mut self, w: impl Into<Option<WaitConsumers>>) -> Self {
        self.wait_consumers = w.into();
        self
    }

    /// Gate on consumers named `{prefix}_*` found in the registry, up to `max` of them.
    pub fn discover(mut self, prefix: &str, max: u64) -> Self {
        self.discover = Some(Discover {
            prefix: prefix.to_owned(),
            max,
        });
        self
    }

    /// The producer's wait strategy (`None`: the testee's default).
    pub fn wait(mut self, wait: impl Into<Option<Wait>>) -> Self {
        self.wait = wait.into();
        self
    }

    /// Consumers the producer keeps gating on even if they die.
    pub fn required(mut self, required: impl Into<Option<Required>>) -> Self {
        self.required = required.into();
        self
    }

    /// The command, with request id `id`.
    pub fn command(self, id: u64) -> Command {
        Command::CreateProducer {
            id,
            ring: self.ring,
            capacity: self.capacity,
            event_size: self.event_size,
            wait_consumers: self.wait_consumers,
            discover: self.discover,
            wait: self.wait,
            required: self.required,
        }
    }
}

/// Error kinds a testee reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    NotFound,
    AlreadyExists,
    ElementSize,
    Capacity,
    Layout,
    BatchTooLarge,
    Full,
    Timeout,
    ConsumersMissing,
    Closed,
    /// A re-join (or a read) found the consumer's slot retired as dead (SPEC.md §7.3 step 5,
    /// §7.10): the events in `missed` may be overwritten.
    Lapped,
    /// As `lapped`, for a required consumer the producer evicted (slot EVICTED).
    Evicted,
    IdInUse,
    /// Every registry slot is taken (SPEC.md §7.3 step 4).
    RegistryFull,
    /// The producer's required-consumer watch ran the `shutdown` action (SPEC.md §7.10): the
    /// blocked publish fails.
    Shutdown,
    /// A ring name or consumer id SPEC.md §3 does not allow.
    InvalidName,
    /// A consumer cursor name that is also another ring's consumer cursor (SPEC.md §3.5).
    NameAlias,
    /// A segment or consumers directory another user owns, or that others may write (SPEC.md
    /// §3.1).
    Insecure,
    /// Optional kind (chaos campaigns): the producer's process is dead and everything it
    /// published is consumed. A testee that cannot tell reports `other` or keeps waiting.
    ProducerGone,
    Unsupported,
    Other,
}

/// A range of sequences `from ..= to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missed {
    pub from: i64,
    pub to: i64,
}

/// Fields of an `ok` reply (all optional; which appear depends on the command).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OkFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_seq: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seq: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<i64>,
    /// The measurements of a `bench` command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench: Option<BenchReport>,
}

/// Testee to harness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    Hello {
        protocol: u32,
        #[serde(rename = "impl")]
        implementation: String,
        version: String,
        capabilities: Vec<String>,
    },
    Ok {
        id: u64,
        #[serde(flatten)]
        fields: OkFields,
    },
    Error {
        id: u64,
        kind: ErrorKind,
        message: String,
        /// With `lapped` and `evicted`: the sequences the consumer missed (SPEC.md §7.3 step 5,
        /// §7.10), as the implementation names them. Optional.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        missed: Option<Missed>,
    },
    Progress {
        id: u64,
        published_through: i64,
    },
    Events {
        id: u64,
        first: i64,
        last: i64,
        digest: String,
    },
    /// Optional (chaos campaigns): during `publish`, the producer noticed that required
    /// consumer `consumer_id` stalled or died (`dead`), at `mono_ns` on CLOCK_MONOTONIC.
    Liveness {
        id: u64,
        consumer_id: String,
        dead: bool,
        mono_ns: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_producer_defaults_leave_the_optional_fields_out() {
        let ring = RingAddr {
            backend: Backend::Shm,
            name: "r".into(),
            root: None,
        };
        let json = |c: CreateProducer| serde_json::to_string(&c.command(7)).unwrap();
        let head = r#"{"cmd":"create_producer","id":7,"ring":{"backend":"shm","name":"r"},"capacity":64,"event_size":32"#;
        assert_eq!(
            json(Command::create_producer(ring.clone(), 64, 32)),
            format!("{head}}}")
        );
        let full = Command::create_producer(ring, 64, 32)
            .wait_consumers(WaitConsumers {
                min: 1,
                timeout_ms: 5,
            })
            .discover("c", 8)
            .wait(Wait::Block);
        let tail = r#","wait_consumers":{"min":1,"timeout_ms":5},"discover":{"prefix":"c","max":8},"wait":"block"}"#;
        assert_eq!(json(full), format!("{head}{tail}"));
    }
}
