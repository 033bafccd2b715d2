//! The ring's lifecycle through the library alone, no CLI binary: publish and read (typed and
//! raw, single, batch, claim, lease), join, leave and re-join, eviction, producer restart and
//! close. Consumers run in threads of the test process; where a participant must die (no
//! destructor, its registry slot left behind), it is this test binary re-spawned as a child
//! process ([`roles`]).
//!
//! Every event carries the TP1 payload (`ringproof::kit::payload`) and every read verifies it; every
//! test runs on its own ring names and ends by asserting that nothing of them is left in
//! /dev/shm. Synchronisation is a condition (a consumer count, a cursor, a child's exit), never
//! a sleep.
// Maps segments and spawns processes: nothing here runs under `--cfg loom`
// (`ci/test` builds only `loom_protocol` that way).
#![cfg(not(loom))]

mod beats;
mod close;
mod common;
mod counting;
mod eviction;
mod join;
mod parked;
mod publish_read;
mod restart;
mod roles;
