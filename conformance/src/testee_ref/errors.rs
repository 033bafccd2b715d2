//! How the reference testee maps between the protocol and ringproof: ring addresses to
//! [`RingName`]s, `wait` to [`WaitStrategy`], and ringproof's [`Error`] to the protocol's error
//! kinds.

use crate::protocol::{Backend, ErrorKind, Missed, RingAddr, Wait};
use crate::serve::Failure;
use ringproof::kit::layout::LayoutError;
use ringproof::{Error, RingName, WaitStrategy};
use std::time::Duration;

pub(crate) fn ring_name(r: &RingAddr) -> Result<RingName, Failure> {
    match (r.backend, &r.root) {
        (Backend::Shm, _) => RingName::shm(&r.name),
        (Backend::Mmap, Some(root)) => RingName::dir(root, &r.name),
        (Backend::Mmap, None) => return Err(Failure::other("mmap ring without a root")),
    }
    .map_err(kind_of)
}

pub(crate) fn strategy(w: Option<Wait>) -> WaitStrategy {
    match w {
        None | Some(Wait::Yield) => WaitStrategy::default(),
        Some(Wait::Spin) => WaitStrategy::BusySpin,
        Some(Wait::Sleep) => WaitStrategy::Sleep(Duration::from_micros(100)),
        Some(Wait::Block) => WaitStrategy::blocking(),
    }
}

pub(crate) fn no_role(cmd: &str, needs: &str) -> Failure {
    Failure::other(format!(
        "{cmd} needs a {needs} (create or attach one first)"
    ))
}

/// The protocol's error for a ringproof error, with the missed range of `lapped`/`evicted`.
pub fn kind_of(e: Error) -> Failure {
    let missed = match &e {
        Error::Lapped { from, to, .. } | Error::Evicted { from, to, .. } => Some(Missed {
            from: *from,
            to: *to,
        }),
        _ => None,
    };
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
    Failure {
        kind,
        message: e.to_string(),
        missed,
    }
}
