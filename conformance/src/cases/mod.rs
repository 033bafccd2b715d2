//! The case catalogue: one function per rule of SPEC.md that a testee can exhibit.
//!
//! Every case states its rule in one line (taken from SPEC.md), its level, which roles it
//! involves (so the runner knows which pairings to build), the capabilities it needs, and its
//! time budget. The harness owns every expectation: payload integrity and order are judged from
//! the digests consumers report, layouts and cursors by reading the segments directly.
//!
//! One file per concept; each gives its cases in report order (`cases()`), and [`catalogue`]
//! puts the files in order. Helpers the files share are in `support.rs`; every case file takes
//! them, the case types and the common imports with `use super::*`.

use crate::ctx::{check_delivery, fail, CaseError, Ctx};
use crate::protocol::{Backend, Command, ErrorKind, Mode, Wait};
use ringproof::kit::layout::{
    self, cursor::CURSOR_SEGMENT_SIZE, Expect, LayoutHeader, SegmentKind, HEADER_SIZE,
};
use std::time::{Duration, Instant};
use support::*;

pub use support::header_diff;

mod compat;
mod counters;
mod data;
mod delivery;
mod header;
mod lifecycle;
mod names;
mod participants;
mod registry;
mod reject;
mod segments;
mod sized;
mod support;
mod wake;

/// Must pass, or may be tolerated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Required,
    Recommended,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Required => "required",
            Level::Recommended => "recommended",
        }
    }
}

/// Which implementations a case exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roles {
    /// Only producers (runs once per producer implementation).
    Producer,
    /// Only consumers, over segments the harness writes (once per consumer implementation).
    Consumer,
    /// A producer and consumers (once per producer x consumer pairing).
    Pair,
}

/// One rule, checked.
pub struct Case {
    pub id: &'static str,
    pub level: Level,
    pub roles: Roles,
    pub producer_needs: &'static [&'static str],
    pub consumer_needs: &'static [&'static str],
    pub timeout: Duration,
    pub spec: &'static str,
    /// The SPEC.md rule ids this case checks (`R7.3.5` = §7.3 step 5; see SPEC.md §1 for the
    /// scheme). `ringproof conform --coverage` builds conformance/COVERAGE.md from these.
    pub rules: &'static [&'static str],
    pub rule: &'static str,
    pub run: fn(&mut Ctx) -> Result<(), CaseError>,
}

const SIZE: u64 = 64;
const SECS: fn(u64) -> Duration = Duration::from_secs;

/// The catalogue, in report order: the files in this order, each file's cases in its own order
/// (`--list`, the reports and the expected-failure lists show them so; keep it stable).
pub fn catalogue() -> Vec<Case> {
    [
        segments::cases,
        delivery::cases,
        participants::cases,
        reject::cases,
        data::cases,
        wake::cases,
        counters::cases,
        sized::cases,
        lifecycle::cases,
        names::cases,
        registry::cases,
        compat::cases,
        header::cases,
    ]
    .iter()
    .flat_map(|cases| cases())
    .collect()
}
