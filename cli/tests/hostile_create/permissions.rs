//! F5: segments of another user, or that other users can read or write, are never adopted.

use super::*;

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
    let path = shm_path(&name);
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
