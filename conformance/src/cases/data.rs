//! Cases about the data path and the bytes: layouts, payloads, gating, batches, waiting, rejects.
//!
//! Helpers shared by every case live in the parent module (`super::*`).

#[allow(unused_imports)]
use super::*;

pub(super) fn cases() -> Vec<Case> {
    vec![]
}
