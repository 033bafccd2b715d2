//! The producer's lifecycle across processes: one that dies mid-stream leaves the ring to a
//! restart that resumes after its last published sequence (its consumer first learns that the
//! producer is gone), and a live producer is never displaced by a second one.

use crate::common::{publish, read, TestRing, SIZE, TIMEOUT};
use crate::roles;
use ringproof::Error;
use std::time::Instant;

/// A producer process publishes 10 events and dies; the consumer reads them and is told the
/// producer is gone; a restarted producer resumes at 10 and the same consumer reads on.
#[test]
fn a_dead_producer_is_restarted_and_resumes() {
    let ring = TestRing::new("prestart");
    let child = roles::spawn("produce_and_die", &ring, "", 10);
    let mut c = ring.consumer("c_0");
    read(&mut c, 0, 10);
    roles::expect_success(child);
    let mut buf = vec![0u8; SIZE];
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match c.try_read_into(&mut buf) {
            Ok(None) => assert!(Instant::now() < deadline, "never told the producer died"),
            Ok(Some(seq)) => panic!("read {seq} from a dead producer"),
            Err(Error::ProducerGone { last_published }) => {
                assert_eq!(last_published, 9);
                break;
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    let mut p = ring.producer();
    assert_eq!(
        p.last_published(),
        9,
        "the restart resumes after the dead one"
    );
    publish(&mut p, 10);
    read(&mut c, 10, 10);
    drop(c);
    drop(p);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}

/// While a producer lives, a second one on the same ring is refused and the first goes on.
#[test]
fn a_live_producer_is_not_displaced() {
    let ring = TestRing::new("second");
    let mut p = ring.producer();
    let mut c = ring.consumer("c_0");
    publish(&mut p, 5);
    match ring.builder().create_raw(SIZE) {
        Err(Error::ProducerAlive { pid, .. }) => assert_eq!(pid, std::process::id()),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a second producer was created over a live one"),
    }
    publish(&mut p, 5);
    read(&mut c, 0, 10);
    drop(c);
    drop(p);
    assert!(ring.leftovers().is_empty(), "{:?}", ring.leftovers());
}
