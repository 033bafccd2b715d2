//! Spreading a long campaign over a CI job matrix: shard `K/N` of a master seed runs its own
//! campaigns, each with a seed derived from the master seed, the shard and the campaign's
//! index, so shards share nothing but the master seed and any campaign replays alone from its
//! derived seed. [`RunResult`] is what one `ringproof chaos` run writes (`--json`), and what
//! `ringproof merge` reads back.

use crate::history::History;
use crate::schedule::Schedule;
use crate::verdict::{Verdict, ROWS};
use serde::{Deserialize, Serialize};

/// Shard `index` of `count` (1-based, as CI matrices count: `1/8` .. `8/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// Why a `--shard` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("bad shard {0:?}: write K/N with 1 <= K <= N, e.g. --shard 3/8")]
    Syntax(String),
}

impl Shard {
    /// Parses `K/N`.
    pub fn parse(s: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError::Syntax(s.to_owned());
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            k.trim().parse::<u32>().map_err(|_| bad())?,
            n.trim().parse::<u32>().map_err(|_| bad())?,
        );
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The whole run as one shard.
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// Whether the item with stable key `key` belongs to this shard (a hash partition, so it
    /// does not move when items are added or removed elsewhere in the list).
    pub fn owns(&self, key: &str) -> bool {
        (fnv1a(key.as_bytes()) % u64::from(self.count)) as u32 == self.index - 1
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The seed of campaign `campaign` (0-based) of `shard` under `master`. An unsharded run of one
/// campaign (`1/1`, campaign 0) uses the master seed itself, so `--seed S` means what it
/// always meant; every other campaign gets a derived seed (below 10^12, easy to paste).
pub fn campaign_seed(master: u64, shard: Shard, campaign: u32) -> u64 {
    if shard == Shard::WHOLE && campaign == 0 {
        return master;
    }
    let salt =
        (u64::from(shard.index) << 40) ^ (u64::from(shard.count) << 20) ^ u64::from(campaign);
    splitmix64(master ^ splitmix64(salt)) % 1_000_000_000_000
}

/// One JUnit test case: a check row of a campaign, or a failing consumer life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JunitCase {
    pub classname: String,
    pub name: String,
    /// Failure text (the violations and the replay command); `None`: passed.
    #[serde(default)]
    pub failure: Option<String>,
    /// Why it was not judged (an interrupted run); `None`: judged.
    #[serde(default)]
    pub skipped: Option<String>,
}

/// One campaign of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CampaignResult {
    pub seed: u64,
    /// The command that replays this campaign alone.
    pub replay: String,
    pub ring: String,
    /// Its failure report folder, if it failed.
    #[serde(default)]
    pub report: Option<String>,
    pub verdict: Verdict,
    pub junit: Vec<JunitCase>,
    /// The schedule and the history (for `--recheck`); `ringproof merge` does not read them,
    /// so merging many long shards costs the verdicts' memory, not the histories'.
    #[serde(default)]
    pub schedule: Option<Schedule>,
    #[serde(default)]
    pub history: History,
}

/// What one `ringproof chaos` run writes with `--json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    /// Always `"chaos"` (so `ringproof merge` can tell it from a conform result).
    pub tool: String,
    pub master_seed: u64,
    pub shard: Shard,
    /// The signal that interrupted the run (`SIGINT`, `SIGTERM`), if one did.
    #[serde(default)]
    pub interrupted: Option<String>,
    pub campaigns: Vec<CampaignResult>,
}

/// The JUnit cases of one campaign: one per check row, one per failing consumer life.
/// `classname` groups them (e.g. `chaos.shard-3-of-8.seed-123`); a violation's evidence names
/// the life by its pid, which is how a violation is put with its life.
pub fn junit_cases(
    classname: &str,
    verdict: &Verdict,
    history: &History,
    replay: &str,
    interrupted: Option<&str>,
) -> Vec<JunitCase> {
    let text = |vs: &[&crate::verdict::Violation]| {
        let mut t: String = vs
            .iter()
            .take(20)
            .map(|v| {
                format!(
                    "{}: {}\n",
                    v.row(),
                    serde_json::to_string(v).unwrap_or_default()
                )
            })
            .collect();
        if vs.len() > 20 {
            t.push_str(&format!("... and {} more\n", vs.len() - 20));
        }
        t.push_str(&format!("replay: {replay}\n"));
        t
    };
    let skipped = interrupted
        .map(|s| format!("interrupted by {s}: judged on a partial history (no heal phase)"));
    let mut cases = Vec::new();
    for row in ROWS {
        let vs: Vec<_> = verdict
            .violations
            .iter()
            .filter(|v| v.row() == *row)
            .collect();
        let failure = (!vs.is_empty()).then(|| text(&vs));
        let skipped = if failure.is_none() {
            skipped.clone()
        } else {
            None
        };
        cases.push(JunitCase {
            classname: classname.to_owned(),
            name: (*row).to_owned(),
            failure,
            skipped,
        });
    }
    for (id, lives) in &history.consumers {
        for (n, life) in lives.iter().enumerate() {
            let pid = format!("pid {} ", life.pid);
            let vs: Vec<_> = verdict
                .violations
                .iter()
                .filter(|v| {
                    let j = serde_json::to_string(v).unwrap_or_default();
                    j.contains(&format!("\"{id}\""))
                        && (j.contains(&pid)
                            || matches!(life.end, crate::history::End::Crashed { .. })
                                && v.row() == "crashed")
                })
                .collect();
            if !vs.is_empty() {
                cases.push(JunitCase {
                    classname: classname.to_owned(),
                    name: format!("{id} life {} (pid {})", n + 1, life.pid),
                    failure: Some(text(&vs)),
                    skipped: None,
                });
            }
        }
    }
    cases
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A JUnit XML document of `cases` under one test suite.
pub fn junit_xml(suite: &str, cases: &[JunitCase]) -> String {
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let skipped = cases
        .iter()
        .filter(|c| c.failure.is_none() && c.skipped.is_some())
        .count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">\n",
        xml_escape(suite),
        cases.len()
    );
    for c in cases {
        out.push_str(&format!(
            "  <testcase classname=\"{}\" name=\"{}\">",
            xml_escape(&c.classname),
            xml_escape(&c.name)
        ));
        if let Some(f) = &c.failure {
            let first = f.lines().next().unwrap_or("");
            out.push_str(&format!(
                "<failure message=\"{}\">{}</failure>",
                xml_escape(first),
                xml_escape(f)
            ));
        } else if let Some(s) = &c.skipped {
            out.push_str(&format!("<skipped message=\"{}\"/>", xml_escape(s)));
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("</testsuite>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_seeds_derive_deterministically() {
        assert_eq!(Shard::parse("3/8"), Ok(Shard { index: 3, count: 8 }));
        for bad in ["0/4", "5/4", "3", "a/b", "1/0"] {
            assert!(
                Shard::parse(bad).unwrap_err().to_string().contains("K/N"),
                "{bad}"
            );
        }
        assert_eq!(campaign_seed(42, Shard::WHOLE, 0), 42);
        let seeds: std::collections::BTreeSet<u64> = (1..=4)
            .flat_map(|k| (0..3).map(move |c| campaign_seed(42, Shard { index: k, count: 4 }, c)))
            .collect();
        assert_eq!(seeds.len(), 12, "derived seeds collide");
        assert_eq!(
            campaign_seed(42, Shard { index: 2, count: 4 }, 1),
            campaign_seed(42, Shard { index: 2, count: 4 }, 1)
        );
        // Every key lands in exactly one shard.
        for key in ["spsc.wraparound[a>a,shm]", "x", ""] {
            assert_eq!(
                (1..=5)
                    .filter(|k| Shard {
                        index: *k,
                        count: 5
                    }
                    .owns(key))
                    .count(),
                1
            );
        }
    }
}
