//! `ringproof chaos`, `conform` and `merge` as a CI runs them: a campaign sharded 4 ways and
//! merged (the counts add up, a violation planted in one shard shows up in the merged JUnit with
//! a replay command that reproduces it alone), exit codes, and runs interrupted by SIGTERM
//! (nothing left in /dev/shm or the temp directory, partial reports written, 128 + signal).

use ringproof_chaos::shard::campaign_seed;
use ringproof_chaos::Shard;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ringproof");

fn ringproof(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("ringproof runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ringproof-chaos-cli-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .expect("json")
}

/// Names in /dev/shm and entries of the temp directory that contain `needle`.
fn leftovers(needle: &str) -> Vec<String> {
    ringproof_testsupport::shm_and_temp(|n| n.contains(needle))
}

/// Processes whose environment holds `var=value` (testees a campaign started).
fn processes_with_env(var: &str, value: &str) -> Vec<u32> {
    let needle = format!("{var}={value}\0");
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
        .collect()
}

/// A testee with a planted defect: under campaign seed `bad` every process is armed (unless the
/// campaign armed it itself) to crash the 20th time it writes slots, a crash the campaign did
/// not cause. Under any other seed it is the reference testee.
fn planted_testee(dir: &Path, bad: u64) -> PathBuf {
    let p = dir.join("planted-testee");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\nif [ \"$RINGPROOF_CHAOS_SEED\" = {bad} ] && [ -z \"$RINGPROOF_FAILPOINT\" ]; then\n  export RINGPROOF_FAILPOINT=producer.written@20\nfi\nexec {BIN} testee\n"
        ),
    )
    .unwrap();
    let mut perm = std::fs::metadata(&p).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&p, perm).unwrap();
    p
}

fn counts(stats: &Value) -> (u64, u64, u64, u64) {
    let injected: u64 = stats["injected"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    (
        injected,
        stats["events_delivered"].as_u64().unwrap(),
        stats["detect_producer"]["samples"].as_u64().unwrap(),
        stats["detect_consumer"]["samples"].as_u64().unwrap(),
    )
}

#[test]
fn four_shards_merge_into_their_sum_and_a_planted_violation_replays_alone() {
    let dir = temp_dir("shards");
    let master = 20261206u64;
    let bad = campaign_seed(master, Shard { index: 3, count: 4 }, 0);
    let testee = planted_testee(&dir, bad);
    let mut files = Vec::new();
    let mut sums = (0, 0, 0, 0);
    let mut kinds: std::collections::BTreeMap<String, u64> = Default::default();
    for k in 1..=4 {
        let (json, junit) = (
            dir.join(format!("chaos-{k}.json")),
            dir.join(format!("chaos-{k}.xml")),
        );
        let shard = format!("{k}/4");
        let (code, out, err) = ringproof(&[
            "chaos",
            "--seed",
            &master.to_string(),
            "--shard",
            &shard,
            "--duration",
            "2s",
            "--heal-bound-s",
            "5",
            "--impl",
            testee.to_str().unwrap(),
            "--report",
            dir.join("reports").to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ]);
        assert_eq!(
            code,
            if k == 3 { 1 } else { 0 },
            "shard {shard}:\n{out}\n{err}"
        );
        let doc = read_json(&json);
        assert_eq!(doc["shard"]["index"], k);
        let c = &doc["campaigns"][0];
        assert_eq!(
            c["seed"].as_u64(),
            Some(campaign_seed(master, Shard { index: k, count: 4 }, 0))
        );
        let s = counts(&c["verdict"]["stats"]);
        sums = (sums.0 + s.0, sums.1 + s.1, sums.2 + s.2, sums.3 + s.3);
        for v in c["verdict"]["violations"].as_array().unwrap() {
            *kinds
                .entry(v["kind"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        assert!(
            leftovers(c["ring"].as_str().unwrap()).is_empty(),
            "shard {shard} left {:?}",
            leftovers(c["ring"].as_str().unwrap())
        );
        files.push(json.display().to_string());
    }
    assert!(
        kinds.contains_key("crashed"),
        "the planted defect was not caught: {kinds:?}"
    );

    let (mj, mx) = (dir.join("merged.json"), dir.join("merged.xml"));
    let mut args = vec![
        "merge",
        "--json",
        mj.to_str().unwrap(),
        "--junit",
        mx.to_str().unwrap(),
    ];
    args.extend(files.iter().map(String::as_str));
    let (code, out, err) = ringproof(&args);
    assert_eq!(
        code, 1,
        "the merged verdict is the shards' (one failed):\n{out}\n{err}"
    );
    let m = read_json(&mj);
    assert_eq!(m["verdict"], "fail");
    let chaos = &m["chaos"];
    assert_eq!(chaos["shards_merged"], 4);
    assert_eq!(
        counts(&chaos["stats"]),
        sums,
        "merged counts are not the shards' sums"
    );
    assert_eq!(chaos["faults_injected"].as_u64(), Some(sums.0));
    assert_eq!(chaos["events_checked"].as_u64(), Some(sums.1));
    for (kind, n) in &kinds {
        assert_eq!(
            chaos["violations_by_kind"][kind].as_u64(),
            Some(*n),
            "{kind}"
        );
    }
    let located = chaos["violations"].as_array().unwrap();
    assert!(
        located
            .iter()
            .all(|v| v["shard"] == "3/4" && v["seed"].as_u64() == Some(bad)),
        "{located:?}"
    );
    let replay = located[0]["replay"].as_str().unwrap().to_owned();
    assert!(
        replay.starts_with(&format!("ringproof chaos --seed {bad} ")),
        "{replay}"
    );
    let xml = std::fs::read_to_string(&mx).unwrap();
    assert!(
        xml.contains("classname=\"chaos.shard-3-of-4.seed-")
            && xml.contains(&format!("replay: {replay}")),
        "{xml}"
    );
    assert!(
        xml.contains("tests=\"") && !xml.contains("failures=\"0\""),
        "{xml}"
    );

    // The replay command reproduces the violation alone (no shard, no merge).
    let mut words: Vec<String> = replay
        .split_whitespace()
        .skip(1)
        .map(str::to_owned)
        .collect();
    let alone = dir.join("alone.json");
    words.extend([
        "--json".to_owned(),
        alone.display().to_string(),
        "--report".to_owned(),
        dir.join("alone").display().to_string(),
    ]);
    let (code, out, err) = ringproof(&words.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        code, 1,
        "the replay did not reproduce the violation:\n{out}\n{err}"
    );
    let a = read_json(&alone);
    assert!(
        a["campaigns"][0]["verdict"]["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["kind"] == "crashed"),
        "{}",
        a["campaigns"][0]["verdict"]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_testee_that_does_not_start_and_a_bad_shard_are_harness_errors() {
    let dir = temp_dir("harness");
    let broken = dir.join("broken-testee");
    std::fs::write(&broken, "#!/bin/sh\nexit 3\n").unwrap();
    let mut perm = std::fs::metadata(&broken).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&broken, perm).unwrap();
    let (code, _, err) = ringproof(&[
        "chaos",
        "--seed",
        "1",
        "--duration",
        "1s",
        "--impl",
        broken.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("does not start"), "{err}");
    let (code, _, err) = ringproof(&["chaos", "--seed", "1", "--shard", "5/4"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("K/N"), "{err}");
    let (code, _, err) = ringproof(&["merge", dir.join("missing.json").to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    // A merge with a shard missing is incomplete: exit 2, the files still written.
    let half = dir.join("chaos-1.json");
    let (code, out, err) = ringproof(&[
        "chaos",
        "--seed",
        "3",
        "--shard",
        "1/2",
        "--duration",
        "1s",
        "--json",
        half.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let merged = dir.join("merged.json");
    let (code, out, err) = ringproof(&[
        "merge",
        half.to_str().unwrap(),
        "--json",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains("shards 2/2 are missing") && err.contains("--allow-partial"),
        "{err}"
    );
    assert_eq!(read_json(&merged)["verdict"], "incomplete");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn version_names_spec_and_protocol() {
    let (code, out, _) = ringproof(&["--version"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("SPEC LayoutV1") && out.contains("protocol 1"),
        "{out}"
    );
}

/// Starts `ringproof args`, waits until `ready` says so (a progress marker on stderr, or a
/// file), sends SIGTERM, and returns the exit code, the output and the pid it had.
fn interrupt(args: &[&str], ready: &dyn Fn(&str) -> bool) -> (i32, String, u32) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ringproof starts");
    let pid = child.id();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut err = String::new();
    loop {
        assert!(
            Instant::now() < deadline,
            "no progress marker within 120 s:\n{err}"
        );
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(50)) {
            err.push_str(&l);
            err.push('\n');
        }
        if ready(&err) {
            break;
        }
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let out = child.wait_with_output().expect("ringproof ends");
    while let Ok(l) = rx.try_recv() {
        err.push_str(&l);
        err.push('\n');
    }
    (
        out.status.code().unwrap_or(-1),
        format!("{}\n{err}", String::from_utf8_lossy(&out.stdout)),
        pid,
    )
}

#[test]
fn sigterm_mid_campaign_cleans_up_and_writes_the_partial_reports() {
    let dir = temp_dir("sigterm-chaos");
    let (json, junit) = (dir.join("r.json"), dir.join("r.xml"));
    let seed = format!("{}", 7_000_000 + std::process::id());
    let (code, out, _) = interrupt(
        &[
            "chaos",
            "--seed",
            &seed,
            "--duration",
            "120s",
            "--report",
            dir.join("report").to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
        &|err| err.contains(": faults ("),
    );
    assert_eq!(code, 143, "{out}");
    let doc = read_json(&json);
    assert_eq!(doc["interrupted"], "SIGTERM", "{out}");
    let c = &doc["campaigns"][0];
    assert_eq!(c["history"]["interrupted"], true);
    assert!(
        c["verdict"]["stats"]["injected"]
            .as_object()
            .is_some_and(|m| !m.is_empty()),
        "no fault before the signal"
    );
    let ring = c["ring"].as_str().unwrap();
    assert!(
        leftovers(ring).is_empty(),
        "left behind: {:?}",
        leftovers(ring)
    );
    assert!(
        processes_with_env("RINGPROOF_CHAOS_SEED", &seed).is_empty(),
        "testees still running"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("interrupted by SIGTERM"), "{xml}");
    assert!(out.contains("INTERRUPTED by SIGTERM"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigterm_mid_conform_cleans_up_and_marks_the_cases_not_run() {
    let dir = temp_dir("sigterm-conform");
    let json = dir.join("r.json");
    let (junit, j2) = (dir.join("r.xml"), json.clone());
    let (code, out, pid) = interrupt(
        &[
            "conform",
            "--backend",
            "shm",
            "--json",
            json.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
        &|_| {
            // The JSON is rewritten after every instance: the first one is the marker.
            std::fs::read(&j2)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .is_some_and(|v| v["results"].as_array().is_some_and(|r| !r.is_empty()))
        },
    );
    assert_eq!(code, 143, "{out}");
    let doc = read_json(&json);
    assert_eq!(doc["interrupted"], "SIGTERM");
    let results = doc["results"].as_array().unwrap();
    let (code_list, list, _) = ringproof(&["conform", "--list"]);
    assert_eq!(code_list, 0);
    assert_eq!(
        results.len(),
        list.lines().count(),
        "every instance is in the partial report"
    );
    assert!(
        results.iter().any(|r| r["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("interrupted by SIGTERM"))),
        "no instance marked interrupted"
    );
    // The names of its cases' rings and directories (conformance/src/runner.rs).
    let mut left = leftovers(&format!("rpc{pid}x"));
    left.extend(leftovers(&format!("ringproof-conform-{pid}-")));
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(
        std::fs::read_to_string(&junit)
            .unwrap()
            .contains("interrupted"),
        "JUnit lacks the interrupted cases"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
