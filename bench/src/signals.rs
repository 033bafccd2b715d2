//! SIGINT, SIGTERM and the per-run SIGALRM deadline: handlers that only record the signal,
//! so that it interrupts the orchestrator's `waitpid` and the run stops after cleaning up.

use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
use std::sync::atomic::{AtomicI32, Ordering};

static SIGNALLED: AtomicI32 = AtomicI32::new(0);
/// The first SIGINT/SIGTERM (a later SIGALRM does not hide it).
static STOPPED_BY: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNALLED.store(sig, Ordering::SeqCst);
    if sig != libc::SIGALRM {
        let _ = STOPPED_BY.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    }
}

/// The SIGINT or SIGTERM that interrupted the run, if one did (the run exits 128 + it).
pub fn interrupting_signal() -> Option<i32> {
    Some(STOPPED_BY.load(Ordering::SeqCst)).filter(|s| *s != 0)
}

/// Installs SIGINT/SIGTERM/SIGALRM handlers without SA_RESTART, so they interrupt `waitpid`.
/// Children get default dispositions back at exec.
pub fn install_signal_handlers() {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGALRM] {
        // SAFETY: the handler only stores to an atomic (async-signal-safe).
        unsafe { signal::sigaction(sig, &action) }.expect("sigaction");
    }
}

/// SIGINT or SIGTERM arrived (the run should stop after cleaning up).
pub fn interrupted() -> bool {
    interrupting_signal().is_some()
}

/// The last signal that arrived (SIGALRM included), 0 if none since [`clear_signalled`].
pub(crate) fn signalled() -> i32 {
    SIGNALLED.load(Ordering::SeqCst)
}

/// Forgets the last signal (after a SIGALRM deadline was handled).
pub(crate) fn clear_signalled() {
    SIGNALLED.store(0, Ordering::SeqCst);
}
