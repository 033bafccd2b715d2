//! The liveness action, one type for the protocol, the CLI flags and chaos campaigns.

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

/// What a producer does about a stalled or dead required consumer (SPEC.md §7.10), by the
/// names the protocol (`required.action`), the `--action` flags and chaos campaigns use:
/// `shutdown` fails the blocked publish, `alert` only raises the alert and keeps gating, and
/// `evict` stops gating on the consumer, which learns it was evicted. One type for all of
/// them, so an unknown name is refused where it is read (by serde, clap or [`str::parse`])
/// instead of falling through a string match. Into the ring's own type with [`From`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum LivenessAction {
    // Plain comments, not doc comments: clap would turn those into per-value help and change
    // the flags' `--help` text.
    // `ringproof::LivenessAction::GracefulShutdown`.
    Shutdown,
    // `ringproof::LivenessAction::AlertOnly`.
    Alert,
    // `ringproof::LivenessAction::Evict`.
    Evict,
}

impl LivenessAction {
    /// Every action, in the order the flags list them.
    pub const ALL: [LivenessAction; 3] = [
        LivenessAction::Shutdown,
        LivenessAction::Alert,
        LivenessAction::Evict,
    ];

    /// The wire name (`shutdown`, `alert`, `evict`).
    pub fn as_str(self) -> &'static str {
        match self {
            LivenessAction::Shutdown => "shutdown",
            LivenessAction::Alert => "alert",
            LivenessAction::Evict => "evict",
        }
    }
}

impl std::fmt::Display for LivenessAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a liveness action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown liveness action {0:?} (expected shutdown, alert or evict)")]
pub struct UnknownLivenessAction(pub String);

impl std::str::FromStr for LivenessAction {
    type Err = UnknownLivenessAction;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LivenessAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownLivenessAction(s.to_owned()))
    }
}

impl From<LivenessAction> for ringproof::LivenessAction {
    fn from(a: LivenessAction) -> Self {
        match a {
            LivenessAction::Shutdown => ringproof::LivenessAction::GracefulShutdown,
            LivenessAction::Alert => ringproof::LivenessAction::AlertOnly,
            LivenessAction::Evict => ringproof::LivenessAction::Evict,
        }
    }
}

#[cfg(test)]
mod liveness_action_tests {
    use super::LivenessAction;
    use clap::ValueEnum;

    #[test]
    fn one_name_per_action_on_the_wire_the_command_line_and_in_text() {
        for a in LivenessAction::ALL {
            let wire = serde_json::to_string(&a).unwrap();
            assert_eq!(wire, format!("\"{}\"", a.as_str()));
            assert_eq!(serde_json::from_str::<LivenessAction>(&wire).unwrap(), a);
            assert_eq!(a.to_possible_value().unwrap().get_name(), a.as_str());
            assert_eq!(a.as_str().parse::<LivenessAction>(), Ok(a));
            assert_eq!(a.to_string(), a.as_str());
        }
        assert_eq!(
            LivenessAction::value_variants()
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>(),
            ["shutdown", "alert", "evict"]
        );
    }

    #[test]
    fn an_unknown_action_is_refused_not_defaulted() {
        assert!("graceful".parse::<LivenessAction>().is_err());
        assert!(serde_json::from_str::<LivenessAction>("\"Alert\"").is_err());
        assert!(LivenessAction::from_str("bogus", false).is_err());
    }

    #[test]
    fn each_action_is_the_rings_own() {
        use ringproof::LivenessAction as Ring;
        assert_eq!(Ring::from(LivenessAction::Shutdown), Ring::GracefulShutdown);
        assert_eq!(Ring::from(LivenessAction::Alert), Ring::AlertOnly);
        assert_eq!(Ring::from(LivenessAction::Evict), Ring::Evict);
    }
}
