//! Building blocks for testees written in Rust: line I/O and the `events` reporter.
//! Other languages implement the same in a few lines (IMPLEMENTERS.md).

use crate::protocol::{Command, Message};
use ringproof::kit::payload::{fnv1a64_update, FNV64_OFFSET};
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

/// Reads commands from stdin and writes messages to stdout, one JSON line each.
pub struct TesteeIo<W: Write> {
    out: W,
}

impl<W: Write> TesteeIo<W> {
    pub fn new(out: W) -> Self {
        Self { out }
    }

    /// Writes one message and flushes.
    pub fn send(&mut self, m: &Message) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(m).expect("messages serialise");
        line.push(b'\n');
        self.out.write_all(&line)?;
        self.out.flush()
    }
}

/// Reads the next command; `None` at EOF. A line that does not parse is returned as `Err`
/// with the parse message.
pub fn read_command(input: &mut impl BufRead) -> Option<Result<Command, String>> {
    let mut line = String::new();
    match input.read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(serde_json::from_str(&line).map_err(|e| format!("{e}: {}", line.trim_end()))),
    }
}

/// Coalesces delivered events into `events` messages: contiguous runs with an FNV-1a 64 digest
/// of their bytes, flushed every 65536 events or 50 ms and whenever the run breaks.
#[derive(Clone)]
pub struct EventsReporter {
    id: u64,
    run: Option<(i64, i64, u64)>,
    pending: u64,
    last_flush: Instant,
}

impl EventsReporter {
    pub const MAX_EVENTS: u64 = 65_536;
    pub const MAX_AGE: Duration = Duration::from_millis(50);

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
                || self.pending >= Self::MAX_EVENTS
                || self.last_flush.elapsed() >= Self::MAX_AGE
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
