//! Smoke test of `dmp-peer testee` (the conformance testee over disruptor-mp): a producer and a
//! consumer testee, each its own process, driven through the protocol by the harness's own
//! driver (so every line is checked against the protocol schema), on shm and on mmap.
//!
//! This checks that the testee speaks the protocol and moves TP1 events end to end; judging
//! disruptor-mp against ringproof's contract is the conformance harness's job. Whatever
//! disruptor-mp leaves behind (its consumer cursors, every mmap file) is removed by a guard.

use ringproof::kit::payload::{fill, fnv1a64_update, FNV64_OFFSET};
use ringproof_conformance::driver::{Implementation, Reply, Testee};
use ringproof_conformance::protocol::{
    Backend, Command, Discover, ErrorKind, Mode, RingAddr, WaitConsumers,
};
use ringproof_conformance::schema::Schema;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const EVENTS: u64 = 10_000;
const SIZE: u64 = 64;
const CAPACITY: u64 = 64;

/// Removes the ring's shm segments and the mmap root on drop, whatever the test did.
struct Cleanup {
    name: String,
    root: Option<PathBuf>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for n in ringproof_testsupport::shm_segments_of(&self.name) {
            let _ = std::fs::remove_file(ringproof_testsupport::shm_path(&n));
        }
        if let Some(root) = &self.root {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("tsmk{tag}{}x{nanos:08x}", std::process::id())
}

fn spawn(label: &str, schema: &Arc<Schema>) -> Testee {
    let imp = Implementation {
        name: "disruptor-mp".into(),
        program: PathBuf::from(env!("CARGO_BIN_EXE_dmp-peer")),
        args: vec!["testee".into()],
        env: Vec::new(),
    };
    let t = Testee::spawn(&imp, label, Arc::clone(schema), Duration::from_secs(10))
        .expect("testee starts");
    assert_eq!(t.implementation, "disruptor-mp");
    for cap in [
        "shm",
        "mmap",
        "producer",
        "consumer",
        "batch",
        "try-publish",
        "lease",
    ] {
        assert!(t.has(cap), "capability {cap} missing: {:?}", t.capabilities);
    }
    assert!(
        !t.has("wait-block") && !t.has("close"),
        "{:?}",
        t.capabilities
    );
    t
}

fn ok(r: &Reply, what: &str, transcripts: &[&Testee]) {
    if let Err(e) = r.ok() {
        let t: Vec<String> = transcripts.iter().map(|t| t.transcript()).collect();
        panic!("{what} failed: {e}\n{}", t.join("\n"));
    }
}

/// Checks that the `events` runs cover `from..from + n` in order and that each digest is TP1's.
fn check_events(runs: &[(i64, i64, String)], from: i64, n: u64) {
    let mut next = from;
    let mut ev = vec![0u8; SIZE as usize];
    for (first, last, digest) in runs {
        assert_eq!(
            *first, next,
            "run starts at {first}, expected {next}: {runs:?}"
        );
        assert!(last >= first);
        let mut h = FNV64_OFFSET;
        for seq in *first..=*last {
            fill(seq as u64, &mut ev).unwrap();
            h = fnv1a64_update(h, &ev);
        }
        assert_eq!(
            *digest,
            format!("{h:016x}"),
            "digest of run {first}..={last}"
        );
        next = last + 1;
    }
    assert_eq!(
        next,
        from + n as i64,
        "runs end at {}, expected {}",
        next - 1,
        from + n as i64 - 1
    );
}

fn exchange(backend: Backend) {
    let schema = Arc::new(Schema::load());
    let name = unique(backend.as_str());
    let root =
        (backend == Backend::Mmap).then(|| std::env::temp_dir().join(format!("{name}_root")));
    let _cleanup = Cleanup {
        name: name.clone(),
        root: root.clone(),
    };
    let ring = RingAddr {
        backend,
        name: name.clone(),
        root: root.as_ref().map(|r| r.display().to_string()),
    };
    let deadline = || Instant::now() + Duration::from_secs(30);

    let mut p = spawn("producer", &schema);
    let mut c = spawn("consumer", &schema);

    // create_producer waits for one consumer, so the consumer attaches meanwhile.
    let create = p
        .send(|id| Command::CreateProducer {
            id,
            ring: ring.clone(),
            capacity: CAPACITY,
            event_size: SIZE,
            wait_consumers: Some(WaitConsumers {
                min: 1,
                timeout_ms: 5_000,
            }),
            discover: Some(Discover {
                prefix: "c".into(),
                max: 8,
            }),
            wait: None,
            required: None,
        })
        .unwrap();
    let attach = c
        .request(
            |id| Command::AttachConsumer {
                id,
                ring: ring.clone(),
                consumer_id: "c_0".into(),
                event_size: SIZE,
                timeout_ms: 5_000,
                wait: None,
                resync: None,
            },
            deadline(),
        )
        .unwrap();
    ok(&attach, "attach_consumer", &[&c]);
    assert_eq!(attach.ok().unwrap().start_seq, Some(0));
    let created = p.wait(create, deadline()).unwrap();
    ok(&created, "create_producer", &[&p]);

    // An element-size mismatch is refused (a second process, the ring is live).
    let mut c2 = spawn("consumer-2", &schema);
    let bad = c2
        .request(
            |id| Command::AttachConsumer {
                id,
                ring: ring.clone(),
                consumer_id: "c_1".into(),
                event_size: 128,
                timeout_ms: 1_000,
                wait: None,
                resync: None,
            },
            deadline(),
        )
        .unwrap();
    match &bad.result {
        Err((kind, _)) => assert_eq!(*kind, ErrorKind::ElementSize, "{:?}", bad.result),
        Ok(f) => panic!("a 128-byte consumer attached to a 64-byte ring: {f:?}"),
    }
    assert_eq!(c2.exit(deadline()).unwrap(), 0);

    let publish = p
        .send(|id| Command::Publish {
            id,
            count: EVENTS,
            batch: Some(1),
        })
        .unwrap();
    let consumed = c
        .request(
            |id| Command::Consume {
                id,
                count: EVENTS,
                mode: Mode::Copy,
                timeout_ms: 5_000,
            },
            deadline(),
        )
        .unwrap();
    ok(&consumed, "consume", &[&c, &p]);
    let published = p.wait(publish, deadline()).unwrap();
    ok(&published, "publish", &[&p]);
    let pf = published.ok().unwrap();
    assert_eq!(
        (pf.first_seq, pf.last_seq),
        (Some(0), Some(EVENTS as i64 - 1))
    );
    let cf = consumed.ok().unwrap();
    assert_eq!(cf.consumed, Some(EVENTS));
    assert_eq!(cf.closed_at, None);
    check_events(&consumed.events, 0, EVENTS);

    let pc = p.request(|id| Command::Cursors { id }, deadline()).unwrap();
    assert_eq!(pc.ok().unwrap().producer, Some(EVENTS as i64 - 1));
    let cc = c.request(|id| Command::Cursors { id }, deadline()).unwrap();
    let cc = cc.ok().unwrap();
    assert_eq!(
        (cc.producer, cc.consumer),
        (Some(EVENTS as i64 - 1), Some(EVENTS as i64 - 1))
    );

    // A batch publish and a lease read: 2 batches of 32 (one cursor store each).
    let publish = p
        .send(|id| Command::Publish {
            id,
            count: 64,
            batch: Some(32),
        })
        .unwrap();
    let leased = c
        .request(
            |id| Command::Consume {
                id,
                count: 64,
                mode: Mode::Lease,
                timeout_ms: 5_000,
            },
            deadline(),
        )
        .unwrap();
    ok(&leased, "consume (lease)", &[&c, &p]);
    let published = p.wait(publish, deadline()).unwrap();
    ok(&published, "publish (batch)", &[&p]);
    assert_eq!(leased.ok().unwrap().consumed, Some(64));
    check_events(&leased.events, EVENTS as i64, 64);

    // Batch reads (`process_available`): exactly what is published, so it cannot overshoot.
    let publish = p
        .send(|id| Command::Publish {
            id,
            count: 1000,
            batch: Some(1),
        })
        .unwrap();
    let batched = c
        .request(
            |id| Command::Consume {
                id,
                count: 1000,
                mode: Mode::Batch,
                timeout_ms: 5_000,
            },
            deadline(),
        )
        .unwrap();
    ok(&batched, "consume (batch)", &[&c, &p]);
    let published = p.wait(publish, deadline()).unwrap();
    ok(&published, "publish", &[&p]);
    assert_eq!(batched.ok().unwrap().consumed, Some(1000));
    check_events(&batched.events, EVENTS as i64 + 64, 1000);

    for (t, what) in [(&mut c, "consumer"), (&mut p, "producer")] {
        let r = t.request(|id| Command::Leave { id }, deadline()).unwrap();
        ok(&r, &format!("{what} leave"), &[]);
    }
    assert_eq!(c.exit(deadline()).unwrap(), 0);
    assert_eq!(p.exit(deadline()).unwrap(), 0);
}

#[test]
fn testee_shm_exchange() {
    exchange(Backend::Shm);
}

#[test]
fn testee_mmap_exchange() {
    exchange(Backend::Mmap);
}

#[test]
fn testee_reports_unsupported_and_oversized_batches() {
    let schema = Arc::new(Schema::load());
    let name = unique("u");
    let _cleanup = Cleanup {
        name: name.clone(),
        root: None,
    };
    let ring = RingAddr {
        backend: Backend::Shm,
        name: name.clone(),
        root: None,
    };
    let deadline = || Instant::now() + Duration::from_secs(30);
    let mut p = spawn("producer", &schema);
    let r = p
        .request(
            |id| Command::CreateProducer {
                id,
                ring: ring.clone(),
                capacity: 8,
                event_size: 72,
                wait_consumers: None,
                discover: Some(Discover {
                    prefix: "c".into(),
                    max: 8,
                }),
                wait: None,
                required: None,
            },
            deadline(),
        )
        .unwrap();
    assert!(
        matches!(r.result, Err((ErrorKind::Unsupported, _))),
        "{:?}",
        r.result
    );
    let r = p
        .request(
            |id| Command::CreateProducer {
                id,
                ring: ring.clone(),
                capacity: 8,
                event_size: 8,
                wait_consumers: None,
                discover: Some(Discover {
                    prefix: "c".into(),
                    max: 8,
                }),
                wait: None,
                required: None,
            },
            deadline(),
        )
        .unwrap();
    ok(&r, "create_producer", &[&p]);
    // No consumer: disruptor-mp gates on its own cursor, so 8 fit, then the ring is full.
    let r = p
        .request(|id| Command::TryPublish { id, count: 20 }, deadline())
        .unwrap();
    let f = r.ok().unwrap();
    assert_eq!((f.published, f.full), (Some(8), Some(true)));
    // A batch larger than the ring never fits: reported as a timeout after a bounded stall.
    let r = p
        .request(
            |id| Command::Publish {
                id,
                count: 16,
                batch: Some(16),
            },
            deadline(),
        )
        .unwrap();
    assert!(
        matches!(r.result, Err((ErrorKind::Timeout, _))),
        "{:?}",
        r.result
    );
    assert_eq!(p.exit(deadline()).unwrap(), 0);
}

/// PROTOCOL.md: a command the testee does not implement is answered `unsupported` with the
/// command's id (both testees share conformance's `serve` loop, which owns that answer). Sent
/// raw: the driver refuses to send a command the schema does not know.
#[test]
fn testee_answers_an_unknown_command_unsupported() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command as Process, Stdio};
    let mut child = Process::new(env!("CARGO_BIN_EXE_dmp-peer"))
        .arg("testee")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("testee starts");
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"{\"cmd\":\"teleport\",\"id\":3}\n{\"cmd\":\"exit\"}\n")
        .unwrap();
    drop(stdin);
    let lines: Vec<serde_json::Value> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert!(child.wait().unwrap().success());
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["type"], "hello");
    assert_eq!(
        (&lines[1]["type"], &lines[1]["id"], &lines[1]["kind"]),
        (&"error".into(), &3.into(), &"unsupported".into()),
        "{lines:?}"
    );
}
