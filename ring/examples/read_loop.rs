//! A single-event read loop (typed `read`, busy-spinning), for reading its machine code next to
//! `publish_loop`'s (bench/RESULTS.md counts the shared-memory stores per event in both):
//!
//! ```text
//! cargo build --release -p ringproof --example read_loop
//! objdump -d --no-show-raw-insn -C target/release/examples/read_loop | less   # read_loop::run
//! ```
//!
//! Run, it publishes `N` u64 events (argument 1, default 1000) and reads them back in one
//! process.

use ringproof::{Consumer, ConsumerBuilder, ProducerBuilder, RingName, WaitStrategy};

#[inline(never)]
fn run(c: &mut Consumer<u64>, n: u64) -> ringproof::Result<u64> {
    let mut sum = 0u64;
    for _ in 0..n {
        let (_, v) = c.read()?;
        sum = sum.wrapping_add(v);
    }
    Ok(sum)
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let name = RingName::shm(&format!("read_loop_{}", std::process::id())).expect("ring name");
    let mut p = ProducerBuilder::new(name.clone())
        .capacity((n.max(1) as usize).next_power_of_two())
        .wait(WaitStrategy::BusySpin)
        .create::<u64>()
        .expect("create");
    let mut c = ConsumerBuilder::new(name, "reader")
        .wait(WaitStrategy::BusySpin)
        .attach::<u64>()
        .expect("attach");
    for s in 0..n {
        p.publish(&s).expect("publish");
    }
    let sum = run(&mut c, n).expect("read");
    assert_eq!(sum, (0..n).fold(0u64, |a, s| a.wrapping_add(s)));
    println!("read {n}");
}
