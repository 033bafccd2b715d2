//! A process as `/proc/PID/stat` shows it: state letter, parent, start time.
//!
//! The command name (field 2) is in parentheses and may itself hold spaces or `)`, so the
//! fields are counted from the last `)`.

/// The fields of `/proc/PID/stat` the tests look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 3: `R`, `S`, `D`, `T`/`t` (stopped), `Z` (zombie), ...
    pub state: char,
    /// Field 4.
    pub ppid: u32,
    /// Field 22: clock ticks since boot.
    pub start_time: u64,
}

impl ProcStat {
    /// Stopped by a signal or a tracer.
    pub fn stopped(&self) -> bool {
        matches!(self.state, 'T' | 't')
    }

    /// Exited and not yet reaped.
    pub fn zombie(&self) -> bool {
        self.state == 'Z'
    }
}

/// `/proc/PID/stat` of `pid`, or `None` once it is gone (reaped) or unreadable.
pub fn proc_stat(pid: u32) -> Option<ProcStat> {
    parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The fields of one `/proc/PID/stat` line.
pub fn parse(line: &str) -> Option<ProcStat> {
    let mut rest = line[line.rfind(')')? + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    // Fields 5..=21 lie between the parent and the start time.
    let start_time = rest.nth(17)?.parse().ok()?;
    Some(ProcStat {
        state,
        ppid,
        start_time,
    })
}

/// Whether `pid` is gone or a zombie: it runs nothing any more.
pub fn dead(pid: u32) -> bool {
    proc_stat(pid).is_none_or(|s| s.zombie())
}

/// The pids whose parent is `ppid`, as `/proc` lists them now.
pub fn children_of(ppid: u32) -> Vec<u32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| proc_stat(pid).is_some_and(|s| s.ppid == ppid))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_counted_from_the_last_paren() {
        let line = "42 (a) b (c)) S 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 123456 0 0";
        let s = parse(line).expect("parses");
        assert_eq!(
            s,
            ProcStat {
                state: 'S',
                ppid: 7,
                start_time: 123456
            }
        );
    }

    #[test]
    fn this_process_is_running_under_its_parent() {
        let s = proc_stat(std::process::id()).expect("own stat");
        assert!(matches!(s.state, 'R' | 'S' | 'D'), "{s:?}");
        assert_eq!(s.ppid, std::os::unix::process::parent_id());
        assert!(s.start_time > 0);
    }
}
