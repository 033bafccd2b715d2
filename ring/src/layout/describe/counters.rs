//! Decoding a counters segment (disruptor-mp's "MYC0" layout, SPEC.md §12).

use super::decoder::Decoder;
use crate::layout::counters as ctr;

impl Decoder<'_> {
    /// A counters segment (disruptor-mp's "MYC0" layout): header, 62 slots, unused tail.
    pub(super) fn counters(&mut self, len: usize) {
        use ctr::{header as h, slot as sl};
        let u = |v: Option<u32>| v.map(|v| v.to_string());
        let magic = self.get(h::MAGIC, 4).map(|m| {
            format!(
                "{:?} ({:#010x})",
                String::from_utf8_lossy(m),
                u32::from_le_bytes([m[0], m[1], m[2], m[3]])
            )
        });
        self.push_if_seen(
            "magic",
            h::MAGIC,
            4,
            magic,
            "u32 \"MYC0\" (0x3043594d): disruptor-mp's counters layout",
        );
        self.push_if_seen(
            "version",
            h::VERSION,
            4,
            u(self.u32(h::VERSION)),
            "counters layout version, 0",
        );
        let count = self
            .u32(h::SLOT_COUNT)
            .map(|n| format!("{n} (of {})", ctr::SLOT_CAPACITY));
        self.push_if_seen(
            "slot_count",
            h::SLOT_COUNT,
            4,
            count,
            "slots claimed (only grows)",
        );
        self.push_if_seen(
            "slot_capacity",
            h::SLOT_CAPACITY,
            4,
            u(self.u32(h::SLOT_CAPACITY)),
            "slots, 62",
        );
        self.push_if_seen(
            "slot_stride",
            h::SLOT_STRIDE,
            4,
            u(self.u32(h::SLOT_STRIDE)),
            "bytes per slot, 64",
        );
        self.push_if_seen(
            "slots_offset",
            h::SLOTS_OFFSET,
            4,
            u(self.u32(h::SLOTS_OFFSET)),
            "offset of slot 0, 64",
        );
        let reserved_len = ctr::HEADER_SIZE - h::RESERVED;
        self.push_if_seen(
            "reserved",
            h::RESERVED,
            reserved_len,
            Some(self.summary(h::RESERVED, reserved_len)),
            "0",
        );
        let stride = ctr::SLOT_STRIDE as usize;
        let capacity = ctr::SLOT_CAPACITY as usize;
        let first = ctr::SLOTS_OFFSET as usize;
        let zero = |d: &Self, i: usize| {
            d.get(first + i * stride, stride)
                .is_some_and(|s| s.iter().all(|&b| b == 0))
        };
        let mut i = 0;
        while i < capacity {
            let off = first + i * stride;
            if self.get(off, stride).is_none() {
                let size = (capacity - i) * stride;
                self.push(
                    format!("slots[{i}..{capacity}]"),
                    off,
                    size,
                    Some(self.summary(off, size)),
                    "counter slots, 64 bytes each",
                );
                break;
            }
            if zero(self, i) {
                let mut j = i + 1;
                while j < capacity && zero(self, j) {
                    j += 1;
                }
                self.push(
                    format!("slots[{i}..{j}]"),
                    off,
                    (j - i) * stride,
                    Some(format!("all zero ({} free)", j - i)),
                    "counter slots, 64 bytes each",
                );
                i = j;
                continue;
            }
            let n = |f: &str| format!("slot[{i}].{f}");
            let id = self.u32(off + sl::ID).map(|id| match ctr::id_name(id) {
                Some(name) => format!("{id:#x} {name}"),
                None => format!("{id:#x}"),
            });
            self.push(n("id"), off + sl::ID, 4, id, "counter id");
            let flags = self.u32(off + sl::FLAGS).map(|f| {
                let mut names = Vec::new();
                for (bit, name) in [
                    (ctr::FLAG_IN_USE, "IN_USE"),
                    (ctr::FLAG_PRODUCER, "PRODUCER"),
                    (ctr::FLAG_CONSUMER, "CONSUMER"),
                ] {
                    if f & bit != 0 {
                        names.push(name.to_owned());
                    }
                }
                let other = f & !(ctr::FLAG_IN_USE | ctr::FLAG_PRODUCER | ctr::FLAG_CONSUMER);
                if other != 0 {
                    names.push(format!("{other:#x}"));
                }
                format!(
                    "{f} ({})",
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join("|")
                    }
                )
            });
            self.push(
                n("flags"),
                off + sl::FLAGS,
                4,
                flags,
                "IN_USE 1 (published), PRODUCER 2, CONSUMER 4",
            );
            self.push(
                n("value"),
                off + sl::VALUE,
                8,
                self.u64(off + sl::VALUE).map(|v| v.to_string()),
                "u64 count, written by its registrant only",
            );
            let label = self
                .get(off + sl::LABEL, ctr::LABEL_BYTES)
                .map(|b| format!("{:?}", ctr::decode_label(b)));
            self.push(
                n("label"),
                off + sl::LABEL,
                ctr::LABEL_BYTES,
                label,
                "UTF-8, NUL-padded",
            );
            i += 1;
        }
        let tail = ctr::SEGMENT_SIZE - ctr::SLOTS_END;
        self.push_if_seen(
            "unused",
            ctr::SLOTS_END,
            tail,
            Some(self.summary(ctr::SLOTS_END, tail)),
            "0, after the last slot",
        );
        if len > ctr::SEGMENT_SIZE {
            self.push(
                "trailing bytes",
                ctr::SEGMENT_SIZE,
                len - ctr::SEGMENT_SIZE,
                Some(self.summary(ctr::SEGMENT_SIZE, len - ctr::SEGMENT_SIZE)),
                "beyond the 4096 bytes of the layout (ignored)",
            );
        }
    }
}
