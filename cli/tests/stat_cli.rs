//! `ringproof stat`: a live ring held in a known state (a producer exactly one ring ahead of a
//! consumer that stopped reading), observed as JSON, Prometheus text, the one-screen table and
//! `--watch`, on both backends; then everything drains, exits and leaves nothing behind.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CAPACITY: i64 = 64;
const EVENTS: u64 = 200_000;
/// Events the in-test consumer reads before it holds.
const K: i64 = 1000;

fn stat(ring: &Ring, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["stat".to_owned()];
    args.extend(ring.args());
    args.extend(extra.iter().map(|s| s.to_string()));
    Command::new(BIN)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("run ringproof stat")
}

fn text(o: &std::process::Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// One Prometheus sample: `name{k="v",...} value`.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses `k="v",k2="v2"` with Prometheus escapes.
fn parse_labels(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = s;
    while !rest.is_empty() {
        let eq = rest
            .find("=\"")
            .unwrap_or_else(|| panic!("label without =\" in {s:?}"));
        let key = &rest[..eq];
        assert!(
            is_metric_name(key) && !key.contains(':'),
            "bad label name {key:?} in {s:?}"
        );
        let mut value = String::new();
        let mut chars = rest[eq + 2..].char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    other => panic!("bad escape {other:?} in {s:?}"),
                },
                Some((i, '"')) => break eq + 2 + i + 1,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in {s:?}"),
            }
        };
        assert!(
            out.insert(key.to_owned(), value).is_none(),
            "duplicate label {key} in {s:?}"
        );
        rest = &rest[end..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    out
}

/// Checks every line of a Prometheus text exposition and returns its samples.
fn parse_prometheus(body: &str) -> Vec<Sample> {
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Vec::new();
    for line in body.lines() {
        assert!(!line.is_empty(), "blank line in\n{body}");
        if let Some(c) = line.strip_prefix("# ") {
            let mut parts = c.splitn(3, ' ');
            let (kw, name, rest) = (
                parts.next().unwrap(),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            assert!(is_metric_name(name), "bad metric name in {line:?}");
            match kw {
                "HELP" => assert!(!rest.is_empty(), "empty HELP: {line:?}"),
                "TYPE" => {
                    assert!(
                        ["counter", "gauge", "untyped"].contains(&rest),
                        "bad TYPE: {line:?}"
                    );
                    assert!(
                        typed.insert(name.to_owned(), rest.to_owned()).is_none(),
                        "TYPE given twice: {line:?}"
                    );
                }
                _ => panic!("unknown comment {line:?}"),
            }
            continue;
        }
        let open = line
            .find('{')
            .unwrap_or_else(|| panic!("no labels in {line:?}"));
        let close = line
            .rfind("} ")
            .unwrap_or_else(|| panic!("no '}} value' in {line:?}"));
        let name = &line[..open];
        assert!(is_metric_name(name), "bad metric name in {line:?}");
        assert!(typed.contains_key(name), "sample before its TYPE: {line:?}");
        let value: f64 = line[close + 2..]
            .parse()
            .unwrap_or_else(|e| panic!("bad value in {line:?}: {e}"));
        samples.push(Sample {
            name: name.to_owned(),
            labels: parse_labels(&line[open + 1..close]),
            value,
        });
    }
    samples
}

fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> &'a Sample {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .unwrap_or_else(|| panic!("no {name} with {labels:?} in {samples:#?}"))
}

/// Reads exactly `n` events with `poll_batch`, checking each payload.
fn poll_exactly(c: &mut ringproof::RawConsumer, n: i64, procs: &mut [&mut Proc]) {
    let deadline = Instant::now() + HARD_TIMEOUT;
    let mut got = 0i64;
    while got < n {
        let want = (n - got) as usize;
        let read = c
            .poll_batch(want, |seq, bytes, _| {
                ringproof::kit::payload::verify(seq as u64, bytes)
                    .unwrap_or_else(|e| panic!("bad payload at {seq}: {e}"));
            })
            .unwrap_or_else(|e| panic!("poll_batch after {got} events: {e}"));
        got += read as i64;
        if read == 0 {
            assert!(
                Instant::now() < deadline,
                "read only {got} of {n} events within {HARD_TIMEOUT:?}"
            );
            check_alive(procs);
            std::thread::yield_now();
        }
    }
}

fn check_json(ring: &Ring, producer_pid: u32, id: &str) {
    let o = stat(ring, &["--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let lines: Vec<&str> = std::str::from_utf8(&o.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), 1, "{}", text(&o));
    let v: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["ring"], ring.name.as_str(), "{v}");
    assert_eq!(
        v["backend"],
        if ring.backend == Backend::Shm {
            "shm"
        } else {
            "dir"
        },
        "{v}"
    );
    assert_eq!(v["capacity"], CAPACITY, "{v}");
    assert_eq!(v["element_size"], 64, "{v}");
    // The held consumer committed K-1; the producer is exactly one ring ahead of it.
    assert_eq!(v["producer_cursor"], K - 1 + CAPACITY, "{v}");
    assert_eq!(v["state"], "open", "{v}");
    assert_eq!(v["producer"]["pid"], producer_pid, "{v}");
    assert_eq!(v["producer"]["alive"], true, "{v}");
    let participants = v["participants"].as_array().unwrap();
    let me = participants
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("no participant {id}: {v}"));
    assert_eq!(me["state"], "alive", "{v}");
    assert_eq!(me["role"], "consumer", "{v}");
    assert_eq!(me["pid"], std::process::id(), "{v}");
    assert_eq!(me["cursor"], K - 1, "{v}");
    assert_eq!(me["lag"], CAPACITY, "{v}");
    assert!(me["heartbeat_age_ns"].is_u64(), "{v}");
    // Counters appear once the producer creates the ring's counters segment (wired in the
    // producer separately): until then the section is null; either way it is well-formed.
    match &v["counters"] {
        Value::Null => {}
        Value::Array(counters) => {
            for c in counters {
                assert!(
                    c["label"].is_string() && c["value"].is_u64() && c["id"].is_u64(),
                    "{v}"
                );
            }
        }
        other => panic!("counters is neither null nor an array: {other}"),
    }
    assert!(v["notes"].is_array(), "{v}");
}

fn check_prometheus(ring: &Ring, id: &str) {
    let o = stat(ring, &["--prometheus"]);
    assert!(o.status.success(), "{}", text(&o));
    let body = String::from_utf8(o.stdout.clone()).unwrap();
    let samples = parse_prometheus(&body);
    let r = ring.name.as_str();
    assert_eq!(
        find(&samples, "ringproof_producer_cursor", &[("ring", r)]).value,
        (K - 1 + CAPACITY) as f64,
        "{body}"
    );
    assert_eq!(
        find(&samples, "ringproof_ring_capacity", &[("ring", r)]).value,
        CAPACITY as f64
    );
    assert_eq!(
        find(
            &samples,
            "ringproof_consumer_lag",
            &[("ring", r), ("consumer", id)]
        )
        .value,
        CAPACITY as f64,
        "{body}"
    );
    assert_eq!(
        find(
            &samples,
            "ringproof_consumer_cursor",
            &[("ring", r), ("consumer", id)]
        )
        .value,
        (K - 1) as f64
    );
    assert_eq!(
        find(
            &samples,
            "ringproof_participant_up",
            &[("ring", r), ("consumer", id)]
        )
        .value,
        1.0,
        "{body}"
    );
    assert_eq!(
        find(&samples, "ringproof_producer_up", &[("ring", r)]).value,
        1.0,
        "{body}"
    );
    assert_eq!(
        find(&samples, "ringproof_ring_closed", &[("ring", r)]).value,
        0.0
    );
    for s in samples.iter().filter(|s| s.name == "ringproof_counter") {
        assert!(s.labels.contains_key("label") && s.value >= 0.0, "{s:?}");
    }
}

fn check_screen(ring: &Ring, id: &str) {
    let o = stat(ring, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(t.contains(&format!("ring {}", ring.name)), "{t}");
    assert!(
        t.contains(&format!("producer cursor: {}", K - 1 + CAPACITY)),
        "{t}"
    );
    assert!(t.contains("participants (1):"), "{t}");
    let row = t
        .lines()
        .find(|l| l.split_whitespace().next() == Some(id))
        .unwrap_or_else(|| panic!("no row for {id}:\n{t}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!((cells[1], cells[3]), ("consumer", "alive"), "{row}");
    assert_eq!(
        &cells[cells.len() - 2..],
        [&(K - 1).to_string(), &CAPACITY.to_string()],
        "{row}"
    );
    assert!(t.contains("counters"), "{t}");
}

/// `ringproof stat --watch` in the background, its stdout collected as it comes.
struct Watch {
    child: std::process::Child,
    out: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Watch {
    fn spawn(ring: &Ring) -> Watch {
        let mut args = vec!["stat".to_owned()];
        args.extend(ring.args());
        args.extend([
            "--watch".to_owned(),
            "--interval-ms".to_owned(),
            "20".to_owned(),
        ]);
        let mut child = Command::new(BIN)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut stdout = child.stdout.take().unwrap();
        let sink = std::sync::Arc::clone(&out);
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Watch {
            child,
            out,
            reader: Some(reader),
        }
    }

    /// Waits until it has drawn `frames` frames (of a ring it could read).
    fn wait_frames(&mut self, frames: usize) {
        let deadline = Instant::now() + HARD_TIMEOUT;
        while self.out.lock().unwrap().matches("participants (").count() < frames {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "stat --watch exited early ({status:?}):\n{}",
                    self.out.lock().unwrap()
                );
            }
            assert!(
                Instant::now() < deadline,
                "stat --watch drew fewer than {frames} frames"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits for it to exit on its own (it must: the ring goes away), returning its stdout.
    fn finish(mut self) -> String {
        let deadline = Instant::now() + HARD_TIMEOUT;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "stat --watch did not exit after the ring went away"
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        self.reader.take().unwrap().join().unwrap();
        let out = self.out.lock().unwrap().clone();
        assert!(status.success(), "stat --watch: {status:?}\n{out}");
        out
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn held_ring_is_reported(backend: Backend, tag: &str) {
    let fx = Fixture::new(tag);
    let ring = fx.ring(backend, "r");
    let id = "statgate";
    let mut producer = ring.produce(&[
        "--events",
        &EVENTS.to_string(),
        "--wait-consumers",
        "1",
        "--capacity",
        &CAPACITY.to_string(),
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
    ]);
    let mut gate = ring.attach_gate(id, 64);
    poll_exactly(&mut gate, K, &mut [&mut producer]);
    // The producer runs until the held consumer stops it: one ring ahead of K - 1.
    wait_until(
        "the producer to fill the ring ahead of the held consumer",
        &mut [&mut producer],
        || {
            ring.open_producer_cursor()
                .is_some_and(|c| c.load() == K - 1 + CAPACITY)
        },
    );

    check_json(&ring, producer.pid(), id);
    check_prometheus(&ring, id);
    check_screen(&ring, id);
    let mut watch = Watch::spawn(&ring);
    watch.wait_frames(2);
    // Nothing moved while we looked: stat modifies nothing.
    assert_eq!(
        ring.open_producer_cursor().unwrap().load(),
        K - 1 + CAPACITY
    );
    assert_eq!(ring.open_consumer_cursor(id).unwrap().load(), K - 1);

    gate_consume(&mut gate, EVENTS - K as u64, &mut [&mut producer]);
    producer.wait().expect_producer_ok(EVENTS);
    drop(gate);
    let out = watch.finish();
    assert!(
        out.contains("\x1b[H\x1b[2J"),
        "watch did not redraw in place:\n{out}"
    );
    assert!(out.contains("participants ("), "{out}");
    assert_eq!(out.trim_end().lines().last(), Some("ring gone"), "{out}");
    fx.assert_clean();
}

#[test]
fn stat_reports_a_held_shm_ring() {
    held_ring_is_reported(Backend::Shm, "statshm");
}

#[test]
fn stat_reports_a_held_dir_ring() {
    held_ring_is_reported(Backend::Dir, "statdir");
}

#[test]
fn stat_on_a_missing_ring_exits_2() {
    let fx = Fixture::new("statmissing");
    for backend in BACKENDS {
        let ring = fx.ring(backend, "none");
        for extra in [&[][..], &["--json"], &["--prometheus"], &["--watch"]] {
            let o = stat(&ring, extra);
            assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", text(&o));
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                err.contains("does not exist") && err.contains(&ring.name),
                "{extra:?}: {}",
                text(&o)
            );
        }
        let o = stat(&ring, &["--json"]);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(
            v["error"].as_str().unwrap().contains("does not exist"),
            "{v}"
        );
    }
    let o = Command::new(BIN)
        .args(["stat", "--ring", "bad/name"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    fx.assert_clean();
}
