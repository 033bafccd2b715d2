//! Replay files and failure reports.

use super::{Found, Lifecycle, Mismatch, Op, Summary, CAPACITY, FORMAT, RULES, SIZE};
use crate::protocol::Backend;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A saved failing lifecycle (`--replay FILE` runs `lifecycle` again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replay {
    pub format: String,
    pub producer: String,
    pub consumer: String,
    pub seed: u64,
    /// Which lifecycle of the seed it was shrunk from.
    pub index: u32,
    pub backend: Backend,
    pub ops: Vec<Op>,
    /// The mismatch the lifecycle produced when it was saved (transcripts left out).
    pub failure: Mismatch,
}

impl Replay {
    pub fn of(found: &Found, producer: &str, consumer: &str, seed: u64) -> Replay {
        Replay {
            format: FORMAT.into(),
            producer: producer.into(),
            consumer: consumer.into(),
            seed,
            index: found.index,
            backend: found.lifecycle.backend,
            ops: found.lifecycle.ops.clone(),
            failure: Mismatch {
                transcripts: String::new(),
                ..found.mismatch.clone()
            },
        }
    }

    pub fn lifecycle(&self) -> Lifecycle {
        Lifecycle {
            backend: self.backend,
            ops: self.ops.clone(),
        }
    }

    pub fn load(path: &Path) -> Result<Replay, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let r: Replay = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a replay file: {e}", path.display()))?;
        if r.format != FORMAT {
            return Err(format!(
                "{}: format {:?}, this harness reads {FORMAT:?}",
                path.display(),
                r.format
            ));
        }
        Ok(r)
    }

    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).expect("replay serialises");
        std::fs::write(path, text + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

/// The rule's description.
pub fn rule_text(rule: &str) -> &'static str {
    RULES
        .iter()
        .find(|(r, _)| *r == rule)
        .map_or("", |(_, t)| t)
}

/// A failing lifecycle as a report: the minimal sequence with the failing step marked, the
/// rule, expected vs observed, the model's state, and the transcripts.
pub fn render(lc: &Lifecycle, m: &Mismatch) -> String {
    let mut s = format!("rule {}: {}\n", m.rule, rule_text(&m.rule));
    s.push_str(&format!("lifecycle ({} backend, capacity {CAPACITY}, event size {SIZE}; a producer creates the ring first):\n", lc.backend.as_str()));
    for (i, op) in lc.ops.iter().enumerate() {
        let mark = if m.step == Some(i) { ">" } else { " " };
        s.push_str(&format!("  {mark}{i:3}: {op}\n"));
    }
    if m.step.is_none() {
        s.push_str(&format!("  >end: {}\n", m.action));
    }
    let at = m
        .step
        .map_or("at the clean end".to_owned(), |i| format!("at step {i}"));
    s.push_str(&format!(
        "{at} ({}), model before it: {}\n",
        m.action, m.model
    ));
    s.push_str(&format!(
        "  expected: {}\n  observed: {}\n",
        m.expected, m.observed
    ));
    s.push_str(&collapse(&m.transcripts));
    s
}

/// `text` with runs of identical lines (a stalled publish's `progress` messages) shown once,
/// with a count.
pub fn collapse(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let mut n = 0;
        while lines.peek() == Some(&line) {
            lines.next();
            n += 1;
        }
        out.push_str(line);
        out.push('\n');
        if n > 0 {
            out.push_str(&format!("  ... the line above {n} more time(s)\n"));
        }
    }
    out
}

/// Human-readable lines of a summary's step coverage.
pub fn coverage_lines(s: &Summary) -> String {
    s.coverage
        .iter()
        .map(|(label, n)| format!("  {n:6}  {label}\n"))
        .collect()
}
