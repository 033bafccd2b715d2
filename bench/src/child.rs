//! The child's side of a run: the hidden `role` subcommand pins itself, runs one side of a
//! floor or a ringproof subject (or hands a peer kind to the peers binary), and prints one
//! JSON line for the orchestrator.

use crate::ladder::{self, Rung};
use crate::launcher::PEERS_BIN;
use crate::role::{Kind, RoleArgs};
use crate::{clock, floor_futex, floors, subjects};
use ringproof::WaitStrategy;
use serde_json::{json, Value};
use std::process::ExitCode;

/// Runs a peer kind's side (what `ringproof-bench-peers` supplies).
pub type PeerRunner = fn(&RoleArgs) -> Result<Value, String>;

/// Entry point of a child: pin, run one side, print one JSON line. Peer kinds go to `peers`
/// (None in a binary without them: an error naming the binary that has them).
pub fn run_role(a: RoleArgs, peers: Option<PeerRunner>) -> ExitCode {
    let pinned = a.cpu.map(clock::pin);
    let rt = a.rt_priority.map(clock::set_fifo);
    let usage = crate::measure::Usage::now();
    let result = if a.size == 0 || (a.size / 8) * 8 != a.size {
        Err(format!("--size {} is not a positive multiple of 8", a.size))
    } else {
        match a.kind {
            Kind::FloorStream => floors::stream(&a),
            Kind::FloorStreamPerEvent => floors::stream(&RoleArgs {
                batch: 1,
                ..a.clone()
            }),
            Kind::FloorRingPing => ladder::ring_ping(&a, Rung::TwoLine),
            Kind::FloorRingPingTouch => ladder::ring_ping(&a, Rung::Touch),
            Kind::FloorRingPingWaiter => ladder::ring_ping(&a, Rung::Waiter),
            Kind::FloorRingPingCounters => ladder::ring_ping(&a, Rung::Counters),
            Kind::FloorRingPingLiveness => ladder::ring_ping(&a, Rung::Liveness),
            Kind::FloorRingPingCommit => ladder::ring_ping(&a, Rung::Commit),
            Kind::FloorPing => floors::ping(&a),
            Kind::FloorFutex => floor_futex::futex(&a),
            Kind::RpStreamSingle => subjects::stream(&a, subjects::Publish::Single),
            Kind::RpStreamBatch => subjects::stream(&a, subjects::Publish::Batch),
            Kind::RpStreamCoalesced => subjects::stream(&a, subjects::Publish::Coalesced),
            Kind::RpStreamSingleBackoff => subjects::stream(&a, subjects::Publish::SingleBackoff),
            Kind::RpStreamBatchNoCounters => {
                subjects::stream(&a, subjects::Publish::BatchNoCounters)
            }
            Kind::RpStreamSingleNoCounters => {
                subjects::stream(&a, subjects::Publish::SingleNoCounters)
            }
            Kind::RpPingSpin => subjects::ping(&a, WaitStrategy::BusySpin, true),
            Kind::RpPingSpinNoCounters => subjects::ping(&a, WaitStrategy::BusySpin, false),
            Kind::RpPingBlocking => subjects::ping(&a, WaitStrategy::blocking(), true),
            k => match peers {
                Some(run) => run(&a),
                None => Err(format!(
                    "{} is a peer: it runs in {PEERS_BIN}, not in this binary",
                    k.name()
                )),
            },
        }
    };
    match result {
        Ok(r) => {
            println!(
                "{}",
                json!({ "cpu": a.cpu, "pinned": pinned, "rt": rt, "usage": usage.since(), "result": r })
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ringproof-bench role {:?}/{:?}: {e}", a.kind, a.side);
            ExitCode::FAILURE
        }
    }
}
