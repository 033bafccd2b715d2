//! A ring as the tests address it: its `--ring NAME [--dir DIR]` arguments, the library's view
//! of the same name, the paths of its segments, and observing it from outside (cursors,
//! registry, header); plus the in-test consumer (a gate the test controls).

use super::{check_alive, shm_path, Backend, Proc, HARD_TIMEOUT};
use ringproof::kit::cursor::Cursor;
use ringproof::kit::registry::Registry;
use ringproof::{ConsumerBuilder, RawConsumer, RingName};
use std::path::PathBuf;
use std::time::Instant;

/// A ring's name and backend, as the tests address it.
#[derive(Clone, Debug)]
pub struct Ring {
    pub name: String,
    pub backend: Backend,
    pub dir: PathBuf,
}

impl Ring {
    /// `--ring NAME [--dir DIR]`.
    pub fn args(&self) -> Vec<String> {
        let mut v = vec!["--ring".to_owned(), self.name.clone()];
        if self.backend == Backend::Dir {
            v.push("--dir".into());
            v.push(self.dir.display().to_string());
        }
        v
    }

    /// The library's view of the same name.
    pub fn ring_name(&self) -> RingName {
        match self.backend {
            Backend::Shm => RingName::shm(&self.name).expect("valid name"),
            Backend::Dir => RingName::dir(&self.dir, &self.name).expect("valid name"),
        }
    }

    /// Filesystem path of the ring segment (shm objects live in /dev/shm on Linux).
    pub fn ring_path(&self) -> PathBuf {
        match self.backend {
            Backend::Shm => shm_path(&self.name),
            Backend::Dir => self.dir.join(format!("{}.ring", self.name)),
        }
    }

    /// Filesystem path of consumer `id`'s cursor.
    pub fn consumer_cursor_path(&self, id: &str) -> PathBuf {
        match self.backend {
            Backend::Shm => shm_path(format!("{}_{id}_seq", self.name)),
            Backend::Dir => self
                .dir
                .join(format!("{}.consumers", self.name))
                .join(format!("{id}.cursor")),
        }
    }

    /// Paths of the ring's segments other than the ring itself (producer cursor, registry).
    pub fn other_paths(&self) -> Vec<PathBuf> {
        match self.backend {
            Backend::Shm => vec![
                shm_path(format!("{}_producer_seq", self.name)),
                shm_path(format!("{}_registry", self.name)),
            ],
            Backend::Dir => vec![
                self.dir.join(format!("{}.producer.cursor", self.name)),
                self.dir.join(format!("{}.registry", self.name)),
            ],
        }
    }

    /// The producer cursor, once it exists and is valid.
    pub fn open_producer_cursor(&self) -> Option<Cursor> {
        Cursor::open(&self.ring_name().producer_cursor(), "producer cursor").ok()
    }

    /// Consumer `id`'s cursor, once it exists and is valid.
    pub fn open_consumer_cursor(&self, id: &str) -> Option<Cursor> {
        Cursor::open(&self.ring_name().consumer_cursor(id), "consumer cursor").ok()
    }

    /// Ids of the consumers registered now (empty if there is no registry).
    pub fn active_ids(&self) -> Vec<String> {
        match Registry::open(&self.ring_name().registry()) {
            Ok(r) => r.active().into_iter().map(|p| p.id).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Whether the ring segment exists with a valid LayoutV1 ring header.
    pub fn ring_is_valid(&self) -> bool {
        use ringproof::kit::layout::{Expect, SegmentKind};
        ringproof::kit::segment::Segment::open(
            &self.ring_name().ring(),
            "ring",
            &Expect::kind(SegmentKind::Ring),
        )
        .is_ok()
    }

    /// A snapshot of the valid ring segment's bytes.
    pub fn ring_bytes(&self) -> Vec<u8> {
        use ringproof::kit::layout::{Expect, SegmentKind};
        ringproof::kit::segment::Segment::open(
            &self.ring_name().ring(),
            "ring",
            &Expect::kind(SegmentKind::Ring),
        )
        .expect("open ring")
        .snapshot()
    }

    /// Spawns `ringproof produce` on this ring with `extra` arguments.
    pub fn produce(&self, extra: &[&str]) -> Proc {
        let mut args = vec!["produce".to_owned()];
        args.extend(self.args());
        args.extend(extra.iter().map(|s| s.to_string()));
        Proc::spawn(&format!("producer[{}]", self.name), &args)
    }

    /// Spawns `ringproof consume --id ID` on this ring with `extra` arguments.
    pub fn consume(&self, id: &str, extra: &[&str]) -> Proc {
        let mut args = vec!["consume".to_owned()];
        args.extend(self.args());
        args.extend(["--id".to_owned(), id.to_owned()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        Proc::spawn(&format!("consumer {id}[{}]", self.name), &args)
    }

    /// Attaches a consumer inside the test process (a gate the test controls), retrying until
    /// the ring exists.
    pub fn attach_gate(&self, id: &str, size: usize) -> RawConsumer {
        ConsumerBuilder::new(self.ring_name(), id)
            .attach_timeout(HARD_TIMEOUT)
            .attach_raw(size)
            .unwrap_or_else(|e| panic!("gate {id} failed to attach to {}: {e}", self.name))
    }
}

/// Consumes exactly `n` events through an in-test consumer, checking order and payload, with a
/// hard deadline. `procs` are checked for an early death (which would leave us waiting).
pub fn gate_consume(c: &mut RawConsumer, n: u64, procs: &mut [&mut Proc]) {
    let deadline = Instant::now() + HARD_TIMEOUT;
    let mut buf = vec![0u8; c.element_size()];
    let mut got = 0;
    let mut idle = 0u32;
    while got < n {
        match c.try_read_into(&mut buf) {
            Ok(Some(seq)) => {
                idle = 0;
                ringproof::kit::payload::verify(seq as u64, &buf)
                    .unwrap_or_else(|e| panic!("gate {}: bad payload at {seq}: {e}", c.id()));
                got += 1;
            }
            Ok(None) => {
                idle += 1;
                if idle & 0xff == 0 {
                    assert!(
                        Instant::now() < deadline,
                        "gate {} got {got} of {n} events within {HARD_TIMEOUT:?}",
                        c.id()
                    );
                    check_alive(procs);
                }
                std::thread::yield_now();
            }
            Err(e) => panic!("gate {} failed after {got} of {n} events: {e}", c.id()),
        }
    }
}
