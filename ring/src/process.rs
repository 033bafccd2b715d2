//! Who a process is, in a way pid reuse cannot fake: its pid plus its start time; and whether
//! it still runs, as a verdict that can say "cannot tell" (SPEC.md §6.2).

use std::sync::atomic::{AtomicU64, Ordering};

/// What a look at another process found. Only positive evidence of death is [`Dead`]: a look
/// that could not be made (out of file descriptors, no permission, an unreadable `/proc`) is
/// [`Unknown`], and every caller that would remove, retire, evict or reap on a verdict treats
/// it as alive. A false "alive" only delays; a false "dead" hands a live consumer's slots to
/// the producer, which overwrites events it has not read.
///
/// [`Dead`]: Liveness::Dead
/// [`Unknown`]: Liveness::Unknown
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Alive,
    Dead,
    Unknown,
}

impl Liveness {
    /// Alive or unknown: the verdict every destructive decision must respect.
    pub fn maybe_alive(self) -> bool {
        self != Liveness::Dead
    }
}

/// This process's pid.
pub fn own_pid() -> u32 {
    std::process::id()
}

/// What `/proc/PID/stat` says: its start time and whether it is a zombie.
///
/// Parsed by hand ([`read_stat`]), not with the `procfs` crate: two fields of one line need a
/// dozen lines, while `procfs` (not otherwise a dependency) would bring its own dependency tree
/// into a crate every participant links, and its parse errors do not tell "no such process"
/// (positive evidence of death) from "cannot read" ([`Liveness::Unknown`]), which this
/// distinction depends on.
enum Stat {
    Found { start_time: u64, zombie: bool },
    NoSuchProcess,
    Unreadable,
}

fn read_stat(pid: u32) -> Stat {
    let stat = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ESRCH)) => {
            return Stat::NoSuchProcess
        }
        Err(_) => return Stat::Unreadable,
    };
    // The command name (field 2) is parenthesised and may hold spaces or ')': skip past the
    // last ')' and count from there; field 3 (the state) is the first after it.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return Stat::Unreadable;
    };
    let mut fields = rest.split_whitespace();
    let zombie = fields.next() == Some("Z");
    match fields.nth(18).and_then(|f| f.parse().ok()) {
        Some(start_time) => Stat::Found { start_time, zombie },
        None => Stat::Unreadable,
    }
}

/// The start time of `pid` in clock ticks since boot (`/proc/PID/stat` field 22), or `None`
/// if no such process exists or it cannot be read.
pub fn start_time(pid: u32) -> Option<u64> {
    match read_stat(pid) {
        Stat::Found { start_time, .. } => Some(start_time),
        _ => None,
    }
}

/// This process's start time. Read once (while file descriptors are to be had) and kept: it
/// never changes, and an owner word written with a wrong one would make this process look dead.
pub fn own_start_time() -> u64 {
    // (pid, start): a forked child has another pid and must not inherit its parent's value.
    static OWN: AtomicU64 = AtomicU64::new(0);
    static OWN_PID: AtomicU64 = AtomicU64::new(0);
    let pid = own_pid();
    if OWN_PID.load(Ordering::Acquire) == u64::from(pid) {
        return OWN.load(Ordering::Relaxed);
    }
    let t = start_time(pid).unwrap_or(0);
    if t != 0 {
        OWN.store(t, Ordering::Relaxed);
        OWN_PID.store(u64::from(pid), Ordering::Release);
    }
    t
}

/// Whether the process identified by `pid` and the low 32 bits of its start time still runs.
/// Dead only on proof: no such process (`kill(pid, 0)` fails with `ESRCH`), another start
/// time in `/proc/PID/stat` (the pid was reused), or a zombie (it will never touch the ring
/// again). Anything else (`/proc` unreadable: `EMFILE`, `ENFILE`, `EACCES`, ...) is
/// [`Liveness::Unknown`].
pub fn liveness(pid: u32, start_time_low: u32) -> Liveness {
    if pid == 0 {
        return Liveness::Dead;
    }
    match read_stat(pid) {
        Stat::Found { start_time, zombie } => {
            if start_time as u32 != start_time_low || zombie {
                Liveness::Dead
            } else {
                Liveness::Alive
            }
        }
        Stat::NoSuchProcess | Stat::Unreadable => signal_liveness(pid),
    }
}

/// The verdict when `/proc` says no such process, or could not be read: `kill(pid, 0)` needs no
/// file descriptor and sees the pid whatever `/proc` is mounted for; only its `ESRCH` proves
/// the pid is gone.
fn signal_liveness(pid: u32) -> Liveness {
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    if r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
        Liveness::Dead
    } else {
        Liveness::Unknown
    }
}

/// Whether `pid` runs, whatever its start time (for names that carry only a pid, such as a
/// file segment's temporary): dead only if it is a zombie or `kill(pid, 0)` says `ESRCH`.
pub fn pid_liveness(pid: u32) -> Liveness {
    if pid == 0 {
        return Liveness::Dead;
    }
    match read_stat(pid) {
        Stat::Found { zombie: true, .. } => Liveness::Dead,
        Stat::Found { .. } => Liveness::Alive,
        Stat::NoSuchProcess | Stat::Unreadable => signal_liveness(pid),
    }
}

/// The inode of this process's pid namespace (`/proc/self/ns/pid`), or 0 if unknown. Two
/// processes can judge each other by pid only when these are equal. Kept once read; a failed
/// read (out of file descriptors) is retried next time rather than remembered.
pub fn own_pid_ns() -> u64 {
    use std::os::unix::fs::MetadataExt;
    static NS: AtomicU64 = AtomicU64::new(0);
    let ns = NS.load(Ordering::Relaxed);
    if ns != 0 {
        return ns;
    }
    let ns = std::fs::metadata("/proc/self/ns/pid")
        .map(|m| m.ino())
        .unwrap_or(0);
    NS.store(ns, Ordering::Relaxed);
    ns
}

/// How stale a heartbeat may be before a participant in another pid namespace counts as dead.
pub const HEARTBEAT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
/// How far ahead of the reader's clock a heartbeat may be and still be trusted (stores race
/// reads by nanoseconds; anything beyond this comes from a wrong clock or a hostile peer).
pub const HEARTBEAT_AHEAD: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether a participant runs: by pid and start time when it shares our pid namespace (or its
/// namespace is unknown), else by its heartbeat (SPEC.md §6.2, §7.10).
pub fn participant_liveness(owner: u64, pid_ns: u64, heartbeat_ns: u64) -> Liveness {
    if owner == 0 {
        return Liveness::Dead;
    }
    if pid_ns == 0 || pid_ns == own_pid_ns() {
        return liveness(owner as u32, (owner >> 32) as u32);
    }
    heartbeat_liveness(boottime_ns(), heartbeat_ns)
}

/// A heartbeat's verdict at `now` (both on the clock of [`boottime_ns`]): fresh is alive, stale
/// is dead, and one from the future is not trusted (dead): a peer whose clock runs ahead (a
/// time namespace not corrected for, a hostile writer) would otherwise stay alive forever.
pub fn heartbeat_liveness(now: u64, heartbeat_ns: u64) -> Liveness {
    let fresh = if heartbeat_ns > now {
        heartbeat_ns - now <= HEARTBEAT_AHEAD.as_nanos() as u64
    } else {
        now - heartbeat_ns <= HEARTBEAT_TIMEOUT.as_nanos() as u64
    };
    if fresh {
        Liveness::Alive
    } else {
        Liveness::Dead
    }
}

/// Nanoseconds on the **initial time namespace's** `CLOCK_BOOTTIME`: this process's
/// `CLOCK_BOOTTIME` minus its time namespace's boottime offset (`/proc/self/timens_offsets`).
/// `CLOCK_BOOTTIME` counts suspend and is the same for every process of the machine, except
/// that a time namespace shifts it by a fixed offset; taking the offset out makes heartbeats
/// written in one namespace comparable in any other (SPEC.md §6.2).
pub fn boottime_ns() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    let own = i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec);
    (own - i128::from(boottime_offset_ns())).clamp(0, i128::from(u64::MAX)) as u64
}

/// This process's time namespace boottime offset in ns (0 in the initial namespace, or where
/// the kernel has no time namespaces). A namespace's offsets are fixed before any process
/// enters it, so it is read once; a failed read (out of file descriptors) is retried next time.
pub fn boottime_offset_ns() -> i64 {
    static OFFSET: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    if let Some(o) = OFFSET.get() {
        return *o;
    }
    match std::fs::read_to_string("/proc/self/timens_offsets") {
        Ok(s) => *OFFSET.get_or_init(|| parse_boottime_offset(&s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => *OFFSET.get_or_init(|| 0),
        Err(_) => 0,
    }
}

/// The boottime line of `/proc/PID/timens_offsets` ("boottime <secs> <nanos>"; the clock may
/// also be given by its id, 7), in ns.
fn parse_boottime_offset(s: &str) -> i64 {
    s.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let clock = f.next()?;
            if clock != "boottime" && clock != libc::CLOCK_BOOTTIME.to_string() {
                return None;
            }
            let secs: i64 = f.next()?.parse().ok()?;
            let nanos: i64 = f.next()?.parse().ok()?;
            secs.checked_mul(1_000_000_000)?.checked_add(nanos)
        })
        .next()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_wrong_start_is_not() {
        let t = own_start_time();
        assert!(t > 0);
        assert!(liveness(own_pid(), t as u32).maybe_alive());
        assert_eq!(liveness(own_pid(), t as u32), Liveness::Alive);
        assert_eq!(liveness(own_pid(), t as u32 ^ 1), Liveness::Dead);
        assert!(!liveness(0, 0).maybe_alive());
        assert_eq!(pid_liveness(own_pid()), Liveness::Alive);
    }

    #[test]
    fn heartbeats_too_old_or_from_the_future_are_dead() {
        let s = 1_000_000_000u64;
        let now = 1000 * s;
        assert_eq!(heartbeat_liveness(now, now), Liveness::Alive);
        assert_eq!(heartbeat_liveness(now, now - s / 2), Liveness::Alive);
        assert_eq!(heartbeat_liveness(now, now + s / 2), Liveness::Alive);
        assert_eq!(heartbeat_liveness(now, now - 2 * s), Liveness::Dead);
        assert_eq!(heartbeat_liveness(now, now + 100_000 * s), Liveness::Dead);
        assert_eq!(heartbeat_liveness(now, u64::MAX), Liveness::Dead);
        assert_eq!(heartbeat_liveness(now, 0), Liveness::Dead);
    }

    #[test]
    fn parses_time_namespace_offsets() {
        assert_eq!(
            parse_boottime_offset(
                "monotonic           0         0\nboottime         -100         0\n"
            ),
            -100_000_000_000
        );
        assert_eq!(
            parse_boottime_offset("monotonic 5 0\nboottime 100000 250\n"),
            100_000_000_000_250
        );
        assert_eq!(parse_boottime_offset("7 3 0\n"), 3_000_000_000);
        assert_eq!(parse_boottime_offset(""), 0);
        assert_eq!(parse_boottime_offset("boottime x y\n"), 0);
    }
}
