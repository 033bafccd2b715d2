//! The testees of a run (`--impl NAME|PATH`): each started once for its hello, registered
//! under a unique short name, and the scenarios its `bench` modes join.

use ringproof_conformance::driver::{Implementation, Testee};
use ringproof_conformance::protocol::BenchMode;
use ringproof_conformance::schema::Schema;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A subject that runs through the protocol: which `--impl`, and which of its benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TesteeKind {
    /// Index into the registered testees (the order of `--impl`).
    pub slot: u8,
    pub mode: BenchMode,
    /// Stream: publish in batches of `--batch` (the `stream-batch` scenario).
    pub batch: bool,
}

/// A testee the run uses, as its hello described it.
#[derive(Debug, Clone)]
pub struct Registered {
    pub imp: Implementation,
    /// What `--impl` said.
    pub spec: String,
    /// `who` in tables: the hello's `impl` and `/testee` (made unique).
    pub who: &'static str,
    pub capabilities: Vec<String>,
    /// Subject names per (mode, batch).
    names: [&'static str; 4],
}

impl Registered {
    pub fn has(&self, c: &str) -> bool {
        self.capabilities.iter().any(|x| x == c)
    }

    /// Whether it can run `k`'s benchmark.
    pub fn offers(&self, mode: BenchMode, batch: bool) -> bool {
        self.has(mode.capability()) && (!batch || self.has("batch"))
    }

    /// The scenarios it joins.
    pub fn scenarios(&self) -> Vec<&'static str> {
        JOINS
            .iter()
            .filter(|(_, m, b)| self.offers(*m, *b))
            .map(|(s, _, _)| *s)
            .collect()
    }
}

/// Which scenario a testee benchmark joins: (scenario, mode, batched).
pub const JOINS: &[(&str, BenchMode, bool)] = &[
    ("stream-single", BenchMode::Stream, false),
    ("stream-batch", BenchMode::Stream, true),
    ("spmc-2", BenchMode::Stream, false),
    ("spmc-n", BenchMode::Stream, false),
    ("pingpong-spin", BenchMode::Pingpong, false),
    ("paced-spin", BenchMode::Paced, false),
];

static REGISTRY: OnceLock<Vec<Registered>> = OnceLock::new();

pub(crate) fn registry() -> &'static [Registered] {
    REGISTRY.get().map_or(&[], Vec::as_slice)
}

/// The testees of this run (empty before [`register`]).
pub fn registered() -> &'static [Registered] {
    registry()
}

pub(crate) fn entry(t: TesteeKind) -> Option<&'static Registered> {
    registry().get(t.slot as usize)
}

/// The subject's name in tables and plots.
pub fn name(t: TesteeKind) -> &'static str {
    let i = match (t.mode, t.batch) {
        (BenchMode::Stream, false) => 0,
        (BenchMode::Stream, true) => 1,
        (BenchMode::Pingpong, _) => 2,
        (BenchMode::Paced, _) => 3,
    };
    entry(t).map_or("testee", |r| r.names[i])
}

/// The short name ("disruptor-mp/testee").
pub fn who(t: TesteeKind) -> &'static str {
    entry(t).map_or("testee", |r| r.who)
}

pub(crate) fn schema() -> Arc<Schema> {
    static SCHEMA: OnceLock<Arc<Schema>> = OnceLock::new();
    Arc::clone(SCHEMA.get_or_init(|| Arc::new(Schema::load())))
}

/// Resolves and starts each `--impl` once (hello: name, version, capabilities) and registers
/// them for the run. A testee without the `bench` capability is refused.
pub fn register(specs: &[String]) -> Result<&'static [Registered], String> {
    let mut out: Vec<Registered> = Vec::new();
    for spec in specs {
        let imp = Implementation::resolve(spec)?;
        let t = Testee::spawn(&imp, "probe", schema(), Duration::from_secs(10))
            .map_err(|e| format!("--impl {spec}: {e}"))?;
        let (name, caps) = (t.implementation.clone(), t.capabilities.clone());
        let _ = t.exit(Instant::now() + Duration::from_secs(5));
        if !caps.iter().any(|c| c == "bench") {
            return Err(format!("--impl {spec}: testee {name} does not offer the `bench` capability (it offers {caps:?}; see conformance/PROTOCOL.md, \"Benchmarks\")"));
        }
        let mut who = format!("{name}/testee");
        let mut n = 2;
        while out.iter().any(|r| r.who == who) {
            who = format!("{name}#{n}/testee");
            n += 1;
        }
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let base = who.trim_end_matches("/testee").to_owned();
        let names = [
            leak(format!("{base} via testee, stream")),
            leak(format!("{base} via testee, stream batch")),
            leak(format!("{base} via testee, pingpong")),
            leak(format!("{base} via testee, paced")),
        ];
        out.push(Registered {
            imp: Implementation {
                name: name.clone(),
                ..imp
            },
            spec: spec.clone(),
            who: leak(who),
            capabilities: caps,
            names,
        });
    }
    if REGISTRY.set(out).is_err() {
        return Err("testees were registered twice in one process".into());
    }
    Ok(registry())
}
