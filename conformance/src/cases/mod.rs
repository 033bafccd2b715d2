//! The case catalogue: one function per rule of SPEC.md that a testee can exhibit.
//!
//! Every case states its rule in one line (taken from SPEC.md), its level, which roles it
//! involves (so the runner knows which pairings to build), the capabilities it needs, and its
//! time budget. The harness owns every expectation: payload integrity and order are judged from
//! the digests consumers report, layouts and cursors by reading the segments directly.

use crate::ctx::{check_delivery, fail, CaseError, Ctx};
use crate::protocol::{Backend, Command, ErrorKind, Mode, Wait};
use ringproof::kit::layout::{
    self, cursor::CURSOR_SEGMENT_SIZE, Expect, LayoutHeader, SegmentKind, HEADER_SIZE,
};
use std::time::{Duration, Instant};

mod compat;
mod data;
mod header;
mod lifecycle;
mod names;
mod registry;

/// Must pass, or may be tolerated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Required,
    Recommended,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Required => "required",
            Level::Recommended => "recommended",
        }
    }
}

/// Which implementations a case exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roles {
    /// Only producers (runs once per producer implementation).
    Producer,
    /// Only consumers, over segments the harness writes (once per consumer implementation).
    Consumer,
    /// A producer and consumers (once per producer x consumer pairing).
    Pair,
}

/// One rule, checked.
pub struct Case {
    pub id: &'static str,
    pub level: Level,
    pub roles: Roles,
    pub producer_needs: &'static [&'static str],
    pub consumer_needs: &'static [&'static str],
    pub timeout: Duration,
    pub spec: &'static str,
    /// The SPEC.md rule ids this case checks (`R7.3.5` = §7.3 step 5; see SPEC.md §1 for the
    /// scheme). `ringproof conform --coverage` builds conformance/COVERAGE.md from these.
    pub rules: &'static [&'static str],
    pub rule: &'static str,
    pub run: fn(&mut Ctx) -> Result<(), CaseError>,
}

const SIZE: u64 = 64;
const SECS: fn(u64) -> Duration = Duration::from_secs;

/// The catalogue, in report order.
pub fn catalogue() -> Vec<Case> {
    use Level::*;
    use Roles::*;
    let mut v = vec![
        Case { id: "layout.ring.header", level: Required, roles: Producer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2, §4", rules: &["R1.a", "R2.a", "R2.c"],
            rule: "The ring segment starts with the LayoutV1 header: magic, version 1, kind 1, header_size 56, alignment, sizes and capacity as created", run: layout_ring_header },
        Case { id: "layout.header.checksum", level: Required, roles: Producer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2", rules: &["R2.b"],
            rule: "Every header carries the FNV-1a 32 checksum of its 56 bytes with the checksum field zeroed", run: layout_header_checksum },
        Case { id: "layout.cursor.initial", level: Required, roles: Producer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§5", rules: &["R5.a", "R5.b"],
            rule: "The producer cursor is a 128-byte kind-2 segment whose value at offset 64 is -1 before the first publish", run: layout_cursor_initial },
        Case { id: "layout.consumer-cursor", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(30), spec: "§3, §5, §7.4", rules: &["R3.c", "R5.a", "R7.4.3"],
            rule: "A consumer keeps its cursor in a 128-byte kind-2 segment named N_{id}_seq (N.consumers/{id}.cursor) holding the last sequence it committed", run: layout_consumer_cursor },
        Case { id: "layout.registry", level: Recommended, roles: Producer, producer_needs: &["registry"], consumer_needs: &[], timeout: SECS(20), spec: "§6", rules: &["R6.a", "R6.1.a", "R6.2.f"],
            rule: "The registry is a kind-3 segment: control block (non-zero epoch, OPEN, final -1, the producer's pid) and free slots, the epoch also stamped in the producer cursor", run: layout_registry },
        Case { id: "layout.names", level: Required, roles: Producer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§3", rules: &["R3.c", "R3.1.a"],
            rule: "Segments are named N / N_producer_seq (shm) or N.ring / N.producer.cursor (mmap) and created mode 0600", run: layout_names },
        Case { id: "spsc.wraparound", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(60), spec: "§7.1, §7.4", rules: &["R4.a", "R7.1.1", "R7.1.2", "R7.1.3", "R7.1.5", "R7.4.1", "R7.4.2", "R7.4.3"],
            rule: "One consumer sees every event, in order, intact, across many wraps of a small ring", run: spsc_wraparound },
        Case { id: "spsc.lease", level: Recommended, roles: Pair, producer_needs: &[], consumer_needs: &["lease"], timeout: SECS(60), spec: "§7.4", rules: &["R7.4.a"],
            rule: "Zero-copy leases see every event intact; the slot stays valid until the lease commits", run: spsc_lease },
        Case { id: "spsc.batch-publish", level: Required, roles: Pair, producer_needs: &["batch"], consumer_needs: &[], timeout: SECS(60), spec: "§7.1", rules: &["R7.1.a", "R7.1.3"],
            rule: "Batches published with one cursor store arrive whole and in order", run: spsc_batch_publish },
        Case { id: "spmc.broadcast", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(60), spec: "§7.2", rules: &["R7.2.a", "R7.2.2"],
            rule: "Every consumer sees every event (broadcast), in order, intact", run: spmc_broadcast },
        Case { id: "spmc.slow-consumer-gates", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(60), spec: "§7.2", rules: &["R7.2.a", "R7.2.2", "R7.2.3"],
            rule: "The slowest consumer gates the producer: the fast one is never lapped and the slow one never reads an overwritten slot", run: spmc_slow_consumer_gates },
        Case { id: "backpressure.no-overwrite", level: Required, roles: Pair, producer_needs: &["try-publish"], consumer_needs: &[], timeout: SECS(30), spec: "§7.2", rules: &["R7.1.1", "R7.2.a", "R7.2.3"],
            rule: "With a consumer that does not read, the producer publishes exactly capacity events, then reports full; nothing is overwritten", run: backpressure_no_overwrite },
        Case { id: "batch.too-large", level: Required, roles: Producer, producer_needs: &["batch"], consumer_needs: &[], timeout: SECS(20), spec: "§7.1", rules: &["R7.1.a"],
            rule: "A batch larger than the ring is an error, never a hang", run: batch_too_large },
        Case { id: "join.late-joiner", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(60), spec: "§7.3", rules: &["R7.3.1", "R7.3.3", "R7.3.5", "R7.3.5.a"],
            rule: "A consumer joining a running ring starts at the next unpublished sequence and never reads an overwritten slot", run: join_late_joiner },
        Case { id: "restart.consumer-resumes", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(60), spec: "§7.3, §7.5", rules: &["R7.3.4.a", "R7.5.d"],
            rule: "A consumer killed mid-stream and restarted under its id resumes after its committed cursor; nothing is lost", run: restart_consumer_resumes },
        Case { id: "restart.producer-resumes", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(30), spec: "§7.9", rules: &["R7.9.2", "R7.9.3", "R7.9.5"],
            rule: "A producer killed mid-stream can be restarted on the same ring: it resumes after the last published sequence and consumers continue without loss", run: restart_producer_resumes },
        Case { id: "leave.stops-gating", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(30), spec: "§7.5", rules: &["R7.5.a"],
            rule: "A consumer that leaves cleanly stops gating the producer", run: leave_stops_gating },
        Case { id: "stale.cursor-ignored", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(30), spec: "§7.3, §10.2", rules: &["R7.3.3"],
            rule: "A consumer cursor left by an earlier ring of the same name neither gates the producer nor makes the consumer skip events", run: stale_cursor_ignored },
        Case { id: "close.consumer-drains", level: Recommended, roles: Pair, producer_needs: &["close"], consumer_needs: &["close"], timeout: SECS(30), spec: "§7.6", rules: &["R7.6.1", "R7.6.2", "R7.6.b"],
            rule: "After the producer closes the ring, consumers drain every published event, then learn the ring is closed", run: close_consumer_drains },
        Case { id: "wait.blocking-wakes", level: Recommended, roles: Pair, producer_needs: &[], consumer_needs: &["wait-block"], timeout: SECS(30), spec: "§8", rules: &["R8.3", "R8.b"],
            rule: "A consumer with the blocking wait strategy sleeps in the kernel while idle and is woken by publishes", run: wait_blocking_wakes },
        Case { id: "cleanup.no-leak", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(30), spec: "§7.6, §7.7", rules: &["R7.5.a", "R7.6.3", "R7.6.b", "R7.7.a"],
            rule: "After every participant leaves cleanly, no segment or file of the ring remains", run: cleanup_no_leak },
        Case { id: "liveness.startup-timeout", level: Required, roles: Producer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§7.8", rules: &["R7.8.b", "R7.8.c"],
            rule: "A producer waiting for consumers that never come fails with an error after its timeout and leaves nothing behind", run: liveness_startup_timeout },
        Case { id: "reject.second-producer", level: Required, roles: Producer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§7.7", rules: &["R3.1.a", "R7.7.b", "R7.7.c", "R7.9.1"],
            rule: "Creating a ring whose segments exist fails with already-exists and does not disturb the live ring", run: reject_second_producer },
        Case { id: "reject.element-size-mismatch", level: Required, roles: Pair, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2.2 step 10", rules: &["R2.2.10"],
            rule: "A consumer whose event size differs from the ring's is refused with an element-size error", run: reject_element_size },
        Case { id: "reject.bad-magic", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2.2 step 3", rules: &["R2.2.a", "R2.2.3"],
            rule: "A ring segment with a foreign magic (all else valid, checksum matching) is refused with a layout error, never read", run: reject_bad_magic },
        Case { id: "reject.truncated", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2.2 step 13", rules: &["R2.2.c", "R2.2.13"],
            rule: "A ring segment shorter than its header promises (all else valid) is refused with a layout error, never read past its end", run: reject_truncated },
        Case { id: "reject.bad-checksum", level: Required, roles: Consumer, producer_needs: &[], consumer_needs: &[], timeout: SECS(20), spec: "§2.2 step 5", rules: &["R2.2.5"],
            rule: "A ring header whose checksum does not match (all else valid) is refused with a layout error", run: reject_bad_checksum },
    ];
    v.extend(data::cases());
    v.extend(lifecycle::cases());
    v.extend(names::cases());
    v.extend(registry::cases());
    v.extend(compat::cases());
    v.extend(header::cases());
    v
}

// ---------------------------------------------------------------- helpers

/// Field by field, where `observed` (a segment's first bytes) differs from `expected`:
/// `field @offset: expected X, observed Y`, one line each ("identical" when none does).
pub fn header_diff(expected: &LayoutHeader, observed: &[u8]) -> String {
    let Ok(o) = LayoutHeader::from_bytes(observed) else {
        return format!(
            "only {} bytes: a header needs {HEADER_SIZE}",
            observed.len()
        );
    };
    let e = expected;
    let magic = |m: &[u8; 8]| format!("{:?} ({:02x?})", String::from_utf8_lossy(m), m);
    let rows: [(&str, usize, String, String); 11] = [
        ("magic", 0, magic(&e.magic), magic(&o.magic)),
        ("version", 8, e.version.to_string(), o.version.to_string()),
        ("kind", 10, e.kind.to_string(), o.kind.to_string()),
        (
            "header_size",
            12,
            e.header_size.to_string(),
            o.header_size.to_string(),
        ),
        (
            "alignment",
            14,
            e.alignment.to_string(),
            o.alignment.to_string(),
        ),
        (
            "payload_size",
            16,
            e.payload_size.to_string(),
            o.payload_size.to_string(),
        ),
        (
            "element_size",
            24,
            e.element_size.to_string(),
            o.element_size.to_string(),
        ),
        (
            "capacity",
            32,
            e.capacity.to_string(),
            o.capacity.to_string(),
        ),
        (
            "reserved",
            40,
            e.reserved.to_string(),
            o.reserved.to_string(),
        ),
        (
            "checksum",
            48,
            format!("{:#010x}", e.checksum),
            format!(
                "{:#010x} (FNV-1a of the observed header: {:#010x})",
                o.checksum,
                o.compute_checksum()
            ),
        ),
        (
            "reserved2",
            52,
            e.reserved2.to_string(),
            o.reserved2.to_string(),
        ),
    ];
    let diff: Vec<String> = rows
        .iter()
        .filter(|(name, _, want, got)| {
            if *name == "checksum" {
                e.checksum != o.checksum
            } else {
                want != got
            }
        })
        .map(|(name, off, want, got)| format!("  {name} @{off}: expected {want}, observed {got}"))
        .collect();
    if diff.is_empty() {
        "  identical".into()
    } else {
        diff.join("\n")
    }
}

/// Consumer `id`'s cursor segment: `/dev/shm/N_{id}_seq` or `R/N.consumers/{id}.cursor`.
fn cursor_path(ctx: &Ctx, id: &str) -> std::path::PathBuf {
    ctx.segment_path(&format!("_{id}_seq"), &format!(".consumers/{id}.cursor"))
}

/// A little-endian u32 / u64 at `off` of a segment's bytes.
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

/// Writes `bytes` as a new file of mode 0600 (a segment the harness plants as a peer would).
fn write_private(p: &std::path::Path, bytes: &[u8]) -> Result<(), CaseError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(p, bytes)
        .map_err(|e| CaseError::Error(format!("cannot plant {}: {e}", p.display())))?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| CaseError::Error(format!("chmod {}: {e}", p.display())))
}

/// `attach_consumer` of `consumer_id` (any id, not only `c_{k}`) with `timeout_ms`; the reply
/// may be an error.
fn attach_id(
    ctx: &mut Ctx,
    h: crate::ctx::H,
    consumer_id: &str,
    timeout_ms: u64,
) -> Result<crate::driver::Reply, CaseError> {
    let ring = ctx.ring.clone();
    let consumer_id = consumer_id.to_string();
    ctx.request(h, |id| Command::AttachConsumer {
        id,
        ring,
        consumer_id,
        event_size: SIZE,
        timeout_ms,
        wait: None,
        resync: None,
    })
}

/// `try_publish` of `count`: how many got in, and whether the ring was full.
fn try_publish(ctx: &mut Ctx, p: crate::ctx::H, count: u64) -> Result<(u64, bool), CaseError> {
    let r = ctx.request(p, |id| Command::TryPublish { id, count })?;
    let ok = Ctx::expect_ok(&r, "try_publish")?;
    Ok((ok.published.unwrap_or(0), ok.full.unwrap_or(false)))
}

fn read_segment(ctx: &Ctx, shm_suffix: &str, file_suffix: &str) -> Result<Vec<u8>, CaseError> {
    let p = ctx.segment_path(shm_suffix, file_suffix);
    std::fs::read(&p).or_else(|e| fail(format!("cannot read {}: {e}", p.display())))
}

fn created(ctx: &mut Ctx, capacity: u64, size: u64) -> Result<usize, CaseError> {
    let (p, r) = ctx.producer(capacity, size, None)?;
    Ctx::expect_ok(&r, "create_producer")?;
    Ok(p)
}

/// Producer waiting for `n` consumers, then the consumers attached; returns handles and starts.
fn ring_with_consumers(
    ctx: &mut Ctx,
    capacity: u64,
    n: usize,
    waits: &[Option<Wait>],
) -> Result<(usize, Vec<usize>), CaseError> {
    ring_with_required(ctx, capacity, n, waits, None)
}

/// [`ring_with_consumers`] whose producer treats `required` as required consumers.
fn ring_with_required(
    ctx: &mut Ctx,
    capacity: u64,
    n: usize,
    waits: &[Option<Wait>],
    required: Option<crate::protocol::Required>,
) -> Result<(usize, Vec<usize>), CaseError> {
    let (p, create) = ctx.producer_async_required(capacity, SIZE, n as u64, required)?;
    let mut cs = Vec::new();
    for k in 0..n {
        let (c, r) = ctx.consumer(k, SIZE, waits.get(k).copied().flatten())?;
        let start = Ctx::expect_ok(&r, "attach_consumer")?.start_seq;
        if start != Some(0) {
            return fail(format!(
                "consumer c_{k} of a fresh ring starts at {start:?}, expected 0"
            ));
        }
        cs.push(c);
    }
    let r = ctx.wait(p, create)?;
    Ctx::expect_ok(&r, "create_producer")?;
    Ok((p, cs))
}

fn stream(
    ctx: &mut Ctx,
    capacity: u64,
    events: u64,
    batch: u64,
    mode: Mode,
) -> Result<(), CaseError> {
    let (p, cs) = ring_with_consumers(ctx, capacity, 1, &[])?;
    let pub_id = ctx.publish_async(p, events, batch)?;
    let con_id = ctx.consume_async(cs[0], events, mode)?;
    let got = ctx.wait(cs[0], con_id)?;
    let published = ctx.wait(p, pub_id)?;
    Ctx::expect_ok(&published, "publish")?;
    Ctx::expect_ok(&got, "consume")?;
    check_delivery(&got, SIZE as usize, 0, events as i64 - 1, "c_0")
}

// ---------------------------------------------------------------- layout

fn layout_ring_header(ctx: &mut Ctx) -> Result<(), CaseError> {
    for (capacity, size) in [(1024u64, 24u64), (64, 64), (8, 4096)] {
        let p = created(ctx, capacity, size)?;
        let bytes = read_segment(ctx, "", ".ring")?;
        let expect = Expect {
            kind: SegmentKind::Ring,
            element_size: Some(size),
            capacity: Some(capacity),
            min_alignment: 8,
        };
        let g = layout::validate(&bytes, &expect)
            .or_else(|e| fail(format!("ring {size}x{capacity}: {e}")))?;
        let (want, _) = layout::fresh_header(SegmentKind::Ring, g.alignment, size, capacity)
            .expect("sizes fit");
        if bytes[..HEADER_SIZE] != want.to_bytes() {
            return fail(format!(
                "ring {size}x{capacity}: the header differs from the LayoutV1 header:\n{}",
                header_diff(&want, &bytes)
            ));
        }
        if (bytes.len() as u64) < g.total_len() {
            return fail("ring shorter than its header promises");
        }
        ctx.leave(p)?;
    }
    Ok(())
}

fn layout_header_checksum(ctx: &mut Ctx) -> Result<(), CaseError> {
    created(ctx, 64, SIZE)?;
    for (shm, file) in [("", ".ring"), ("_producer_seq", ".producer.cursor")] {
        let bytes = read_segment(ctx, shm, file)?;
        let h = LayoutHeader::from_bytes(&bytes).or_else(|e| fail(e.to_string()))?;
        if h.checksum != h.compute_checksum() {
            return fail(format!(
                "{file}: stored checksum {:#010x}, FNV-1a gives {:#010x}",
                h.checksum,
                h.compute_checksum()
            ));
        }
    }
    Ok(())
}

fn layout_cursor_initial(ctx: &mut Ctx) -> Result<(), CaseError> {
    created(ctx, 64, SIZE)?;
    let bytes = read_segment(ctx, "_producer_seq", ".producer.cursor")?;
    if bytes.len() != CURSOR_SEGMENT_SIZE {
        return fail(format!(
            "producer cursor segment is {} bytes, expected 128",
            bytes.len()
        ));
    }
    layout::validate(&bytes, &Expect::kind(SegmentKind::Cursor))
        .or_else(|e| fail(e.to_string()))?;
    let value = i64::from_le_bytes(bytes[64..72].try_into().expect("8 bytes"));
    if value != -1 {
        return fail(format!(
            "producer cursor is {value} before any publish, expected -1"
        ));
    }
    Ok(())
}

fn layout_consumer_cursor(ctx: &mut Ctx) -> Result<(), CaseError> {
    let events = 1_000u64;
    let (p, cs) = ring_with_consumers(ctx, 64, 1, &[])?;
    let pub_id = ctx.publish_async(p, events, 1)?;
    let id = ctx.consume_async(cs[0], events, Mode::Copy)?;
    let got = ctx.wait(cs[0], id)?;
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    check_delivery(&got, SIZE as usize, 0, events as i64 - 1, "c_0")?;
    let bytes = read_segment(ctx, "_c_0_seq", ".consumers/c_0.cursor")?;
    if bytes.len() != CURSOR_SEGMENT_SIZE {
        return fail(format!(
            "consumer cursor segment is {} bytes, expected 128",
            bytes.len()
        ));
    }
    layout::validate(&bytes, &Expect::kind(SegmentKind::Cursor))
        .or_else(|e| fail(e.to_string()))?;
    let value = i64::from_le_bytes(bytes[64..72].try_into().expect("8 bytes"));
    if value != events as i64 - 1 {
        return fail(format!(
            "consumer cursor holds {value} after consuming 0..={}",
            events - 1
        ));
    }
    Ok(())
}

fn layout_registry(ctx: &mut Ctx) -> Result<(), CaseError> {
    use ringproof::kit::layout::registry::{owner_pid, CONTROL_OFFSET, RING_OPEN};
    let p = created(ctx, 64, SIZE)?;
    let bytes = read_segment(ctx, "_registry", ".registry")?;
    let g = layout::validate(&bytes, &Expect::kind(SegmentKind::Registry))
        .or_else(|e| fail(e.to_string()))?;
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().expect("8 bytes"));
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
    let c = CONTROL_OFFSET;
    let epoch = u64_at(c);
    if epoch == 0 {
        return fail("registry epoch is 0 (must be a non-zero random value)");
    }
    if u32_at(c + 16) != RING_OPEN || u64_at(c + 24) as i64 != -1 {
        return fail(format!(
            "fresh registry: ring_state {} final_sequence {}, expected OPEN (1) and -1",
            u32_at(c + 16),
            u64_at(c + 24) as i64
        ));
    }
    let pid = ctx.t(p).pid();
    if owner_pid(u64_at(c + 32)) != pid {
        return fail(format!(
            "producer_owner names pid {}, the producer is {pid}",
            owner_pid(u64_at(c + 32))
        ));
    }
    for i in 0..g.capacity as usize {
        if u32_at(c + 128 * (i + 1)) != 0 {
            return fail(format!("slot {i} of a registry nobody joined is not FREE"));
        }
    }
    let cursor = read_segment(ctx, "_producer_seq", ".producer.cursor")?;
    if u64::from_le_bytes(cursor[80..88].try_into().expect("8 bytes")) != epoch {
        return fail("the producer cursor's epoch word differs from the registry epoch");
    }
    Ok(())
}

fn layout_names(ctx: &mut Ctx) -> Result<(), CaseError> {
    use std::os::unix::fs::PermissionsExt;
    created(ctx, 64, SIZE)?;
    for (shm, file) in [("", ".ring"), ("_producer_seq", ".producer.cursor")] {
        let p = ctx.segment_path(shm, file);
        let meta = std::fs::symlink_metadata(&p)
            .or_else(|e| fail(format!("{} missing: {e}", p.display())))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode != 0o600 {
            return fail(format!("{} has mode {mode:o}, expected 600", p.display()));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- streams

fn spsc_wraparound(ctx: &mut Ctx) -> Result<(), CaseError> {
    stream(ctx, 64, 100_000, 1, Mode::Copy)
}

fn spsc_lease(ctx: &mut Ctx) -> Result<(), CaseError> {
    stream(ctx, 64, 50_000, 1, Mode::Lease)
}

fn spsc_batch_publish(ctx: &mut Ctx) -> Result<(), CaseError> {
    stream(ctx, 256, 100_000, 16, Mode::Batch)
}

fn spmc_broadcast(ctx: &mut Ctx) -> Result<(), CaseError> {
    let events = 50_000;
    let (p, cs) = ring_with_consumers(ctx, 128, 3, &[])?;
    let pub_id = ctx.publish_async(p, events, 1)?;
    let ids: Vec<_> = cs
        .iter()
        .map(|&c| ctx.consume_async(c, events, Mode::Batch))
        .collect::<Result<_, _>>()?;
    for (k, (&c, id)) in cs.iter().zip(ids).enumerate() {
        let got = ctx.wait(c, id)?;
        Ctx::expect_ok(&got, "consume")?;
        check_delivery(&got, SIZE as usize, 0, events as i64 - 1, &format!("c_{k}"))?;
    }
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    Ok(())
}

fn spmc_slow_consumer_gates(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (capacity, events, step) = (64u64, 20_000u64, 500u64);
    let (p, cs) = ring_with_consumers(ctx, capacity, 2, &[None, Some(Wait::Sleep)])?;
    let pub_id = ctx.publish_async(p, events, 1)?;
    let fast = ctx.consume_async(cs[0], events, Mode::Batch)?;
    // The slow consumer reads in small steps the harness paces, so the producer must stall on
    // it again and again. Between steps the harness reads both cursors from the segments.
    let mut slow = crate::driver::Reply {
        result: Ok(Default::default()),
        events: Vec::new(),
        progress: Vec::new(),
        liveness: Vec::new(),
        missed: None,
    };
    let mut read = 0;
    while read < events {
        let id = ctx.consume_async(cs[1], step, Mode::Copy)?;
        let r = ctx.wait(cs[1], id)?;
        read += Ctx::expect_ok(&r, "consume")?.consumed.unwrap_or(0);
        slow.events.extend(r.events);
        let producer = read_cursor(ctx, "_producer_seq", ".producer.cursor")?;
        let committed = read_cursor(ctx, "_c_1_seq", ".consumers/c_1.cursor")?;
        if producer > committed + capacity as i64 {
            return fail(format!("producer cursor {producer} ran more than {capacity} past the slow consumer's committed {committed}"));
        }
    }
    let fast = ctx.wait(cs[0], fast)?;
    check_delivery(&fast, SIZE as usize, 0, events as i64 - 1, "fast c_0")?;
    check_delivery(&slow, SIZE as usize, 0, events as i64 - 1, "slow c_1")?;
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    Ok(())
}

/// A cursor's value, read from its segment (bytes 64..72).
fn read_cursor(ctx: &Ctx, shm_suffix: &str, file_suffix: &str) -> Result<i64, CaseError> {
    let bytes = read_segment(ctx, shm_suffix, file_suffix)?;
    match bytes.get(64..72) {
        Some(b) => Ok(i64::from_le_bytes(b.try_into().expect("8 bytes"))),
        None => fail(format!(
            "cursor segment {file_suffix} is only {} bytes",
            bytes.len()
        )),
    }
}

fn backpressure_no_overwrite(ctx: &mut Ctx) -> Result<(), CaseError> {
    let capacity = 8;
    let (p, cs) = ring_with_consumers(ctx, capacity, 1, &[])?;
    let r = ctx.request(p, |id| Command::TryPublish {
        id,
        count: 3 * capacity,
    })?;
    let f = Ctx::expect_ok(&r, "try_publish")?;
    if f.published != Some(capacity) || f.full != Some(true) {
        return fail(format!("try_publish of {} into a ring of {capacity} with an idle consumer published {:?} (full = {:?}); expected exactly {capacity}, then full", 3 * capacity, f.published, f.full));
    }
    let id = ctx.consume_idle(cs[0], capacity, Mode::Copy, 5_000)?;
    let got = ctx.wait(cs[0], id)?;
    check_delivery(&got, SIZE as usize, 0, capacity as i64 - 1, "c_0")
}

fn batch_too_large(ctx: &mut Ctx) -> Result<(), CaseError> {
    let p = created(ctx, 8, SIZE)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let id = ctx.publish_async(p, 16, 16)?;
    match ctx.t(p).wait(id, deadline) {
        Ok(r) => match r.result {
            Err(_) => Ok(()),
            Ok(_) => fail("a batch of 16 into a ring of 8 reported success"),
        },
        Err(crate::driver::DriverError::Timeout(..)) => {
            fail("a batch of 16 into a ring of 8 did not return within 5 s (hang)")
        }
        Err(e) => Err(e.into()),
    }
}

fn join_late_joiner(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (capacity, first_part, second_part) = (64u64, 5_000u64, 5_000u64);
    let (p, cs) = ring_with_consumers(ctx, capacity, 1, &[])?;
    let pub1 = ctx.publish_async(p, first_part, 1)?;
    let c0a = ctx.consume_async(cs[0], first_part, Mode::Batch)?;
    Ctx::expect_ok(&ctx.wait(p, pub1)?, "publish")?;
    let got_a = ctx.wait(cs[0], c0a)?;
    let (before, _) = ctx.cursors(p)?;
    let (late, r) = ctx.consumer(1, SIZE, None)?;
    let start = Ctx::expect_ok(&r, "attach_consumer (late)")?
        .start_seq
        .unwrap_or(-1);
    let before = before.unwrap_or(-1);
    if start != before + 1 {
        return fail(format!("late joiner starts at {start}, but {before} was the last published sequence (expected {})", before + 1));
    }
    let total = first_part + second_part;
    let pub2 = ctx.publish_async(p, second_part, 1)?;
    let c0b = ctx.consume_async(cs[0], second_part, Mode::Batch)?;
    let c1 = ctx.consume_async(late, second_part, Mode::Copy)?;
    let got_late = ctx.wait(late, c1)?;
    let got_b = ctx.wait(cs[0], c0b)?;
    Ctx::expect_ok(&ctx.wait(p, pub2)?, "publish")?;
    let mut all = got_a.clone();
    all.events.extend(got_b.events);
    check_delivery(&all, SIZE as usize, 0, total as i64 - 1, "c_0")?;
    check_delivery(
        &got_late,
        SIZE as usize,
        start,
        total as i64 - 1,
        "late c_1",
    )
}

fn restart_consumer_resumes(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (capacity, events, before_kill) = (256u64, 20_000u64, 3_000u64);
    // The stream stops while c_0 is dead (everything published so far is consumed), so its
    // slot gates all along whatever the producer's liveness policy (a dead non-required
    // consumer stops gating only once the producer waits on it, SPEC.md §7.10): the restart is
    // a takeover that must lose nothing, with or without required consumers.
    let (p, cs) = ring_with_consumers(ctx, capacity, 1, &[])?;
    let pub_id = ctx.publish_async(p, before_kill, 1)?;
    let id = ctx.consume_idle(cs[0], before_kill, Mode::Copy, 10_000)?;
    let first = ctx.wait(cs[0], id)?;
    check_delivery(
        &first,
        SIZE as usize,
        0,
        before_kill as i64 - 1,
        "c_0 before the kill",
    )?;
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    let (_, committed) = ctx.cursors(cs[0])?;
    let committed = committed.unwrap_or(-1);
    ctx.t(cs[0]).kill();
    let (again, r) = ctx.consumer(0, SIZE, None)?;
    let start = Ctx::expect_ok(&r, "attach_consumer (restart)")?
        .start_seq
        .unwrap_or(-1);
    if start > committed + 1 {
        return fail(format!("restarted consumer starts at {start}, after its committed cursor {committed}: events {}..{start} are lost", committed + 1));
    }
    if start < 0 {
        return fail(format!("restarted consumer starts at {start}"));
    }
    let pub_id = ctx.publish_async(p, events - before_kill, 1)?;
    let id = ctx.consume_async(again, (events as i64 - start) as u64, Mode::Batch)?;
    let rest = ctx.wait(again, id)?;
    check_delivery(
        &rest,
        SIZE as usize,
        start,
        events as i64 - 1,
        "restarted c_0",
    )?;
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    Ok(())
}

fn restart_producer_resumes(ctx: &mut Ctx) -> Result<(), CaseError> {
    let (before, after) = (2_000u64, 1_000u64);
    let (p, cs) = ring_with_consumers(ctx, 256, 1, &[])?;
    let pub_id = ctx.publish_async(p, before, 1)?;
    let id = ctx.consume_async(cs[0], before, Mode::Batch)?;
    let first = ctx.wait(cs[0], id)?;
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    check_delivery(
        &first,
        SIZE as usize,
        0,
        before as i64 - 1,
        "c_0 before the crash",
    )?;
    ctx.t(p).kill();
    let (p2, r) = ctx.producer(256, SIZE, None)?;
    if let Err((kind, m)) = &r.result {
        return fail(format!(
            "restarting the producer of a ring whose producer died was refused: {kind:?} ({m})"
        ));
    }
    let pub_id = ctx.publish_async(p2, after, 1)?;
    let id = ctx.consume_async(cs[0], after, Mode::Batch)?;
    let rest = ctx.wait(cs[0], id)?;
    let r = ctx.wait(p2, pub_id)?;
    let f = Ctx::expect_ok(&r, "publish after the restart")?;
    if f.first_seq != Some(before as i64) {
        return fail(format!("the restarted producer published from {:?}, expected {before} (after the last published sequence)", f.first_seq));
    }
    check_delivery(
        &rest,
        SIZE as usize,
        before as i64,
        (before + after) as i64 - 1,
        "c_0 after the restart",
    )
}

fn leave_stops_gating(ctx: &mut Ctx) -> Result<(), CaseError> {
    let capacity = 32u64;
    let (p, cs) = ring_with_consumers(ctx, capacity, 2, &[])?;
    ctx.leave(cs[1])?;
    let events = 4 * capacity;
    let pub_id = ctx.publish_async(p, events, 1)?;
    let id = ctx.consume_async(cs[0], events, Mode::Batch)?;
    let got = ctx.wait(cs[0], id)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    match ctx.t(p).wait(pub_id, deadline) {
        Ok(r) => {
            Ctx::expect_ok(&r, "publish")?;
        }
        Err(crate::driver::DriverError::Timeout(..)) => {
            return fail("producer still blocked 5 s after the remaining consumer read everything: the consumer that left (c_1) still gates it")
        }
        Err(e) => return Err(e.into()),
    }
    check_delivery(&got, SIZE as usize, 0, events as i64 - 1, "c_0")
}

fn stale_cursor_ignored(ctx: &mut Ctx) -> Result<(), CaseError> {
    // A cursor left by an earlier ring of this name: valid layout, value 1000, another epoch.
    let path = ctx.segment_path("_c_0_seq", ".consumers/c_0.cursor");
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let seg = match ctx.backend {
        Backend::Shm => {
            ringproof::kit::names::SegmentPath::Shm(format!("{}_c_0_seq", ctx.ring.name))
        }
        Backend::Mmap => ringproof::kit::names::SegmentPath::File(path.clone()),
    };
    ringproof::kit::cursor::Cursor::create(&seg, "stale cursor", 1000, 0xDEAD_BEEF)
        .map_err(|e| CaseError::Error(format!("harness could not plant the stale cursor: {e}")))?;
    let events = 2_000;
    let (p, cs) = ring_with_consumers(ctx, 64, 1, &[])?;
    let pub_id = ctx.publish_async(p, events, 1)?;
    let id = ctx.consume_async(cs[0], events, Mode::Batch)?;
    let got = ctx.wait(cs[0], id)?;
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    check_delivery(
        &got,
        SIZE as usize,
        0,
        events as i64 - 1,
        "c_0 over a stale cursor",
    )
}

fn close_consumer_drains(ctx: &mut Ctx) -> Result<(), CaseError> {
    let events = 1_000u64;
    let (p, cs) = ring_with_consumers(ctx, 2048, 1, &[])?;
    Ctx::expect_ok(
        &ctx.request(p, |id| Command::Publish {
            id,
            count: events,
            batch: None,
        })?,
        "publish",
    )?;
    ctx.leave(p)?;
    let id = ctx.consume_async(cs[0], u64::MAX >> 1, Mode::Batch)?;
    let got = ctx.wait(cs[0], id)?;
    let f = Ctx::expect_ok(&got, "consume")?;
    check_delivery(&got, SIZE as usize, 0, events as i64 - 1, "c_0")?;
    if f.closed_at != Some(events as i64 - 1) {
        return fail(format!(
            "consumer drained the ring but reported closed_at {:?}, expected {}",
            f.closed_at,
            events - 1
        ));
    }
    Ok(())
}

/// CPU ticks (user + system) a process has used.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn wait_blocking_wakes(ctx: &mut Ctx) -> Result<(), CaseError> {
    let events = 2_000u64;
    let (p, cs) = ring_with_consumers(ctx, 256, 1, &[Some(Wait::Block)])?;
    let id = ctx.consume_async(cs[0], events, Mode::Copy)?;
    // Measure the idle consumer's CPU use over a window (a measurement, not synchronisation).
    let pid = ctx.t(cs[0]).pid();
    let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    std::thread::sleep(Duration::from_millis(100));
    let (t0, w0) = (cpu_ticks(pid), Instant::now());
    std::thread::sleep(Duration::from_millis(500));
    let (t1, window) = (cpu_ticks(pid), w0.elapsed());
    if let (Some(a), Some(b)) = (t0, t1) {
        let busy = (b - a) as f64 / ticks_per_s as f64 / window.as_secs_f64();
        ctx.notes
            .push(format!("idle consumer CPU {:.0}%", busy * 100.0));
        if busy > 0.25 {
            return fail(format!(
                "idle consumer with the blocking strategy used {:.0}% of a CPU (expected ~0%)",
                busy * 100.0
            ));
        }
    }
    Ctx::expect_ok(
        &ctx.request(p, |id| Command::Publish {
            id,
            count: events,
            batch: None,
        })?,
        "publish",
    )?;
    let got = ctx.wait(cs[0], id)?;
    check_delivery(&got, SIZE as usize, 0, events as i64 - 1, "blocking c_0")
}

fn cleanup_no_leak(ctx: &mut Ctx) -> Result<(), CaseError> {
    let events = 5_000u64;
    let (p, cs) = ring_with_consumers(ctx, 256, 2, &[])?;
    let pub_id = ctx.publish_async(p, events, 1)?;
    let ids: Vec<_> = cs
        .iter()
        .map(|&c| ctx.consume_async(c, events, Mode::Batch))
        .collect::<Result<_, _>>()?;
    for (&c, id) in cs.iter().zip(ids) {
        Ctx::expect_ok(&ctx.wait(c, id)?, "consume")?;
    }
    Ctx::expect_ok(&ctx.wait(p, pub_id)?, "publish")?;
    for &c in &cs {
        ctx.leave(c)?;
    }
    ctx.leave(p)?;
    let problems = ctx.exit_all();
    if !problems.is_empty() {
        return Err(CaseError::Error(problems.join("; ")));
    }
    let left = ctx.leftovers();
    if !left.is_empty() {
        return fail(format!(
            "left behind after a clean shutdown: {}",
            left.join(", ")
        ));
    }
    Ok(())
}

fn liveness_startup_timeout(ctx: &mut Ctx) -> Result<(), CaseError> {
    let started = Instant::now();
    let (_p, r) = ctx.producer(64, SIZE, Some((1, 300)))?;
    match &r.result {
        Err((ErrorKind::ConsumersMissing, _)) => {}
        Err((kind, m)) => return fail(format!("startup timeout reported as {kind:?} ({m}); expected consumers_missing (PROTOCOL.md: the failure of a producer's wait for consumers)")),
        Ok(_) => return fail(format!("producer waiting for 1 consumer with a 300 ms timeout reported success after {:?} with no consumer", started.elapsed())),
    }
    let left = ctx.leftovers();
    if !left.is_empty() {
        return fail(format!("failed creation left {}", left.join(", ")));
    }
    Ok(())
}

fn reject_second_producer(ctx: &mut Ctx) -> Result<(), CaseError> {
    let first = created(ctx, 64, SIZE)?;
    let before = read_segment(ctx, "", ".ring")?;
    let (_second, r) = ctx.producer(64, SIZE, None)?;
    match &r.result {
        Err((ErrorKind::AlreadyExists, _)) => {}
        Err((kind, m)) => {
            return fail(format!(
                "second producer refused with {kind:?} ({m}), expected already_exists"
            ))
        }
        Ok(_) => return fail("a second producer was allowed to create an existing ring"),
    }
    let after = read_segment(ctx, "", ".ring")?;
    if before[..HEADER_SIZE] != after[..HEADER_SIZE] {
        return fail("the refused second producer changed the live ring's header");
    }
    let _ = ctx.cursors(first)?;
    Ok(())
}

fn reject_element_size(ctx: &mut Ctx) -> Result<(), CaseError> {
    created(ctx, 64, SIZE)?;
    let (_c, r) = ctx.consumer(0, 16, None)?;
    match &r.result {
        Err((ErrorKind::ElementSize, _)) => Ok(()),
        Err((kind, m)) => fail(format!(
            "mismatched event size refused with {kind:?} ({m}), expected element_size"
        )),
        Ok(_) => fail("a consumer of 16-byte events attached to a ring of 64-byte events"),
    }
}

/// A live ring made by the reference producer inside the harness's own process: ring,
/// producer cursor, registry, everything a ringproof ring has, gating on consumers `c_*`, so a
/// case can spoil exactly one thing of it. Dropping it closes and removes the ring.
fn harness_ring(
    ctx: &Ctx,
    capacity: usize,
    size: usize,
    alignment: usize,
) -> Result<ringproof::RawProducer, CaseError> {
    let name = match ctx.backend {
        Backend::Shm => ringproof::RingName::shm(&ctx.ring.name),
        Backend::Mmap => ringproof::RingName::dir(&ctx.root, &ctx.ring.name),
    };
    let name = name.map_err(|e| CaseError::Error(format!("harness ring name: {e}")))?;
    ringproof::ProducerBuilder::new(name)
        .capacity(capacity)
        .discover_prefix("c", 8)
        .create_raw_aligned(size, alignment)
        .map_err(|e| {
            CaseError::Error(format!(
                "the harness could not create its reference ring: {e}"
            ))
        })
}

/// Which segment of a harness ring a reject case spoils.
#[derive(Clone, Copy)]
enum Target {
    Ring,
    ProducerCursor,
}

/// Rewrites the header of `target` in place: `spoil` edits the 56 bytes; the checksum is then
/// recomputed (unless `keep_checksum`), so only the one check the case is about can notice.
/// Returns the field-by-field difference from the valid header, for failure reports.
fn spoil_header(
    ctx: &Ctx,
    target: Target,
    keep_checksum: bool,
    spoil: impl FnOnce(&mut [u8; HEADER_SIZE]),
) -> Result<String, CaseError> {
    use std::os::unix::fs::FileExt;
    let path = match target {
        Target::Ring => ctx.segment_path("", ".ring"),
        Target::ProducerCursor => ctx.segment_path("_producer_seq", ".producer.cursor"),
    };
    let err = |e: std::io::Error| CaseError::Error(format!("cannot spoil {}: {e}", path.display()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(err)?;
    let mut h = [0u8; HEADER_SIZE];
    f.read_exact_at(&mut h, 0).map_err(err)?;
    let valid = LayoutHeader::from_bytes(&h).expect("56 bytes");
    spoil(&mut h);
    if !keep_checksum {
        let c = LayoutHeader::from_bytes(&h)
            .expect("56 bytes")
            .compute_checksum();
        h[48..52].copy_from_slice(&c.to_le_bytes());
    }
    f.write_all_at(&h, 0).map_err(err)?;
    Ok(header_diff(&valid, &h))
}

/// Attaches consumer `c_0` to the ring and demands that it is refused with `want`.
fn expect_refused(ctx: &mut Ctx, what: &str, want: ErrorKind) -> Result<(), CaseError> {
    let h = ctx.start_consumer_testee("consumer c_0")?;
    let r = attach_id(ctx, h, "c_0", 200)?;
    match &r.result {
        Err((kind, _)) if *kind == want => Ok(()),
        Err((kind, m)) => fail(format!("{what} was refused with {kind:?} ({m}); expected {want:?}: the ring, its producer cursor and registry were otherwise valid, so only the check of SPEC §2.2 this case is about may refuse it")),
        Ok(_) => fail(format!("a consumer attached to {what} (expected a {want:?} error)")),
    }
}

/// A reference ring whose `target` header is spoiled by `spoil`, then a consumer that must be
/// refused with `want`.
fn reject_spoiled(
    ctx: &mut Ctx,
    what: &str,
    target: Target,
    keep_checksum: bool,
    want: ErrorKind,
    spoil: impl FnOnce(&mut [u8; HEADER_SIZE]),
) -> Result<(), CaseError> {
    let _ring = harness_ring(ctx, 8, SIZE as usize, 8)?;
    let diff = spoil_header(ctx, target, keep_checksum, spoil)?;
    expect_refused(ctx, what, want).map_err(|e| match e {
        CaseError::Fail(m) => CaseError::Fail(format!(
            "{m}\nthe header handed to the consumer, against the valid one:\n{diff}"
        )),
        other => other,
    })
}

fn reject_bad_magic(ctx: &mut Ctx) -> Result<(), CaseError> {
    reject_spoiled(
        ctx,
        "a ring segment with a foreign magic (NOTARING, checksum recomputed)",
        Target::Ring,
        false,
        ErrorKind::Layout,
        |h| h[..8].copy_from_slice(b"NOTARING"),
    )
}

fn reject_truncated(ctx: &mut Ctx) -> Result<(), CaseError> {
    let _ring = harness_ring(ctx, 8, SIZE as usize, 8)?;
    let path = ctx.segment_path("", ".ring");
    let len = std::fs::metadata(&path)
        .map_err(|e| CaseError::Error(e.to_string()))?
        .len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| CaseError::Error(e.to_string()))?;
    f.set_len(len - 8)
        .map_err(|e| CaseError::Error(format!("cannot truncate {}: {e}", path.display())))?;
    expect_refused(
        ctx,
        "a ring segment 8 bytes shorter than its header promises",
        ErrorKind::Layout,
    )
}

fn reject_bad_checksum(ctx: &mut Ctx) -> Result<(), CaseError> {
    reject_spoiled(
        ctx,
        "a ring whose header checksum does not match (reserved byte 40 flipped)",
        Target::Ring,
        true,
        ErrorKind::Layout,
        |h| h[40] ^= 0x01,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_diff_names_each_field_that_differs() {
        let (h, _) = layout::fresh_header(SegmentKind::Ring, 8, 64, 8).expect("fits");
        assert_eq!(header_diff(&h, &h.to_bytes()), "  identical");
        let mut b = h.to_bytes();
        b[..8].copy_from_slice(b"NOTARING");
        b[32] = 6;
        let d = header_diff(&h, &b);
        assert!(
            d.contains("magic @0: expected \"DSMPTV01\"")
                && d.contains("capacity @32: expected 8, observed 6"),
            "{d}"
        );
        assert!(!d.contains("version") && !d.contains("checksum"), "{d}");
        assert!(header_diff(&h, &b[..10]).contains("only 10 bytes"));
    }
}
