//! Regression, found by these tests: a ringproof consumer started before a disruptor-mp
//! producer failed to attach. disruptor-mp's `build_producer` creates the ring segment `N` first
//! and the producer cursor `N_producer_seq` after it (with the slot factory loop in between), and
//! `RawConsumer::attach` used to wait only for the ring. It now waits for the producer cursor
//! with the same deadline (SPEC.md §7.3 step 1).

use super::*;

/// 64-byte event for in-process disruptor-mp calls.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Ev64([u64; 8]);

/// Regression (found by this suite), deterministic: genuine disruptor-mp calls, in `build_producer`'s order, with a
/// pause between the ring and the producer cursor. A consumer with `attach_timeout(5 s)` must
/// wait for the cursor, not fail.
#[test]
fn ringproof_attach_waits_for_dmp_producer_cursor_created_after_the_ring() {
    let s = Session::new("order", LIMIT);
    let name = s.name.clone();
    let config = disruptor_mp::SharedMemoryConfig {
        name: name.clone(),
        buffer_size: 1024,
        element_size: std::mem::size_of::<Ev64>(),
        create: true,
    };
    let ring =
        disruptor_mp::SharedRingBuffer::<Ev64>::new(config, Ev64::default).expect("dmp ring");
    let cursor_name = format!("{name}_producer_seq");
    let creator = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        disruptor_mp::SharedCursor::new(&cursor_name, -1).expect("dmp producer cursor")
    });
    let attached = ConsumerBuilder::new(RingName::shm(&name).unwrap(), "rp_0")
        .attach_timeout(Duration::from_secs(5))
        .attach_raw(64);
    let producer_cursor = creator.join().expect("creator thread");
    let result = attached
        .as_ref()
        .map(|c| c.next_sequence())
        .map_err(|e| e.to_string());
    drop(attached); // unlinks `N_rp_0_seq` if it attached
    drop(producer_cursor); // disruptor-mp owners unlink on drop
    drop(ring);
    assert_eq!(
        result,
        Ok(0),
        "a ringproof consumer must wait (attach_timeout) for the producer cursor of a \
         disruptor-mp ring, which is created after the ring"
    );
    s.finish();
}

/// Regression (found by this suite), end to end: ringproof consumer process started before the disruptor-mp producer
/// process, 5 times. 65,536 slots make disruptor-mp's slot-initialisation loop between the ring
/// and the producer cursor last a few milliseconds, so the consumer's 0.5 ms attach poll lands in
/// the window nearly every time (with 1024 slots: about 5-35% of attempts, depending on load).
#[test]
fn ringproof_consumer_started_before_dmp_producer() {
    const ATTEMPTS: usize = 5;
    let mut failures = Vec::new();
    for i in 0..ATTEMPTS {
        let r = std::panic::catch_unwind(|| {
            dmp_to_rp(
                "cfirst",
                64,
                1 << 16,
                2_000,
                "batch",
                Order::ConsumersFirst,
                Duration::from_secs(60),
            )
        });
        if let Err(e) = r {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let why = msg
                .lines()
                .find(|l| l.contains("\"error\""))
                .unwrap_or("(see output)")
                .to_owned();
            failures.push(format!("attempt {i}: {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {ATTEMPTS} consumer-first runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// disruptor-mp's producer creates its readiness counter `N_cr` just after `N_producer_seq`
/// (producer.rs:124-150, `SharedProducer::new_with_coordination_and_discovery`) and then spins
/// until `N_cr` reaches the consumer count. A ringproof consumer that attaches in between must
/// still be counted (SPEC.md §10.1: it keeps trying to open `N_cr` for a while), else the
/// disruptor-mp producer waits out its whole coordination timeout (15 s by default for one
/// consumer) before it publishes. Genuine disruptor-mp calls, in-process, deterministic order.
#[test]
fn ringproof_consumer_signals_a_dmp_readiness_counter_created_during_attach() {
    let s = Session::new("ready", LIMIT);
    let name = s.name.clone();
    let config = disruptor_mp::SharedMemoryConfig {
        name: name.clone(),
        buffer_size: 64,
        element_size: std::mem::size_of::<Ev64>(),
        create: true,
    };
    let ring =
        disruptor_mp::SharedRingBuffer::<Ev64>::new(config, Ev64::default).expect("dmp ring");
    let producer_cursor =
        disruptor_mp::SharedCursor::new(&format!("{name}_producer_seq"), -1).expect("dmp cursor");
    let ready_name = format!("{name}_cr");
    let creator = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        disruptor_mp::SharedCursor::new(&ready_name, 0).expect("dmp readiness counter")
    });
    let consumer = ConsumerBuilder::new(RingName::shm(&name).unwrap(), "rp_0")
        .attach_timeout(Duration::from_secs(5))
        .attach_raw(64);
    let ready = creator.join().expect("creator thread");
    let count = ready.load(std::sync::atomic::Ordering::Acquire);
    let attached = consumer.as_ref().map(|_| ()).map_err(|e| e.to_string());
    drop(consumer);
    drop(ready);
    drop(producer_cursor);
    drop(ring);
    assert_eq!(attached, Ok(()));
    assert_eq!(
        count, 1,
        "a ringproof consumer must signal disruptor-mp's readiness counter that appears just \
         after it attached (else the producer waits out its coordination timeout)"
    );
    s.finish();
}
