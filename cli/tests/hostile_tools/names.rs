//! F6: hostile consumer ids and aliasing names never make the tools touch another ring's files.

use super::*;

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
