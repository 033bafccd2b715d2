//! Shared by the lifecycle tests: a test's ring (unique name, leftover check), TP1-filled
//! publishing and verified reading, and typed events.

use ringproof::kit::payload::{fill, verify};
use ringproof::{
    Consumer, ConsumerBuilder, Producer, ProducerBuilder, RawConsumer, RawProducer, RingName,
};
use ringproof_testsupport as support;
use std::time::Duration;

/// Event size of the raw tests, and of [`Event`].
pub const SIZE: usize = 64;
/// A small ring: every test wraps it many times.
pub const CAPACITY: usize = 16;
/// Bound of every wait a test makes.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A typed event of [`SIZE`] bytes carrying the TP1 payload.
pub type Event = [u64; SIZE / 8];

/// One test's ring. Dropped last (declare it first), it fails the test if anything of the
/// ring is left in /dev/shm, and removes it either way.
pub struct TestRing {
    pub name: RingName,
}

impl TestRing {
    pub fn new(tag: &str) -> TestRing {
        let name = support::unique_name("rpl", tag);
        assert!(
            support::shm_leftovers(&name).is_empty(),
            "fresh name {name}"
        );
        TestRing {
            name: RingName::shm(&name).expect("valid name"),
        }
    }

    /// A raw producer of [`SIZE`]-byte events on a ring of [`CAPACITY`].
    pub fn producer(&self) -> RawProducer {
        self.builder().create_raw(SIZE).expect("create producer")
    }

    pub fn builder(&self) -> ProducerBuilder {
        ProducerBuilder::new(self.name.clone()).capacity(CAPACITY)
    }

    /// A raw consumer `id`, waiting for the ring to exist.
    pub fn consumer(&self, id: &str) -> RawConsumer {
        self.consumer_builder(id)
            .attach_raw(SIZE)
            .unwrap_or_else(|e| panic!("attach {id}: {e}"))
    }

    pub fn consumer_builder(&self, id: &str) -> ConsumerBuilder {
        ConsumerBuilder::new(self.name.clone(), id).attach_timeout(TIMEOUT)
    }

    /// A typed producer of [`Event`]s with a typed consumer `c_0` and a raw consumer `c_raw`,
    /// both joined before anything is published.
    pub fn typed_with_readers(&self) -> (Producer<Event>, Consumer<Event>, RawConsumer) {
        let p = self.builder().create::<Event>().expect("create");
        let typed = self
            .consumer_builder("c_0")
            .attach::<Event>()
            .expect("attach c_0");
        (p, typed, self.consumer("c_raw"))
    }

    /// What is left of this ring in /dev/shm.
    pub fn leftovers(&self) -> Vec<String> {
        support::shm_leftovers(self.name.name())
    }
}

impl Drop for TestRing {
    fn drop(&mut self) {
        let left = support::remove_shm(self.name.name());
        if !left.is_empty() && !std::thread::panicking() {
            panic!("the test left {left:?} in /dev/shm (now removed)");
        }
    }
}

/// Publishes `n` events, one at a time, each filled with the payload of its sequence.
pub fn publish(p: &mut RawProducer, n: u64) {
    for _ in 0..n {
        let seq = p.last_published() + 1;
        let got = p
            .publish_with(|e| fill(seq as u64, e).expect("fill"))
            .expect("publish");
        assert_eq!(got, seq);
    }
}

/// Reads `n` events (waiting for each), checking that they are `first..first + n`, intact.
pub fn read(c: &mut RawConsumer, first: i64, n: u64) {
    let mut buf = vec![0u8; c.element_size()];
    for i in 0..n as i64 {
        let seq = c.read_into(&mut buf).expect("read");
        assert_eq!(seq, first + i, "{}: out of order", c.id());
        verify(seq as u64, &buf).unwrap_or_else(|e| panic!("{}: at {seq}: {e}", c.id()));
    }
}

/// Reads `n` typed events (waiting for each), checking that they are `first..first + n`, intact.
pub fn read_typed(c: &mut Consumer<Event>, first: i64, n: i64) {
    for want in first..first + n {
        let (seq, e) = c.read().expect("read");
        assert_eq!(seq, want, "out of order");
        check(seq, &e);
    }
}

/// The typed event of `seq`.
pub fn event(seq: i64) -> Event {
    let mut bytes = [0u8; SIZE];
    fill(seq as u64, &mut bytes).expect("fill");
    let mut e = [0u64; SIZE / 8];
    for (w, b) in e.iter_mut().zip(bytes.chunks_exact(8)) {
        *w = u64::from_le_bytes(b.try_into().expect("8 bytes"));
    }
    e
}

/// Checks that `e` is the intact typed event of `seq`.
pub fn check(seq: i64, e: &Event) {
    let bytes: Vec<u8> = e.iter().flat_map(|w| w.to_le_bytes()).collect();
    verify(seq as u64, &bytes).unwrap_or_else(|err| panic!("typed event {seq}: {err}"));
}
