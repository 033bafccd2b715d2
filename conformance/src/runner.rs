//! Planning the matrix (case x producer implementation x consumer implementation x backend),
//! running each instance in isolation, and classifying outcomes against expected failures.

use crate::cases::{Case, Roles};
use crate::ctx::{CaseError, Ctx};
use crate::driver::{Implementation, Testee};
use crate::expected::{self, glob_match, Expected};
use crate::protocol::Backend;
use crate::schema::Schema;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An implementation after its hello: what it calls itself and what it offers.
#[derive(Debug, Clone)]
pub struct Probed {
    pub imp: Implementation,
    pub capabilities: Vec<String>,
}

impl Probed {
    fn has(&self, c: &str) -> bool {
        self.capabilities.iter().any(|x| x == c)
    }
}

/// Starts each implementation once to learn its name and capabilities.
pub fn probe(imp: &Implementation, schema: &Arc<Schema>) -> Result<Probed, String> {
    let t = Testee::spawn(imp, "probe", Arc::clone(schema), Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    let probed = Probed {
        imp: Implementation {
            name: t.implementation.clone(),
            ..imp.clone()
        },
        capabilities: t.capabilities.clone(),
    };
    let _ = t.exit(Instant::now() + Duration::from_secs(5));
    Ok(probed)
}

/// One cell of the matrix.
#[derive(Debug, Clone)]
pub struct Instance {
    pub case: usize,
    pub producer: usize,
    pub consumer: usize,
    pub backend: Backend,
    /// `case.id[producer>consumer,backend]` (single-role cases: `case.id[impl,backend]`).
    pub key: String,
    /// Why it will not run, if it will not.
    pub skip: Option<String>,
}

/// Every instance of every case matching `case_glob`.
pub fn plan(
    cases: &[Case],
    impls: &[Probed],
    backends: &[Backend],
    case_glob: Option<&str>,
) -> Vec<Instance> {
    let mut out = Vec::new();
    for (ci, case) in cases.iter().enumerate() {
        if case_glob.is_some_and(|g| !glob_match(g, case.id)) {
            continue;
        }
        let pairs: Vec<(usize, usize)> = match case.roles {
            Roles::Pair => (0..impls.len())
                .flat_map(|p| (0..impls.len()).map(move |c| (p, c)))
                .collect(),
            Roles::Producer | Roles::Consumer => (0..impls.len()).map(|i| (i, i)).collect(),
        };
        for (p, c) in pairs {
            for &backend in backends {
                let (pi, co) = (&impls[p], &impls[c]);
                let key = match case.roles {
                    Roles::Pair => format!(
                        "{}[{}>{},{}]",
                        case.id,
                        pi.imp.name,
                        co.imp.name,
                        backend.as_str()
                    ),
                    _ => format!("{}[{},{}]", case.id, pi.imp.name, backend.as_str()),
                };
                let mut missing = Vec::new();
                let (uses_p, uses_c) = match case.roles {
                    Roles::Pair => (true, true),
                    Roles::Producer => (true, false),
                    Roles::Consumer => (false, true),
                };
                if uses_p {
                    missing.extend(
                        std::iter::once(backend.as_str())
                            .chain(["producer"])
                            .chain(case.producer_needs.iter().copied())
                            .filter(|n| !pi.has(n))
                            .map(|n| format!("{} lacks {n}", pi.imp.name)),
                    );
                }
                if uses_c {
                    missing.extend(
                        std::iter::once(backend.as_str())
                            .chain(["consumer"])
                            .chain(case.consumer_needs.iter().copied())
                            .filter(|n| !co.has(n))
                            .map(|n| format!("{} lacks {n}", co.imp.name)),
                    );
                }
                let skip = (!missing.is_empty()).then(|| missing.join(", "));
                out.push(Instance {
                    case: ci,
                    producer: p,
                    consumer: c,
                    backend,
                    key,
                    skip,
                });
            }
        }
    }
    out
}

/// How an instance ended, after expected failures are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Error,
    Timeout,
    Skipped,
    ExpectedFailure,
    UnexpectedPass,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Timeout => "timeout",
            Status::Skipped => "skipped",
            Status::ExpectedFailure => "expected-failure",
            Status::UnexpectedPass => "unexpected-pass",
        }
    }

    /// Whether this outcome makes the run fail.
    pub fn is_bad(self) -> bool {
        matches!(
            self,
            Status::Fail | Status::Error | Status::Timeout | Status::UnexpectedPass
        )
    }
}

/// The record of one instance.
#[derive(Debug, Clone)]
pub struct InstanceResult {
    pub key: String,
    pub case_id: &'static str,
    /// The SPEC.md rule ids the case checks.
    pub rules: &'static [&'static str],
    pub producer: String,
    pub consumer: String,
    pub backend: Backend,
    pub status: Status,
    /// Evidence for failures, the reason for skips and expected failures.
    pub detail: String,
    pub notes: Vec<String>,
    pub duration: Duration,
}

static RING_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Runs one instance: fresh ring name and root, the case, then cleanup (leftovers removed so
/// a failure never poisons the next instance).
pub fn run_instance(
    case: &Case,
    inst: &Instance,
    impls: &[Probed],
    schema: &Arc<Schema>,
    expected: &[Vec<Expected>],
) -> InstanceResult {
    let started = Instant::now();
    let (status, detail, notes) = match &inst.skip {
        Some(why) => (Status::Skipped, why.clone(), Vec::new()),
        None => {
            let n = RING_COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!("rpc{}x{n}", std::process::id());
            let root =
                std::env::temp_dir().join(format!("ringproof-conform-{}-{n}", std::process::id()));
            let _ = std::fs::create_dir_all(&root);
            let mut ctx = Ctx::new(
                impls[inst.producer].imp.clone(),
                impls[inst.consumer].imp.clone(),
                inst.backend,
                name,
                root.clone(),
                case.timeout,
                Arc::clone(schema),
            );
            let result = (case.run)(&mut ctx);
            let transcripts: String = ctx.testees.iter().map(Testee::transcript).collect();
            for t in ctx.testees.iter_mut() {
                t.kill();
            }
            ctx.testees.clear();
            ctx.remove_leftovers();
            let _ = std::fs::remove_dir_all(&root);
            let (status, detail) = match result {
                Ok(()) => (Status::Pass, String::new()),
                Err(CaseError::Fail(e)) => (
                    Status::Fail,
                    format!("{e}\n{}\n{transcripts}", rules_line(case)),
                ),
                Err(CaseError::Error(e)) => (
                    Status::Error,
                    format!("{e}\n{}\n{transcripts}", rules_line(case)),
                ),
                Err(CaseError::Timeout(e)) => (
                    Status::Timeout,
                    format!("{e}\n{}\n{transcripts}", rules_line(case)),
                ),
                Err(CaseError::Skip(e)) => (Status::Skipped, e),
            };
            (status, detail, ctx.notes)
        }
    };
    let listed = [inst.producer, inst.consumer]
        .iter()
        .flat_map(|&i| expected.get(i).into_iter().flatten())
        .find(|e| glob_match(&e.pattern, &inst.key));
    let (status, detail) = match (status, listed) {
        (Status::Pass, Some(e)) => (
            Status::UnexpectedPass,
            format!(
                "listed as expected to fail ({}) but passed: remove the entry `{}`",
                e.reason, e.pattern
            ),
        ),
        (Status::Fail | Status::Error | Status::Timeout, Some(e)) => (
            Status::ExpectedFailure,
            format!("{} [{}]", e.reason, first_line(&detail)),
        ),
        (s, _) => (s, detail),
    };
    InstanceResult {
        key: inst.key.clone(),
        case_id: case.id,
        rules: case.rules,
        producer: impls[inst.producer].imp.name.clone(),
        consumer: impls[inst.consumer].imp.name.clone(),
        backend: inst.backend,
        status,
        detail,
        notes,
        duration: started.elapsed(),
    }
}

/// What a failing instance was checking, for the report: the SPEC.md rule ids and the rule.
fn rules_line(case: &Case) -> String {
    format!(
        "rule ({}, SPEC.md {}): {}",
        case.rules.join(" "),
        case.spec,
        case.rule
    )
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// Loads the expected-failure list of every implementation.
pub fn load_expected(dir: &Path, impls: &[Probed]) -> Result<Vec<Vec<Expected>>, String> {
    impls
        .iter()
        .map(|p| expected::load(dir, &p.imp.name))
        .collect()
}

/// The directory with the committed expected-failure lists of this repository.
pub fn default_expected_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("expected")
}
