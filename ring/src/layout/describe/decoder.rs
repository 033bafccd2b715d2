//! The decoder's core: reading fields that are in view, the LayoutV1 header, cursors and rings.

use super::Field;
use crate::layout::header::{fnv1a32, CHECKSUM_OFFSET};
use crate::layout::header::{payload_offset, MIN_ALIGNMENT};
use crate::layout::image::cell;
use crate::layout::{SegmentKind, HEADER_SIZE, MAGIC, MAX_ALIGNMENT, VERSION};

const NOT_IN_VIEW: &str = "(not in view)";

/// Decodes fields out of the bytes given, pushing each with its offset, value and meaning.
pub(super) struct Decoder<'a> {
    pub(super) b: &'a [u8],
    pub(super) fields: Vec<Field>,
}

impl<'a> Decoder<'a> {
    pub(super) fn new(b: &'a [u8]) -> Self {
        Decoder {
            b,
            fields: Vec::new(),
        }
    }

    pub(super) fn into_fields(self) -> Vec<Field> {
        self.fields
    }
}

impl Decoder<'_> {
    pub(super) fn get(&self, off: usize, size: usize) -> Option<&[u8]> {
        self.b.get(off..off.checked_add(size)?)
    }

    pub(super) fn u16(&self, off: usize) -> Option<u16> {
        self.get(off, 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
    }

    pub(super) fn u32(&self, off: usize) -> Option<u32> {
        self.get(off, 4)
            .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    pub(super) fn u64(&self, off: usize) -> Option<u64> {
        self.get(off, 8)
            .map(|s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
    }

    pub(super) fn push(
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
    pub(super) fn push_if_seen(
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

    pub(super) fn header(&mut self) {
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

    pub(super) fn body(&mut self, kind: Option<SegmentKind>, po: usize, len: usize) {
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
    pub(super) fn cursor(&mut self, po: usize) -> usize {
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

    pub(super) fn ring(&mut self, po: usize) -> usize {
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

    /// "all zero", "N non-zero bytes", with how much of it is in view.
    pub(super) fn summary(&self, off: usize, size: usize) -> String {
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
