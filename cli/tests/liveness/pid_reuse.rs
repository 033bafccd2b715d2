//! 7. Pid reuse cannot fake liveness.

use super::*;

/// In-process: a consumer slot whose owner word names a live pid (this process) with the wrong
/// start time is dead: `slot_owner_alive` says so and `drain` retires it instead of waiting.
/// With the right start time the same pid is alive and gates. The same holds for the producer
/// word: a consumer sees a producer with a wrong start time as gone.
#[test]
fn pid_reuse_cannot_make_a_dead_participant_alive() {
    let fx = Fixture::new("pid_reuse");
    for backend in BACKENDS {
        let r = fx.ring(backend, "r");
        let name = r.ring_name();
        let mut p = ProducerBuilder::new(name.clone())
            .capacity(8)
            .create_raw(64)
            .expect("producer");
        let c = ConsumerBuilder::new(name.clone(), "c_0")
            .attach_raw(64)
            .expect("consumer");
        let reg = Registry::open(&name.registry()).expect("registry");
        let slot = slot_of(&reg, "c_0");
        let pid = std::process::id();
        let start = ringproof::kit::process::own_start_time();
        assert!(start > 0);
        assert_eq!(
            reg.slot(slot).owner.load(Ordering::Acquire),
            owner_word(pid, start)
        );
        assert!(reg.slot_owner_alive(slot));

        // Our pid, another start time: a process that had this pid before us.
        reg.slot(slot)
            .owner
            .store(owner_word(pid, start ^ 1), Ordering::Release);
        assert!(
            !reg.slot_owner_alive(slot),
            "a recycled pid made a dead consumer look alive"
        );
        testkit::produce(&mut p, 8, 1, |_| {}).expect("a ring's worth fits");
        assert_eq!(p.min_gating_sequence(), -1);
        assert_eq!(p.gating_ids(), vec!["c_0".to_owned()]);
        let t = Instant::now();
        assert!(
            p.drain(Duration::from_secs(20)).expect("drain"),
            "drain waited on a consumer whose owner is dead"
        );
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "drain took {:?}",
            t.elapsed()
        );
        assert_eq!(
            reg.slot_state(slot),
            SLOT_DEAD,
            "the producer retired the slot"
        );
        assert_eq!(p.gating_ids(), Vec::<String>::new());

        // The right start time: alive.
        reg.slot(slot)
            .owner
            .store(owner_word(pid, start), Ordering::Release);
        assert!(reg.slot_owner_alive(slot));
        drop(c);

        // A live consumer with the right word gates: drain waits out its (configured) timeout.
        let mut c = ConsumerBuilder::new(name.clone(), "c_1")
            .attach_raw(64)
            .expect("consumer");
        let slot = slot_of(&reg, "c_1");
        assert!(reg.slot_owner_alive(slot));
        testkit::produce(&mut p, 8, 1, |_| {}).expect("publish");
        assert!(
            !p.drain(Duration::from_millis(100)).expect("drain"),
            "drain passed a live consumer that read nothing"
        );
        assert_eq!(reg.slot_state(slot), SLOT_ACTIVE);
        let mut buf = [0u8; 64];
        for seq in 8..16 {
            assert_eq!(c.try_read_into(&mut buf).expect("read"), Some(seq));
            ringproof::kit::payload::verify(seq as u64, &buf).expect("payload");
        }
        assert!(p.drain(Duration::from_secs(20)).expect("drain"));

        // The producer's word: wrong start time, a caught-up consumer finds the producer gone.
        let owner = reg.control().producer_owner.load(Ordering::Acquire);
        assert!(reg.producer_alive());
        reg.control()
            .producer_owner
            .store(owner_word(pid, start ^ 1), Ordering::Release);
        assert!(
            !reg.producer_alive(),
            "a recycled pid made a dead producer look alive"
        );
        match c.wait_for_event(Duration::from_secs(20)) {
            Err(Error::ProducerGone { last_published }) => assert_eq!(last_published, 15),
            other => panic!("expected ProducerGone, got {other:?}"),
        }
        reg.control().producer_owner.store(owner, Ordering::Release);
        assert!(reg.producer_alive());
        assert!(!c
            .wait_for_event(Duration::from_millis(30))
            .expect("a live producer is not gone"));
        drop(c);
        drop(reg);
        drop(p);
        fx.assert_clean();
    }
}
