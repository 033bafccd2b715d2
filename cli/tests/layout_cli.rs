//! `ringproof layout`: inspect, diff, audit and regen, run as the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

fn goldens() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden-layouts")
}

fn ringproof(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringproof"))
        .args(args)
        .output()
        .expect("run ringproof")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A unique temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "ringproof-layout-cli-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn path(&self, rel: &str) -> String {
        self.0.join(rel).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn audit_passes_on_the_committed_goldens() {
    let dir = goldens().display().to_string();
    let o = ringproof(&["layout", "audit", &dir]);
    assert!(o.status.success(), "{}", text(&o));
    let o = ringproof(&["layout", "audit", &dir, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["problems"], 0);
    assert!(v["files"].as_array().unwrap().len() >= 50, "{v}");
}

#[test]
fn audit_fails_on_a_flipped_byte() {
    let tmp = TempDir::new("flip");
    copy_tree(&goldens(), &tmp.0);
    let victim = tmp.0.join("ringproof/v1/ring-e24-c1024-a8.bin");
    let mut b = std::fs::read(&victim).unwrap();
    b[20] ^= 0x01; // payload_size
    std::fs::write(&victim, b).unwrap();
    let o = ringproof(&["layout", "audit", &tmp.path(""), "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["problems"], 1);
    let bad = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["status"] == "problem")
        .unwrap();
    assert_eq!(bad["path"], "ringproof/v1/ring-e24-c1024-a8.bin");
    let problems = bad["problems"].to_string();
    assert!(
        problems.contains("Checksum") && problems.contains("drift"),
        "{problems}"
    );
}

#[test]
fn audit_flags_unlisted_and_missing_files() {
    let tmp = TempDir::new("extra");
    copy_tree(&goldens(), &tmp.0);
    std::fs::write(tmp.0.join("ringproof/v1/stray.bin"), b"stray").unwrap();
    std::fs::remove_file(tmp.0.join("ringproof/v1/cursor-ready.bin")).unwrap();
    let o = ringproof(&["layout", "audit", &tmp.path("")]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("FAIL  ringproof/v1/stray.bin") && t.contains("not in the golden catalogue"),
        "{t}"
    );
    assert!(
        t.contains("FAIL  ringproof/v1/cursor-ready.bin") && t.contains("no such file"),
        "{t}"
    );
}

#[test]
fn inspect_says_a_foreign_file_is_not_layout_v1() {
    let tmp = TempDir::new("foreign");
    std::fs::write(
        tmp.0.join("notes.txt"),
        "these are plain notes, not a shared-memory segment of any kind\n",
    )
    .unwrap();
    let o = ringproof(&["layout", "inspect", &tmp.path("notes.txt")]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("not a LayoutV1 segment"), "{}", text(&o));
    std::fs::write(tmp.0.join("empty"), b"").unwrap();
    let o = ringproof(&["layout", "inspect", &tmp.path("empty")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("TooShort"), "{}", text(&o));
}

#[test]
fn inspect_reports_unreadable_paths() {
    let o = ringproof(&["layout", "inspect", "/nonexistent/ringproof/segment"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no such file"), "{}", text(&o));
    let o = ringproof(&["layout", "inspect", &goldens().display().to_string()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("is a directory"), "{}", text(&o));
    let o = ringproof(&[
        "layout",
        "inspect",
        "--shm",
        "ringproof_no_such_segment_here",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["error"].as_str().unwrap().contains("no such shm segment"),
        "{v}"
    );
    let o = ringproof(&["layout", "inspect", "--shm", "../etc/passwd"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn inspect_a_golden_with_hex_and_json() {
    let path = goldens()
        .join("ringproof/v1/ring-e128-c1024-a128.bin")
        .display()
        .to_string();
    let o = ringproof(&["layout", "inspect", &path, "--hex"]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("header image") && t.contains("payload at 128") && t.contains("|DSMPTV01"),
        "{t}"
    );
    let o = ringproof(&["layout", "inspect", &path, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"]["ok"], true);
    assert_eq!(v["verdict"]["capacity"], 1024);
    assert_eq!(v["fields"][0]["name"], "magic");
}

#[test]
fn inspect_a_live_shm_cursor() {
    use ringproof::kit::cursor::Cursor;
    use ringproof::kit::names::SegmentPath;
    let name = format!("rplayoutcli_{}", std::process::id());
    let cursor = Cursor::create(&SegmentPath::Shm(name.clone()), "cursor", 41, 7).unwrap();
    let o = ringproof(&["layout", "inspect", "--shm", &name]);
    let _ = ringproof::kit::segment::unlink(&SegmentPath::Shm(name));
    drop(cursor);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("cell.value") && text(&o).contains(" 41 "),
        "{}",
        text(&o)
    );
}

#[test]
fn diff_names_the_differing_fields() {
    let rp = goldens()
        .join("ringproof/v1/cursor-producer.bin")
        .display()
        .to_string();
    let dmp = goldens()
        .join("disruptor-mp-0.1.0-alpha.2/cursor-producer.bin")
        .display()
        .to_string();
    let o = ringproof(&["layout", "diff", &rp, &dmp, "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let d = v["differences"].as_array().unwrap();
    assert_eq!(d.len(), 1, "{v}");
    assert_eq!(d[0]["field"], "cell.epoch");
    assert_eq!(d[0]["offset"], 80);
    let o = ringproof(&["layout", "diff", &rp, &rp]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("no field differs"));
}

#[test]
fn regen_reproduces_the_committed_goldens() {
    let tmp = TempDir::new("regen");
    let o = ringproof(&["layout", "regen", &tmp.path("")]);
    assert!(o.status.success(), "{}", text(&o));
    let mut n = 0;
    for entry in std::fs::read_dir(goldens().join("ringproof/v1")).unwrap() {
        let entry = entry.unwrap();
        let fresh = std::fs::read(tmp.0.join("ringproof/v1").join(entry.file_name())).unwrap();
        assert_eq!(
            fresh,
            std::fs::read(entry.path()).unwrap(),
            "{:?}",
            entry.file_name()
        );
        n += 1;
    }
    // 27 LayoutV1 goldens and 2 counters goldens.
    assert_eq!(n, 29);
}

#[test]
fn inspect_and_audit_a_counters_segment() {
    let path = goldens()
        .join("ringproof/v1/counters-producer-c1.bin")
        .display()
        .to_string();
    let o = ringproof(&["layout", "inspect", &path]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("ok: counters segment")
            && t.contains("slot[9].label")
            && t.contains("c_0.events_consumed"),
        "{t}"
    );
    let o = ringproof(&["layout", "inspect", &path, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["kind"], "counters");
    assert_eq!(v["verdict"]["ok"], true);
    assert_eq!(v["verdict"]["slot_count"], 15);
    // A corrupted counters golden fails the audit with its counters error.
    let tmp = TempDir::new("counters");
    copy_tree(&goldens(), &tmp.0);
    let victim = tmp.0.join("ringproof/v1/counters-fresh.bin");
    let mut b = std::fs::read(&victim).unwrap();
    b[12] = 63; // slot_capacity
    std::fs::write(&victim, &b).unwrap();
    let o = ringproof(&["layout", "audit", &tmp.path(""), "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let bad: Vec<&serde_json::Value> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "problem")
        .collect();
    assert_eq!(bad.len(), 1, "{v}");
    assert_eq!(bad[0]["path"], "ringproof/v1/counters-fresh.bin");
    let problems = bad[0]["problems"].to_string();
    assert!(
        problems.contains("SlotCapacity") && problems.contains("drift"),
        "{problems}"
    );
    let o = ringproof(&["layout", "inspect", &victim.display().to_string()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}
