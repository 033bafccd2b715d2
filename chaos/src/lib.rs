//! # ringproof-chaos
//!
//! Chaos campaigns against any ring implementation with a conformance testee
//! (conformance/PROTOCOL.md): one producer and K consumers in separate processes, SIGKILLed at
//! random moments, crashed at exact protocol steps through failpoints (the reference
//! implementation's `RINGPROOF_FAILPOINT`, see `ringproof::kit::failpoint`), SIGSTOPped past their
//! liveness timeouts, and restarted under the same ids. A heal phase then requires every
//! consumer to reach the final sequence. The [`checker`] judges the recorded [`history`]:
//! lost, duplicated, torn and reordered events, hangs, leaked segments and late dead-peer
//! detection. Every campaign is [`schedule`]d from a seed, so a failing seed replays the same
//! faults. The library never prints; `ringproof chaos` is the front end.

pub mod campaign;
pub mod checker;
pub mod history;
pub mod regression;
pub mod report;
pub mod schedule;
pub mod shard;

pub use campaign::{run, ChaosError, Config, Outcome, Progress};
pub use checker::{check, Verdict, Violation};
pub use history::History;
pub use shard::{RunResult, Shard};
