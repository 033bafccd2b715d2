//! The counters case: the layout, identities and counts of the §12 counters segment.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    use Level::*;
    use Roles::*;
    vec![
        Case { id: "counters.layout", level: Recommended, roles: Pair, producer_needs: &["counters"], consumer_needs: &["counters"], timeout: SECS(30), spec: "§12", rules: &["R12.a", "R12.1.a", "R12.2.a", "R12.3.a", "R12.4.a", "R12.4.b", "R12.5.1", "R12.5.2", "R12.5.3", "R12.5.a", "R12.6.a", "R12.6.b", "R12.6.c", "R12.7.a"],
            rule: "The counters segment is 4096 bytes, mode 0600, header MYC0 v0 62x64@64; the producer's 9 and each consumer's 6 counters are published IN_USE with the ids, roles and labels of §12.6 and count what was published and consumed", run: counters_layout },
    ]
}

/// The producer's counters of SPEC §12.6: id and label.
const PRODUCER_COUNTERS: [(u32, &str); 9] = [
    (0x10, "events_published"),
    (0x11, "events_published_bytes"),
    (0x12, "producer_full_events"),
    (0x13, "producer_park_count"),
    (0x14, "producer_unpark_count"),
    (0x40, "liveness_alerts"),
    (0x41, "evictions"),
    (0x42, "dead_peers_detected"),
    (0x43, "producer_restarts"),
];

/// A consumer's counters of SPEC §12.6 (labels prefixed `{id}.`).
const CONSUMER_COUNTERS: [(u32, &str); 6] = [
    (0x20, "events_consumed"),
    (0x21, "events_consumed_bytes"),
    (0x22, "consumer_empty_spins"),
    (0x23, "consumer_park_count"),
    (0x24, "consumer_unpark_count"),
    (0x25, "consumer_lag_max"),
];

fn counters_layout(ctx: &mut Ctx) -> Result<(), CaseError> {
    use std::os::unix::fs::PermissionsExt;
    // 1,000 events streamed (batched reads), then 100 more already published when c_0 reads
    // them one at a time: 1,100 is no multiple of 64, and the second consume never finds the
    // ring empty, so only the flush before each reply (R12.6.c) makes both counts exact.
    let (first, more) = (1_000u64, 100u64);
    let events = first + more;
    let (p, cs) = ring_with_consumers(ctx, 256, 1, &[])?;
    let pub_id = ctx.publish_async(p, first, 1)?;
    let id = ctx.consume_async(cs[0], first, Mode::Batch)?;
    let got = ctx.wait(cs[0], id)?;
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    check_delivery(&got, SIZE as usize, 0, first as i64 - 1, "c_0")?;
    let pub_id = ctx.publish_async(p, more, 1)?;
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    let id = ctx.consume_async(cs[0], more, Mode::Copy)?;
    let got = ctx.wait(cs[0], id)?;
    check_delivery(&got, SIZE as usize, first as i64, events as i64 - 1, "c_0")?;
    let path = ctx.segment_path("_counters", ".counters");
    let b = read_segment(ctx, "_counters", ".counters")?;
    let mode = std::fs::metadata(&path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0);
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"));
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
    if b.len() != 4096 || mode != 0o600 {
        return fail(format!(
            "{}: {} bytes, mode {mode:o}; expected 4096 bytes, mode 600 (SPEC §12)",
            path.display(),
            b.len()
        ));
    }
    let header = [
        ("magic", 0, u32::from_le_bytes(*b"MYC0")),
        ("version", 4, 0),
        ("slot_capacity", 12, 62),
        ("slot_stride", 16, 64),
        ("slots_offset", 20, 64),
    ];
    let wrong: Vec<String> = header
        .iter()
        .filter(|(_, o, want)| u32_at(*o) != *want)
        .map(|(n, o, want)| format!("{n} @{o}: expected {want:#x}, observed {:#x}", u32_at(*o)))
        .collect();
    if !wrong.is_empty() || u32_at(8) > 62 {
        return fail(format!(
            "{}: counters header (SPEC §12.1) differs: {}; slot_count {}",
            path.display(),
            wrong.join("; "),
            u32_at(8)
        ));
    }
    // Every published slot: (id, flags, value, label).
    let slots: Vec<(u32, u32, u64, String)> = (0..u32_at(8).min(62) as usize)
        .map(|i| 64 + 64 * i)
        .filter(|o| u32_at(o + 4) & 1 != 0)
        .map(|o| {
            (
                u32_at(o),
                u32_at(o + 4),
                u64_at(o + 8),
                String::from_utf8_lossy(&b[o + 16..o + 64])
                    .trim_end_matches('\0')
                    .to_string(),
            )
        })
        .collect();
    let find = |id: u32, label: &str| slots.iter().find(|s| s.0 == id && s.3 == label);
    let mut problems = Vec::new();
    let mut expect = |id: u32, label: String, role: u32, value: Option<u64>| match find(id, &label)
    {
        None => problems.push(format!(
            "no IN_USE slot with id {id:#x} and label {label:?}"
        )),
        Some((_, flags, v, _)) => {
            if flags & 6 != role {
                problems.push(format!(
                    "{label}: flags {flags:#x}, expected IN_USE|{}",
                    if role == 2 {
                        "PRODUCER (0x3)"
                    } else {
                        "CONSUMER (0x5)"
                    }
                ));
            }
            if let Some(want) = value.filter(|w| v != w) {
                problems.push(format!("{label}: value {v}, expected {want}"));
            }
        }
    };
    for (id, label) in PRODUCER_COUNTERS {
        let value = match id {
            0x10 => Some(events),
            0x11 => Some(events * SIZE),
            _ => None,
        };
        expect(id, label.to_string(), 2, value);
    }
    for (id, label) in CONSUMER_COUNTERS {
        let value = match id {
            0x20 => Some(events),
            0x21 => Some(events * SIZE),
            _ => None,
        };
        expect(id, format!("c_0.{label}"), 4, value);
    }
    if !problems.is_empty() {
        let seen: Vec<String> = slots
            .iter()
            .map(|(id, f, v, l)| format!("{id:#x} {l:?} flags {f:#x} = {v}"))
            .collect();
        return fail(format!(
            "after {events} events published and consumed by c_0 (the last {more} published before c_0 read them one at a time), the counters segment (SPEC §12.5, §12.6) has: {}\npublished slots seen: {}",
            problems.join("; "),
            seen.join(", ")
        ));
    }
    Ok(())
}
