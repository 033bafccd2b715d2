//! Per-implementation expected-failure lists (`conformance/expected/<impl>.txt`).
//!
//! One entry per line: an instance pattern, then `#` and the reason. `*` matches any run of
//! characters. Lists are strict: a listed instance that passes fails the run, so they never go
//! stale.
//!
//! ```text
//! cleanup.no-leak[*>disruptor-mp,*]   # consumer cursor segments are never unlinked
//! ```

use std::path::Path;

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub pattern: String,
    pub reason: String,
}

/// Reads `dir/<implementation>.txt`; a missing file is an empty list.
pub fn load(dir: &Path, implementation: &str) -> Result<Vec<Expected>, String> {
    let path = dir.join(format!("{implementation}.txt"));
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (pattern, reason) = line
            .split_once('#')
            .ok_or_else(|| format!("{}:{}: entry without a '# reason'", path.display(), n + 1))?;
        out.push(Expected {
            pattern: pattern.trim().to_owned(),
            reason: reason.trim().to_owned(),
        });
    }
    Ok(out)
}

/// Whether `text` matches `pattern` (`*` = any run of characters).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != b'*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("a.b[*>x,*]", "a.b[ringproof>x,shm]"));
        assert!(!glob_match("a.b[*>x,*]", "a.b[x>ringproof,shm]"));
        assert!(glob_match("*", ""));
        assert!(glob_match("spsc.*", "spsc.lease[a>b,mmap]"));
    }
}
