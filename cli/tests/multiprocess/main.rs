//! Multi-process tests of the reference ring: `ringproof produce` and `ringproof consume` run
//! as separate OS processes over POSIX shm and over mmap'd files, and the tests judge them by
//! their exit codes and JSON lines. Payload integrity is checked inside the consumer processes
//! (TP1 payload: sequence, body words, checksum), so a slot overwritten before it was consumed
//! shows up as `payload_errors` / `out_of_order`.
//!
//! Where a test needs the stream held at a precise point it attaches a consumer inside the test
//! process (a "gate", see `Ring::attach_gate`): the producer may run at most one ring ahead of
//! the gate's cursor, so "the producer has published part of the stream and is stuck at X" is a
//! condition the test can wait for, never a matter of timing. Every test ends with the
//! [`Fixture`] guard: nothing of the test may be left in /dev/shm or its mmap directory.

mod config;
mod foreign;
mod gating;
mod join_restart;
mod refusals;
mod shutdown;
mod spsc;

#[path = "../common/mod.rs"]
mod common;

use common::*;
use serde_json::Value;

const TIMEOUT: &str = PRODUCER_TIMEOUT_MS;
