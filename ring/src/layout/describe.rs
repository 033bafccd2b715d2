//! Decodes any bytes (a ring, cursor or registry segment of ringproof or disruptor-mp, a
//! counters segment, a truncated one, or a file that is no segment at all) into named fields
//! and a verdict.
//!
//! [`describe`] never fails and never panics: each field is decoded only from bytes that are
//! there, and the verdict is [`validate_header`] for the kind the header names (a
//! [`LayoutError`] for anything that is not a valid LayoutV1 segment). Bytes that start with
//! the counters magic "MYC0" are decoded as a counters segment ([`super::counters`], which has
//! no LayoutV1 header) and judged by [`super::counters::validate`] ([`Format::Counters`]). [`diff`] compares two
//! descriptions field by field; [`hexdump`] renders bytes as `hexdump -C` does.

use super::counters::{self as ctr, CountersGeometry, CountersLayoutError};
use super::header::{fnv1a32, payload_offset, CHECKSUM_OFFSET, MIN_ALIGNMENT};
use super::image::{cell, control, slot};
use super::registry::{
    owner_pid, MAX_ID_LEN, RING_CLOSED, RING_OPEN, SLOT_ACTIVE, SLOT_CLAIMING, SLOT_FREE, SLOT_SIZE,
};
use super::{
    validate_header, Expect, Geometry, LayoutError, SegmentKind, HEADER_SIZE, MAGIC, MAX_ALIGNMENT,
    VERSION,
};
use std::fmt::Write as _;

/// One decoded field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub offset: usize,
    pub size: usize,
    /// The value as displayed (`"(not in view)"` when its bytes were not given).
    pub value: String,
    /// What the field is for.
    pub meaning: String,
}

/// Which layout the bytes were decoded as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// A LayoutV1 segment (or anything not recognised): [`Description::verdict`] judges it.
    LayoutV1,
    /// A counters segment (the bytes start with "MYC0"), with its own verdict.
    Counters(Result<CountersGeometry, CountersLayoutError>),
}

/// A decoded segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// Length of the segment described (at least the bytes given).
    pub len: usize,
    /// How many of its bytes were given (a prefix of the segment).
    pub shown: usize,
    /// The kind the header names, if it names a known one.
    pub kind: Option<SegmentKind>,
    /// Fields in ascending, non-overlapping offset order.
    pub fields: Vec<Field>,
    /// [`validate_header`] for [`kind`](Self::kind) (or ring, if unknown), no caller expectations.
    /// For a counters segment this is the LayoutV1 verdict on its bytes (always `BadMagic` or
    /// `TooShort`); its real verdict is in [`format`](Self::format).
    pub verdict: Result<Geometry, LayoutError>,
    /// LayoutV1, or counters with the counters verdict.
    pub format: Format,
}

const NOT_IN_VIEW: &str = "(not in view)";

/// Decodes `bytes`, the first bytes of a segment of `len` bytes (`len` below `bytes.len()`
/// means the bytes are the whole segment).
pub fn describe(bytes: &[u8], len: usize) -> Description {
    let len = if bytes.len() < HEADER_SIZE {
        bytes.len()
    } else {
        len.max(bytes.len())
    };
    let mut d = Decoder {
        b: bytes,
        fields: Vec::new(),
    };
    if ctr::has_magic(bytes) {
        // Not LayoutV1 (its magic starts "DSMP"): the LayoutV1 verdict is BadMagic or TooShort.
        let verdict = validate_header(
            &bytes[..bytes.len().min(HEADER_SIZE)],
            len,
            &Expect::kind(SegmentKind::Ring),
        );
        let counters = ctr::validate(&bytes[..bytes.len().min(ctr::HEADER_SIZE)], len);
        d.counters(len);
        return Description {
            len,
            shown: bytes.len(),
            kind: None,
            fields: d.fields,
            verdict,
            format: Format::Counters(counters),
        };
    }
    d.header();
    let raw_kind = (bytes.len() >= 12).then(|| u16::from_le_bytes([bytes[10], bytes[11]]));
    let kind = raw_kind.and_then(SegmentKind::from_u16);
    let verdict = validate_header(
        &bytes[..bytes.len().min(HEADER_SIZE)],
        len,
        &Expect::kind(kind.unwrap_or(SegmentKind::Ring)),
    );
    if bytes.len() >= HEADER_SIZE {
        let alignment = usize::from(u16::from_le_bytes([bytes[14], bytes[15]]));
        if alignment.is_power_of_two() && (MIN_ALIGNMENT..=MAX_ALIGNMENT).contains(&alignment) {
            d.body(kind, payload_offset(alignment), len);
        }
    }
    Description {
        len,
        shown: bytes.len(),
        kind,
        fields: d.fields,
        verdict,
        format: Format::LayoutV1,
    }
}

struct Decoder<'a> {
    b: &'a [u8],
    fields: Vec<Field>,
}

impl Decoder<'_> {
    fn get(&self, off: usize, size: usize) -> Option<&[u8]> {
        self.b.get(off..off.checked_add(size)?)
    }

    fn u16(&self, off: usize) -> Option<u16> {
        self.get(off, 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
    }

    fn u32(&self, off: usize) -> Option<u32> {
        self.get(off, 4)
            .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn u64(&self, off: usize) -> Option<u64> {
        self.get(off, 8)
            .map(|s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
    }

    fn push(
        &mut self,
        name: impl Into<String>,
        offset: usize,
        size: usize,
        value: Option<String>,
        meaning: impl Into<String>,
    ) {
        let value = value.unwrap_or_else(|| NOT_IN_VIEW.to_owned());
        self.fields.push(Field {
            name: name.into(),
            offset,
            size,
            value,
            meaning: meaning.into(),
        });
    }

    /// A field shown only when at least one of its bytes is in view.
    fn push_if_seen(
        &mut self,
        name: &str,
        offset: usize,
        size: usize,
        value: Option<String>,
        meaning: &str,
    ) {
        if offset < self.b.len() {
            self.push(name, offset, size, value, meaning);
        }
    }

    fn header(&mut self) {
        let magic = self.get(0, 8).map(|m| {
            let shown = if m.iter().all(|b| (0x20..0x7f).contains(b)) {
                format!("{:?}", String::from_utf8_lossy(m))
            } else {
                hex(m)
            };
            let note = if m == MAGIC {
                "LayoutV1"
            } else if m.iter().all(|&b| b == 0) {
                "all zero: creator still writing"
            } else {
                "not LayoutV1"
            };
            format!("{shown} ({note})")
        });
        self.push_if_seen(
            "magic",
            0,
            8,
            magic,
            "ASCII \"DSMPTV01\"; stored last by the creator",
        );
        let version = self.u16(8).map(|v| {
            if v == VERSION {
                format!("{v}")
            } else {
                format!("{v} (this build reads {VERSION})")
            }
        });
        self.push_if_seen("version", 8, 2, version, "layout version");
        let kind = self.u16(10).map(|k| match SegmentKind::from_u16(k) {
            Some(kind) => format!("{k} ({})", kind.name()),
            None => format!("{k} (unknown)"),
        });
        self.push_if_seen(
            "kind",
            10,
            2,
            kind,
            "1 ring, 2 cursor, 3 registry (ringproof)",
        );
        self.push_if_seen(
            "header_size",
            12,
            2,
            self.u16(12).map(|v| v.to_string()),
            "header bytes, 56",
        );
        let alignment = self.u16(14).map(|a| {
            let a = usize::from(a);
            if a.is_power_of_two() && (MIN_ALIGNMENT..=MAX_ALIGNMENT).contains(&a) {
                format!("{a} (payload at {})", payload_offset(a))
            } else {
                format!("{a} (invalid)")
            }
        });
        self.push_if_seen(
            "alignment",
            14,
            2,
            alignment,
            "payload alignment, max(align_of(event), 8)",
        );
        self.push_if_seen(
            "payload_size",
            16,
            8,
            self.u64(16).map(|v| v.to_string()),
            "payload bytes after the payload offset",
        );
        self.push_if_seen(
            "element_size",
            24,
            8,
            self.u64(24).map(|v| v.to_string()),
            "ring: event bytes; cursor 64; registry 128",
        );
        self.push_if_seen(
            "capacity",
            32,
            8,
            self.u64(32).map(|v| v.to_string()),
            "ring: slots; cursor 1; registry: consumer slots",
        );
        self.push_if_seen(
            "reserved",
            40,
            8,
            self.u64(40).map(|v| v.to_string()),
            "written 0, ignored by readers",
        );
        let checksum = self.u32(CHECKSUM_OFFSET).and_then(|stored| {
            let mut h: [u8; HEADER_SIZE] = self.get(0, HEADER_SIZE)?.try_into().ok()?;
            h[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 4].fill(0);
            let computed = fnv1a32(&h);
            Some(if stored == computed {
                format!("{stored:#010x} (matches)")
            } else {
                format!("{stored:#010x} (computed {computed:#010x})")
            })
        });
        let checksum = checksum.or_else(|| self.u32(CHECKSUM_OFFSET).map(|v| format!("{v:#010x}")));
        self.push_if_seen(
            "checksum",
            48,
            4,
            checksum,
            "FNV-1a 32 of bytes 0..56, this field as zero",
        );
        self.push_if_seen(
            "reserved2",
            52,
            4,
            self.u32(52).map(|v| v.to_string()),
            "written 0, ignored by readers",
        );
    }

    fn body(&mut self, kind: Option<SegmentKind>, po: usize, len: usize) {
        if po > HEADER_SIZE {
            self.push_if_seen(
                "header padding",
                HEADER_SIZE,
                po - HEADER_SIZE,
                Some(self.summary(HEADER_SIZE, po - HEADER_SIZE)),
                "zero up to the payload offset",
            );
        }
        let end = match kind {
            Some(SegmentKind::Cursor) => self.cursor(po),
            Some(SegmentKind::Registry) => self.registry(po),
            Some(SegmentKind::Ring) => self.ring(po),
            None => return,
        };
        if len > end {
            self.push(
                "trailing bytes",
                end,
                len - end,
                Some(self.summary(end, len - end)),
                "beyond the size the header implies (readers accept larger segments)",
            );
        }
    }

    /// Returns where the segment ends by its kind's rule.
    fn cursor(&mut self, po: usize) -> usize {
        let value = self.u64(po + cell::VALUE).map(|v| match v as i64 {
            -1 => "-1 (none)".to_owned(),
            v => v.to_string(),
        });
        self.push(
            "cell.value",
            po + cell::VALUE,
            8,
            value,
            "i64 sequence: last published (producer) / consumed (consumer), or the readiness count",
        );
        self.push(
            "cell.waiters",
            po + cell::WAITERS,
            4,
            self.u32(po + cell::WAITERS).map(|v| v.to_string()),
            "ringproof: processes sleeping on value (0 from disruptor-mp)",
        );
        self.push("cell.joined", po + cell::JOINED, 4, self.u32(po + cell::JOINED).map(|v| v.to_string()), "ringproof: 1 once a consumer's join handshake completed; 0 or 2 while a fresh join or a re-join is under way");
        let epoch = self.u64(po + cell::EPOCH).map(|e| {
            if e == 0 {
                "0 (unknown: disruptor-mp or no registry)".to_owned()
            } else {
                format!("{e:#018x}")
            }
        });
        self.push(
            "cell.epoch",
            po + cell::EPOCH,
            8,
            epoch,
            "ringproof: registry epoch the value belongs to",
        );
        self.push(
            "cell.padding",
            po + 24,
            40,
            Some(self.summary(po + 24, 40)),
            "0",
        );
        po + 64
    }

    fn ring(&mut self, po: usize) -> usize {
        let (element, capacity, payload) = (
            self.u64(24).unwrap_or(0),
            self.u64(32).unwrap_or(0),
            self.u64(16).unwrap_or(0),
        );
        let size = usize::try_from(payload)
            .unwrap_or(usize::MAX)
            .min(usize::MAX - po);
        let value = format!("{capacity} x {element} bytes: {}", self.summary(po, size));
        self.push(
            "slots",
            po,
            size,
            Some(value),
            "event slots, slot of sequence s at (s & (capacity-1)) * element_size; initially zero",
        );
        po + size
    }

    fn registry(&mut self, po: usize) -> usize {
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

    fn slot(&mut self, i: u64, off: usize) {
        let n = |f: &str| format!("slot[{i}].{f}");
        let state = self.u32(off).map(|s| match s {
            SLOT_FREE => "0 (FREE)".to_owned(),
            SLOT_CLAIMING => "1 (CLAIMING)".to_owned(),
            SLOT_ACTIVE => "2 (ACTIVE)".to_owned(),
            s => format!("{s} (invalid)"),
        });
        self.push(
            n("state"),
            off + slot::STATE,
            4,
            state,
            "0 FREE, 1 CLAIMING, 2 ACTIVE",
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
            n("reserved"),
            off + 44,
            4,
            self.u32(off + 44).map(|v| v.to_string()),
            "0",
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

    /// A counters segment (disruptor-mp's "MYC0" layout): header, 62 slots, unused tail.
    fn counters(&mut self, len: usize) {
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

    /// "all zero", "N non-zero bytes", with how much of it is in view.
    fn summary(&self, off: usize, size: usize) -> String {
        let start = off.min(self.b.len());
        let view = &self.b[start..off.saturating_add(size).min(self.b.len())];
        let nz = view.iter().filter(|&&b| b != 0).count();
        let what = if nz == 0 {
            "all zero".to_owned()
        } else {
            format!("{nz} non-zero byte(s)")
        };
        if view.len() == size {
            what
        } else if view.is_empty() {
            NOT_IN_VIEW.to_owned()
        } else {
            format!("{} of {size} bytes in view: {what}", view.len())
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Description {
    /// Whether the bytes are a valid segment of the format they were decoded as.
    pub fn is_ok(&self) -> bool {
        match &self.format {
            Format::LayoutV1 => self.verdict.is_ok(),
            Format::Counters(v) => v.is_ok(),
        }
    }

    /// "ring", "cursor", "registry", "counters", or `None` for bytes of no known kind.
    pub fn kind_name(&self) -> Option<&'static str> {
        match &self.format {
            Format::LayoutV1 => self.kind.map(SegmentKind::name),
            Format::Counters(_) => Some("counters"),
        }
    }

    /// One line: "ok: ..." or "REJECTED (Variant): message".
    pub fn verdict_line(&self) -> String {
        if let Format::Counters(v) = &self.format {
            return match v {
                Ok(g) => format!(
                    "ok: counters segment (disruptor-mp \"MYC0\" layout), {} of {} slots claimed, {} bytes",
                    g.slot_count,
                    ctr::SLOT_CAPACITY,
                    ctr::SEGMENT_SIZE
                ),
                Err(e) => format!("REJECTED ({}): {e}", e.variant()),
            };
        }
        match &self.verdict {
            Ok(g) => format!(
                "ok: LayoutV1 {} segment, {} x {}-byte elements, payload at {}, {} bytes",
                g.kind.name(),
                g.capacity,
                g.element_size,
                g.payload_offset,
                g.total_len()
            ),
            Err(e) => format!("REJECTED ({}): {e}", e.variant()),
        }
    }

    /// The fields as an aligned text table, then the verdict.
    pub fn table(&self) -> String {
        let w = self
            .fields
            .iter()
            .map(|f| f.name.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let vw = self
            .fields
            .iter()
            .map(|f| f.value.len())
            .max()
            .unwrap_or(5)
            .clamp(5, 48);
        let mut s = format!(
            "{:>8}  {:>8}  {:w$}  {:vw$}  meaning\n",
            "offset", "size", "field", "value"
        );
        for f in &self.fields {
            let _ = writeln!(
                s,
                "{:>8}  {:>8}  {:w$}  {:vw$}  {}",
                f.offset, f.size, f.name, f.value, f.meaning
            );
        }
        let _ = writeln!(s, "length: {} bytes ({} shown)", self.len, self.shown);
        let _ = writeln!(s, "verdict: {}", self.verdict_line());
        s
    }
}

/// One field that differs between two descriptions (`None`: the field is absent on that side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDiff {
    pub name: String,
    pub offset: usize,
    pub a: Option<String>,
    pub b: Option<String>,
}

/// Fields that differ in value or size, or exist on one side only, matched by name and
/// offset, in offset order.
pub fn diff(a: &Description, b: &Description) -> Vec<FieldDiff> {
    fn key(f: &Field) -> (usize, &str) {
        (f.offset, f.name.as_str())
    }
    let show = |f: &Field| format!("{} [{} bytes]", f.value, f.size);
    let mut out = Vec::new();
    for fa in &a.fields {
        match b.fields.iter().find(|fb| key(fb) == key(fa)) {
            Some(fb) if fb.value == fa.value && fb.size == fa.size => {}
            Some(fb) => out.push(FieldDiff {
                name: fa.name.clone(),
                offset: fa.offset,
                a: Some(show(fa)),
                b: Some(show(fb)),
            }),
            None => out.push(FieldDiff {
                name: fa.name.clone(),
                offset: fa.offset,
                a: Some(show(fa)),
                b: None,
            }),
        }
    }
    for fb in b
        .fields
        .iter()
        .filter(|fb| !a.fields.iter().any(|fa| key(fa) == key(fb)))
    {
        out.push(FieldDiff {
            name: fb.name.clone(),
            offset: fb.offset,
            a: None,
            b: Some(show(fb)),
        });
    }
    out.sort_by(|x, y| (x.offset, &x.name).cmp(&(y.offset, &y.name)));
    out
}

/// `hexdump -C` style: offset, 16 hex bytes, ASCII; runs of identical lines shown as `*`.
pub fn hexdump(bytes: &[u8]) -> String {
    let mut s = String::new();
    let mut prev: Option<&[u8]> = None;
    let mut starred = false;
    for (i, line) in bytes.chunks(16).enumerate() {
        if prev == Some(line) && line.len() == 16 {
            if !starred {
                s.push_str("*\n");
                starred = true;
            }
            continue;
        }
        starred = false;
        prev = Some(line);
        let mut hexes = String::new();
        for (j, b) in line.iter().enumerate() {
            let _ = write!(
                hexes,
                "{}{b:02x}",
                if j == 8 {
                    "  "
                } else if j == 0 {
                    ""
                } else {
                    " "
                }
            );
        }
        let ascii: String = line
            .iter()
            .map(|&b| {
                if (0x20..0x7f).contains(&b) {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        let _ = writeln!(s, "{:08x}  {hexes:<49}|{ascii}|", i * 16);
    }
    let _ = writeln!(s, "{:08x}", bytes.len());
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::image::{cursor_image, ring_image};

    #[test]
    fn decodes_cursor_and_foreign_bytes() {
        let c = cursor_image(-1, 0x0123_4567_89ab_cdef);
        let d = describe(c.bytes(), 0);
        assert!(d.verdict.is_ok());
        assert!(d
            .fields
            .iter()
            .any(|f| f.name == "cell.epoch" && f.value == "0x0123456789abcdef"));
        let d = describe(
            b"#!/bin/sh\necho not a segment at all, but long enough to have a header\n",
            0,
        );
        assert!(matches!(d.verdict, Err(LayoutError::BadMagic { .. })));
        assert!(d.fields[0].value.contains("not LayoutV1"));
        let d = describe(&[], 0);
        assert_eq!(d.verdict, Err(LayoutError::TooShort { len: 0 }));
        assert!(d.fields.is_empty());
    }

    #[test]
    fn ring_header_image_with_its_length() {
        let img = ring_image(24, 1024, 8).unwrap();
        let d = describe(img.bytes(), img.geometry().total_len() as usize);
        assert!(d.verdict.is_ok(), "{}", d.table());
        let d = describe(img.bytes(), 0);
        assert!(matches!(d.verdict, Err(LayoutError::Truncated { .. })));
    }

    #[test]
    fn diff_names_the_epoch() {
        let a = describe(cursor_image(-1, 5).bytes(), 0);
        let b = describe(cursor_image(-1, 0).bytes(), 0);
        let d = diff(&a, &b);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].name, "cell.epoch");
        assert_eq!(d[0].offset, 80);
    }

    #[test]
    fn decodes_counters() {
        use crate::layout::image::{bundle_counters, counters_image};
        let b = counters_image(&bundle_counters(true, &["c_0"])).unwrap();
        let d = describe(&b, b.len());
        assert!(d.is_ok(), "{}", d.table());
        assert_eq!(d.kind_name(), Some("counters"));
        assert!(matches!(d.verdict, Err(LayoutError::BadMagic { .. })));
        assert!(d
            .fields
            .iter()
            .any(|f| f.name == "slot[9].label" && f.value == "\"c_0.events_consumed\""));
        assert!(d.fields.iter().any(|f| f.name == "slots[15..62]"));
        for w in d.fields.windows(2) {
            assert!(w[0].offset + w[0].size <= w[1].offset, "{w:?}");
        }
        for cut in [4, 30, 64, 100, 4031, 4095] {
            let d = describe(&b[..cut], cut);
            assert!(!d.is_ok());
            for w in d.fields.windows(2) {
                assert!(
                    w[0].offset.saturating_add(w[0].size) <= w[1].offset,
                    "{cut}: {w:?}"
                );
            }
        }
        let d = describe(&b[..100], 4096);
        assert!(
            d.is_ok(),
            "a 4096-byte segment of which 100 bytes are shown"
        );
    }

    #[test]
    fn hexdump_squeezes() {
        let h = hexdump(&[0u8; 64]);
        assert_eq!(h.lines().count(), 3);
        assert!(h.contains('*'));
    }
}
