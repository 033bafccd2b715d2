//! F8: a full filesystem is a typed error at creation, never a SIGBUS, and leaves nothing.

use super::*;

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
