//! How the campaign answers a failed `attach_consumer` (PROTOCOL.md, "How the harness reacts"):
//! a declared gap is resynced, anything else retried a bounded number of times. An outside
//! testee that reported an eviction as `other` once had the same attach re-sent 325 times.

use ringproof_chaos::campaign::{after_attach_error, AttachRetry, ATTACH_TRIES};
use ringproof_conformance::protocol::ErrorKind;

#[test]
fn a_declared_gap_is_answered_with_a_resync() {
    assert_eq!(
        after_attach_error(ErrorKind::Lapped, false, 1),
        AttachRetry::Resync
    );
    assert_eq!(
        after_attach_error(ErrorKind::Evicted, false, 1),
        AttachRetry::Resync
    );
    // Refused again although it asked to resync: retried, but not forever.
    assert_eq!(
        after_attach_error(ErrorKind::Evicted, true, 2),
        AttachRetry::Again
    );
}

#[test]
fn a_consumer_that_cannot_resync_is_given_up_at_once() {
    assert_eq!(
        after_attach_error(ErrorKind::Unsupported, true, 2),
        AttachRetry::GiveUp
    );
}

#[test]
fn a_failing_attach_is_retried_a_bounded_number_of_times() {
    for kind in [
        ErrorKind::Other,
        ErrorKind::NotFound,
        ErrorKind::IdInUse,
        ErrorKind::Timeout,
        ErrorKind::Layout,
    ] {
        assert_eq!(
            after_attach_error(kind, false, 1),
            AttachRetry::Again,
            "{kind:?}"
        );
        assert_eq!(
            after_attach_error(kind, true, ATTACH_TRIES - 1),
            AttachRetry::Again,
            "{kind:?}"
        );
        assert_eq!(
            after_attach_error(kind, true, ATTACH_TRIES),
            AttachRetry::GiveUp,
            "{kind:?}"
        );
    }
    assert_eq!(
        after_attach_error(ErrorKind::Lapped, false, ATTACH_TRIES),
        AttachRetry::GiveUp
    );
}
