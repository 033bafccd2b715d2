//! F9 / F18 / F20: cut-short segments and forged registry slots under the tools.

use super::*;

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
