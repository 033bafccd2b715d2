//! What the harness does when `attach_consumer` fails (PROTOCOL.md, "How the harness
//! reacts"): resync after a declared gap, try again after a pause, or give the consumer up.

use ringproof_conformance::protocol::ErrorKind;
use std::time::Duration;

/// Failed `attach_consumer` commands in a row after which the harness gives a consumer up
/// (about 2 s of retries, one every `ATTACH_PAUSE`).
pub const ATTACH_TRIES: u32 = 100;
pub(crate) const ATTACH_PAUSE: Duration = Duration::from_millis(20);

/// What the harness does after `attach_consumer` failed with `kind` (PROTOCOL.md, "How the
/// harness reacts"), the `failures`-th failure in a row, `resynced` if that attach asked to
/// resync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachRetry {
    /// The implementation declared a gap (`lapped`, `evicted`): attach again at once, with
    /// `resync`, to continue at the head.
    Resync,
    /// Maybe transient (the ring is missing while its producer restarts, the id's previous
    /// process is not judged dead yet, the join lock is held, ...): try again after a pause.
    Again,
    /// Give up: the consumer gets no further life and the campaign fails with `refused`.
    GiveUp,
}

/// See [`AttachRetry`]: never an endless loop of the same failing attach.
pub fn after_attach_error(kind: ErrorKind, resynced: bool, failures: u32) -> AttachRetry {
    match kind {
        _ if failures >= ATTACH_TRIES => AttachRetry::GiveUp,
        ErrorKind::Lapped | ErrorKind::Evicted if !resynced => AttachRetry::Resync,
        // A consumer that cannot resync can never continue after a declared gap.
        ErrorKind::Unsupported if resynced => AttachRetry::GiveUp,
        _ => AttachRetry::Again,
    }
}
