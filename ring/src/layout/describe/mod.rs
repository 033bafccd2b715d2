//! Decodes any bytes (a ring, cursor or registry segment of ringproof or disruptor-mp, a
//! counters segment, a truncated one, or a file that is no segment at all) into named fields
//! and a verdict.
//!
//! [`describe`] never fails and never panics: each field is decoded only from bytes that are
//! there, and the verdict is [`validate_header`] for the kind the header names (a
//! [`LayoutError`] for anything that is not a valid LayoutV1 segment). Bytes that start with
//! the counters magic "MYC0" are decoded as a counters segment ([`super::counters`], which has
//! no LayoutV1 header) and judged by [`super::counters::validate`] ([`Format::Counters`]).
//! [`diff`] compares two descriptions field by field; [`hexdump`] renders bytes as `hexdump -C`
//! does.
//!
//! The decoder itself is split by segment: `decoder.rs` (the header, cursors and rings),
//! `registry.rs` (the registry's control block and slots), `counters.rs` (the counters segment).

mod counters;
mod decoder;
mod registry;

use super::counters::{self as ctr, CountersGeometry, CountersLayoutError};
use super::header::{payload_offset, MIN_ALIGNMENT};
use super::{
    validate_header, Expect, Geometry, LayoutError, SegmentKind, HEADER_SIZE, MAX_ALIGNMENT,
};
use decoder::Decoder;
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

/// Decodes `bytes`, the first bytes of a segment of `len` bytes (`len` below `bytes.len()`
/// means the bytes are the whole segment).
pub fn describe(bytes: &[u8], len: usize) -> Description {
    let len = if bytes.len() < HEADER_SIZE {
        bytes.len()
    } else {
        len.max(bytes.len())
    };
    let mut d = Decoder::new(bytes);
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
            fields: d.into_fields(),
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
        fields: d.into_fields(),
        verdict,
        format: Format::LayoutV1,
    }
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
