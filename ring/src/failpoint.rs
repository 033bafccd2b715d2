//! Crash points for chaos campaigns: a process armed with `RINGPROOF_FAILPOINT=POINT@N` kills
//! itself with SIGKILL the N-th time it passes `POINT`, so a campaign can crash a participant
//! at an exact step of the protocol instead of hoping a random signal lands there.
//!
//! Why this shape: the environment is read once, when a producer, consumer or segment is
//! built ([`arm_from_env`]), never on the hot path; an unarmed process pays one relaxed load of
//! a static `AtomicBool` per [`hit`], on a branch marked cold. Firing is a real crash
//! (`kill(getpid(), SIGKILL)`): no destructor, no unwinding, exactly what a power cut of that
//! process leaves behind.
//!
//! `POINT@N:sleep=MS` instead *stalls* the process for MS milliseconds at the N-th pass and then
//! lets it go on: a creator descheduled mid-creation (the race of issue 11 F3), made exact.
//!
//! Points (they are not wire behaviour, so SPEC.md does not list them; chaos/README.md does):
//!
//! | point | where |
//! |---|---|
//! | `producer.claimed` | a publish found room for its slots and is about to write them |
//! | `producer.written` | the slots are written, the producer cursor is not yet stored |
//! | `segment.create` | a new segment is sized and mapped, its header (magic) not yet written |
//! | `consumer.attach` | a consumer took its registry slot, its cursor is not yet live |
//! | `producer.close` | clean shutdown: the ring is marked CLOSED, its names not yet removed |
//! | `consumer.leave` | clean leave: the registry slot is freed, the cursor not yet removed |

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

/// The environment variable that arms a failpoint: `POINT@N` (N >= 1; `POINT` alone means 1),
/// optionally followed by `:sleep=MS` (stall MS milliseconds there instead of crashing).
pub const ENV: &str = "RINGPROOF_FAILPOINT";

/// What an armed failpoint does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// SIGKILL the process (the default).
    Kill,
    /// Sleep this many milliseconds, then continue.
    Sleep(u64),
}

/// Every point a process can be armed at.
pub const POINTS: &[&str] = &[
    "producer.claimed",
    "producer.written",
    "segment.create",
    "consumer.attach",
    "producer.close",
    "consumer.leave",
];

static ARMED: AtomicBool = AtomicBool::new(false);
static PASSES: AtomicU64 = AtomicU64::new(0);
static TARGET: OnceLock<Option<(String, u64, Action)>> = OnceLock::new();

/// Why a `RINGPROOF_FAILPOINT` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FailpointError {
    #[error("unknown failpoint {0:?}: use one of {POINTS:?}")]
    UnknownPoint(String),
    #[error("bad pass count in {0:?}: write POINT@N with N >= 1")]
    BadCount(String),
    #[error("bad action in {0:?}: write POINT@N:sleep=MS, or POINT@N to crash")]
    BadAction(String),
}

/// Parses `POINT@N[:sleep=MS]` (`POINT` alone means the first pass; no action means kill).
pub fn parse_action(spec: &str) -> Result<(String, u64, Action), FailpointError> {
    let (target, action) = match spec.split_once(':') {
        Some((t, a)) => {
            let ms = a
                .strip_prefix("sleep=")
                .and_then(|ms| ms.parse::<u64>().ok())
                .ok_or_else(|| FailpointError::BadAction(spec.to_owned()))?;
            (t, Action::Sleep(ms))
        }
        None => (spec, Action::Kill),
    };
    let (point, n) = parse(target)?;
    Ok((point, n, action))
}

/// Parses `POINT@N` (or `POINT`, meaning the first pass).
pub fn parse(spec: &str) -> Result<(String, u64), FailpointError> {
    let (point, n) = match spec.split_once('@') {
        Some((p, n)) => (
            p,
            n.parse::<u64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| FailpointError::BadCount(spec.to_owned()))?,
        ),
        None => (spec, 1),
    };
    if !POINTS.contains(&point) {
        return Err(FailpointError::UnknownPoint(point.to_owned()));
    }
    Ok((point.to_owned(), n))
}

/// Reads [`ENV`] once per process and arms the failpoint it names. A malformed value arms
/// nothing (a chaos harness validates what it sets; a typo must not crash production code).
pub fn arm_from_env() {
    TARGET.get_or_init(|| {
        let target = std::env::var(ENV).ok().and_then(|v| parse_action(&v).ok());
        if target.is_some() {
            ARMED.store(true, Ordering::Relaxed);
        }
        target
    });
}

/// Marks a crash point. Unarmed: one relaxed load.
#[inline(always)]
pub fn hit(point: &'static str) {
    if ARMED.load(Ordering::Relaxed) {
        hit_armed(point);
    }
}

#[cold]
#[inline(never)]
fn hit_armed(point: &'static str) {
    let Some(Some((target, n, action))) = TARGET.get() else {
        return;
    };
    if target == point && PASSES.fetch_add(1, Ordering::Relaxed) + 1 == *n {
        match action {
            // Our own process; SIGKILL cannot be caught, so this never returns.
            Action::Kill => {
                let _ = rustix::process::kill_process(
                    rustix::process::getpid(),
                    rustix::process::Signal::KILL,
                );
            }
            // A stall on purpose: what a descheduled or swapped-out process does at this step.
            Action::Sleep(ms) => std::thread::sleep(std::time::Duration::from_millis(*ms)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_points_and_counts() {
        assert_eq!(
            parse("producer.written@1000"),
            Ok(("producer.written".into(), 1000))
        );
        assert_eq!(parse("consumer.attach"), Ok(("consumer.attach".into(), 1)));
        assert_eq!(
            parse("producer.nowhere@1"),
            Err(FailpointError::UnknownPoint("producer.nowhere".into()))
        );
        assert_eq!(
            parse("segment.create@0"),
            Err(FailpointError::BadCount("segment.create@0".into()))
        );
        assert_eq!(
            parse("segment.create@x"),
            Err(FailpointError::BadCount("segment.create@x".into()))
        );
        assert_eq!(
            parse_action("segment.create@2:sleep=600"),
            Ok(("segment.create".into(), 2, Action::Sleep(600)))
        );
        assert_eq!(
            parse_action("segment.create@2"),
            Ok(("segment.create".into(), 2, Action::Kill))
        );
        assert_eq!(
            parse_action("segment.create:nap=1"),
            Err(FailpointError::BadAction("segment.create:nap=1".into()))
        );
    }

    #[test]
    fn unarmed_hit_does_nothing() {
        // The test process has no RINGPROOF_FAILPOINT: passing every point must return.
        for p in POINTS {
            hit(p);
        }
    }
}
