//! Producer and consumer loops over the test payload, shared by the CLI, the tests and the
//! benchmarks so that every tool checks events the same way. Returns reports; never prints.

use crate::error::{Error, Result};
use crate::payload;
use crate::{RawConsumer, RawProducer};
use std::time::{Duration, Instant};

/// How a consumer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// `try_read_into` / `read_into`: copy each event out.
    Copy,
    /// `lease`: read in place, commit on drop.
    Lease,
    /// `wait_batch`: everything available, one commit per batch.
    Batch,
}

impl std::str::FromStr for ReadMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "copy" => Ok(Self::Copy),
            "lease" => Ok(Self::Lease),
            "batch" => Ok(Self::Batch),
            _ => Err(format!("unknown read mode {s:?} (copy, lease, batch)")),
        }
    }
}

/// What a producer loop did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceReport {
    pub first_sequence: i64,
    pub last_sequence: i64,
    pub published: u64,
}

/// Publishes `events` test-payload events, in batches of `batch` (1 = single publishes).
/// `on_published(last_seq)` runs after each publish call (for progress records).
pub fn produce(
    p: &mut RawProducer,
    events: u64,
    batch: usize,
    mut on_published: impl FnMut(i64),
) -> Result<ProduceReport> {
    if p.element_size() % 8 != 0 {
        return Err(Error::InvalidConfig(format!(
            "event size {} is not a positive multiple of 8 bytes, which the test payload needs",
            p.element_size()
        )));
    }
    let first = p.last_published() + 1;
    let mut left = events;
    while left > 0 {
        let n = (batch.max(1) as u64).min(left) as usize;
        let base = (p.last_published() + 1) as u64;
        let last = if n == 1 {
            p.publish_with(|slot| fill(base, slot))?
        } else {
            p.publish_batch(n, |i, slot| fill(base + i as u64, slot))?
        };
        left -= n as u64;
        on_published(last);
    }
    // Visible and counted: the counters are exact once the producer flushes (SPEC.md §12.6).
    p.flush();
    Ok(ProduceReport {
        first_sequence: first,
        last_sequence: p.last_published(),
        published: events,
    })
}

fn fill(seq: u64, slot: &mut [u8]) {
    // `produce` checked the size, the only thing `payload::fill` can object to.
    let _ = payload::fill(seq, slot);
}

/// What a consumer loop saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumeReport {
    pub consumed: u64,
    pub first_sequence: Option<i64>,
    pub last_sequence: Option<i64>,
    /// Sequences that were not the one after the previous.
    pub out_of_order: u64,
    /// Payloads that did not verify (torn, stale or corrupt).
    pub payload_errors: u64,
    /// The first few problems, as text.
    pub errors: Vec<String>,
    /// Set when the producer closed the ring before `events` arrived.
    pub closed_at: Option<i64>,
    /// The last published sequence when the producer was first seen dead (the consumer keeps
    /// going: a restarted producer continues the stream).
    pub producer_gone_at: Option<i64>,
}

impl ConsumeReport {
    /// No gap, no duplicate, no bad payload.
    pub fn is_clean(&self) -> bool {
        self.out_of_order == 0 && self.payload_errors == 0
    }

    fn record(&mut self, seq: i64, bytes: &[u8]) {
        if let Some(last) = self.last_sequence {
            if seq != last + 1 {
                self.out_of_order += 1;
                self.note(format!("sequence {seq} after {last}"));
            }
        }
        self.first_sequence.get_or_insert(seq);
        self.last_sequence = Some(seq);
        self.consumed += 1;
        if let Err(e) = payload::verify(seq as u64, bytes) {
            self.payload_errors += 1;
            self.note(e.to_string());
        }
    }

    fn note(&mut self, e: String) {
        if self.errors.len() < 10 {
            self.errors.push(e);
        }
    }
}

/// Consumes until `events` events were read, or the producer closed the ring.
/// `on_progress(report)` runs after each read call. Flushes the consumer's counters before it
/// returns (SPEC.md R12.6.c).
pub fn consume(
    c: &mut RawConsumer,
    events: u64,
    mode: ReadMode,
    mut on_progress: impl FnMut(&ConsumeReport),
) -> Result<ConsumeReport> {
    let mut r = ConsumeReport::default();
    let mut buf = vec![0u8; c.element_size()];
    while r.consumed < events {
        let step = match mode {
            ReadMode::Copy => c.read_into(&mut buf).map(|seq| r.record(seq, &buf)),
            ReadMode::Lease => c.lease().map(|lease| {
                let seq = lease.sequence();
                r.record(seq, &lease);
            }),
            ReadMode::Batch => {
                let max = (events - r.consumed) as usize;
                c.wait_batch(max, |seq, bytes, _| r.record(seq, bytes))
                    .map(drop)
            }
        };
        match step {
            Ok(()) => on_progress(&r),
            Err(Error::Closed { final_sequence }) => {
                r.closed_at = Some(final_sequence);
                break;
            }
            Err(Error::ProducerGone { last_published }) => {
                r.producer_gone_at.get_or_insert(last_published);
                // Until a producer takes the ring over; the consumer looks again every
                // liveness check (this pause only paces the polling).
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    }
    c.flush();
    Ok(r)
}

/// How long a [`consume_until`] loop has had nothing to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Idle {
    /// Since the first empty poll after the last event read (or the start).
    pub idle_for: Duration,
    /// Since the producer was first seen dead with everything consumed; `None` while it lives.
    pub gone_for: Option<Duration>,
}

/// [`consume`] that can stop early: `stop(None)` is asked every 1024 reads while events flow,
/// and `stop(Some(idle))` each time nothing is ready, before waiting up to 10 ms (per the
/// consumer's wait strategy) for more. Reads never block longer than that, and the busy path
/// adds no clock read or syscall per event. Returns the report and whether `stop` ended it.
/// Flushes the consumer's counters before it returns (SPEC.md R12.6.c).
pub fn consume_until(
    c: &mut RawConsumer,
    events: u64,
    mode: ReadMode,
    on_progress: impl FnMut(&ConsumeReport),
    stop: impl FnMut(Option<Idle>) -> bool,
) -> Result<(ConsumeReport, bool)> {
    let outcome = consume_until_unflushed(c, events, mode, on_progress, stop);
    c.flush();
    outcome
}

fn consume_until_unflushed(
    c: &mut RawConsumer,
    events: u64,
    mode: ReadMode,
    mut on_progress: impl FnMut(&ConsumeReport),
    mut stop: impl FnMut(Option<Idle>) -> bool,
) -> Result<(ConsumeReport, bool)> {
    let mut r = ConsumeReport::default();
    let mut buf = vec![0u8; c.element_size()];
    let mut idle_since = Instant::now();
    // Whether events were read since `idle_since` was last set: the clock is read when the
    // consumer finds nothing, never per event.
    let mut read_since = false;
    let mut gone_since: Option<Instant> = None;
    let mut reads = 0u32;
    while r.consumed < events {
        let step = match mode {
            ReadMode::Copy => c
                .try_read_into(&mut buf)
                .map(|s| s.map(|seq| r.record(seq, &buf)).is_some()),
            ReadMode::Lease => c.try_lease().map(|l| {
                l.map(|lease| {
                    let seq = lease.sequence();
                    r.record(seq, &lease);
                })
                .is_some()
            }),
            ReadMode::Batch => {
                let max = (events - r.consumed).min(usize::MAX as u64) as usize;
                c.poll_batch(max, |seq, bytes, _| r.record(seq, bytes))
                    .map(|n| n > 0)
            }
        };
        let step = match step {
            Ok(true) => {
                on_progress(&r);
                read_since = true;
                gone_since = None;
                reads = reads.wrapping_add(1);
                if reads % 1024 == 0 && stop(None) {
                    return Ok((r, true));
                }
                continue;
            }
            Ok(false) => {
                if std::mem::take(&mut read_since) {
                    idle_since = Instant::now();
                }
                let idle = Idle {
                    idle_for: idle_since.elapsed(),
                    gone_for: gone_since.map(|g| g.elapsed()),
                };
                if stop(Some(idle)) {
                    return Ok((r, true));
                }
                c.wait_for_event(Duration::from_millis(10)).map(drop)
            }
            Err(e) => Err(e),
        };
        match step {
            Ok(()) => {}
            Err(Error::Closed { final_sequence }) => {
                r.closed_at = Some(final_sequence);
                break;
            }
            Err(Error::ProducerGone { last_published }) => {
                r.producer_gone_at.get_or_insert(last_published);
                if std::mem::take(&mut read_since) {
                    idle_since = Instant::now();
                }
                let since = *gone_since.get_or_insert_with(Instant::now);
                if stop(Some(Idle {
                    idle_for: idle_since.elapsed(),
                    gone_for: Some(since.elapsed()),
                })) {
                    return Ok((r, true));
                }
                // Until a producer takes the ring over (paces the polling only).
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    }
    Ok((r, false))
}
