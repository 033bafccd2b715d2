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
//!
//! A campaign is a [`config::Config`] run by [`campaign::run`]: its participants' threads live in
//! `producer.rs` and `consumer.rs`, the fault executor in `faults.rs`, the attach retry policy in
//! [`attach`]; the checker's conclusions are [`verdict`] types, shown by [`report`].

pub mod attach;
pub mod campaign;
pub mod checker;
pub mod config;
mod consumer;
mod faults;
pub mod history;
mod producer;
pub mod regression;
pub mod report;
pub mod schedule;
pub mod shard;
mod shared;
pub mod verdict;

pub use campaign::{run, ChaosError, Config, Outcome, Progress};
pub use checker::check;
pub use history::History;
pub use shard::{RunResult, Shard};
pub use verdict::{Verdict, Violation};
