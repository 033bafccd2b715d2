//! Building blocks for testees written in Rust: message output, the progress cadence and the
//! `events` reporter ([`crate::serve`] is the loop that uses them). Other languages implement
//! the same in a few lines (IMPLEMENTERS.md).

use crate::protocol::Message;
use ringproof::kit::payload::{fnv1a64_update, FNV64_OFFSET};
use std::io::Write;
use std::time::{Duration, Instant};

/// `progress` and `events` go out at least every this many events (PROTOCOL.md, "Progress").
pub const PROGRESS_EVERY: u64 = 65_536;
/// ... and at least this often.
pub const PROGRESS_MAX_AGE: Duration = Duration::from_millis(50);

/// Writes messages to the harness, one JSON line each, and remembers a failed write (the
/// harness is gone: [`crate::serve::serve`] then ends as at EOF).
pub struct TesteeIo<W: Write> {
    out: W,
    broken: bool,
}

impl<W: Write> TesteeIo<W> {
    pub fn new(out: W) -> Self {
        Self { out, broken: false }
    }

    /// Writes one message and flushes.
    pub fn send(&mut self, m: &Message) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(m).expect("messages serialise");
        line.push(b'\n');
        let sent = self.out.write_all(&line).and_then(|()| self.out.flush());
        self.broken |= sent.is_err();
        sent
    }

    /// Whether a write has failed.
    pub fn is_broken(&self) -> bool {
        self.broken
    }
}

/// Coalesces delivered events into `events` messages: contiguous runs with an FNV-1a 64 digest
/// of their bytes, flushed every [`PROGRESS_EVERY`] events or [`PROGRESS_MAX_AGE`] and
/// whenever the run breaks.
#[derive(Clone)]
pub struct EventsReporter {
    id: u64,
    run: Option<(i64, i64, u64)>,
    pending: u64,
    last_flush: Instant,
}

impl EventsReporter {
    pub fn new(id: u64) -> Self {
        Self {
            id,
            run: None,
            pending: 0,
            last_flush: Instant::now(),
        }
    }

    /// Records one delivered event; returns a message to send if a run is complete.
    pub fn record(&mut self, seq: i64, bytes: &[u8]) -> Option<Message> {
        let mut out = None;
        if let Some((_, last, _)) = self.run {
            if seq != last + 1
                || self.pending >= PROGRESS_EVERY
                || self.last_flush.elapsed() >= PROGRESS_MAX_AGE
            {
                out = self.flush();
            }
        }
        let (first, _, h) = self.run.unwrap_or((seq, seq, FNV64_OFFSET));
        self.run = Some((first, seq, fnv1a64_update(h, bytes)));
        self.pending += 1;
        out
    }

    /// The pending run, if any, as a message.
    pub fn flush(&mut self) -> Option<Message> {
        let (first, last, h) = self.run.take()?;
        self.pending = 0;
        self.last_flush = Instant::now();
        Some(Message::Events {
            id: self.id,
            first,
            last,
            digest: format!("{h:016x}"),
        })
    }
}
