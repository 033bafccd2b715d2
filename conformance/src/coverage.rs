//! Traceability from SPEC.md's rules to the cases that check them.
//!
//! SPEC.md tags every requirement with a stable id in braces (`{R7.3.5}`, SPEC.md §1). Each
//! case of the catalogue declares the ids it checks ([`Case::rules`](crate::cases::Case)); the
//! rules no case can check from outside an implementation are listed, each with its reason, in
//! `conformance/untestable.txt`. [`coverage`] joins the three, [`render`] writes
//! conformance/COVERAGE.md (`ringproof conform --coverage`), and the `coverage` test fails on
//! a rule with neither a case nor a reason, on a case or list entry naming a rule SPEC.md does
//! not have, and on a COVERAGE.md that is out of date.

use crate::cases::{Case, Level};
use std::collections::BTreeMap;

/// SPEC.md as built into this harness.
pub const SPEC: &str = include_str!("../../SPEC.md");
/// The rules no case checks, one per line: `ID  reason` (`#` starts a comment).
pub const UNTESTABLE: &str = include_str!("../untestable.txt");

/// One tagged requirement of SPEC.md.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    /// The `§` heading it sits under, e.g. `7.3 Joining (consumer)`.
    pub section: String,
    /// The first words of the requirement.
    pub text: String,
}

/// Every `{R...}` tag of `spec`, in document order.
pub fn rules(spec: &str) -> Vec<Rule> {
    let mut out = Vec::new();
    let mut section = String::new();
    for line in spec.lines() {
        if let Some(h) = line
            .strip_prefix("## ")
            .or_else(|| line.strip_prefix("### "))
        {
            section = h.trim().trim_end_matches('.').to_string();
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("{R") {
            // `{R7.3.5}` in backticks is an example (SPEC.md §1), not a tag.
            let quoted = rest[..at].ends_with('`');
            let tail = &rest[at + 1..];
            let Some(end) = tail.find('}') else { break };
            let id = &tail[..end];
            rest = &tail[end + 1..];
            if quoted || !is_rule_id(id) {
                continue;
            }
            let text: String = rest.trim_start().chars().take(90).collect();
            out.push(Rule {
                id: id.to_string(),
                section: section.clone(),
                text: text.trim_end().to_string(),
            });
        }
    }
    out
}

/// `R` + dotted section numbers, optionally one lower-case letter part: `R7.3.5`, `R7.3.4.b`.
pub fn is_rule_id(id: &str) -> bool {
    let Some(body) = id.strip_prefix('R') else {
        return false;
    };
    let parts: Vec<&str> = body.split('.').collect();
    let (last, nums) = parts.split_last().expect("split yields one part");
    let num = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    !nums.is_empty()
        && nums.iter().all(num)
        && (num(last) || (last.len() == 1 && last.bytes().all(|b| b.is_ascii_lowercase())))
        || parts.len() == 1 && num(&parts[0])
}

/// `ID -> reason` from the untestable list.
pub fn untestable(list: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (n, line) in list.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (id, reason) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("untestable.txt line {}: `{line}` has no reason", n + 1))?;
        if !is_rule_id(id) || reason.trim().is_empty() {
            return Err(format!(
                "untestable.txt line {}: expected `ID  reason`, found `{line}`",
                n + 1
            ));
        }
        if out
            .insert(id.to_string(), reason.trim().to_string())
            .is_some()
        {
            return Err(format!("untestable.txt lists {id} twice"));
        }
    }
    Ok(out)
}

/// One rule and what covers it.
#[derive(Debug, Clone)]
pub struct Row {
    pub rule: Rule,
    /// Ids of the cases that declare it, with their level.
    pub cases: Vec<(&'static str, Level)>,
    /// Why no case checks it, when the untestable list says so.
    pub untestable: Option<String>,
}

/// The joined view, plus everything inconsistent about it.
#[derive(Debug, Clone)]
pub struct Coverage {
    pub rows: Vec<Row>,
    /// Rules with neither a case nor a reason.
    pub uncovered: Vec<String>,
    /// `case -> id` references to ids SPEC.md does not have.
    pub unknown_in_cases: Vec<(String, String)>,
    /// Untestable entries naming ids SPEC.md does not have, or rules a case does check.
    pub stale_untestable: Vec<String>,
}

impl Coverage {
    /// Whether every rule is accounted for and every reference resolves.
    pub fn is_complete(&self) -> bool {
        self.uncovered.is_empty()
            && self.unknown_in_cases.is_empty()
            && self.stale_untestable.is_empty()
    }

    /// The problems, one per line, each saying what to do.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for id in &self.uncovered {
            out.push(format!("{id}: no case checks it; add its id to a case's `rules`, or list it in conformance/untestable.txt with the reason it cannot be checked from outside"));
        }
        for (case, id) in &self.unknown_in_cases {
            out.push(format!("case {case} names {id}, which SPEC.md does not tag: fix the id (SPEC.md §1, rule ids)"));
        }
        for e in &self.stale_untestable {
            out.push(e.clone());
        }
        out
    }
}

/// Joins SPEC.md's rules, the catalogue and the untestable list.
pub fn coverage(spec: &str, cases: &[Case], untestable_list: &str) -> Result<Coverage, String> {
    let rules = rules(spec);
    let reasons = untestable(untestable_list)?;
    let mut rows: Vec<Row> = rules
        .iter()
        .map(|r| Row {
            rule: r.clone(),
            cases: Vec::new(),
            untestable: reasons.get(&r.id).cloned(),
        })
        .collect();
    let index: BTreeMap<&str, usize> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let mut unknown_in_cases = Vec::new();
    for c in cases {
        for id in c.rules {
            match index.get(id) {
                Some(&i) if !rows[i].cases.iter().any(|(cid, _)| *cid == c.id) => {
                    rows[i].cases.push((c.id, c.level))
                }
                Some(_) => {}
                None => unknown_in_cases.push((c.id.to_string(), id.to_string())),
            }
        }
    }
    let mut stale_untestable = Vec::new();
    for id in reasons.keys() {
        match index.get(id.as_str()) {
            None => stale_untestable.push(format!(
                "untestable.txt lists {id}, which SPEC.md does not tag: remove it"
            )),
            Some(&i) if !rows[i].cases.is_empty() => stale_untestable.push(format!(
                "untestable.txt lists {id}, but case {} checks it: remove it from the list",
                rows[i].cases[0].0
            )),
            _ => {}
        }
    }
    let uncovered = rows
        .iter()
        .filter(|r| r.cases.is_empty() && r.untestable.is_none())
        .map(|r| r.rule.id.clone())
        .collect();
    Ok(Coverage {
        rows,
        uncovered,
        unknown_in_cases,
        stale_untestable,
    })
}

/// conformance/COVERAGE.md.
pub fn render(cov: &Coverage) -> String {
    let total = cov.rows.len();
    let checked = cov.rows.iter().filter(|r| !r.cases.is_empty()).count();
    let untestable = cov
        .rows
        .iter()
        .filter(|r| r.cases.is_empty() && r.untestable.is_some())
        .count();
    let mut s = String::new();
    s.push_str("# Conformance coverage of SPEC.md\n\n");
    s.push_str("Generated by `ringproof conform --coverage` (do not edit; the `coverage` test checks it is\n");
    s.push_str("current). Every requirement of SPEC.md carries an id (SPEC.md §1); each case of the catalogue\n");
    s.push_str("names the ids it checks; rules no case can check from outside an implementation are listed\n");
    s.push_str("with the reason in `conformance/untestable.txt`.\n\n");
    s.push_str(&format!("**{total} rules: {checked} checked by at least one case, {untestable} not checkable from outside (reason given), {} with neither.**\n\n", cov.uncovered.len()));
    let mut section = "";
    for r in &cov.rows {
        if r.rule.section != section {
            section = &r.rule.section;
            s.push_str(&format!(
                "\n## §{section}\n\n| rule | requirement | checked by |\n|---|---|---|\n"
            ));
        }
        let by = if r.cases.is_empty() {
            match &r.untestable {
                Some(why) => format!("*not checkable from outside:* {}", why.replace('|', "\\|")),
                None => "**NO CASE**".to_string(),
            }
        } else {
            r.cases
                .iter()
                .map(|(c, l)| {
                    if *l == Level::Required {
                        format!("`{c}`")
                    } else {
                        format!("`{c}` (recommended)")
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let text = r.rule.text.replace('|', "\\|").replace('`', "");
        s.push_str(&format!("| {} | {}… | {} |\n", r.rule.id, text, by));
    }
    s
}
