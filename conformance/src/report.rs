//! Rendering results: the matrix table, JSON, JUnit XML, and the closing line.

use crate::runner::{InstanceResult, Status};
use serde_json::json;

/// Counts for the closing line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub pass: usize,
    pub expected_failure: usize,
    pub skipped: usize,
    pub bad: usize,
}

impl Totals {
    pub fn of(results: &[InstanceResult]) -> Totals {
        let mut t = Totals::default();
        for r in results {
            match r.status {
                Status::Pass => t.pass += 1,
                Status::ExpectedFailure => t.expected_failure += 1,
                Status::Skipped => t.skipped += 1,
                _ => t.bad += 1,
            }
        }
        t
    }

    /// `N passed, N failed, N skipped` (expected failures count as passed: they behaved as the
    /// committed list says).
    pub fn closing_line(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.pass + self.expected_failure,
            self.bad,
            self.skipped
        )
    }
}

fn cell(s: Status) -> &'static str {
    match s {
        Status::Pass => "ok",
        Status::Fail => "FAIL",
        Status::Error => "ERR",
        Status::Timeout => "T/O",
        Status::Skipped => "-",
        Status::ExpectedFailure => "xfail",
        Status::UnexpectedPass => "XPASS",
    }
}

/// The matrix at a glance: one row per case, one column per pairing and backend.
pub fn matrix(results: &[InstanceResult]) -> String {
    let mut columns: Vec<(String, String, &'static str)> = Vec::new();
    for r in results {
        let col = (r.producer.clone(), r.consumer.clone(), r.backend.as_str());
        if !columns.contains(&col) {
            columns.push(col);
        }
    }
    let mut rows: Vec<&'static str> = Vec::new();
    for r in results {
        if !rows.contains(&r.case_id) {
            rows.push(r.case_id);
        }
    }
    let width = rows.iter().map(|r| r.len()).max().unwrap_or(4).max(4);
    let short = |s: &str| s.chars().take(4).collect::<String>();
    let headers: Vec<String> = columns
        .iter()
        .map(|(p, c, b)| format!("{}>{} {}", short(p), short(c), b))
        .collect();
    let mut out = format!("{:width$}", "case");
    for h in &headers {
        out.push_str(&format!("  {h:>14}"));
    }
    out.push('\n');
    for row in rows {
        out.push_str(&format!("{row:width$}"));
        for (p, c, b) in &columns {
            let r = results.iter().find(|r| {
                r.case_id == row && &r.producer == p && &r.consumer == c && r.backend.as_str() == *b
            });
            out.push_str(&format!("  {:>14}", r.map_or("", |r| cell(r.status))));
        }
        out.push('\n');
    }
    out
}

/// Details of every instance that did not simply pass or skip.
pub fn details(results: &[InstanceResult]) -> String {
    let mut out = String::new();
    for r in results
        .iter()
        .filter(|r| r.status.is_bad() || r.status == Status::ExpectedFailure)
    {
        out.push_str(&format!("\n[{}] {}\n", r.status.as_str(), r.key));
        let limit = if r.status.is_bad() { usize::MAX } else { 1 };
        for line in r.detail.lines().take(limit) {
            out.push_str(&format!("    {line}\n"));
        }
    }
    out
}

/// Machine-readable results.
pub fn to_json(results: &[InstanceResult]) -> serde_json::Value {
    let t = Totals::of(results);
    json!({
        "totals": { "pass": t.pass, "expected_failure": t.expected_failure, "skipped": t.skipped, "failed": t.bad },
        "results": results.iter().map(|r| json!({
            "key": r.key, "case": r.case_id, "producer": r.producer, "consumer": r.consumer,
            "backend": r.backend.as_str(), "status": r.status.as_str(), "rules": r.rules, "detail": r.detail,
            "notes": r.notes, "duration_ms": r.duration.as_millis() as u64,
        })).collect::<Vec<_>>(),
    })
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML, one testcase per instance.
pub fn to_junit(results: &[InstanceResult]) -> String {
    let t = Totals::of(results);
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"ringproof-conform\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n",
        results.len(),
        t.bad,
        t.skipped + t.expected_failure
    );
    for r in results {
        out.push_str(&format!(
            "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
            xml_escape(r.case_id),
            xml_escape(&r.key),
            r.duration.as_secs_f64()
        ));
        match r.status {
            Status::Pass => {}
            Status::Skipped | Status::ExpectedFailure => out.push_str(&format!(
                "<skipped message=\"{}\"/>",
                xml_escape(&format!(
                    "{}: {}",
                    r.status.as_str(),
                    r.detail.lines().next().unwrap_or("")
                ))
            )),
            _ => out.push_str(&format!(
                "<failure message=\"{}\">{}</failure>",
                r.status.as_str(),
                xml_escape(&r.detail)
            )),
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("</testsuite>\n");
    out
}
