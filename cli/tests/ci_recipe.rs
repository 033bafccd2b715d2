//! The CI recipe in ci/examples runs as written: this test reads the example GitHub Actions
//! workflow, runs its `run:` steps locally (no network: `ringproof` is this build, the testee the
//! reference) for a 2-runner matrix one shard after the other, then its merge job, and judges
//! the merged result. This is also the project's own bounded shm chaos campaign (the mmap one is
//! chaos/tests/campaign.rs), so the recipe cannot rot.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const SECS_PER_SHARD: u64 = 8;

/// What the test reads from a workflow: its top-level `env:`, per job its `run:` lines, and the
/// matrix's shard numbers.
type Workflow = (
    BTreeMap<String, String>,
    BTreeMap<String, Vec<String>>,
    Vec<u32>,
);

/// Reads the workflow line by line (the example keeps every `run:` on one line, which this
/// test also checks by running them).
fn workflow(text: &str) -> Workflow {
    let (mut env, mut jobs, mut matrix) = (
        BTreeMap::new(),
        BTreeMap::<String, Vec<String>>::new(),
        Vec::new(),
    );
    let (mut section, mut job) = ("", String::new());
    for line in text.lines() {
        let body = line.split(" # ").next().unwrap_or("").trim_end();
        let indent = body.len() - body.trim_start().len();
        let t = body.trim_start();
        if indent == 0 && !t.is_empty() {
            section = if t == "env:" {
                "env"
            } else if t == "jobs:" {
                "jobs"
            } else {
                ""
            };
            continue;
        }
        match section {
            "env" if indent == 2 => {
                let (k, v) = t.split_once(':').expect("KEY: value");
                env.insert(k.trim().to_owned(), v.trim().to_owned());
            }
            "jobs" if indent == 2 && t.ends_with(':') => job = t.trim_end_matches(':').to_owned(),
            "jobs" => {
                if let Some(cmd) = t
                    .strip_prefix("run: ")
                    .or_else(|| t.strip_prefix("- run: "))
                {
                    assert!(
                        !cmd.starts_with('|') && !cmd.starts_with('>'),
                        "multi-line run: steps are not run by this test: {cmd}"
                    );
                    jobs.entry(job.clone()).or_default().push(cmd.to_owned());
                }
                if let Some(list) = t.strip_prefix("shard: [") {
                    matrix = list
                        .trim_end_matches(']')
                        .split(',')
                        .map(|n| n.trim().parse().expect("shard number"))
                        .collect();
                }
            }
            _ => {}
        }
    }
    (env, jobs, matrix)
}

fn run_step(root: &Path, cmd: &str, env: &BTreeMap<String, String>) {
    assert!(!cmd.contains("${{"), "unsubstituted expression in {cmd}");
    let out = Command::new("bash")
        .arg("-c")
        .arg(cmd)
        .current_dir(root)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .envs(env)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "step `{cmd}` exited {:?}:\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_example_workflow_runs_locally_and_its_bounded_campaign_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let text = std::fs::read_to_string(root.join("ci/examples/github-actions.yml"))
        .expect("the example workflow");
    let (yaml_env, jobs, matrix) = workflow(&text);
    assert_eq!(
        matrix,
        (1..=8).collect::<Vec<_>>(),
        "the example's matrix is 8 runners"
    );
    assert_eq!(
        yaml_env.get("SHARDS").map(String::as_str),
        Some("8"),
        "SHARDS must equal the matrix length"
    );
    let (shard_steps, merge_steps) = (&jobs["shard"], &jobs["merge"]);
    assert!(
        shard_steps
            .iter()
            .chain(merge_steps)
            .all(|s| s.contains("ci/examples/crash-ci.sh")),
        "every step is the recipe: {jobs:?}"
    );

    let out = std::env::temp_dir().join(format!("ringproof-ci-recipe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let mut env: BTreeMap<String, String> = yaml_env
        .into_iter()
        .filter(|(_, v)| !v.contains("${{"))
        .collect();
    for (k, v) in [
        ("RINGPROOF", env!("CARGO_BIN_EXE_ringproof").to_owned()),
        ("OUT", out.display().to_string()),
        ("SEED", "20261127".to_owned()),
        ("SHARDS", "2".to_owned()),
        ("DURATION", format!("{SECS_PER_SHARD}s")),
        ("CAMPAIGNS", "1".to_owned()),
        ("TESTEE", "ringproof".to_owned()),
        ("BUILD_TESTEE", String::new()),
        ("CONFORM_CASES", "spsc.*".to_owned()),
    ] {
        env.insert(k.to_owned(), v);
    }
    for k in 1..=2 {
        for step in shard_steps {
            run_step(
                &root,
                &step.replace("${{ matrix.shard }}", &k.to_string()),
                &env,
            );
        }
    }
    for step in merge_steps {
        run_step(&root, step, &env);
    }

    let merged: Value =
        serde_json::from_slice(&std::fs::read(out.join("merged.json")).expect("merged.json"))
            .expect("json");
    assert_eq!(merged["verdict"], "pass", "{merged:#}");
    let chaos = &merged["chaos"];
    assert_eq!(chaos["shards_merged"], 2);
    let s = &chaos["stats"];
    // The campaign must actually have hurt the ring, or its pass means nothing.
    let injected = chaos["faults_injected"].as_u64().unwrap();
    assert!(
        injected >= 2 * SECS_PER_SHARD * 5,
        "only {injected} faults injected in 2 x {SECS_PER_SHARD} s"
    );
    for family in ["kill", "stop", "failpoints"] {
        assert!(
            s["injected"][family].as_u64().unwrap_or(0) > 0,
            "no {family} fault injected: {}",
            s["injected"]
        );
    }
    assert!(
        s["failpoints_fired"].as_u64().unwrap() > 0,
        "no failpoint fired"
    );
    assert!(
        s["producer_lives"].as_u64().unwrap() > 1 && s["consumer_lives"].as_u64().unwrap() > 3,
        "too few restarts: {s}"
    );
    assert!(
        chaos["events_checked"].as_u64().unwrap() > 10_000,
        "only {} events delivered",
        chaos["events_checked"]
    );
    assert!(
        merged["conform"]["totals"]["pass"].as_u64().unwrap() > 0,
        "{}",
        merged["conform"]
    );
    let xml = std::fs::read_to_string(out.join("merged.xml")).expect("merged.xml");
    assert!(
        xml.contains("failures=\"0\"")
            && xml.contains("chaos.shard-1-of-2")
            && xml.contains("chaos.shard-2-of-2"),
        "{xml}"
    );
    // Nothing of any shard's rings is left.
    for k in 1..=2 {
        let doc: Value =
            serde_json::from_slice(&std::fs::read(out.join(format!("chaos-{k}.json"))).unwrap())
                .unwrap();
        let ring = doc["campaigns"][0]["ring"].as_str().unwrap().to_owned();
        let left = ringproof_testsupport::shm_and_temp(|n| n.contains(&ring));
        assert!(left.is_empty(), "shard {k} left {left:?}");
    }
    std::fs::remove_dir_all(&out).unwrap();
}
