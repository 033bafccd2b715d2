//! A single-event publish loop, for reading its machine code (bench/RESULTS.md counts the
//! stores per event in it):
//!
//! ```text
//! cargo build --release -p ringproof --example publish_loop
//! objdump -d --no-show-raw-insn -C target/release/examples/publish_loop | less   # publish_loop::run
//! ```
//!
//! Run, it publishes `N` u64 events (argument 1, default 1000) to a ring nobody reads.

use ringproof::{Producer, ProducerBuilder, RingName, WaitStrategy};

#[inline(never)]
fn run(p: &mut Producer<u64>, n: u64) -> ringproof::Result<()> {
    for s in 0..n {
        p.publish(&s)?;
    }
    Ok(())
}

fn main() {
    let n = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let name = RingName::shm(&format!("publish_loop_{}", std::process::id())).expect("ring name");
    let mut p = ProducerBuilder::new(name)
        .capacity(1 << 16)
        .wait(WaitStrategy::BusySpin)
        .create::<u64>()
        .expect("create");
    run(&mut p, n).expect("publish");
    println!("published {}", p.last_published() + 1);
}
