//! The one error type of the crate: every cause its own variant, every message says what to do.

use crate::layout::LayoutError;
use std::time::Duration;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong opening, publishing to or consuming from a ring.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid name {name:?}: {why}")]
    InvalidName { name: String, why: &'static str },
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error(
        "{what} {name} does not exist (is the producer running? check the ring name and backend)"
    )]
    NotFound { what: &'static str, name: String },
    #[error("{what} {name} already exists: another producer owns this ring, or a crashed one left it behind (if its producer is dead, `ringproof rm` removes them)")]
    AlreadyExists { what: &'static str, name: String },
    #[error("permission denied on {name}: segments are created mode 0600, so every process must run as the same user")]
    PermissionDenied { name: String },
    #[error("{name}: {source}")]
    Layout { name: String, source: LayoutError },
    #[error("{op} {name}: {source}")]
    Io {
        op: &'static str,
        name: String,
        source: std::io::Error,
    },
    #[error(
        "consumer id {id:?} is in use by live process {pid}; pick another id or stop that process"
    )]
    ConsumerIdInUse { id: String, pid: u32 },
    #[error("the registry of ring {ring} has no free slot ({slots} consumers); raise the slot count when creating the ring")]
    RegistryFull { ring: String, slots: usize },
    #[error("ring full: the slowest consumer has not freed {missing} slot(s)")]
    Full { missing: u64 },
    #[error("batch of {n} events can never fit a ring of {capacity} slots")]
    BatchTooLarge { n: usize, capacity: usize },
    #[error("event is {got} bytes, the ring's events are {expected} bytes")]
    EventSize { expected: usize, got: usize },
    #[error("only {found} of {min} consumers joined within {timeout:?}")]
    ConsumersMissing {
        min: usize,
        found: usize,
        timeout: Duration,
    },
    #[error("the producer closed the ring after sequence {final_sequence}; every event has been consumed")]
    Closed { final_sequence: i64 },
    #[error("consumer {id:?} missed sequences {from}..={to}: its cursor was not gating while they were published (resync at the head to continue)")]
    Lapped { id: String, from: i64, to: i64 },
    #[error("consumer {id:?} was evicted and missed sequences {from}..={to} (attach with OnLapped::Resync to continue at the head)")]
    Evicted { id: String, from: i64, to: i64 },
    #[error("ring {ring} is owned by live producer pid {pid}: only one producer per ring")]
    ProducerAlive { ring: String, pid: u32 },
    #[error("the producer is gone (its process died) after publishing sequence {last_published}; keep polling to continue when it restarts")]
    ProducerGone { last_published: i64 },
    #[error("required consumers never joined within {timeout:?}: {missing:?}")]
    StartupTimeout {
        missing: Vec<String>,
        timeout: Duration,
    },
    #[error("required consumer {id:?} made no progress past {last_sequence} for {stalled_for:?} (dead: {dead}); graceful shutdown")]
    GracefulShutdown {
        id: String,
        last_sequence: i64,
        stalled_for: Duration,
        dead: bool,
    },
    #[error("ring {ring} still has a live participant (pid {pid}); stop it first (if pid {pid} is no participant of this ring, a recycled pid or a forged registry entry, check it and run `ringproof rm --force`, which overrides it)")]
    InUse { ring: String, pid: u32 },
    #[error("ring {ring}: {why}; its participants cannot be checked: stop every process of this ring, then run `ringproof rm --force`")]
    Unverifiable { ring: String, why: String },
    #[error("ring {ring} does not exist, but crashed participants left {found:?} behind; `ringproof rm --force` removes them")]
    Leftovers { ring: String, found: Vec<String> },
    #[error("ring {ring} was removed (or replaced by a new ring of the same name) while this consumer was attached and its producer was gone: nothing more arrives here; attach again to follow the new ring")]
    RingRemoved { ring: String },
    #[error("consumer {id:?} of ring {ring} cannot use cursor {segment}: that shm name is also a segment of existing ring {other} (shm names are flat); pick an id that does not collide, rename one of the rings, or use the file backend")]
    NameAlias {
        ring: String,
        id: String,
        other: String,
        segment: String,
    },
    #[error("{what} {name} holds {value}, which no participant writes ({why}): the segment is corrupt or written by a foreign process; stop the ring's processes and remove it (`ringproof rm`)")]
    CorruptCursor {
        what: &'static str,
        name: String,
        value: i64,
        why: &'static str,
    },
    #[error("could not join or leave ring {ring} within {waited:?}: another process holds its join lock (a stopped process, e.g. SIGSTOP?); resume or kill it, then retry")]
    JoinLockTimeout { ring: String, waited: Duration },
    #[error("refusing {name}: {why}. A ring's segments must belong to the user that runs all its processes and be readable and writable by that user only (mode 0600); find out who created it, then remove it as that user (`ringproof rm --force`) and start again")]
    Insecure { name: String, why: String },
    #[error("no space for {name}: {bytes} bytes could not be allocated in {dir}; free space there, make the ring smaller (capacity x event size), or put it elsewhere (--dir)")]
    NoSpace {
        name: String,
        bytes: u64,
        dir: String,
    },
    #[error("{what} {name} is damaged ({why}) while other segments of its ring exist: the ring's state is unclear, so nothing was removed; stop every process of the ring, then remove it with `ringproof rm --force` and start again")]
    Damaged {
        what: &'static str,
        name: String,
        why: String,
    },
    #[error("{name} is a {found}, not a segment: ringproof did not create it; remove it and start again")]
    NotRegularFile { name: String, found: &'static str },
}

impl Error {
    /// Maps an `std::io::Error` from an operation on segment `name` to the matching variant.
    pub(crate) fn io(
        op: &'static str,
        what: &'static str,
        name: &str,
        source: std::io::Error,
    ) -> Self {
        match source.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound {
                what,
                name: name.to_owned(),
            },
            std::io::ErrorKind::AlreadyExists => Error::AlreadyExists {
                what,
                name: name.to_owned(),
            },
            std::io::ErrorKind::PermissionDenied => Error::PermissionDenied {
                name: name.to_owned(),
            },
            _ => Error::Io {
                op,
                name: name.to_owned(),
                source,
            },
        }
    }

    /// Whether retrying the same attach later may succeed (the ring is not there yet, or its
    /// creator is still writing it).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::NotFound { .. }
                | Error::Layout {
                    source: LayoutError::Initializing | LayoutError::TooShort { .. },
                    ..
                }
        )
    }
}
