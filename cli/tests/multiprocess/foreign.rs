//! Foreign and truncated files under a ring's names, and a second producer on a live ring.

use super::*;

fn plant(path: &std::path::Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn garbage(len: usize, seed: u64) -> Vec<u8> {
    (0..len as u64)
        .map(|i| (ringproof::kit::payload::mix(seed ^ i) as u8) | 1)
        .collect()
}

/// Foreign files under the ring's names are recognised as such, never mapped as a ring.
#[test]
fn foreign_files_are_rejected() {
    let fx = Fixture::new("foreign");
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let mut planted = vec![r.ring_path()];
        planted.extend(r.other_paths());
        for (i, path) in planted.iter().enumerate() {
            plant(path, &garbage(200, i as u64));
        }
        let out = r.consume("c_0", &["--attach-timeout-ms", "0"]).wait();
        out.expect_error(&["bad magic", "not a LayoutV1"]);
        // Retrying cannot help: a bad magic is reported at once, whatever the attach timeout.
        let out = r
            .consume("c_0", &["--attach-timeout-ms", "60000"])
            .wait_for(std::time::Duration::from_secs(30));
        out.expect_error(&["bad magic"]);
        // The right magic with a broken header.
        let mut header = garbage(200, 99);
        header[..8].copy_from_slice(b"DSMPTV01");
        header[8..10].copy_from_slice(&1u16.to_le_bytes());
        plant(&r.ring_path(), &header);
        r.consume("c_0", &["--attach-timeout-ms", "0"])
            .wait()
            .expect_error(&["checksum"]);
        assert!(
            !r.consumer_cursor_path("c_0").exists(),
            "refused consumer left its cursor"
        );
        for path in &planted {
            std::fs::remove_file(path).unwrap();
        }
    }
}

/// A copy of a real ring, cut short: reported as truncated (or shorter than a header), never
/// mapped past its end.
#[test]
fn truncated_ring_is_rejected() {
    let fx = Fixture::new("truncated");
    let n = 100;
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let mut p = r.produce(&refs(&[
            a("--capacity"),
            a(1024),
            a("--events"),
            a(n),
            a("--wait-consumers"),
            a(1),
            a("--timeout-ms"),
            a(TIMEOUT),
        ]));
        wait_until("the ring to be created", &mut [&mut p], || {
            r.ring_is_valid()
        });
        let bytes = r.ring_bytes();
        assert!(bytes.len() > 1024 * 64);
        let cut = fx.ring(backend, "cut");
        plant(&cut.ring_path(), &bytes[..bytes.len() / 2]);
        cut.consume("c_0", &["--attach-timeout-ms", "0"])
            .wait()
            .expect_error(&["truncated"]);
        plant(&cut.ring_path(), &bytes[..40]);
        cut.consume("c_0", &["--attach-timeout-ms", "0"])
            .wait()
            .expect_error(&["shorter"]);
        std::fs::remove_file(cut.ring_path()).unwrap();
        let c = r.consume("c_0", &refs(&[a("--events"), a(n)]));
        let outs = wait_all(vec![p, c]);
        outs[0].expect_producer_ok(n);
        outs[1].expect_consumer_clean(0, n as i64 - 1);
    }
}

/// A second producer on a live ring is refused and does not disturb the first.
#[test]
fn second_producer_is_refused() {
    let fx = Fixture::new("two_producers");
    let n = events(10_000);
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let mut p = r.produce(&refs(&[
            a("--capacity"),
            a(64),
            a("--events"),
            a(n),
            a("--wait-consumers"),
            a(1),
            a("--timeout-ms"),
            a(TIMEOUT),
        ]));
        wait_until("the ring to be created", &mut [&mut p], || {
            r.ring_is_valid()
        });
        r.produce(&["--capacity", "64", "--events", "10"])
            .wait()
            .expect_error(&["live producer"]);
        assert!(
            r.ring_is_valid() && r.other_paths().iter().all(|p| p.exists()),
            "the refused producer removed the live ring's segments"
        );
        let c = r.consume("c_0", &refs(&[a("--events"), a(n)]));
        let outs = wait_all(vec![p, c]);
        outs[0].expect_producer_ok(n);
        outs[1].expect_consumer_clean(0, n as i64 - 1);
    }
}

/// A producer refused because a foreign file holds the ring's name leaves the file alone and
/// creates nothing that outlives it.
#[test]
fn producer_over_foreign_file_leaves_nothing() {
    let fx = Fixture::new("foreign_producer");
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let junk = garbage(200, 7);
        plant(&r.ring_path(), &junk);
        r.produce(&["--events", "10"])
            .wait()
            .expect_error(&["already exists"]);
        assert_eq!(
            std::fs::read(r.ring_path()).unwrap(),
            junk,
            "the foreign file was modified"
        );
        std::fs::remove_file(r.ring_path()).unwrap();
        fx.assert_clean();
    }
}
