//! `ringproof bench --impl`: implementations benchmarked through their testees' `bench`
//! capability (conformance/PROTOCOL.md, "Benchmarks"). Tiny counts, no timing asserted:
//!
//! - the reference testee and the disruptor-mp testee run every bench mode (stream single and
//!   batch, 1 -> 2 and 1 -> 3 broadcast, ping-pong, paced) bracketed by the floors, and the JSON
//!   has their runs, ratios and histograms (the reference sends an hdrhistogram, disruptor-mp
//!   raw samples);
//! - a third-party testee that offers only `bench` (stream) gets its bracketed row next to the
//!   reference, from the one command the docs give;
//! - a testee that sends an impossible or malformed report, or has no `bench` capability, is
//!   refused with a message that says what is wrong, and its case is a failure, not a number.
//!
//! `disruptor-mp` resolves to `dmp-peer` next to the `ringproof` binary (`cargo build -p
//! dmp-peer`; `cargo test --workspace` builds it).

#[path = "../../bench/tests/common/mod.rs"]
mod common;

use common::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const RINGPROOF: &str = env!("CARGO_BIN_EXE_ringproof");

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}")).expect("write script");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    p
}

/// A fake testee: hello with `caps`, then answers every `bench` command with `report` (the
/// JSON of the `bench` field, or anything at all) and exits on `exit` or EOF.
fn fake(dir: &Path, name: &str, caps: &str, report: &str) -> PathBuf {
    script(
        dir,
        name,
        &format!(
            r#"echo '{{"type":"hello","protocol":1,"impl":"{name}","version":"0","capabilities":[{caps}]}}'
while IFS= read -r line; do
  case "$line" in
    *'"cmd":"exit"'*) exit 0 ;;
    *'"cmd":"bench"'*)
      id=$(printf '%s' "$line" | sed 's/.*"id":\([0-9]*\).*/\1/')
      echo "{{\"type\":\"ok\",\"id\":$id,\"bench\":{report}}}" ;;
  esac
done
"#
        ),
    )
}

fn summary<'a>(doc: &'a Value, title: &str, who: &str) -> Vec<&'a Value> {
    let case = doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["title"] == title)
        .unwrap_or_else(|| panic!("no case {title}"));
    case["summary"]
        .as_array()
        .expect("summary")
        .iter()
        .filter(|s| s["who"] == who)
        .collect()
}

#[test]
fn reference_and_disruptor_mp_testees_run_every_bench_mode() {
    // Benchmarks measure the machine: one at a time, or each one's floors measure the others.
    let _turn = ringproof_testsupport::serial();
    let dmp = Path::new(RINGPROOF).with_file_name("dmp-peer");
    assert!(
        dmp.is_file(),
        "{} missing: build it with `cargo build -p dmp-peer`",
        dmp.display()
    );
    let s = Scratch::new("testees");
    let json = s.path("out.json");
    let plots = s.path("plots");
    let (j, p) = (json.display().to_string(), plots.display().to_string());
    let mut args: Vec<&str> = vec!["bench"];
    args.extend(TINY);
    // Debug builds on a busy CI runner: the floor check is exercised by the unit tests.
    args.extend([
        "--impl",
        "ringproof",
        "--impl",
        "disruptor-mp",
        "--readers",
        "3",
        "--lie-factor",
        "1000",
        "--json",
        &j,
        "--plot",
        &p,
    ]);
    let ran = run(RINGPROOF, &args, &[], &s, Duration::from_secs(300));
    let all: &[&str] = &["ringproof", "ringproof/testee", "disruptor-mp/testee"];
    let expect: Vec<(&str, &[&str])> = [
        "stream-single 8B",
        "stream-single 64B",
        "stream-batch 8B",
        "stream-batch 64B",
        "spmc-2",
        "spmc-n",
        "pingpong-spin",
        "paced-spin",
    ]
    .into_iter()
    .map(|t| (t, all))
    .collect();
    let doc = check_run(&ran, &json, &expect);
    assert_eq!(
        doc["cases"].as_array().map(Vec::len),
        Some(expect.len()),
        "only the scenarios testees join run"
    );
    let impls = doc["settings"]["impls"]
        .as_array()
        .expect("impls in settings");
    assert_eq!(impls.len(), 2);
    assert!(
        impls.iter().all(|i| i["capabilities"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c == "bench-paced"))),
        "{impls:?}"
    );
    for title in ["stream-single 64B", "pingpong-spin"] {
        for who in ["ringproof/testee", "disruptor-mp/testee"] {
            let sm = summary(&doc, title, who);
            assert!(!sm.is_empty(), "{title}: no summary for {who}");
            assert!(
                sm[0]["ratio_median"].is_number() && sm[0]["worst_ratio"].is_number(),
                "{title}/{who}: {}",
                sm[0]
            );
            assert!(
                sm[0]["ringproof_advantage"].is_number(),
                "{title}/{who}: compared with the built-in ringproof: {}",
                sm[0]
            );
        }
    }
    // What each testee sent is kept with the run: the reference's histogram, disruptor-mp's samples.
    let ping = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "pingpong-spin")
        .unwrap();
    let report = |who: &str| {
        ping["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["who"] == who)
            .map(|r| r["a"]["testee"]["report"].clone())
            .unwrap()
    };
    assert!(report("ringproof/testee")["rtt_hist_ns_v2z"].is_string());
    assert_eq!(
        report("disruptor-mp/testee")["rtt_samples_ns"]
            .as_array()
            .map(Vec::len),
        Some(300)
    );
    assert!(
        ran.stdout.contains("ringproof via testee, pingpong")
            && ran.stdout.contains("disruptor-mp via testee, stream batch"),
        "{}",
        ran.stdout
    );
    check_plots(&plots);
}

#[test]
fn a_third_party_stream_only_testee_gets_a_bracketed_row_next_to_the_reference() {
    // Benchmarks measure the machine: one at a time, or each one's floors measure the others.
    let _turn = ringproof_testsupport::serial();
    let s = Scratch::new("thirdparty");
    // Any program that speaks the protocol: here the reference testee behind a filter that
    // renames it and announces nothing but `bench` (stream) and the roles.
    let testee = script(
        &s.0,
        "third-party-testee",
        &format!(
            "{RINGPROOF} testee | sed -u -e '1s/\"impl\":\"ringproof\"/\"impl\":\"third-party\"/' \
             -e '1s/\"capabilities\":\\[[^]]*\\]/\"capabilities\":[\"shm\",\"producer\",\"consumer\",\"bench\"]/'\n"
        ),
    );
    let t = testee.display().to_string();
    let listed = run(
        RINGPROOF,
        &["bench", "--impl", &t, "--list"],
        &[],
        &s,
        Duration::from_secs(60),
    );
    assert!(listed.status.success(), "{}", listed.stderr);
    assert!(
        listed.stdout.contains("bench modes: stream\n")
            && listed
                .stdout
                .contains("joins: stream-single, spmc-2, spmc-n"),
        "{}",
        listed.stdout
    );
    let json = s.path("out.json");
    let j = json.display().to_string();
    let args = [
        "bench",
        "--impl",
        &t,
        "--quick",
        "--size",
        "8",
        "--events",
        "20000",
        "--max-preemptions",
        "1000000",
        "--lie-factor",
        "1000",
        "--json",
        &j,
    ];
    let ran = run(RINGPROOF, &args, &[], &s, Duration::from_secs(120));
    let doc = check_run(
        &ran,
        &json,
        &[
            ("stream-single 8B", &["ringproof", "third-party/testee"]),
            ("spmc-2", &["ringproof", "third-party/testee"]),
        ],
    );
    let row = summary(&doc, "stream-single 8B", "third-party/testee");
    assert_eq!(row.len(), 1);
    let r = row[0];
    assert_eq!(
        r["ratios"].as_array().map(Vec::len),
        Some(2),
        "two brackets with --quick: {r}"
    );
    assert!(
        r["worst_ratio"].as_f64().unwrap() <= r["best_ratio"].as_f64().unwrap(),
        "{r}"
    );
    assert_eq!(r["placements"].as_array().map(Vec::len), Some(2), "{r}");
    assert!(r["ringproof_advantage"].is_number(), "{r}");
    let line = ran
        .stdout
        .lines()
        .find(|l| l.contains("third-party/testee"))
        .unwrap_or_else(|| panic!("no table row: {}", ran.stdout));
    assert!(line.contains("events/s"), "{line}");
}

#[test]
fn impossible_or_malformed_reports_are_refused_with_what_is_wrong() {
    // Benchmarks measure the machine: one at a time, or each one's floors measure the others.
    let _turn = ringproof_testsupport::serial();
    let s = Scratch::new("liars");
    let caps = r#""shm","producer","consumer","bench""#;
    let cases = [
        (
            "impossible",
            fake(
                &s.0,
                "impossible",
                caps,
                r#"{\"start_ns\":1,\"end_ns\":2,\"events\":0,\"errors\":0}"#,
            ),
            "sent a bad report, refused: start_ns 1 ns is outside the run",
        ),
        (
            "malformed",
            fake(&s.0, "malformed", caps, r#"{\"start_ns\":\"soon\"}"#),
            "schema violation",
        ),
    ];
    for (tag, testee, want) in cases {
        let json = s.path(&format!("{tag}.json"));
        let (t, j) = (testee.display().to_string(), json.display().to_string());
        let args = [
            "bench",
            "--impl",
            &t,
            "--quick",
            "--scenario",
            "stream-single",
            "--size",
            "8",
            "--events",
            "5000",
            "--json",
            &j,
        ];
        let ran = run(RINGPROOF, &args, &[], &s, Duration::from_secs(120));
        assert_eq!(
            ran.status.code(),
            Some(1),
            "{tag}: a refused report fails the run\n{}\n{}",
            ran.stdout,
            ran.stderr
        );
        assert!(
            ran.stdout.contains(want),
            "{tag}: want {want:?} in\n{}",
            ran.stdout
        );
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(&json).expect("json written"))
                .expect("json");
        assert!(
            doc["verdict"]["failure"]
                .as_str()
                .is_some_and(|f| f.contains(want)),
            "{tag}: {}",
            doc["verdict"]
        );
        assert_eq!(
            doc["cases"].as_array().map(Vec::len),
            Some(0),
            "{tag}: a refused case gives no numbers"
        );
    }
    // A liar with a consistent report (real CLOCK_MONOTONIC stamps, every event counted) that
    // claims 3 events per nanosecond: only the raw floor gives it away.
    if std::process::Command::new("python3")
        .arg("-c")
        .arg("")
        .status()
        .is_ok_and(|s| s.success())
    {
        // Five events per nanosecond: several times any raw floor of this machine, under the
        // 10 per nanosecond that a report may claim at all (so it is judged as a lie against
        // the floors, not refused as malformed).
        let liar = script(
            &s.0,
            "fast-liar",
            r#"exec python3 -c '
import json, sys, time
now = lambda: time.clock_gettime_ns(time.CLOCK_MONOTONIC)
print(json.dumps({"type": "hello", "protocol": 1, "impl": "fast-liar", "version": "0", "capabilities": ["shm", "bench"]}), flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    if cmd["cmd"] == "exit":
        break
    total = cmd["warmup"] + cmd["events"]
    time.sleep(0.01)
    end = now()
    r = {"start_ns": end - max(1, total // 5), "end_ns": end, "events": total, "errors": 0}
    if cmd["role"] == "consumer":
        r["timed_events"] = cmd["events"]
    print(json.dumps({"type": "ok", "id": cmd["id"], "bench": r}), flush=True)
'
"#,
        );
        let json = s.path("liar.json");
        let (t, j) = (liar.display().to_string(), json.display().to_string());
        let args = [
            "bench",
            "--impl",
            &t,
            "--quick",
            "--scenario",
            "stream-single",
            "--size",
            "8",
            "--events",
            "30000",
            "--max-preemptions",
            "1000000",
            "--json",
            &j,
        ];
        let ran = run(RINGPROOF, &args, &[], &s, Duration::from_secs(120));
        assert_eq!(
            ran.status.code(),
            Some(1),
            "a lie fails the run\n{}\n{}",
            ran.stdout,
            ran.stderr
        );
        assert!(
            ran.stdout
                .contains("testee fast-liar/testee reports an impossible result"),
            "{}",
            ran.stdout
        );
        assert!(ran.stdout.contains("the best raw floor"), "{}", ran.stdout);
    } else {
        eprintln!("python3 not found: the floor-lie check runs in the unit tests only");
    }
    let none = fake(&s.0, "nobench", r#""shm","producer""#, "{}");
    let ran = run(
        RINGPROOF,
        &["bench", "--impl", &none.display().to_string(), "--quick"],
        &[],
        &s,
        Duration::from_secs(60),
    );
    assert_eq!(
        ran.status.code(),
        Some(2),
        "a testee that cannot benchmark is a usage error (exit 2), not a broken ring"
    );
    assert!(
        ran.stderr.contains("does not offer the `bench` capability"),
        "{}",
        ran.stderr
    );
}
