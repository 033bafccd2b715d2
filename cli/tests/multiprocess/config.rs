//! Refused ids, full registries and invalid configurations leave nothing behind.

use super::*;

/// A consumer id held by a live consumer is refused (exit 2) without touching that consumer's
/// cursor.
#[test]
fn live_consumer_id_is_refused() {
    let fx = Fixture::new("id_in_use");
    let n = 1000;
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let mut p = r.produce(&refs(&[
            a("--events"),
            a(n),
            a("--wait-consumers"),
            a(1),
            a("--timeout-ms"),
            a(TIMEOUT),
        ]));
        let mut gate = r.attach_gate("c_0", 64);
        r.consume("c_0", &["--attach-timeout-ms", "0"])
            .wait()
            .expect_error(&["in use"]);
        gate_consume(&mut gate, n, &mut [&mut p]);
        drop(gate);
        p.wait().expect_producer_ok(n);
    }
}

/// A consumer refused because every registry slot is taken leaves no cursor behind.
#[test]
fn full_registry_refusal_leaves_nothing() {
    let fx = Fixture::new("registry_full");
    let n = 10;
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let mut p = r.produce(&refs(&[
            a("--events"),
            a(n),
            a("--wait-consumers"),
            a(64),
            a("--timeout-ms"),
            a(TIMEOUT),
        ]));
        let mut gates: Vec<_> = (0..64)
            .map(|i| r.attach_gate(&format!("g{i}"), 64))
            .collect();
        let out = r.consume("c_x", &["--attach-timeout-ms", "0"]).wait();
        out.expect_error(&["no free slot"]);
        let leaked = r.consumer_cursor_path("c_x").exists();
        for g in gates.iter_mut() {
            gate_consume(g, n, &mut [&mut p]);
        }
        drop(gates);
        p.wait().expect_producer_ok(n);
        if leaked {
            let _ = std::fs::remove_file(r.consumer_cursor_path("c_x"));
        }
        assert!(
            !leaked,
            "{:?}: the refused consumer left its cursor {}",
            backend,
            r.consumer_cursor_path("c_x").display()
        );
    }
}

/// Invalid configurations are refused before anything is created.
#[test]
fn bad_configuration_is_refused() {
    let fx = Fixture::new("bad_config");
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        r.produce(&["--capacity", "3", "--events", "10"])
            .wait()
            .expect_error(&["power of two"]);
        r.produce(&["--capacity", "0", "--events", "10"])
            .wait()
            .expect_error(&["power of two"]);
        r.produce(&["--size", "0", "--events", "10"])
            .wait()
            .expect_error(&["--size 0"]);
        r.consume("producer", &["--attach-timeout-ms", "0"])
            .wait()
            .expect_error(&["invalid name"]);
        r.consume(&"x".repeat(49), &["--attach-timeout-ms", "0"])
            .wait()
            .expect_error(&["invalid name"]);
        let mut args = vec!["produce".to_owned(), "--ring".into(), "a/b".into()];
        if backend == Backend::Dir {
            args.extend(["--dir".to_owned(), fx.dir.display().to_string()]);
        }
        Proc::spawn("producer[a/b]", &args)
            .wait()
            .expect_error(&["invalid name"]);
        fx.assert_clean();
    }
}

/// The test payload needs whole 8-byte words: a producer asked for another event size must
/// refuse (exit 2) rather than publish events it could not fill and report success.
#[test]
fn payload_size_not_multiple_of_8_is_refused() {
    let fx = Fixture::new("size12");
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let out = r.produce(&["--size", "12", "--events", "10"]).wait();
        out.expect_error(&["multiple of 8"]);
        fx.assert_clean();
    }
}
