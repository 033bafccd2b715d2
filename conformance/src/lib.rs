//! ringproof's conformance harness: drives testee processes through the protocol of
//! PROTOCOL.md, runs the case catalogue over the interop matrix, and judges from what testees
//! report and from the segments themselves.
//!
//! - [`protocol`], [`schema`]: the messages and the JSON Schema every line is checked against.
//! - [`driver`]: starting testees and talking to them.
//! - [`cases`], [`ctx`]: the catalogue and what a case can do; [`coverage`]: which SPEC.md
//!   rule each case checks (conformance/COVERAGE.md).
//! - [`runner`], [`expected`], [`report`]: the matrix, expected failures, and output.
//! - [`explore`]: model-based exploration of random lifecycles (`conform --explore`).
//! - `mutants` (feature `mutants`): planted defects and the catalogue's mutation score.
//! - [`serve`], [`testee_io`]: the command loop every Rust testee runs, and its building
//!   blocks (message output, progress cadence, `events` reporter).
//! - [`testee_ref`]: the reference testee (ringproof behind the protocol).
//! - [`testee_bench`]: the `bench` capability's clocks, histogram encoding and the ringproof
//!   ping-pong loops the bench and the reference testee share.

pub mod cases;
pub mod coverage;
pub mod ctx;
pub mod driver;
pub mod expected;
pub mod explore;
#[cfg(feature = "mutants")]
pub mod mutants;
pub mod protocol;
pub mod report;
pub mod runner;
pub mod schema;
pub mod serve;
pub mod testee_bench;
pub mod testee_io;
pub mod testee_ref;
