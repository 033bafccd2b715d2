//! F7 / F17: the consumers directory is 0700 whatever the umask, and a planted one is refused.

use super::*;

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
