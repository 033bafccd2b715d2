//! A symlinked consumers directory, and a slot retired while its owner still runs.

use super::*;

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
