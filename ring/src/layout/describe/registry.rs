//! Decoding a registry segment: its control block and participant slots (SPEC.md §6).

use super::decoder::Decoder;
use crate::layout::image::{control, slot};
use crate::layout::registry::{
    owner_pid, SlotState, MAX_ID_LEN, RING_CLOSED, RING_OPEN, SLOT_SIZE,
};

impl Decoder<'_> {
    pub(super) fn registry(&mut self, po: usize) -> usize {
        let owner = |w: u64| format!("{w:#018x} (pid {}, start low {})", owner_pid(w), w >> 32);
        let u = |v: Option<u64>| v.map(|v| v.to_string());
        let c = po;
        self.push(
            "control.epoch",
            c + control::EPOCH,
            8,
            self.u64(c).map(|v| format!("{v:#018x}")),
            "this ring incarnation, random non-zero",
        );
        self.push(
            "control.generation",
            c + control::GENERATION,
            8,
            u(self.u64(c + control::GENERATION)),
            "+1 per membership change",
        );
        let state = self.u32(c + control::RING_STATE).map(|s| match s {
            RING_OPEN => "1 (OPEN)".to_owned(),
            RING_CLOSED => "2 (CLOSED)".to_owned(),
            s => format!("{s} (invalid)"),
        });
        self.push(
            "control.ring_state",
            c + control::RING_STATE,
            4,
            state,
            "1 OPEN, 2 CLOSED (clean shutdown)",
        );
        self.push(
            "control.reserved",
            c + 20,
            4,
            self.u32(c + 20).map(|v| v.to_string()),
            "0",
        );
        self.push(
            "control.final_sequence",
            c + control::FINAL_SEQUENCE,
            8,
            self.u64(c + control::FINAL_SEQUENCE)
                .map(|v| (v as i64).to_string()),
            "last published, valid once CLOSED; -1 initially",
        );
        self.push(
            "control.producer_owner",
            c + control::PRODUCER_OWNER,
            8,
            self.u64(c + control::PRODUCER_OWNER).map(owner),
            "pid | (start_time mod 2^32) << 32",
        );
        self.push(
            "control.producer_start",
            c + control::PRODUCER_START,
            8,
            u(self.u64(c + control::PRODUCER_START)),
            "producer start time, clock ticks since boot",
        );
        self.push(
            "control.producer_beat",
            c + control::PRODUCER_BEAT,
            8,
            u(self.u64(c + control::PRODUCER_BEAT)),
            "CLOCK_BOOTTIME ns of the last heartbeat",
        );
        self.push(
            "control.producer_starts",
            c + control::PRODUCER_STARTS,
            8,
            u(self.u64(c + control::PRODUCER_STARTS)),
            "1 at creation, +1 per restart",
        );
        self.push(
            "control.producer_pid_ns",
            c + control::PRODUCER_PID_NS,
            8,
            u(self.u64(c + control::PRODUCER_PID_NS)),
            "inode of the producer's pid namespace (0 = unknown)",
        );
        self.push(
            "control.consumers_parked",
            c + control::CONSUMERS_PARKED,
            4,
            u(self.u32(c + control::CONSUMERS_PARKED).map(u64::from)),
            "consumers sleeping on the producer cursor (0 at rest)",
        );
        self.push(
            "control.reserved2",
            c + 76,
            52,
            Some(self.summary(c + 76, 52)),
            "0",
        );
        let capacity = self.u64(32).unwrap_or(0);
        let first = c + SLOT_SIZE;
        let mut i = 0u64;
        while i < capacity {
            let off = first + (i as usize) * SLOT_SIZE;
            if self.get(off, SLOT_SIZE).is_none() {
                let rest = capacity - i;
                let size = usize::try_from(rest)
                    .ok()
                    .and_then(|r| r.checked_mul(SLOT_SIZE))
                    .unwrap_or(usize::MAX - off);
                self.push(
                    format!("slots[{i}..{capacity}]"),
                    off,
                    size,
                    None,
                    "consumer slots",
                );
                return off.saturating_add(size);
            }
            if self
                .get(off, SLOT_SIZE)
                .is_some_and(|s| s.iter().all(|&b| b == 0))
            {
                let mut j = i + 1;
                while j < capacity
                    && self
                        .get(first + (j as usize) * SLOT_SIZE, SLOT_SIZE)
                        .is_some_and(|s| s.iter().all(|&b| b == 0))
                {
                    j += 1;
                }
                self.push(
                    format!("slots[{i}..{j}]"),
                    off,
                    ((j - i) as usize) * SLOT_SIZE,
                    Some(format!("all zero ({} FREE)", j - i)),
                    "consumer slots, 128 bytes each",
                );
                i = j;
            } else {
                self.slot(i, off);
                i += 1;
            }
        }
        first + (capacity as usize) * SLOT_SIZE
    }

    pub(super) fn slot(&mut self, i: u64, off: usize) {
        let n = |f: &str| format!("slot[{i}].{f}");
        let state = self.u32(off).map(|s| match SlotState::decode(s) {
            Some(state) => format!("{s} ({})", state.name()),
            None => format!("{s} (invalid)"),
        });
        self.push(
            n("state"),
            off + slot::STATE,
            4,
            state,
            "0 FREE, 1 CLAIMING, 2 ACTIVE, 3 DEAD, 4 EVICTED",
        );
        self.push(
            n("role"),
            off + slot::ROLE,
            4,
            self.u32(off + slot::ROLE).map(|v| v.to_string()),
            "2 = consumer",
        );
        let owner = self
            .u64(off + slot::OWNER)
            .map(|w| format!("{w:#018x} (pid {})", owner_pid(w)));
        self.push(
            n("owner"),
            off + slot::OWNER,
            8,
            owner,
            "owner word of the holder",
        );
        for (f, o, m) in [
            (
                "start_time",
                slot::START_TIME,
                "holder start time, clock ticks since boot",
            ),
            ("heartbeat", slot::HEARTBEAT, "CLOCK_BOOTTIME ns"),
            ("incarnation", slot::INCARNATION, "+1 per join or takeover"),
        ] {
            self.push(
                n(f),
                off + o,
                8,
                self.u64(off + o).map(|v| v.to_string()),
                m,
            );
        }
        let id_len = self.u32(off + slot::ID_LEN);
        self.push(
            n("id_len"),
            off + slot::ID_LEN,
            4,
            id_len.map(|v| v.to_string()),
            "bytes of id used",
        );
        self.push(
            n("parked"),
            off + slot::PARKED,
            4,
            self.u32(off + slot::PARKED).map(|v| v.to_string()),
            "0, or the park token (pid) of an owner counted in consumers_parked",
        );
        let id = self.get(off + slot::ID, MAX_ID_LEN).map(|b| {
            let used = (id_len.unwrap_or(0) as usize).min(MAX_ID_LEN);
            format!("{:?}", String::from_utf8_lossy(&b[..used]))
        });
        self.push(
            n("id"),
            off + slot::ID,
            MAX_ID_LEN,
            id,
            "consumer id, NUL-padded",
        );
        self.push(
            n("pid_ns"),
            off + slot::PID_NS,
            8,
            self.u64(off + slot::PID_NS).map(|v| v.to_string()),
            "inode of the owner's pid namespace (0 = unknown)",
        );
        self.push(
            n("padding"),
            off + 104,
            24,
            Some(self.summary(off + 104, 24)),
            "0",
        );
    }
}
