//! `ringproof-bench`: ringproof's cross-process speed, bracketed by raw shared-memory floors,
//! with its peers (disruptor-mp, iceoryx2, a Unix socket, a pipe) side by side.
//!
//! Each case runs floor, subject 1, floor, subject 2, ..., floor, repeated per bracket (one
//! process per side, each pinned to its own core) and reports subject / mean(adjacent floors)
//! per bracket: only ratios measured side by side mean anything on a machine whose two vCPUs
//! are sometimes close, sometimes far and sometimes one core's two hardware threads. See `scenario.rs` for what each scenario runs,
//! `schedule.rs` for the schedule, `stats.rs` for the ratios, `floors.rs` and `subjects.rs`
//! for the sides, `role.rs` for what a side is, `harness.rs` for the processes; the peers live in the crate
//! `ringproof-bench-peers` (their own binary, so this crate builds fast).
//!
//! ```text
//! ringproof-bench                         # everything (sizes 8..4096, all peers)
//! ringproof-bench --quick                 # about a minute
//! ringproof-bench --scenario pingpong-spin --json out.json --plot plots/
//! ringproof-bench --rt 10 --json out.json # shared machine: SCHED_FIFO children
//! ```
//!
//! On a machine other work shares, a spinning side that loses its core for a moment ruins a
//! run. Every child reports its involuntary context switches; a run with more than
//! `--max-preemptions` is repeated (`--attempts`), and without `--rt` each try first waits for
//! the machine to go quiet. `--rt` runs every side under SCHED_FIFO instead (root or
//! CAP_SYS_NICE), idling `--rt-cooldown` times each run's length afterwards so other work still
//! gets the CPUs.

pub mod child;
pub mod clock;
pub mod floor_futex;
pub mod floors;
pub mod front;
pub mod harness;
pub mod ladder;
pub mod launcher;
pub mod machine;
pub mod measure;
pub mod opts;
pub mod plan;
pub mod plot;
pub mod report;
pub mod role;
pub mod run;
pub mod scenario;
pub mod schedule;
pub mod shm;
pub mod signals;
pub mod stats;
pub mod subjects;
pub mod testee_registry;
pub mod testee_report;
pub mod testee_subject;

pub use child::run_role;
pub use front::orchestrate;
pub use launcher::Launcher;
pub use opts::Opts;
pub use role::{Kind, Peer, RoleArgs, Side};
