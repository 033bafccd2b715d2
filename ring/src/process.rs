//! Who a process is, in a way pid reuse cannot fake: its pid plus its start time.

/// This process's pid.
pub fn own_pid() -> u32 {
    std::process::id()
}

/// The start time of `pid` in clock ticks since boot (`/proc/PID/stat` field 22), or `None`
/// if no such process exists.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is parenthesised and may hold spaces or ')': skip past the
    // last ')' and count from there; field 3 is the first after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// This process's start time.
pub fn own_start_time() -> u64 {
    start_time(own_pid()).unwrap_or(0)
}

/// Whether the process identified by `pid` and the low 32 bits of its start time still runs.
/// A zombie counts as dead: it will never touch the ring again.
pub fn is_alive(pid: u32, start_time_low: u32) -> bool {
    if pid == 0 {
        return false;
    }
    match start_time(pid) {
        Some(t) => t as u32 == start_time_low && !is_zombie(pid),
        None => false,
    }
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 1..].trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// The inode of this process's pid namespace (`/proc/self/ns/pid`), or 0 if unknown. Two
/// processes can judge each other by pid only when these are equal.
pub fn own_pid_ns() -> u64 {
    use std::os::unix::fs::MetadataExt;
    static NS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *NS.get_or_init(|| std::fs::metadata("/proc/self/ns/pid").map(|m| m.ino()).unwrap_or(0))
}

/// How stale a heartbeat may be before a participant in another pid namespace counts as dead.
pub const HEARTBEAT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether a participant runs: by pid and start time when it shares our pid namespace (or its
/// namespace is unknown), else by its heartbeat (SPEC.md §7.10).
pub fn participant_alive(owner: u64, pid_ns: u64, heartbeat_ns: u64) -> bool {
    if owner == 0 {
        return false;
    }
    if pid_ns == 0 || pid_ns == own_pid_ns() {
        return is_alive(owner as u32, (owner >> 32) as u32);
    }
    boottime_ns().saturating_sub(heartbeat_ns) <= HEARTBEAT_TIMEOUT.as_nanos() as u64
}

/// Nanoseconds on `CLOCK_BOOTTIME` (shared by every process on the machine, counts suspend).
pub fn boottime_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_wrong_start_is_not() {
        let t = own_start_time();
        assert!(t > 0);
        assert!(is_alive(own_pid(), t as u32));
        assert!(!is_alive(own_pid(), t as u32 ^ 1));
        assert!(!is_alive(0, 0));
    }
}
