//! Hostile joins (issue 11, F1, F2, F16): two consumers racing for one id, consumer ids and ring
//! names whose shm cursor name is another ring's segment, and cursor values no participant
//! writes. Each test runs real `ringproof` processes against each other (or against segments
//! crafted in the test process) and checks, with TP1 payloads, that no consumer is handed an
//! event that was never published or was overwritten, and that the refused participant gets a
//! typed error and touches nothing that is not its own.
//!
//! Synchronisation is by condition only: a producer waiting for its consumers, a cursor reaching
//! a value, a process exiting.
//!
//! Linux only (`/dev/shm`).

#![cfg(target_os = "linux")]

mod alias;
mod cursor_values;
mod join_lock;
mod same_id;

#[path = "../common/mod.rs"]
mod common;

use common::*;
use ringproof::kit::cursor::Cursor;
use ringproof::kit::layout::cursor::JOINED;
use ringproof::kit::registry::Registry;
use ringproof::kit::segment::identity_of;
use ringproof::ProducerBuilder;
use std::sync::atomic::Ordering;
use std::time::Instant;

const SIZE: &str = "64";

/// Whether consumer `id`'s join handshake completed (its cursor says so, SPEC.md §5): from then
/// on, whatever is published is delivered to it.
fn joined(ring: &Ring, id: &str) -> bool {
    ring.open_consumer_cursor(id)
        .is_some_and(|c| c.cell().joined.load(Ordering::Acquire) == JOINED)
}

/// A consumer run until the ring closed (no `--events`): it may start after 0 (a fresh joiner
/// starts after what the producer published while counting it, SPEC.md §7.3 step 5), but must
/// see every event from there to the last, intact.
fn expect_clean_to_close(out: &Output, last: i64) {
    out.expect_code(0);
    assert_eq!(
        (out.u64("payload_errors"), out.u64("out_of_order")),
        (0, 0),
        "{}",
        out.describe()
    );
    assert_eq!(out.i64("closed_at"), last, "{}", out.describe());
    if out.u64("consumed") > 0 {
        assert_eq!(out.i64("last_seq"), last, "{}", out.describe());
    }
}
