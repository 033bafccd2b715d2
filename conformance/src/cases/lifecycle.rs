//! Cases about lifecycles: joins and re-joins, leaves, liveness, required consumers, restarts, the registry.
//!
//! Helpers shared by every case live in the parent module (`super::*`).

#[allow(unused_imports)]
use super::*;

pub(super) fn cases() -> Vec<Case> {
    vec![]
}
