//! The fault executor: carries out one scheduled fault on the live process of its target
//! (SIGKILL, SIGSTOP then SIGCONT, a failpoint armed for the next start) and records it.

use crate::history::{monotonic_ns, FaultRecord};
use crate::schedule::{Fault, Target};
use crate::shared::Shared;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Carries out one fault. A stop returns at once; the SIGCONT comes from the returned thread
/// after the hold (so a campaign's pace does not depend on how long its stops last).
pub(crate) fn inject(
    shared: &Arc<Shared>,
    index: usize,
    fault: &Fault,
) -> (FaultRecord, Option<std::thread::JoinHandle<()>>) {
    let slot = shared.slot(fault.target());
    let mut rec = FaultRecord {
        index,
        fault: fault.clone(),
        at_ns: None,
        pid: None,
        skipped: None,
    };
    if let Fault::Failpoint {
        target: Target::Consumer(_),
        point,
        pass,
    } = fault
    {
        if point == "segment.create" {
            // A fresh cursor: the consumer leaves cleanly, then starts again armed.
            *slot.arm.lock().expect("arm") = Some(format!("{point}@{pass}"));
            slot.recycle.store(true, Ordering::SeqCst);
            rec.at_ns = Some(monotonic_ns());
            return (rec, None);
        }
    }
    // The pid lock is held while arming and signalling, so the participant's thread, which
    // clears the pid under the same lock before judging a death, never misreads whose it was.
    let guard = slot.pid.lock().expect("pid");
    let Some(pid) = *guard else {
        rec.skipped = Some(format!("{} was restarting", fault.target().label()));
        return (rec, None);
    };
    rec.pid = Some(pid);
    let signal = |sig| {
        // SAFETY: signalling a child this harness started and has not reaped.
        unsafe { libc::kill(pid as libc::pid_t, sig) }
    };
    match fault {
        Fault::Kill {
            restart_after_ms, ..
        } => {
            slot.restart_after_ms
                .store(*restart_after_ms, Ordering::SeqCst);
            slot.killed.store(true, Ordering::SeqCst);
            rec.at_ns = Some(monotonic_ns());
            signal(libc::SIGKILL);
        }
        Fault::Failpoint { point, pass, .. } => {
            *slot.arm.lock().expect("arm") = Some(format!("{point}@{pass}"));
            slot.restart_after_ms.store(20, Ordering::SeqCst);
            slot.killed.store(true, Ordering::SeqCst);
            rec.at_ns = Some(monotonic_ns());
            signal(libc::SIGKILL);
        }
        Fault::Stop { hold_ms, target } => {
            rec.at_ns = Some(monotonic_ns());
            signal(libc::SIGSTOP);
            drop(guard);
            let (shared, target, hold) =
                (Arc::clone(shared), *target, Duration::from_millis(*hold_ms));
            let resume = std::thread::spawn(move || {
                std::thread::sleep(hold);
                // Only if it is still the process we stopped (a kill may have replaced it).
                let guard = shared.slot(target).pid.lock().expect("pid");
                if *guard == Some(pid) {
                    // SAFETY: as above; the pid is still our unreaped child.
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGCONT) };
                }
            });
            return (rec, Some(resume));
        }
    }
    (rec, None)
}
