//! Issue 11, the tools' findings, run against the real binary: forged registry ids (F6), a ring
//! truncated under the tools (F9, F18), cursors a killed consumer left half made or never
//! removed (F14), dead creators' temporaries (F15), a registry slot forged to name pid 1
//! (F20), and the CLI roles under SIGTERM / SIGINT and a vanished producer (F21).
//!
//! Crafted states start from a real producer killed with SIGKILL (its ring, producer cursor and
//! registry stay), then the test writes the hostile words into the registry directly.

mod common;

use common::*;
use ringproof::kit::layout::registry::{owner_word, ROLE_CONSUMER, SLOT_ACTIVE, SLOT_DEAD};
use ringproof::kit::registry::Registry;
use ringproof::kit::segment;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;

/// A ring whose producer was SIGKILLed after creating it: ring, producer cursor and registry.
fn crashed_ring(fx: &Fixture, ring: &Ring) {
    let _ = fx;
    let mut p = ring.produce(&[
        "--wait-consumers",
        "1",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
        "--events",
        "10",
    ]);
    wait_until("the producer to create its ring", &mut [&mut p], || {
        ring.ring_is_valid() && Registry::open(&ring.ring_name().registry()).is_ok()
    });
    p.kill();
}

/// Writes slot `i` as a hostile peer would: any state, owner word and id bytes.
fn forge_slot(ring: &Ring, i: usize, state: u32, owner: u64, id: &[u8]) {
    let reg = Registry::open(&ring.ring_name().registry()).expect("open registry");
    let s = reg.slot(i);
    // SAFETY: the test is the only writer of this slot (the ring's producer is dead).
    unsafe {
        let bytes = &mut *s.id.get();
        bytes.fill(0);
        bytes[..id.len()].copy_from_slice(id);
    }
    s.id_len.store(id.len() as u32, Ordering::Release);
    s.role.store(ROLE_CONSUMER, Ordering::Relaxed);
    s.owner.store(owner, Ordering::Release);
    s.state.store(state, Ordering::Release);
}

fn run(args: &[String]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ringproof")
}

fn rm(ring: &Ring, force: bool) -> std::process::Output {
    let mut args = vec!["rm".to_owned()];
    args.extend(ring.args());
    if force {
        args.push("--force".into());
    }
    run(&args)
}

fn text(o: &std::process::Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout).trim_end(),
        String::from_utf8_lossy(&o.stderr).trim_end()
    )
}

fn stdout_json(o: &std::process::Output) -> serde_json::Value {
    let line = String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

/// A pid that was just alive and is now dead and reaped.
fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().expect("spawn true");
    let pid = c.id();
    c.wait().expect("reap true");
    pid
}

/// The published producer cursor, or -1.
fn produced(ring: &Ring) -> i64 {
    ring.open_producer_cursor().map_or(-1, |c| c.load())
}

fn signal(p: &Proc, sig: i32) {
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(
        unsafe { libc::kill(p.pid() as i32, sig) },
        0,
        "kill {sig} {}",
        p.label
    );
}

/// F6: registry ids `../../x` and an absolute path must not make `rm`, or a restarted producer's
/// clean close (reaping dead slots), remove `<that path>.cursor`.
#[test]
fn f6_forged_registry_ids_never_name_files_outside_the_ring() {
    let fx = Fixture::new("f6path");
    let root = fx.dir.join("a").join("b");
    std::fs::create_dir_all(&root).unwrap();
    let ring = Ring {
        name: format!("{}_r", fx.prefix),
        backend: Backend::Dir,
        dir: root.clone(),
    };
    // `N.consumers/../../v1.cursor` is `{fx.dir}/a/v1.cursor`; the absolute id names a file in /tmp.
    let v1 = fx.dir.join("a").join("v1.cursor");
    let abs_id = format!("/tmp/rpv{}x", std::process::id());
    let v2 = PathBuf::from(format!("{abs_id}.cursor"));
    for (round, how) in ["rm", "restarted producer"].iter().enumerate() {
        std::fs::write(&v1, b"victim").unwrap();
        std::fs::write(&v2, b"victim").unwrap();
        crashed_ring(&fx, &ring);
        forge_slot(&ring, 0, SLOT_DEAD, 0, b"../../v1");
        forge_slot(&ring, 1, SLOT_DEAD, 0, abs_id.as_bytes());
        if round == 0 {
            let o = rm(&ring, false);
            assert!(o.status.success(), "{}", text(&o));
            assert!(
                text(&o).contains("invalid id"),
                "rm reports the forged slots: {}",
                text(&o)
            );
        } else {
            let out = ring.produce(&["--events", "10", "--no-drain"]).wait();
            out.expect_code(0);
        }
        let survived = (v1.exists(), v2.exists());
        let _ = std::fs::remove_file(&v2);
        assert_eq!(
            survived,
            (true, true),
            "{how} removed a file a forged registry id named"
        );
        std::fs::remove_file(&v1).unwrap();
        assert_eq!(
            fx.dir_leftovers(),
            ["a", "a/b"],
            "{how} left the ring behind"
        );
    }
    std::fs::remove_dir_all(fx.dir.join("a")).unwrap();
}

/// F6: consumer id `x_c` of ring `N` names `/N_x_c_seq`, which is consumer `c` of an existing
/// ring `N_x`: neither `rm N` nor `N`'s closing producer may remove it, even when it carries
/// `N`'s epoch.
#[test]
fn f6_shm_cursor_of_an_aliasing_ring_survives_rm_and_close() {
    let fx = Fixture::new("f6alias");
    let n = fx.ring(Backend::Shm, "n");
    let nx = Ring {
        name: format!("{}_x", n.name),
        backend: Backend::Shm,
        dir: fx.dir.clone(),
    };
    let mut other = nx.produce(&[
        "--wait-consumers",
        "1",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
        "--events",
        "10",
    ]);
    wait_until("ring N_x", &mut [&mut other], || nx.ring_is_valid());
    let victim = ringproof::kit::names::SegmentPath::Shm(format!("{}_x_c_seq", n.name));
    for how in ["rm", "restarted producer"] {
        crashed_ring(&fx, &n);
        let epoch = Registry::open(&n.ring_name().registry()).unwrap().epoch();
        let _c = ringproof::kit::cursor::Cursor::create(&victim, "victim", 7, epoch)
            .expect("victim cursor");
        forge_slot(&n, 0, SLOT_DEAD, 0, b"x_c");
        if how == "rm" {
            let o = rm(&n, false);
            assert!(o.status.success(), "{}", text(&o));
        } else {
            ring_produce_ok(&n);
        }
        let survived = segment::exists(&victim);
        segment::unlink(&victim).unwrap();
        assert!(
            survived,
            "{how} of ring N removed ring N_x's consumer cursor"
        );
        assert!(!n.ring_is_valid(), "{how}: ring N is gone");
    }
    check_alive(&mut [&mut other]);
    drop(other);
    let o = rm(&nx, false);
    assert!(o.status.success(), "{}", text(&o));
    fx.assert_clean();
}

fn ring_produce_ok(ring: &Ring) {
    ring.produce(&["--events", "10", "--no-drain"])
        .wait()
        .expect_code(0);
}

/// Runs `ringproof consume` armed with failpoint `fp`; it must die by SIGKILL.
fn consume_killed_at(ring: &Ring, id: &str, fp: &str, extra: &[&str]) {
    let mut args = vec!["consume".to_owned()];
    args.extend(ring.args());
    args.extend([
        "--id".to_owned(),
        id.to_owned(),
        "--attach-timeout-ms".into(),
        "60000".into(),
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let o = Command::new(BIN)
        .args(&args)
        .env("RINGPROOF_FAILPOINT", fp)
        .stdin(Stdio::null())
        .output()
        .expect("run consume");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        o.status.signal(),
        Some(libc::SIGKILL),
        "consumer armed at {fp} was not killed there: {}",
        text(&o)
    );
}

/// F14: a consumer killed while creating its cursor (which leaves the cursor's temporary, §3.2),
/// or between leaving and removing its cursor, leaves what the producer's clean close removes.
#[test]
fn f14_closing_producer_removes_cursors_killed_consumers_left() {
    for backend in BACKENDS {
        let fx = Fixture::new("f14close");
        let ring = fx.ring(backend, "r");
        let mut p = ring.produce(&[
            "--wait-consumers",
            "2",
            "--timeout-ms",
            PRODUCER_TIMEOUT_MS,
            "--events",
            "2000",
        ]);
        wait_until("the ring", &mut [&mut p], || ring.ring_is_valid());
        consume_killed_at(&ring, "c_0", "segment.create", &[]);
        let cursor = ring.consumer_cursor_path("c_0");
        let temp_prefix = format!(".{}.", cursor.file_name().unwrap().to_string_lossy());
        let temps = std::fs::read_dir(cursor.parent().unwrap())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&temp_prefix))
            .count();
        assert_eq!(
            temps, 1,
            "{backend:?}: the consumer killed while creating its cursor left its temporary"
        );
        // The gate holds the producer open (a ring of 1024 slots, 2000 events) until the
        // leftovers are seen.
        let mut gate = ring.attach_gate("g", 64);
        // This one reads 100 events, leaves, and is killed before it removes its cursor.
        consume_killed_at(&ring, "c_1", "consumer.leave", &["--events", "100"]);
        assert!(
            ring.consumer_cursor_path("c_1").exists(),
            "the killed consumer left its cursor"
        );
        gate_consume(&mut gate, 2000, &mut [&mut p]);
        drop(gate);
        p.wait().expect_code(0);
        let (shm, dir) = (fx.shm_leftovers(), fx.dir_leftovers());
        drop(fx);
        assert!(
            shm.is_empty() && dir.is_empty(),
            "{backend:?}: the closed ring left {shm:?} {dir:?}"
        );
    }
}

/// F14: only an unfinished cursor left (the ring is gone): `rm` says what it found and how to
/// remove it, `rm --force` removes it.
#[test]
fn f14_rm_reports_and_force_removes_leftover_cursors() {
    let fx = Fixture::new("f14rm");
    let ring = fx.ring(Backend::Shm, "r");
    let path = ring.consumer_cursor_path("c_0");
    std::fs::File::create(&path).unwrap().set_len(128).unwrap();
    let o = rm(&ring, false);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let e = stdout_json(&o)["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        e.contains("_c_0_seq") && e.contains("--force"),
        "rm names the leftover and the way out: {e}"
    );
    assert!(path.exists());
    let o = rm(&ring, true);
    assert!(o.status.success(), "{}", text(&o));
    fx.assert_clean();
}

/// F15: `rm --force` removes temporaries whose creator died (root dir, consumers dir, /dev/shm).
#[test]
fn f15_rm_force_removes_dead_temporaries() {
    let fx = Fixture::new("f15tmp");
    let pid = dead_pid();
    let d = fx.ring(Backend::Dir, "r");
    let cdir = fx.dir.join(format!("{}.consumers", d.name));
    std::fs::create_dir(&cdir).unwrap();
    let temps = [
        fx.dir.join(format!(".{}.ring.{pid}.1.tmp", d.name)),
        fx.dir.join(format!(".{}.registry.{pid}.2.tmp", d.name)),
        cdir.join(format!(".c_0.cursor.{pid}.3.tmp")),
    ];
    for t in &temps {
        std::fs::write(t, b"").unwrap();
    }
    let o = rm(&d, false);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(".tmp") && text(&o).contains("--force"),
        "{}",
        text(&o)
    );
    let o = rm(&d, true);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(fx.dir_leftovers(), Vec::<String>::new(), "{}", text(&o));
    let s = fx.ring(Backend::Shm, "s");
    let shm_tmp = Path::new("/dev/shm").join(format!(".{}_producer_seq.{pid}.4.tmp", s.name));
    std::fs::write(&shm_tmp, b"").unwrap();
    let o = rm(&s, true);
    let left = shm_tmp.exists();
    let _ = std::fs::remove_file(&shm_tmp);
    assert!(
        o.status.success() && !left,
        "rm --force kept {}: {}",
        shm_tmp.display(),
        text(&o)
    );
}

fn is_signal_death(o: &std::process::Output) -> bool {
    use std::os::unix::process::ExitStatusExt;
    o.status.signal().is_some()
}

/// F9 / F18: rings and registries cut short under the tools give typed reports, never SIGBUS;
/// `layout inspect` judges a ring file by its real length; `rm` keeps an unreadable registry
/// unless forced.
#[test]
fn f9_f18_truncated_segments_are_reported_by_the_tools() {
    for backend in BACKENDS {
        let fx = Fixture::new("f9trunc");
        let ring = fx.ring(backend, "r");
        crashed_ring(&fx, &ring);
        let ring_path = ring.ring_path();
        let inspect = |p: &Path| {
            let mut args = vec!["layout".to_owned(), "inspect".into(), "--json".into()];
            match backend {
                Backend::Shm => args.extend([
                    "--shm".into(),
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                ]),
                Backend::Dir => args.push(p.display().to_string()),
            }
            run(&args)
        };
        for cut in [56u64, 0] {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&ring_path)
                .unwrap()
                .set_len(cut)
                .unwrap();
            let o = inspect(&ring_path);
            assert!(!is_signal_death(&o), "{}", text(&o));
            let v = stdout_json(&o);
            assert_eq!(
                v["verdict"]["ok"], false,
                "{backend:?}: inspect of a ring cut to {cut} bytes: {v}"
            );
            assert_eq!(v["len"], cut, "{v}");
            let mut args = vec!["stat".to_owned(), "--json".into()];
            args.extend(ring.args());
            let o = run(&args);
            assert!(
                !is_signal_death(&o) && o.status.code() == Some(2),
                "{}",
                text(&o)
            );
            assert!(
                text(&o).contains("short") || text(&o).contains("runcated"),
                "{}",
                text(&o)
            );
        }
        let reg_path = ring.other_paths()[1].clone();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&reg_path)
            .unwrap()
            .set_len(0)
            .unwrap();
        let o = rm(&ring, false);
        assert!(
            !is_signal_death(&o) && o.status.code() == Some(2),
            "{}",
            text(&o)
        );
        assert!(text(&o).contains("--force"), "{}", text(&o));
        assert!(
            reg_path.exists(),
            "rm without --force removed a registry it could not read"
        );
        let o = rm(&ring, true);
        assert!(o.status.success(), "{}", text(&o));
        fx.assert_clean();
    }
}

/// F20: a registry slot forged to name pid 1 with its real start time: `rm` refuses and says
/// how out, `rm --force` says what it overrides and removes the ring.
#[test]
fn f20_rm_force_overrides_a_slot_that_claims_pid_1() {
    let fx = Fixture::new("f20pid1");
    let ring = fx.ring(Backend::Shm, "r");
    crashed_ring(&fx, &ring);
    let Some(start) = ringproof::kit::process::start_time(1) else {
        eprintln!("skipped: /proc/1/stat is not readable here");
        let _ = rm(&ring, true);
        return;
    };
    forge_slot(&ring, 0, SLOT_ACTIVE, owner_word(1, start), b"c_0");
    let o = rm(&ring, false);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("pid 1") && text(&o).contains("--force"),
        "{}",
        text(&o)
    );
    let o = rm(&ring, true);
    assert!(o.status.success(), "rm --force refused: {}", text(&o));
    let v = stdout_json(&o);
    assert!(v["overridden"].to_string().contains("pid 1"), "{v}");
    fx.assert_clean();
}

/// F21: SIGTERM to `produce` closes the ring: it prints its summary, and its consumer drains
/// and exits with *closed*; nothing is left.
#[test]
fn f21_sigterm_to_produce_closes_the_ring() {
    let fx = Fixture::new("f21term");
    let ring = fx.ring(Backend::Shm, "r");
    let mut p = ring.produce(&[
        "--wait-consumers",
        "1",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
        "--events",
        "1000000000000",
    ]);
    let mut c = ring.consume("c_0", &["--attach-timeout-ms", "60000"]);
    wait_until("2000 events", &mut [&mut p, &mut c], || {
        produced(&ring) > 2000
    });
    signal(&p, libc::SIGTERM);
    let po = p.wait();
    po.expect_code(128 + libc::SIGTERM);
    assert_eq!(po.get("interrupted"), "SIGTERM", "{}", po.describe());
    let last = po.i64("last_seq");
    let co = c.wait();
    co.expect_consumer_clean(0, last);
    assert_eq!(co.i64("closed_at"), last, "{}", co.describe());
    fx.assert_clean();
}

/// F21: SIGINT to `consume` leaves cleanly (summary printed, cursor removed, slot freed); the
/// producer, no longer gated, then takes SIGTERM too.
#[test]
fn f21_sigint_to_consume_leaves_cleanly() {
    let fx = Fixture::new("f21int");
    let ring = fx.ring(Backend::Dir, "r");
    let mut p = ring.produce(&[
        "--wait-consumers",
        "1",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
        "--events",
        "1000000000000",
    ]);
    let mut c = ring.consume("c_0", &["--attach-timeout-ms", "60000"]);
    wait_until("2000 events", &mut [&mut p, &mut c], || {
        produced(&ring) > 2000
    });
    signal(&c, libc::SIGINT);
    let co = c.wait();
    co.expect_code(128 + libc::SIGINT);
    assert_eq!(co.get("interrupted"), "SIGINT", "{}", co.describe());
    assert_eq!(
        (co.u64("out_of_order"), co.u64("payload_errors")),
        (0, 0),
        "{}",
        co.describe()
    );
    assert!(
        !ring.consumer_cursor_path("c_0").exists(),
        "the interrupted consumer left its cursor"
    );
    assert!(
        ring.active_ids().is_empty(),
        "the interrupted consumer still gates: {:?}",
        ring.active_ids()
    );
    signal(&p, libc::SIGTERM);
    p.wait().expect_code(128 + libc::SIGTERM);
    fx.assert_clean();
}

/// F21: `consume --exit-after-gone-ms` exits cleanly once a SIGKILLed producer has stayed gone.
#[test]
fn f21_consume_exits_after_the_producer_is_gone() {
    let fx = Fixture::new("f21gone");
    let ring = fx.ring(Backend::Shm, "r");
    let mut p = ring.produce(&[
        "--wait-consumers",
        "1",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
        "--events",
        "1000000000000",
    ]);
    let mut c = ring.consume(
        "c_0",
        &[
            "--attach-timeout-ms",
            "60000",
            "--exit-after-gone-ms",
            "200",
        ],
    );
    wait_until("2000 events", &mut [&mut p, &mut c], || {
        produced(&ring) > 2000
    });
    p.kill();
    let co = c.wait();
    co.expect_code(0);
    assert_eq!(co.get("exit_reason"), "producer_gone", "{}", co.describe());
    let last = co.i64("last_seq");
    assert_eq!(co.i64("producer_gone_at"), last, "{}", co.describe());
    co.expect_consumer_clean(0, last);
    assert!(
        !ring.consumer_cursor_path("c_0").exists(),
        "the consumer left its cursor"
    );
    let o = rm(&ring, false);
    assert!(o.status.success(), "{}", text(&o));
    fx.assert_clean();
}

/// F21: SIGTERM to `produce` while it waits for its consumers: summary, ring closed and removed.
#[test]
fn f21_sigterm_while_waiting_for_consumers() {
    let fx = Fixture::new("f21wait");
    let ring = fx.ring(Backend::Dir, "r");
    let mut p = ring.produce(&[
        "--wait-consumers",
        "1",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
        "--events",
        "10",
    ]);
    wait_until("the ring", &mut [&mut p], || ring.ring_is_valid());
    signal(&p, libc::SIGTERM);
    let po = p.wait();
    po.expect_code(128 + libc::SIGTERM);
    assert_eq!(
        (po.get("interrupted").as_str(), po.u64("published")),
        (Some("SIGTERM"), 0),
        "{}",
        po.describe()
    );
    fx.assert_clean();
}

/// F21: `consume --exit-after-idle-ms` leaves a ring on which nothing is published.
#[test]
fn f21_consume_exits_after_idle() {
    let fx = Fixture::new("f21idle");
    let ring = fx.ring(Backend::Shm, "r");
    // It waits for two consumers and so publishes nothing while only one is there.
    let mut p = ring.produce(&[
        "--wait-consumers",
        "2",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
        "--events",
        "10",
    ]);
    let c = ring.consume(
        "c_0",
        &[
            "--attach-timeout-ms",
            "60000",
            "--exit-after-idle-ms",
            "100",
        ],
    );
    let co = c.wait();
    co.expect_code(0);
    assert_eq!(
        (co.get("exit_reason").as_str(), co.u64("consumed")),
        (Some("idle"), 0),
        "{}",
        co.describe()
    );
    assert!(
        !ring.consumer_cursor_path("c_0").exists(),
        "the consumer left its cursor"
    );
    check_alive(&mut [&mut p]);
    signal(&p, libc::SIGTERM);
    p.wait().expect_code(128 + libc::SIGTERM);
    fx.assert_clean();
}

/// F6 (with F7's plant): `N.consumers` replaced by a symbolic link to another directory: `rm`
/// and a restarted producer's close never remove a cursor through it.
#[test]
fn f6_cleanup_never_follows_a_symlinked_consumers_dir() {
    let fx = Fixture::new("f6link");
    let ring = fx.ring(Backend::Dir, "r");
    let elsewhere = fx.dir.join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let victim = elsewhere.join("c_0.cursor");
    let consumers = fx.dir.join(format!("{}.consumers", ring.name));
    for how in ["rm", "restarted producer"] {
        crashed_ring(&fx, &ring);
        let epoch = Registry::open(&ring.ring_name().registry())
            .unwrap()
            .epoch();
        let _ = std::fs::remove_dir(&consumers);
        std::os::unix::fs::symlink(&elsewhere, &consumers).unwrap();
        let _c = ringproof::kit::cursor::Cursor::create(
            &ringproof::kit::names::SegmentPath::File(victim.clone()),
            "victim",
            7,
            epoch,
        )
        .unwrap();
        forge_slot(&ring, 0, SLOT_DEAD, 0, b"c_0");
        if how == "rm" {
            let o = rm(&ring, false);
            assert!(o.status.success(), "{}", text(&o));
        } else {
            // A restarting producer refuses a planted consumers directory (SPEC §3.1) before it
            // touches anything through it.
            let mut args = vec!["produce".to_owned()];
            args.extend(ring.args());
            args.extend(["--events", "10", "--no-drain"].map(String::from));
            let o = run(&args);
            assert!(
                !o.status.success() && text(&o).contains("symbolic link"),
                "{how}: {}",
                text(&o)
            );
        }
        assert!(
            victim.exists(),
            "{how} removed a cursor through a symlinked consumers directory"
        );
        std::fs::remove_file(&victim).unwrap();
        std::fs::remove_file(&consumers).unwrap();
        if how != "rm" {
            let o = rm(&ring, false);
            assert!(o.status.success(), "{}", text(&o));
        }
        assert_eq!(fx.dir_leftovers(), ["elsewhere"], "{how}");
    }
    std::fs::remove_dir(&elsewhere).unwrap();
}

/// A slot the producer retired (DEAD) while its owner still runs (judged dead by a stale
/// heartbeat, say) keeps its id: a second process under the same id is refused as *id in use*
/// until that owner is gone, then it re-joins (SPEC §7.3 step 4). Before, the second process
/// took the slot over while the first still read through it.
#[test]
fn a_retired_slot_whose_owner_still_runs_keeps_its_id() {
    let fx = Fixture::new("heldid");
    let ring = fx.ring(Backend::Shm, "r");
    crashed_ring(&fx, &ring);
    let mut owner = Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("spawn sleep");
    let pid = owner.id();
    let start = ringproof::kit::process::start_time(pid).expect("start time of the live owner");
    forge_slot(&ring, 0, SLOT_DEAD, owner_word(pid, start), b"c_0");
    let consume = || {
        let mut args = vec!["consume".to_owned()];
        args.extend(ring.args());
        args.extend(
            [
                "--id",
                "c_0",
                "--attach-timeout-ms",
                "2000",
                "--exit-after-gone-ms",
                "50",
            ]
            .map(String::from),
        );
        run(&args)
    };
    let o = consume();
    assert!(
        !o.status.success() && text(&o).contains("in use"),
        "a live owner's retired slot was taken: {}",
        text(&o)
    );
    owner.kill().expect("kill sleep");
    owner.wait().expect("reap sleep");
    let o = consume();
    assert!(
        !text(&o).contains("in use"),
        "the id stayed taken after its owner died: {}",
        text(&o)
    );
    let o = rm(&ring, false);
    assert!(o.status.success(), "{}", text(&o));
}
