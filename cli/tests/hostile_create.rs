//! Hostile creation and restart (issue 11, CREATE part): a stalled creator, racing producers,
//! a truncated registry, a failed restart's bookkeeping, another user's segments, a FIFO under
//! a segment name, a full filesystem, a planted or world-writable consumers directory, and a
//! hostile element size. Real `ringproof` processes; each test cleans up and checks that
//! nothing of it is left, temporaries (`.NAME.PID.NANOS.tmp`) included.

mod common;

use common::*;
use ringproof::kit::layout::{LayoutHeader, SegmentKind};
use ringproof::kit::registry::Registry;
use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A child run with its own environment or through `sh` (common's `Proc` runs the binary
/// plainly). Killed and reaped on drop.
struct Run {
    label: String,
    child: Child,
    out: Option<JoinHandle<String>>,
    err: Option<JoinHandle<String>>,
}

fn reader(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = r.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    })
}

fn spawn(label: &str, program: &str, args: &[String], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program} {args:?}: {e}"));
    let out = Some(reader(child.stdout.take().expect("stdout")));
    let err = Some(reader(child.stderr.take().expect("stderr")));
    Run {
        label: format!("{label} `{program} {}`", args.join(" ")),
        child,
        out,
        err,
    }
}

/// `ringproof ARGS` with `env`.
fn ringproof(label: &str, args: Vec<String>, env: &[(&str, &str)]) -> Run {
    spawn(label, BIN, &args, env)
}

/// `ringproof CMD` on `ring` with `extra` arguments.
fn role(ring: &Ring, cmd: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let mut args = vec![cmd.to_owned()];
    args.extend(ring.args());
    args.extend(extra.iter().map(|s| s.to_string()));
    ringproof(cmd, args, env)
}

impl Run {
    fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Waits (killing it and failing after [`HARD_TIMEOUT`]) and parses its JSON line, if it
    /// printed exactly one line that is JSON (`Null` otherwise: a crash prints none).
    fn wait(mut self) -> Output {
        let deadline = Instant::now() + HARD_TIMEOUT;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "{} did not exit within {HARD_TIMEOUT:?} (killed)",
                    self.label
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let stdout = self
            .out
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let stderr = self
            .err
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let json = stdout
            .lines()
            .next()
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or(Value::Null);
        let out = Output {
            label: self.label.clone(),
            status,
            stdout,
            stderr,
            json,
        };
        assert!(
            !out.stderr.contains("panicked"),
            "{} panicked\n{}",
            out.label,
            out.describe()
        );
        out
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Everything of `ring` left anywhere a segment or temporary of it can be: /dev/shm names and
/// temporaries of the fixture's prefix, and the fixture directory's entries.
fn leftovers(fx: &Fixture) -> Vec<String> {
    let mut v = fx.shm_leftovers();
    let dot = format!(".{}", fx.prefix);
    v.extend(
        std::fs::read_dir("/dev/shm")
            .expect("read /dev/shm")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&dot)),
    );
    v.extend(fx.dir_leftovers());
    v
}

fn assert_nothing_left(fx: &Fixture) {
    let left = leftovers(fx);
    assert!(left.is_empty(), "leaked: {left:?}");
}

/// Removes whatever a test planted or damaged on purpose (the tools may rightly refuse it).
fn remove_planted(fx: &Fixture) {
    let dot = format!(".{}", fx.prefix);
    for e in std::fs::read_dir("/dev/shm")
        .expect("read /dev/shm")
        .filter_map(|e| e.ok())
    {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with(&fx.prefix) || n.starts_with(&dot) {
            let _ = std::fs::remove_file(e.path());
        }
    }
    for e in std::fs::read_dir(&fx.dir)
        .expect("read test dir")
        .filter_map(|e| e.ok())
    {
        let p = e.path();
        if p.symlink_metadata().map(|m| m.is_dir()).unwrap_or(false) {
            let _ = std::fs::remove_dir_all(&p);
        } else {
            let _ = std::fs::remove_file(&p);
        }
    }
}

fn path_of(p: &ringproof::kit::names::SegmentPath) -> PathBuf {
    match p {
        ringproof::kit::names::SegmentPath::Shm(n) => Path::new("/dev/shm").join(n),
        ringproof::kit::names::SegmentPath::File(f) => f.clone(),
    }
}

/// Whether any entry of `dir` is named like `what` or a temporary of it.
fn name_or_temp_exists(dir: &Path, what: &str) -> bool {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()).any(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n == what || n.starts_with(&format!(".{what}."))
            })
        })
        .unwrap_or(false)
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// A producer that holds its ring (waiting for a consumer that never comes), then is
/// SIGKILLed: what a crash leaves behind.
fn crashed_ring(ring: &Ring, capacity: usize) {
    let mut p = role(
        ring,
        "produce",
        &[
            "--capacity",
            &capacity.to_string(),
            "--events",
            "10",
            "--wait-consumers",
            "1",
            "--timeout-ms",
            PRODUCER_TIMEOUT_MS,
        ],
        &[],
    );
    let name = ring.ring_name();
    let deadline = Instant::now() + HARD_TIMEOUT;
    // The counters segment is made last (after the ring): then the producer is waiting.
    while !(ring.ring_is_valid()
        && Registry::open(&name.registry()).is_ok()
        && path_of(&name.counters()).exists())
    {
        assert!(p.running(), "the holding producer exited early");
        assert!(
            Instant::now() < deadline,
            "the holding producer never created its ring"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(p);
}

// ---------------------------------------------------------------------------------------------
// F3: a producer stalled inside the creation of its registry never deletes the winner's.

fn stalled_creator(fx: &Fixture, backend: Backend) {
    let ring = fx.ring(backend, &format!("stall{}", backend as u8));
    let name = ring.ring_name();
    let (dir, reg) = match backend {
        Backend::Shm => (PathBuf::from("/dev/shm"), format!("{}_registry", ring.name)),
        Backend::Dir => (fx.dir.clone(), format!("{}.registry", ring.name)),
    };
    // A: stalls 3 s right after sizing its registry (before its header), then goes on.
    let a = role(
        &ring,
        "produce",
        &["--events", "10", "--capacity", "16"],
        &[("RINGPROOF_FAILPOINT", "segment.create@1:sleep=3000")],
    );
    wait_until("A to start creating its registry", &mut [], || {
        name_or_temp_exists(&dir, &reg)
    });
    let events = events(20_000);
    // B: the same ring, meanwhile; waits for one consumer, publishes through a 16-slot ring.
    let b = role(
        &ring,
        "produce",
        &[
            "--events",
            &events.to_string(),
            "--capacity",
            "16",
            "--wait-consumers",
            "1",
            "--timeout-ms",
            PRODUCER_TIMEOUT_MS,
        ],
        &[],
    );
    let b_pid = b.child.id();
    wait_until("B to own the ring", &mut [], || {
        Registry::open(&name.registry()).is_ok_and(|r| r.producer_pid() == b_pid)
    });
    let reg_before = ringproof::kit::segment::identity_of(&name.registry());
    let out_a = a.wait();
    out_a.expect_error(&["live producer"]);
    assert_eq!(
        ringproof::kit::segment::identity_of(&name.registry()),
        reg_before,
        "A's failure touched B's registry"
    );
    // A consumer that comes after A's failure is gated by B: a 16-slot ring, TP1-checked.
    let c = role(&ring, "consume", &["--id", "c"], &[]);
    let out_b = b.wait();
    let out_c = c.wait();
    out_b.expect_producer_ok(events);
    out_c.expect_consumer_clean(0, events as i64 - 1);
    assert_nothing_left(fx);
}

#[test]
fn stalled_creator_never_removes_the_winners_registry() {
    let fx = Fixture::new("stall");
    for backend in BACKENDS {
        stalled_creator(&fx, backend);
    }
}

// ---------------------------------------------------------------------------------------------
// F19: two producers started at once: each runs, or is told the ring has a live producer.

#[test]
fn racing_producers_each_run_or_see_a_live_producer() {
    let fx = Fixture::new("race");
    let pairs = 100;
    let mut refused = 0;
    for i in 0..pairs {
        let ring = fx.ring(
            if i % 2 == 0 {
                Backend::Shm
            } else {
                Backend::Dir
            },
            "r",
        );
        let p1 = role(&ring, "produce", &["--events", "5", "--capacity", "8"], &[]);
        let p2 = role(&ring, "produce", &["--events", "5", "--capacity", "8"], &[]);
        for out in [p1.wait(), p2.wait()] {
            match out.code() {
                Some(0) => {}
                _ => {
                    out.expect_error(&["live producer"]);
                    refused += 1;
                }
            }
        }
        assert_nothing_left(&fx);
    }
    fx.report(&format!(
        "{pairs} pairs, {refused} refused with a live producer"
    ));
}

// ---------------------------------------------------------------------------------------------
// F9 (restart): a truncated registry or producer cursor is reported, never removed.

#[test]
fn truncated_segments_are_reported_and_never_removed_on_restart() {
    let fx = Fixture::new("trunc");
    for backend in BACKENDS {
        for victim in ["registry", "producer cursor"] {
            let ring = fx.ring(backend, &format!("t{}{}", backend as u8, victim.len()));
            let name = ring.ring_name();
            crashed_ring(&ring, 64);
            let path = path_of(&if victim == "registry" {
                name.registry()
            } else {
                name.producer_cursor()
            });
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .expect("open victim")
                .set_len(0)
                .expect("truncate");
            let out = role(
                &ring,
                "produce",
                &["--capacity", "64", "--events", "10"],
                &[],
            )
            .wait();
            out.expect_error(&["damaged", "rm --force"]);
            for p in [name.registry(), name.producer_cursor(), name.ring()] {
                assert!(
                    path_of(&p).exists(),
                    "{victim} case: {p} was removed by the failed restart"
                );
            }
            remove_planted(&fx);
        }
    }
    assert_nothing_left(&fx);
}

// ---------------------------------------------------------------------------------------------
// F21 (restart bookkeeping): a restart that fails does not count as a producer start.

#[test]
fn failed_restart_does_not_count_a_start() {
    let fx = Fixture::new("starts");
    for backend in BACKENDS {
        let ring = fx.ring(backend, "s");
        let name = ring.ring_name();
        crashed_ring(&ring, 64);
        let starts = || {
            Registry::open(&name.registry())
                .expect("registry")
                .control()
                .producer_starts
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        assert_eq!(starts(), 1);
        // Wrong capacity: the restart is refused after it claimed the registry.
        role(
            &ring,
            "produce",
            &["--capacity", "128", "--events", "10"],
            &[],
        )
        .wait()
        .expect_error(&["capacity"]);
        assert_eq!(starts(), 1, "a failed restart counted as a start");
        role(
            &ring,
            "produce",
            &["--capacity", "64", "--events", "10"],
            &[],
        )
        .wait()
        .expect_producer_ok(10);
        // The successful restart counted (its registry is gone with its clean close).
        assert_nothing_left(&fx);
    }
}

// ---------------------------------------------------------------------------------------------
// F5: segments of another user, or that other users can read or write, are never adopted.

#[test]
fn another_users_segments_are_refused() {
    if !is_root() {
        eprintln!("skipped: needs root to chown segments to nobody");
        return;
    }
    let fx = Fixture::new("owner");
    for backend in BACKENDS {
        for (uid, mode, needle) in [
            (65534u32, 0o666u32, "owned by uid 65534"),
            (0, 0o666, "0666"),
            (0, 0o644, "0644"),
        ] {
            let ring = fx.ring(backend, &format!("o{}{uid}{mode:o}", backend as u8));
            let name = ring.ring_name();
            crashed_ring(&ring, 64);
            for p in [
                name.registry(),
                name.producer_cursor(),
                name.ring(),
                name.counters(),
            ] {
                let path = path_of(&p);
                std::os::unix::fs::chown(&path, Some(uid), Some(uid)).expect("chown");
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .expect("chmod");
            }
            role(
                &ring,
                "produce",
                &["--capacity", "64", "--events", "10"],
                &[],
            )
            .wait()
            .expect_error(&["refusing", needle]);
            if uid != 0 || mode & 0o022 != 0 {
                // Not ours or writable by others: nobody attaches either.
                role(
                    &ring,
                    "consume",
                    &["--id", "c", "--attach-timeout-ms", "200"],
                    &[],
                )
                .wait()
                .expect_error(&["refusing", needle]);
            }
            remove_planted(&fx);
        }
    }
    assert_nothing_left(&fx);
}

// ---------------------------------------------------------------------------------------------
// F13: a FIFO under a segment name is refused at once, never opened blocking.

#[test]
fn fifo_under_a_segment_name_is_refused() {
    let fx = Fixture::new("fifo");
    let name = format!("{}_f", fx.prefix);
    let path = Path::new("/dev/shm").join(&name);
    let made = Command::new("mkfifo")
        .arg(&path)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !made {
        eprintln!("skipped: mkfifo failed");
        return;
    }
    // One at a time: a second opener of the FIFO would let a blocked first one through.
    let runs: [(&str, Vec<String>); 3] = [
        (
            "inspect",
            vec![
                "layout".into(),
                "inspect".into(),
                "--shm".into(),
                name.clone(),
            ],
        ),
        (
            "diff",
            vec![
                "layout".into(),
                "diff".into(),
                "--shm".into(),
                name.clone(),
                name.clone(),
            ],
        ),
        (
            "consume",
            vec![
                "consume".into(),
                "--ring".into(),
                name.clone(),
                "--id".into(),
                "c".into(),
                "--attach-timeout-ms".into(),
                "200".into(),
            ],
        ),
    ];
    for (label, args) in runs {
        let out = ringproof(label, args, &[]).wait();
        assert_eq!(out.code(), Some(2), "{label}\n{}", out.describe());
        assert!(
            out.stderr.contains("FIFO") || out.stderr.contains("not a regular file"),
            "{label}: {}",
            out.describe()
        );
    }
    std::fs::remove_file(&path).expect("remove fifo");
    assert_nothing_left(&fx);
}

// ---------------------------------------------------------------------------------------------
// F8: a full filesystem is a typed error at creation, never a SIGBUS, and leaves nothing.

fn mount_tmpfs(dir: &Path, size: &str) -> bool {
    Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size},mode=0700"),
            "tmpfs",
        ])
        .arg(dir)
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn full_filesystem_is_a_typed_error() {
    let fx = Fixture::new("full");
    // Files: a 256 KiB tmpfs, a 1 MiB ring (16384 x 64 bytes).
    let small = fx.dir.join("small");
    std::fs::create_dir(&small).expect("mkdir");
    if mount_tmpfs(&small, "256k") {
        let args = vec![
            "produce".into(),
            "--ring".into(),
            "big".into(),
            "--dir".into(),
            small.display().to_string(),
            "--capacity".into(),
            "16384".into(),
            "--events".into(),
            "20000".into(),
        ];
        let out = ringproof("produce", args, &[]).wait();
        let listing: Vec<String> = std::fs::read_dir(&small)
            .expect("read")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        let _ = Command::new("umount").arg(&small).status();
        out.expect_error(&["no space", "1048632 bytes"]);
        assert!(
            listing.is_empty(),
            "left on the full filesystem: {listing:?}"
        );
    } else {
        eprintln!("skipped (files): mounting a tmpfs is not permitted here");
    }
    std::fs::remove_dir(&small).expect("rmdir");
    // shm: a private 256 KiB /dev/shm in a mount namespace; what is left is listed inside it.
    let script = format!("mount -t tmpfs -o size=256k tmpfs /dev/shm || exit 99; {BIN} produce --ring big --capacity 16384 --events 20000; rc=$?; ls -A /dev/shm; exit $rc");
    let out = spawn(
        "shm",
        "unshare",
        &["-m".into(), "sh".into(), "-c".into(), script],
        &[],
    )
    .wait();
    match out.code() {
        Some(99) | Some(1) if out.json.is_null() && !out.stdout.contains("error") => eprintln!(
            "skipped (shm): unshare/mount not permitted: {}",
            out.describe()
        ),
        _ => {
            assert_eq!(out.code(), Some(2), "{}", out.describe());
            let lines: Vec<&str> = out.stdout.lines().collect();
            assert!(
                lines[0].contains("no space") && lines[0].contains("1048632 bytes"),
                "{}",
                out.describe()
            );
            assert_eq!(lines.len(), 1, "left in /dev/shm: {:?}", &lines[1..]);
        }
    }
    assert_nothing_left(&fx);
}

// ---------------------------------------------------------------------------------------------
// F7 / F17: the consumers directory is 0700 whatever the umask, and a planted one is refused.

#[test]
fn consumers_directory_is_private_whatever_the_umask() {
    let fx = Fixture::new("umask");
    let ring = fx.ring(Backend::Dir, "u");
    let script = format!("umask 000; exec {BIN} produce --ring {} --dir {} --events 100 --capacity 16 --wait-consumers 1 --timeout-ms {PRODUCER_TIMEOUT_MS}", ring.name, fx.dir.display());
    let p = spawn("producer", "sh", &["-c".into(), script], &[]);
    let dir = fx.dir.join(format!("{}.consumers", ring.name));
    wait_until("the ring", &mut [], || ring.ring_is_valid());
    let mode = std::fs::symlink_metadata(&dir)
        .expect("consumers dir")
        .mode()
        & 0o777;
    let c = role(&ring, "consume", &["--id", "c"], &[]);
    p.wait().expect_producer_ok(100);
    c.wait().expect_consumer_clean(0, 99);
    assert_eq!(
        mode, 0o700,
        "consumers directory created {mode:04o} under umask 000"
    );
    assert_nothing_left(&fx);
}

#[test]
fn planted_consumers_directory_is_refused() {
    let fx = Fixture::new("planted");
    let elsewhere = fx.dir.join("elsewhere");
    std::fs::create_dir(&elsewhere).expect("mkdir");
    let victim = elsewhere.join("victim.cursor");
    std::fs::write(&victim, b"not yours").expect("victim");
    let mut cases: Vec<(&str, &str)> = vec![
        ("link", "symbolic link"),
        ("file", "not a directory"),
        ("open", "0777"),
    ];
    if is_root() {
        cases.push(("foreign", "owned by uid 65534"));
    }
    for (case, needle) in cases {
        let ring = fx.ring(Backend::Dir, case);
        let dir = fx.dir.join(format!("{}.consumers", ring.name));
        match case {
            "link" => std::os::unix::fs::symlink(&elsewhere, &dir).expect("symlink"),
            "file" => std::fs::write(&dir, b"").expect("file"),
            "open" => {
                std::fs::create_dir(&dir).expect("mkdir");
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))
                    .expect("chmod");
            }
            _ => {
                std::fs::create_dir(&dir).expect("mkdir");
                std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).expect("chown");
            }
        }
        role(&ring, "produce", &["--events", "10"], &[])
            .wait()
            .expect_error(&["consumers", needle]);
        assert!(
            victim.exists(),
            "{case}: the file the link points to was removed"
        );
        assert!(
            dir.symlink_metadata().is_ok(),
            "{case}: the planted entry was removed"
        );
        for p in [
            ring.ring_name().registry(),
            ring.ring_name().producer_cursor(),
            ring.ring_name().ring(),
        ] {
            assert!(!path_of(&p).exists(), "{case}: {p} left behind");
        }
        if dir.symlink_metadata().map(|m| m.is_dir()).unwrap_or(false) {
            std::fs::remove_dir(&dir).expect("rmdir");
        } else {
            std::fs::remove_file(&dir).expect("rm");
        }
    }
    // A consumer never creates its cursor through a link planted after the producer started.
    let ring = fx.ring(Backend::Dir, "late");
    let p = role(
        &ring,
        "produce",
        &[
            "--events",
            "10",
            "--capacity",
            "16",
            "--wait-consumers",
            "1",
            "--timeout-ms",
            PRODUCER_TIMEOUT_MS,
        ],
        &[],
    );
    wait_until("the ring", &mut [], || ring.ring_is_valid());
    let dir = fx.dir.join(format!("{}.consumers", ring.name));
    let real = fx.dir.join("real");
    std::fs::rename(&dir, &real).expect("move the real directory away");
    std::os::unix::fs::symlink(&elsewhere, &dir).expect("symlink");
    role(&ring, "consume", &["--id", "c"], &[])
        .wait()
        .expect_error(&["symbolic link"]);
    std::fs::remove_file(&dir).expect("rm link");
    std::fs::rename(&real, &dir).expect("move it back");
    let c = role(&ring, "consume", &["--id", "c"], &[]);
    p.wait().expect_producer_ok(10);
    c.wait().expect_consumer_clean(0, 9);
    assert_eq!(
        std::fs::read_dir(&elsewhere).expect("read").count(),
        1,
        "something was created in the link's target"
    );
    std::fs::remove_dir_all(&elsewhere).expect("rm elsewhere");
    assert_nothing_left(&fx);
}

// ---------------------------------------------------------------------------------------------
// F10: a ring header claiming 1 TiB events is refused with a bound, not an abort.

#[test]
fn hostile_element_size_is_refused() {
    let fx = Fixture::new("esize");
    for backend in BACKENDS {
        let ring = fx.ring(backend, &format!("e{}", backend as u8));
        let name = ring.ring_name();
        let element = 1u64 << 40;
        let h = LayoutHeader::new(SegmentKind::Ring, 8, element, 1, element);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode_0600()
            .open(path_of(&name.ring()))
            .expect("create ring");
        f.write_all(&h.to_bytes()).expect("write header");
        // Sparse: the pages are never touched.
        f.set_len(56 + element).expect("size ring");
        drop(f);
        let cursor = ringproof::kit::cursor::Cursor::create(
            &name.producer_cursor(),
            "producer cursor",
            -1,
            0,
        )
        .expect("producer cursor");
        drop(cursor);
        let out = role(
            &ring,
            "consume",
            &["--id", "c", "--attach-timeout-ms", "200"],
            &[],
        )
        .wait();
        out.expect_error(&["element size", "16777216"]);
        remove_planted(&fx);
    }
    assert_nothing_left(&fx);
}

trait Mode0600 {
    fn mode_0600(&mut self) -> &mut Self;
}

impl Mode0600 for std::fs::OpenOptions {
    fn mode_0600(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.mode(0o600)
    }
}
