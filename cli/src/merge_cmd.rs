//! `ringproof merge`: the shards of a CI matrix back into one verdict. Reads the `--json`
//! results of `ringproof chaos --shard K/N` (and of `ringproof conform --shard K/N`), sums
//! their counts, merges their detection-latency histograms exactly, says which shard and seed
//! each violation came from and how to replay it alone, and writes one JSON and one JUnit file.

use clap::Args;
use ringproof_chaos::checker::{Stats, Verdict};
use ringproof_chaos::shard::{junit_xml, JunitCase};
use ringproof_chaos::{report, RunResult};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Result files: what `ringproof chaos --json` and `ringproof conform --json` wrote on each
    /// runner (shards of one master seed; conform shards of one matrix).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Write the merged result as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write every shard's test cases as one JUnit XML file.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Merge even if shards are missing or were interrupted (the verdict then says
    /// `incomplete` and the exit status is 2 unless a violation was found).
    #[arg(long)]
    allow_partial: bool,
}

fn fail(msg: String) -> ExitCode {
    eprintln!("ringproof merge: {msg}");
    ExitCode::from(2)
}

pub fn run(a: MergeArgs) -> ExitCode {
    let mut chaos: Vec<(String, RunResult)> = Vec::new();
    let mut conform: Vec<(String, Value)> = Vec::new();
    for f in &a.files {
        let name = f.display().to_string();
        let doc = match std::fs::read_to_string(f)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()))
        {
            Ok(d) => d,
            Err(e) => return fail(format!("cannot read {name}: {e}")),
        };
        if doc["tool"] == "chaos" {
            let mut doc = doc;
            // Histories and schedules are for --recheck; a merge needs the verdicts only.
            for c in doc["campaigns"].as_array_mut().into_iter().flatten() {
                if let Some(c) = c.as_object_mut() {
                    c.remove("history");
                    c.remove("schedule");
                }
            }
            match serde_json::from_value::<RunResult>(doc) {
                Ok(r) => chaos.push((name, r)),
                Err(e) => {
                    return fail(format!(
                        "{name} is not a `ringproof chaos --json` result of this version ({e})"
                    ))
                }
            }
        } else if doc["results"].is_array() && doc["totals"].is_object() {
            conform.push((name, doc));
        } else {
            return fail(format!("{name} is neither a `ringproof chaos --json` nor a `ringproof conform --json` result"));
        }
    }
    let mut incomplete: Vec<String> = Vec::new();
    let mut cases: Vec<JunitCase> = Vec::new();
    let mut out = json!({ "tool": "merge", "inputs": [] });
    let mut violations_found = false;

    if !chaos.is_empty() {
        let masters: BTreeSet<(u64, u32)> = chaos
            .iter()
            .map(|(_, r)| (r.master_seed, r.shard.count))
            .collect();
        if masters.len() > 1 {
            return fail(format!("the chaos results come from different campaigns (master seed, shard count): {masters:?}; merge one campaign's shards at a time"));
        }
        let (master, count) = *masters.iter().next().expect("one");
        let mut seen: BTreeMap<u32, &str> = BTreeMap::new();
        for (name, r) in &chaos {
            if let Some(other) = seen.insert(r.shard.index, name) {
                return fail(format!(
                    "shard {} appears twice ({other} and {name})",
                    r.shard
                ));
            }
            if let Some(sig) = &r.interrupted {
                incomplete.push(format!("shard {} was interrupted by {sig}", r.shard));
            }
        }
        let missing: Vec<String> = (1..=count)
            .filter(|k| !seen.contains_key(k))
            .map(|k| format!("{k}/{count}"))
            .collect();
        if !missing.is_empty() {
            incomplete.push(format!(
                "shards {} are missing (did their runners finish?)",
                missing.join(", ")
            ));
        }
        let mut stats = Stats::default();
        let mut all = Verdict::default();
        let mut located = Vec::new();
        let mut campaigns = 0;
        let mut shards: Vec<&(String, RunResult)> = chaos.iter().collect();
        shards.sort_by_key(|(_, r)| r.shard.index);
        for (name, r) in shards {
            out["inputs"].as_array_mut().expect("array").push(json!({ "file": name, "tool": "chaos", "shard": r.shard.to_string(), "master_seed": r.master_seed, "interrupted": r.interrupted }));
            for c in &r.campaigns {
                campaigns += 1;
                if let Err(e) = stats.absorb(&c.verdict.stats) {
                    return fail(format!("{name}, seed {}: {e}", c.seed));
                }
                for v in &c.verdict.violations {
                    located.push(json!({ "shard": r.shard.to_string(), "seed": c.seed, "kind": v.row(), "violation": v, "replay": c.replay, "report": c.report }));
                    all.violations.push(v.clone());
                }
                cases.extend(c.junit.iter().cloned());
            }
        }
        all.stats = stats;
        violations_found |= !all.passed();
        println!(
            "chaos: master seed {master}, {} of {count} shard(s), {campaigns} campaign(s)",
            seen.len()
        );
        println!("{}", report::verdict_table(&all));
        for l in located.iter().take(20) {
            println!(
                "  {} (shard {}, seed {}): {}\n    replay: {}",
                l["kind"].as_str().unwrap_or(""),
                l["shard"].as_str().unwrap_or(""),
                l["seed"],
                l["violation"],
                l["replay"].as_str().unwrap_or("")
            );
        }
        if located.len() > 20 {
            println!(
                "  ... and {} more (the merged --json lists every one)",
                located.len() - 20
            );
        }
        let counts = all.counts();
        out["chaos"] = json!({
            "master_seed": master, "shards": count, "shards_merged": seen.len(), "campaigns": campaigns,
            "faults_injected": all.stats.injected_total(), "events_checked": all.stats.events_delivered,
            "violations_by_kind": counts, "stats": all.stats, "violations": located,
        });
    }

    if !conform.is_empty() {
        let mut results = Vec::new();
        let mut totals: BTreeMap<String, u64> = BTreeMap::new();
        let mut seen: BTreeMap<(u32, u32), String> = BTreeMap::new();
        for (name, doc) in &conform {
            let shard = doc
                .get("shard")
                .and_then(|s| Some((s["index"].as_u64()? as u32, s["count"].as_u64()? as u32)))
                .unwrap_or((1, 1));
            if let Some(other) = seen.insert(shard, name.clone()) {
                return fail(format!(
                    "conform shard {}/{} appears twice ({other} and {name})",
                    shard.0, shard.1
                ));
            }
            if let Some(sig) = doc["interrupted"].as_str() {
                incomplete.push(format!(
                    "conform shard {}/{} was interrupted by {sig}",
                    shard.0, shard.1
                ));
            }
            out["inputs"].as_array_mut().expect("array").push(json!({ "file": name, "tool": "conform", "shard": format!("{}/{}", shard.0, shard.1), "interrupted": doc["interrupted"] }));
            for (k, v) in doc["totals"].as_object().into_iter().flatten() {
                *totals.entry(k.clone()).or_default() += v.as_u64().unwrap_or(0);
            }
            for r in doc["results"].as_array().into_iter().flatten() {
                let mut r = r.clone();
                let status = r["status"].as_str().unwrap_or("").to_owned();
                let key = r["key"].as_str().unwrap_or("").to_owned();
                let mut replay = format!(
                    "ringproof conform --case '{}' --backend {}",
                    r["case"].as_str().unwrap_or(""),
                    r["backend"].as_str().unwrap_or("")
                );
                for i in BTreeSet::from([
                    r["producer"].as_str().unwrap_or(""),
                    r["consumer"].as_str().unwrap_or(""),
                ]) {
                    replay.push_str(&format!(" --impl {i}"));
                }
                let (failure, skipped) = match status.as_str() {
                    "pass" => (None, None),
                    "skipped" | "expected-failure" => (
                        None,
                        Some(format!(
                            "{status}: {}",
                            r["detail"]
                                .as_str()
                                .unwrap_or("")
                                .lines()
                                .next()
                                .unwrap_or("")
                        )),
                    ),
                    _ => (
                        Some(format!(
                            "{status}: {}\nshard {}/{}; replay: {replay}\n",
                            r["detail"].as_str().unwrap_or(""),
                            shard.0,
                            shard.1
                        )),
                        None,
                    ),
                };
                violations_found |= failure.is_some();
                cases.push(JunitCase {
                    classname: format!("conform.{}", r["case"].as_str().unwrap_or("")),
                    name: key,
                    failure,
                    skipped,
                });
                r["shard"] = json!(format!("{}/{}", shard.0, shard.1));
                r["replay"] = json!(replay);
                results.push(r);
            }
        }
        let counts: BTreeSet<u32> = seen.keys().map(|(_, n)| *n).collect();
        if counts.len() > 1 {
            return fail(format!("the conform results were sharded differently ({counts:?} shards); merge one matrix at a time"));
        }
        let n = *counts.iter().next().expect("one");
        let missing: Vec<String> = (1..=n)
            .filter(|k| !seen.contains_key(&(*k, n)))
            .map(|k| format!("{k}/{n}"))
            .collect();
        if !missing.is_empty() {
            incomplete.push(format!("conform shards {} are missing", missing.join(", ")));
        }
        println!(
            "conform: {} shard(s): {} pass, {} expected-failure, {} skipped, {} failed",
            seen.len(),
            totals.get("pass").unwrap_or(&0),
            totals.get("expected_failure").unwrap_or(&0),
            totals.get("skipped").unwrap_or(&0),
            totals.get("failed").unwrap_or(&0)
        );
        out["conform"] = json!({ "totals": totals, "results": results });
    }

    for i in &incomplete {
        println!("incomplete: {i}");
    }
    let verdict = if violations_found {
        "fail"
    } else if !incomplete.is_empty() {
        "incomplete"
    } else {
        "pass"
    };
    out["verdict"] = json!(verdict);
    out["incomplete"] = json!(incomplete);
    if let Some(p) = &a.json {
        if let Err(e) = std::fs::write(p, serde_json::to_string_pretty(&out).expect("json")) {
            return fail(format!("cannot write {}: {e}", p.display()));
        }
    }
    if let Some(p) = &a.junit {
        if let Err(e) = std::fs::write(p, junit_xml("ringproof", &cases)) {
            return fail(format!("cannot write {}: {e}", p.display()));
        }
    }
    match verdict {
        "fail" => {
            println!("FAIL");
            ExitCode::from(1)
        }
        "incomplete" if !a.allow_partial => fail(format!(
            "{}: pass --allow-partial to merge anyway",
            incomplete.join("; ")
        )),
        "incomplete" => {
            println!("INCOMPLETE");
            ExitCode::from(2)
        }
        _ => {
            println!("PASS");
            ExitCode::SUCCESS
        }
    }
}
