//! Closing: a producer's clean drop ends the stream after its last sequence; a consumer
//! drains what is left and is then told the final sequence, a consumer blocked in a read is
//! woken by the close, and the closed ring's names are gone once its consumers leave.

use crate::common::{publish, read, TestRing, SIZE};
use ringproof::{Error, WaitStrategy};

/// Producer dropped with 5 of 10 events unread: the consumer reads the 5, then `Closed`.
#[test]
fn a_consumer_drains_a_closed_ring_then_learns_its_end() {
    let ring = TestRing::new("close");
    let mut p = ring.producer();
    let mut c = ring.consumer("c_0");
    publish(&mut p, 10);
    read(&mut c, 0, 5);
    drop(p);
    read(&mut c, 5, 5);
    let mut buf = vec![0u8; SIZE];
    match c.try_read_into(&mut buf) {
        Err(Error::Closed { final_sequence }) => assert_eq!(final_sequence, 9),
        other => panic!("expected Closed, got {other:?}"),
    }
    drop(c);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}

/// A consumer parked in a blocking read (futex wait) is woken by the close.
#[test]
fn the_close_wakes_a_blocked_reader() {
    let ring = TestRing::new("closewake");
    let mut p = ring.producer();
    let mut c = ring
        .consumer_builder("c_0")
        .wait(WaitStrategy::blocking())
        .attach_raw(SIZE)
        .expect("attach");
    let reader = std::thread::spawn(move || {
        read(&mut c, 0, 3);
        let mut buf = vec![0u8; SIZE];
        let end = c.read_into(&mut buf);
        drop(c);
        end
    });
    publish(&mut p, 3);
    drop(p);
    match reader.join().expect("reader") {
        Err(Error::Closed { final_sequence }) => assert_eq!(final_sequence, 2),
        other => panic!("expected Closed, got {other:?}"),
    }
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}

/// Busy-spinning reads (typed `read` and raw `read_into`, which spin in line): every event in
/// order, intact, then the close ends the spin with the final sequence. A spin that never
/// looks at the ring state would never return: the readers report over a channel, so that
/// such a defect fails the test (after a generous bound) instead of hanging it.
#[test]
fn busy_spinning_readers_see_every_event_then_the_close() {
    use crate::common::{event, read_typed, Event};
    let ring = TestRing::new("spinclose");
    let n = 2_000i64;
    let mut p = ring.builder().create::<Event>().expect("create");
    let spin = |id: &str| ring.consumer_builder(id).wait(WaitStrategy::BusySpin);
    let mut typed = spin("c_0").attach::<Event>().expect("attach c_0");
    let mut raw = spin("c_1").attach_raw(SIZE).expect("attach c_1");
    let (tx, ends) = std::sync::mpsc::channel();
    let typed_tx = tx.clone();
    std::thread::spawn(move || {
        read_typed(&mut typed, 0, n);
        let end = typed.read().map(drop);
        // Left before reporting, so that the names are gone when the test looks.
        drop(typed);
        let _ = typed_tx.send(end);
    });
    std::thread::spawn(move || {
        read(&mut raw, 0, n as u64);
        let mut buf = vec![0u8; SIZE];
        let end = raw.read_into(&mut buf).map(drop);
        drop(raw);
        let _ = tx.send(end);
    });
    for seq in 0..n {
        assert_eq!(p.publish(&event(seq)).expect("publish"), seq);
    }
    drop(p);
    for _ in 0..2 {
        match ends.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(Err(Error::Closed { final_sequence })) => assert_eq!(final_sequence, n - 1),
            Ok(other) => panic!("expected Closed, got {other:?}"),
            Err(_) => panic!("a busy-spinning reader did not see the close within 60 s"),
        }
    }
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}
