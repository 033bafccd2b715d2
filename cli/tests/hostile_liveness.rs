//! Hostile liveness cases (issue 11: F4 a/b/c, F11, F12): a live consumer must never be
//! declared dead on missing evidence, one that was retired while alive must learn it before it
//! reads a rewritten slot, heartbeats must mean the same in every time namespace, a heartbeat
//! from the future must not keep a dead consumer alive, and a consumer whose ring was removed
//! must notice. Real processes throughout; TP1 payloads check every event read.
//!
//! Namespaced consumers need `unshare` with pid (and time) namespaces; where the machine
//! cannot make them the test says so and does nothing. Lowering a running producer's file
//! limit uses `prlimit --pid`.

mod common;

use common::*;
use ringproof::kit::layout::registry::{SLOT_ACTIVE, SLOT_DEAD};
use ringproof::kit::registry::Registry;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// `ringproof consume` run inside fresh namespaces by `unshare ... --fork --kill-child`.
struct NsConsumer {
    label: String,
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

impl NsConsumer {
    fn spawn(unshare: &[&str], ring: &Ring, id: &str, extra: &[&str]) -> NsConsumer {
        let mut args: Vec<String> = unshare.iter().map(|s| s.to_string()).collect();
        args.extend(["--fork", "--mount-proc", "--kill-child", BIN, "consume"].map(String::from));
        args.extend(ring.args());
        args.extend(["--id".to_owned(), id.to_owned()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = Command::new("unshare")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn unshare");
        let read = |mut r: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = r.read_to_string(&mut s);
                s
            })
        };
        let stdout = Some(read(Box::new(child.stdout.take().expect("stdout"))));
        let stderr = Some(read(Box::new(child.stderr.take().expect("stderr"))));
        NsConsumer {
            label: format!("consumer {id} `unshare {}`", args.join(" ")),
            child,
            stdout,
            stderr,
        }
    }

    /// The host pid of the `ringproof consume` process (unshare's only child), once it exists.
    fn inner_pid(&self) -> u32 {
        let me = self.child.id();
        let deadline = Instant::now() + HARD_TIMEOUT;
        loop {
            for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
                let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                    continue;
                };
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                    continue;
                };
                let ppid = stat
                    .rfind(')')
                    .and_then(|i| stat[i + 1..].split_whitespace().nth(1)?.parse::<u32>().ok());
                if ppid == Some(me) {
                    return pid;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{}: no child process",
                self.label
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Waits for the exit (killing it after `timeout`): (exit code, stdout, stderr).
    fn wait_for(mut self, timeout: Duration) -> (Option<i32>, String, String) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let (out, err) = self.output();
                panic!(
                    "{} did not exit within {timeout:?} (killed)\nstdout: {out}\nstderr: {err}",
                    self.label
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let (out, err) = self.output();
        (status.code(), out, err)
    }

    fn output(&mut self) -> (String, String) {
        let out = self
            .stdout
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let err = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        (out, err)
    }

    /// SIGKILL (unshare's `--kill-child` takes the consumer with it) and reap.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NsConsumer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether `unshare` with these namespace flags works here (root or user namespaces, a kernel
/// with time namespaces for `--time`).
fn can_unshare(flags: &[&str]) -> bool {
    Command::new("unshare")
        .args(flags)
        .args(["--fork", "--mount-proc", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid}");
}

/// Sets the soft RLIMIT_NOFILE of running process `pid`.
fn set_nofile(pid: u32, soft: u64) {
    let ok = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--nofile={soft}:")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "prlimit --pid {pid} --nofile={soft}:");
}

fn can_prlimit() -> bool {
    Command::new("prlimit")
        .args(["--pid", &std::process::id().to_string(), "--nofile"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The registry slot holding consumer `id`, in any state.
fn slot_of(reg: &Registry, id: &str) -> Option<usize> {
    (0..reg.slots()).find(|&i| reg.slot_state(i) != 0 && reg.slot_id(i).as_deref() == Some(id))
}

fn open_registry(ring: &Ring, procs: &mut [&mut Proc]) -> Registry {
    let mut reg = None;
    wait_until("the registry", procs, || {
        reg = Registry::open(&ring.ring_name().registry()).ok();
        reg.is_some()
    });
    reg.expect("registry")
}

/// A consumer that ended either with a typed lapped/evicted error (it was retired while alive
/// and was told) or clean; never with events that failed their checksum.
fn expect_told_or_clean(code: Option<i32>, out: &str, err: &str) {
    let json: serde_json::Value =
        serde_json::from_str(out.lines().last().unwrap_or("")).unwrap_or_default();
    match code {
        Some(2) => {
            let e = json["error"].as_str().unwrap_or_default();
            assert!(
                e.contains("missed sequences"),
                "expected a lapped/evicted error, got {e:?}\nstdout: {out}\nstderr: {err}"
            );
        }
        _ => {
            assert_eq!(
                json["payload_errors"], 0,
                "the retired consumer read overwritten slots\nstdout: {out}\nstderr: {err}"
            );
            assert_eq!(json["out_of_order"], 0, "stdout: {out}\nstderr: {err}");
            assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
        }
    }
}

/// F4 (a): a producer that has run out of file descriptors cannot read `/proc`; that is no
/// evidence that its consumers died. Before the fix it retired the live gate within
/// microseconds and overwrote events the gate had not read.
#[test]
fn f4a_producer_out_of_file_descriptors_keeps_gating_its_live_consumer() {
    if !can_prlimit() {
        eprintln!("skipped: prlimit --pid is not available here");
        return;
    }
    let fx = Fixture::new("f4a");
    let ring = fx.ring(Backend::Shm, "r");
    let events = events(3000);
    let mut p = ring.produce(&[
        "--capacity",
        "8",
        "--events",
        &a(events),
        "--wait-consumers",
        "1",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
    ]);
    let mut gate = ring.attach_gate("g", 64);
    let reg = open_registry(&ring, &mut [&mut p]);
    let pc = ring.open_producer_cursor().expect("producer cursor");
    // The gate reads nothing yet: the producer fills the ring and blocks on it.
    wait_until("the ring to fill", &mut [&mut p], || pc.load() >= 7);
    let slot = slot_of(&reg, "g").expect("gate slot");
    // Its limit becomes 3 (stdin, stdout, stderr are open): every open, /proc included, fails.
    set_nofile(p.pid(), 3);
    // The producer beats, then looks at its gates, every 10 ms while blocked: after two more
    // beats at least one whole look ran without file descriptors (a retirement ends the wait
    // early: the assertion below then says what happened).
    let beat = || reg.control().producer_heartbeat.load(Ordering::Relaxed);
    for _ in 0..2 {
        let b = beat();
        wait_until("a producer heartbeat", &mut [], || {
            beat() != b || reg.slot_state(slot) != SLOT_ACTIVE
        });
    }
    assert_eq!(
        reg.slot_state(slot),
        SLOT_ACTIVE,
        "a live consumer was retired because /proc could not be read"
    );
    // Blocked over and over while still without descriptors; every payload must verify.
    gate_consume(&mut gate, events / 2, &mut [&mut p]);
    assert_eq!(
        reg.slot_state(slot),
        SLOT_ACTIVE,
        "a live consumer was retired because /proc could not be read"
    );
    set_nofile(p.pid(), 1024);
    gate_consume(&mut gate, events - events / 2, &mut [&mut p]);
    p.wait().expect_producer_ok(events);
    drop(gate);
}

/// F4 (a), a consumer that joins while the producer is out of file descriptors: the producer
/// sees the join but cannot map the joiner's cursor. Before the fix it went on publishing as
/// if the joiner were not there, and the joiner read overwritten slots; now it publishes
/// nothing new until it can map every gating cursor.
#[test]
fn f4a_a_consumer_joining_a_producer_out_of_file_descriptors_is_gated() {
    if !can_prlimit() {
        eprintln!("skipped: prlimit --pid is not available here");
        return;
    }
    let fx = Fixture::new("f4aj");
    let ring = fx.ring(Backend::Shm, "r");
    let events = events(2000);
    let mut p = ring.produce(&[
        "--capacity",
        "8",
        "--events",
        &a(events),
        "--wait-consumers",
        "1",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
    ]);
    let mut first = ring.attach_gate("g1", 64);
    let pc = ring.open_producer_cursor().expect("producer cursor");
    wait_until("the ring to fill", &mut [&mut p], || pc.load() >= 7);
    set_nofile(p.pid(), 3);
    // Joins while the producer cannot open anything: its cursor must still gate.
    let mut late = ring.attach_gate("g2", 64);
    let joined_at = late.next_sequence();
    // The first gate reads whatever is published, a few rounds, each followed by two producer
    // heartbeats (a whole rescan in between); the producer must not lap the late gate.
    let reg = open_registry(&ring, &mut [&mut p]);
    let beat = || reg.control().producer_heartbeat.load(Ordering::Relaxed);
    let mut buf = [0u8; 64];
    let mut read = 0u64;
    for _ in 0..4 {
        while let Some(seq) = first.try_next_into(&mut buf).expect("first gate reads") {
            ringproof::kit::payload::verify(seq as u64, &buf).expect("intact payload");
            read += 1;
        }
        for _ in 0..2 {
            let b = beat();
            wait_until("a producer heartbeat", &mut [&mut p], || beat() != b);
        }
    }
    assert!(
        pc.load() < joined_at + 8,
        "the producer published up to {} past a gate it could not map (joined at {joined_at})",
        pc.load()
    );
    set_nofile(p.pid(), 1024);
    let left = (events as i64 - joined_at) as u64;
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        gate_consume(&mut late, left, &mut []);
        tx.send(late).expect("send");
    });
    gate_consume(&mut first, events - read, &mut [&mut p]);
    t.join()
        .expect("late gate read every event it was owed, intact");
    let late = rx.recv().expect("late gate");
    p.wait().expect_producer_ok(events);
    drop((first, late, reg));
}

/// F4 (b): a consumer in another pid namespace is judged by its heartbeat; stopped for longer
/// than the heartbeat timeout it is retired (rightly: it looks dead). When it runs again it
/// must learn it with a typed error, never read the slots the producer rewrote meanwhile.
#[test]
fn f4b_a_retired_consumer_in_another_pid_namespace_is_told_not_fed_stale_slots() {
    if !can_unshare(&["--pid"]) {
        eprintln!("skipped: this machine cannot create a pid namespace (unshare --pid failed)");
        return;
    }
    let fx = Fixture::new("f4b");
    let ring = fx.ring(Backend::Shm, "r");
    let events = 1000u64;
    let mut p = ring.produce(&[
        "--capacity",
        "8",
        "--events",
        &a(events),
        "--wait-consumers",
        "2",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
    ]);
    let c = NsConsumer::spawn(&["--pid"], &ring, "c_ns", &["--wait", "sleep"]);
    let mut gate = ring.attach_gate("g", 64);
    let reg = open_registry(&ring, &mut [&mut p]);
    wait_until("the namespaced consumer to join", &mut [&mut p], || {
        reg.active().iter().any(|p| p.id == "c_ns")
    });
    let slot = slot_of(&reg, "c_ns").expect("slot");
    gate_consume(&mut gate, 100, &mut [&mut p]);
    let mut cursor = None;
    wait_until("the namespaced consumer's cursor", &mut [&mut p], || {
        cursor = ring.open_consumer_cursor("c_ns");
        cursor.is_some()
    });
    let cursor = cursor.expect("cursor");
    wait_until(
        "the namespaced consumer to read 90 events",
        &mut [&mut p],
        || cursor.load() >= 89,
    );
    let inner = c.inner_pid();
    signal(inner, "-STOP");
    // Stopped: its heartbeat ages; the blocked producer retires it after the 1 s timeout.
    wait_until(
        "the producer to retire the stopped consumer",
        &mut [&mut p],
        || reg.slot_state(slot) == SLOT_DEAD,
    );
    // The producer now laps it: the slots it has not read are rewritten.
    gate_consume(&mut gate, 200, &mut [&mut p]);
    assert!(ring.open_producer_cursor().expect("producer cursor").load() > cursor.load() + 8);
    signal(inner, "-CONT");
    gate_consume(&mut gate, events - 300, &mut [&mut p]);
    p.wait().expect_producer_ok(events);
    let (code, out, err) = c.wait_for(HARD_TIMEOUT);
    expect_told_or_clean(code, &out, &err);
    assert_eq!(
        code,
        Some(2),
        "the lapped consumer cannot have read everything\nstdout: {out}\nstderr: {err}"
    );
    drop(gate);
    drop(reg);
}

/// F4 (c): a consumer in a time namespace whose boottime runs 100 s behind. Its heartbeats must
/// mean the same to the producer as anyone's; before the fix they looked 100 s old and it was
/// retired at once, and read almost nothing but overwritten slots.
#[test]
fn f4c_a_consumer_in_a_time_namespace_behind_is_not_retired() {
    let flags = ["--time", "--boottime", "-100", "--pid"];
    if !can_unshare(&flags) {
        eprintln!("skipped: this machine cannot create a time + pid namespace (unshare --time --boottime -100 --pid failed)");
        return;
    }
    let fx = Fixture::new("f4c");
    let ring = fx.ring(Backend::Shm, "r");
    let events = events(20_000);
    let mut p = ring.produce(&[
        "--capacity",
        "8",
        "--events",
        &a(events),
        "--wait-consumers",
        "1",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
    ]);
    let c = NsConsumer::spawn(&flags, &ring, "c_tns", &[]);
    let reg = open_registry(&ring, &mut [&mut p]);
    wait_until("the namespaced consumer to join", &mut [&mut p], || {
        reg.active().iter().any(|p| p.id == "c_tns")
    });
    let slot = slot_of(&reg, "c_tns").expect("slot");
    let p = p.wait();
    p.expect_producer_ok(events);
    let (code, out, err) = c.wait_for(HARD_TIMEOUT);
    let json: serde_json::Value =
        serde_json::from_str(out.lines().last().unwrap_or("")).unwrap_or_default();
    assert_eq!(
        code,
        Some(0),
        "the time-namespaced consumer failed\nstdout: {out}\nstderr: {err}"
    );
    assert_eq!(json["payload_errors"], 0, "stdout: {out}");
    assert_eq!(json["out_of_order"], 0, "stdout: {out}");
    assert_eq!(json["last_seq"], events as i64 - 1, "stdout: {out}");
    // The producer closed cleanly; the slot (in the still-mapped registry) was never retired.
    assert_ne!(reg.slot_state(slot), SLOT_DEAD);
    drop(reg);
}

/// Kills a namespaced consumer and waits until its process is gone, then stamps its slot with a
/// heartbeat 100000 s in the future (what a peer with a time namespace ahead, and no
/// correction, writes; or a hostile one).
fn kill_and_stamp_future(c: &mut NsConsumer, reg: &Registry, slot: usize) {
    let inner = c.inner_pid();
    c.kill();
    wait_until("the namespaced consumer to die", &mut [], || {
        std::fs::read_to_string(format!("/proc/{inner}/stat")).map_or(true, |s| {
            s.rfind(')')
                .is_some_and(|i| s[i + 1..].trim_start().starts_with('Z'))
        })
    });
    let future = ringproof::kit::process::boottime_ns() + 100_000 * 1_000_000_000;
    reg.slot(slot).heartbeat.store(future, Ordering::Relaxed);
}

/// F11: a heartbeat from the future (a consumer in a time namespace 100000 s ahead) must not
/// keep a dead consumer alive: the blocked producer retires it and goes on.
#[test]
fn f11_a_heartbeat_from_the_future_does_not_keep_a_dead_consumer_gating() {
    let flags = ["--time", "--boottime", "100000", "--pid"];
    if !can_unshare(&flags) {
        eprintln!("skipped: this machine cannot create a time + pid namespace (unshare --time --boottime 100000 --pid failed)");
        return;
    }
    let fx = Fixture::new("f11p");
    let ring = fx.ring(Backend::Shm, "p");
    let events = 200_000u64;
    let mut p = ring.produce(&[
        "--capacity",
        "8",
        "--events",
        &a(events),
        "--wait-consumers",
        "1",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
    ]);
    let mut c = NsConsumer::spawn(&flags, &ring, "c_fut", &["--wait", "sleep"]);
    let reg = open_registry(&ring, &mut [&mut p]);
    wait_until("the namespaced consumer to join", &mut [&mut p], || {
        reg.active().iter().any(|p| p.id == "c_fut")
    });
    let slot = slot_of(&reg, "c_fut").expect("slot");
    let pc = ring.open_producer_cursor().expect("producer cursor");
    wait_until("events to flow", &mut [&mut p], || pc.load() >= 100);
    // Stop it first, so that it dies while the producer still needs it (with 8 slots the
    // producer cannot finish without it): otherwise a fast consumer reads everything before
    // the kill, the producer closes while its fresh heartbeat still says alive, and nothing
    // here is tested.
    let inner = c.inner_pid();
    signal(inner, "-STOP");
    wait_until("the namespaced consumer to stop", &mut [&mut p], || {
        std::fs::read_to_string(format!("/proc/{inner}/stat")).is_ok_and(|s| {
            s.rfind(')')
                .is_some_and(|i| s[i + 1..].trim_start().starts_with('T'))
        })
    });
    assert!(
        pc.load() < events as i64 - 1,
        "the consumer read everything before it was stopped: raise the event count"
    );
    kill_and_stamp_future(&mut c, &reg, slot);
    // Bounded: the dead consumer is retired within the heartbeat timeout, not never.
    p.wait_for(Duration::from_secs(30))
        .expect_producer_ok(events);
    drop(reg);
}

/// F11: producer and consumer both died, the consumer's heartbeat is from the future:
/// `ringproof rm` removes the ring instead of refusing forever.
#[test]
fn f11_rm_is_not_refused_by_a_heartbeat_from_the_future() {
    let flags = ["--time", "--boottime", "100000", "--pid"];
    if !can_unshare(&flags) {
        eprintln!("skipped: this machine cannot create a time + pid namespace (unshare --time --boottime 100000 --pid failed)");
        return;
    }
    let fx = Fixture::new("f11rm");
    let ring = fx.ring(Backend::Shm, "rm");
    let mut p = ring.produce(&[
        "--capacity",
        "8",
        "--events",
        "100000000",
        "--wait-consumers",
        "1",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
    ]);
    let mut c = NsConsumer::spawn(&flags, &ring, "c_fut", &["--wait", "sleep"]);
    let reg = open_registry(&ring, &mut [&mut p]);
    wait_until("the namespaced consumer to join", &mut [&mut p], || {
        reg.active().iter().any(|p| p.id == "c_fut")
    });
    let slot = slot_of(&reg, "c_fut").expect("slot");
    let pc = ring.open_producer_cursor().expect("producer cursor");
    wait_until("events to flow", &mut [&mut p], || pc.load() >= 100);
    p.kill();
    kill_and_stamp_future(&mut c, &reg, slot);
    let mut args = vec!["rm".to_owned()];
    args.extend(ring.args());
    let out = Proc::spawn("rm", &args).wait();
    out.expect_code(0);
    assert!(
        !out.get("removed")
            .as_array()
            .expect("removed list")
            .is_empty(),
        "{}",
        out.describe()
    );
    drop(reg);
}

/// F12: the ring is removed (what `ringproof rm` does, and does while a consumer sits between
/// creating its cursor and joining) and a new producer creates it anew. The old consumer,
/// whose producer is dead, must end with a typed error in bounded time instead of waiting on
/// the removed ring forever.
#[test]
fn f12_a_consumer_of_a_removed_ring_is_told() {
    let fx = Fixture::new("f12");
    for (backend, tag) in [(Backend::Shm, "shm"), (Backend::Dir, "dir")] {
        removed_ring_case(&fx.ring(backend, tag));
    }
}

fn removed_ring_case(ring: &Ring) {
    let mut p = ring.produce(&[
        "--capacity",
        "8",
        "--events",
        "100000000",
        "--wait-consumers",
        "1",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
    ]);
    let mut c = ring.consume("c", &["--wait", "sleep"]);
    let pc = {
        let mut pc = None;
        wait_until("the producer cursor", &mut [&mut p], || {
            pc = ring.open_producer_cursor();
            pc.is_some()
        });
        pc.expect("producer cursor")
    };
    wait_until("events to flow", &mut [&mut p, &mut c], || pc.load() >= 100);
    p.kill();
    // `rm` refuses while the consumer is registered and alive; in the window before its join it
    // does not see it, and removes every name. Do exactly that removal here.
    let name = ring.ring_name();
    for path in [
        name.ring(),
        name.producer_cursor(),
        name.registry(),
        name.counters(),
        name.consumer_cursor("c"),
    ] {
        if ringproof::kit::segment::exists(&path) {
            ringproof::kit::segment::unlink(&path).expect("unlink");
        }
    }
    if let Some(dir) = name.consumers_dir() {
        let _ = std::fs::remove_dir(dir);
    }
    let p2 = ring.produce(&[
        "--capacity",
        "8",
        "--events",
        "10",
        "--timeout-ms",
        PRODUCER_TIMEOUT_MS,
    ]);
    p2.wait().expect_producer_ok(10);
    let out = c.wait_for(Duration::from_secs(30));
    out.expect_error(&["removed", &ring.name]);
}
