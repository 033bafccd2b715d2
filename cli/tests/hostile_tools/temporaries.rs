//! F14 / F15: what consumers and creators killed mid-creation leave, and how `rm` reports and removes it.

use super::*;

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
    let shm_tmp = shm_path(format!(".{}_producer_seq.{pid}.4.tmp", s.name));
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
