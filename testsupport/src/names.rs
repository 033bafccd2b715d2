//! Ring names unique to one test of one test process.

use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// `{prefix}{pid}x{n}_{tag}`, `n` counting the calls in this process. `x` after the pid and `_`
/// after the counter: no name made here is a prefix of another's, so a prefix scan of
/// `/dev/shm` (see [`crate::leftovers`]) finds one test's segments and nobody else's.
pub fn unique_name(prefix: &str, tag: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("{prefix}{}x{n}_{tag}", std::process::id())
}
