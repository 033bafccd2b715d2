//! Participants that die: this test binary re-spawned as a child process that runs one role
//! and then exits without its destructors (`std::process::exit`), so its registry slot, its
//! cursor or its producer claim stays behind as a crash would leave it.
//!
//! The child runs only the [`role`] test (`--exact roles::role`), which does nothing unless
//! [`ROLE_ENV`] is set.

use crate::common::{publish, read, TestRing, TIMEOUT};
use ringproof::{RingName, WaitStrategy};
use ringproof_testsupport::Child;
use std::process::Command;
use std::time::Duration;

/// The role a child plays: `produce_and_die` or `consume_and_die`.
const ROLE_ENV: &str = "RINGPROOF_LIFECYCLE_ROLE";
const RING_ENV: &str = "RINGPROOF_LIFECYCLE_RING";
const ID_ENV: &str = "RINGPROOF_LIFECYCLE_ID";
const EVENTS_ENV: &str = "RINGPROOF_LIFECYCLE_EVENTS";
/// The backstop of the parking roles: longer than any test runs (a consumer's is capped at a
/// quarter of the heartbeat timeout all the same, SPEC.md §6.2).
const PARK: Duration = Duration::from_secs(3600);

/// Starts this binary as a child that plays `role` on `ring`: `produce_and_die` waits for one
/// consumer, publishes `events` events and dies; `consume_and_die` attaches as `id`, reads
/// `events` events (verified) and dies; `consume_parked` attaches as `id` with the blocking
/// wait and waits for an event forever (parked, until killed); `produce_parked` creates the
/// ring with the blocking wait, waits for one consumer and publishes `events` events, parking
/// for room forever once the ring is full (until killed).
pub fn spawn(role: &str, ring: &TestRing, id: &str, events: u64) -> Child {
    let mut cmd = Command::new(std::env::current_exe().expect("current_exe"));
    cmd.args([
        "--exact",
        "roles::role",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env(ROLE_ENV, role)
    .env(RING_ENV, ring.name.name())
    .env(ID_ENV, id)
    .env(EVENTS_ENV, events.to_string());
    Child::spawn(format!("{role} {id}"), cmd, TIMEOUT)
}

/// Waits for a role child and fails the test unless it played its role to the end.
pub fn expect_success(mut child: Child) {
    let status = child
        .wait()
        .unwrap_or_else(|t| panic!("timed out\n{}", t.0));
    let out = child.captured();
    assert!(status.success(), "{out}");
    assert!(out.stdout.contains("ROLE_DONE"), "{out}");
}

/// The child's entry point; an ordinary run passes it at once.
#[test]
fn role() {
    let Ok(role) = std::env::var(ROLE_ENV) else {
        return;
    };
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} unset"));
    // Not ours to clean up: the parent test owns the ring and checks what is left.
    let ring = std::mem::ManuallyDrop::new(TestRing {
        name: RingName::shm(&env(RING_ENV)).expect("ring name"),
    });
    let events: u64 = env(EVENTS_ENV).parse().expect("event count");
    match role.as_str() {
        "produce_and_die" => {
            let mut p = ring.producer();
            p.wait_for_consumers(1, TIMEOUT).expect("a consumer");
            publish(&mut p, events);
            p.flush();
            println!("ROLE_DONE");
            std::process::exit(0);
        }
        "consume_and_die" => {
            let mut c = ring.consumer(&env(ID_ENV));
            let first = c.next_sequence();
            read(&mut c, first, events);
            println!("ROLE_DONE");
            std::process::exit(0);
        }
        "consume_parked" => {
            let mut c = ring
                .consumer_builder(&env(ID_ENV))
                .wait(WaitStrategy::Blocking {
                    spins: 0,
                    backstop: PARK,
                })
                .attach_raw(crate::common::SIZE)
                .expect("attach");
            println!("ROLE_ATTACHED");
            let mut buf = vec![0u8; c.element_size()];
            let got = c.read_into(&mut buf);
            panic!("a parked consumer of a ring nobody publishes on read {got:?}");
        }
        "produce_parked" => {
            let mut p = ring
                .builder()
                .wait(WaitStrategy::Blocking {
                    spins: 0,
                    backstop: PARK,
                })
                .create_raw(crate::common::SIZE)
                .expect("create producer");
            p.wait_for_consumers(1, TIMEOUT).expect("a consumer");
            publish(&mut p, events);
            panic!("published {events} events past a consumer that reads nothing");
        }
        other => panic!("unknown role {other}"),
    }
}
