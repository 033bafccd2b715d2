//! Lifecycles from a seed: lifecycle `i` of seed `S` is the same on every run and machine.

use super::{Caps, Lifecycle, Op, CAPACITY, CONSUMERS, MAX_COUNT, MAX_LEN};
use crate::protocol::{Backend, Mode};

/// splitmix64: small, fast, and the same everywhere (lifecycles must not depend on a crate's
/// RNG across versions).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// Lifecycle `index` of `seed` (independent of every other index).
pub fn generate(seed: u64, index: u32, caps: Caps, backends: &[Backend]) -> Lifecycle {
    let mut rng = Rng::new(seed ^ (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
    rng.next_u64();
    let backend = backends[index as usize % backends.len()];
    let len = rng.range(1, MAX_LEN as u64) as usize;
    let mut modes = vec![Mode::Copy];
    if caps.lease {
        modes.push(Mode::Lease);
    }
    if caps.batch_read {
        modes.push(Mode::Batch);
    }
    // (weight, kind); kinds the pairing cannot do are left out.
    let mut table: Vec<(u64, u8)> = vec![(5, 1), (10, 2), (6, 3), (2, 4), (4, 5), (2, 6), (3, 7)];
    if caps.try_publish {
        table.push((6, 0));
    }
    if caps.close {
        table.push((1, 8));
    }
    let total: u64 = table.iter().map(|(w, _)| w).sum();
    let mut ops = Vec::with_capacity(len);
    for _ in 0..len {
        let mut pick = rng.range(0, total - 1);
        let kind = table
            .iter()
            .find(|(w, _)| {
                if pick < *w {
                    true
                } else {
                    pick -= w;
                    false
                }
            })
            .map(|(_, k)| *k)
            .expect("weights");
        let c = rng.range(0, CONSUMERS as u64 - 1) as usize;
        let n = rng.range(1, MAX_COUNT);
        ops.push(match kind {
            0 => Op::Publish { n },
            1 => Op::PublishWaiting {
                n,
                batch: if caps.batch_publish {
                    rng.range(1, CAPACITY)
                } else {
                    1
                },
            },
            2 => Op::Consume {
                c,
                n,
                mode: modes[rng.range(0, modes.len() as u64 - 1) as usize],
            },
            3 => Op::Join { c },
            4 => Op::Leave { c },
            5 => Op::Crash { c },
            6 => Op::ProducerCrash,
            7 => Op::ProducerStart,
            _ => Op::Close,
        });
    }
    Lifecycle { backend, ops }
}
