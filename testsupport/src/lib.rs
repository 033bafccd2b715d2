//! What every ringproof test that runs processes needs, once: unique ring names, child
//! processes that are killed and reaped when dropped and waited for with a deadline, their
//! captured output, condition waits with a deadline, `/dev/shm` and temp-directory leftover
//! scans, and the state of a process as `/proc/PID/stat` shows it.
//!
//! Dev-only (`publish = false`) and free of ringproof itself: every crate of the workspace
//! can take it as a dev-dependency without a cycle. What is specific to one crate (the path of
//! its binary, the JSON its processes print) stays in that crate's `tests/common`.

pub mod child;
pub mod leftovers;
pub mod names;
pub mod procstat;
pub mod serial;
pub mod wait;

pub use child::{Captured, Child, TimedOut};
pub use leftovers::{
    assert_no_shm, remove_shm, shm_and_temp, shm_leftovers, shm_names, shm_path, shm_segments_of,
    temp_names, tree, TempDir,
};
pub use names::unique_name;
pub use procstat::{proc_stat, ProcStat};
pub use serial::serial;
pub use wait::{poll_until, POLL};
