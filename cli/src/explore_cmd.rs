//! `ringproof conform --explore N` and `--replay FILE`: model-based exploration of random
//! lifecycles against any implementation (`ringproof_conformance::explore`).

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ringproof_conformance::driver::Implementation;
use ringproof_conformance::explore::{self, Config, Replay, Side};
use ringproof_conformance::protocol::Backend;
use ringproof_conformance::runner;
use ringproof_conformance::schema::Schema;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct ExploreArgs {
    /// Explore N random lifecycles (publish, consume, join late, leave, kill, restart, second
    /// producer, duplicate id, close) against the model instead of running the catalogue; a
    /// failure is shrunk to a minimal lifecycle and saved for --replay. `--impl` once, or twice
    /// (producer implementation, then consumer implementation).
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "1000")]
    explore: Option<u32>,
    /// The exploration's seed: lifecycle i of seed S is the same on every run.
    #[arg(long, value_name = "S", default_value_t = explore::DEFAULT_SEED)]
    seed: u64,
    /// Run the lifecycle saved in FILE (by a failed --explore) again and report it.
    #[arg(long, value_name = "FILE", conflicts_with = "explore")]
    replay: Option<PathBuf>,
    /// Where a failed --explore saves its minimal lifecycle (default: ./ringproof-explore-failure.json).
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
}

impl ExploreArgs {
    pub fn active(&self) -> bool {
        self.explore.is_some() || self.replay.is_some()
    }
}

fn side(spec: &str, schema: &Arc<Schema>, expected_dir: &Path) -> Result<Side, String> {
    let p = Implementation::resolve(spec).and_then(|imp| runner::probe(&imp, schema))?;
    let expected = explore::load_expected(expected_dir, &p.imp.name)?;
    Ok(Side {
        imp: p.imp,
        capabilities: p.capabilities,
        expected,
    })
}

pub fn run(
    impls: &[String],
    backend: Option<&str>,
    expected_dir: Option<PathBuf>,
    a: &ExploreArgs,
) -> ExitCode {
    match run_inner(impls, backend, expected_dir, a) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ringproof conform: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(
    impls: &[String],
    backend: Option<&str>,
    expected_dir: Option<PathBuf>,
    a: &ExploreArgs,
) -> Result<ExitCode, String> {
    let schema = Arc::new(Schema::load());
    let expected_dir = expected_dir.unwrap_or_else(runner::default_expected_dir);
    let replay = a.replay.as_deref().map(Replay::load).transpose()?;
    let specs: Vec<String> = match (impls.len(), &replay) {
        (0, Some(r)) => vec![r.producer.clone(), r.consumer.clone()],
        (0, None) => vec!["ringproof".into()],
        (1 | 2, _) => impls.to_vec(),
        _ => return Err("--explore and --replay take --impl once (both roles) or twice (producer, then consumer)".into()),
    };
    let producer = side(&specs[0], &schema, &expected_dir)?;
    let consumer = side(specs.last().expect("one or two"), &schema, &expected_dir)?;
    for (s, role) in [(&producer, "producer"), (&consumer, "consumer")] {
        if !s.capabilities.iter().any(|c| c == role) {
            return Err(format!("{} does not offer the {role} role", s.imp.name));
        }
    }
    let pair = format!("{} > {}", producer.imp.name, consumer.imp.name);

    if let Some(r) = replay {
        let lc = r.lifecycle();
        println!(
            "replay: {} steps on {} ({pair}), saved from lifecycle {} of seed {}",
            lc.ops.len(),
            lc.backend.as_str(),
            r.index,
            r.seed
        );
        let o = explore::run_lifecycle(&producer, &consumer, &schema, &lc);
        return Ok(match o.result {
            Ok(()) => {
                println!(
                    "replay: passed (the saved failure was rule {}: no longer reproduced)",
                    r.failure.rule
                );
                ExitCode::SUCCESS
            }
            Err(m) => {
                let same = if m.rule == r.failure.rule && m.step == r.failure.step {
                    "the saved failure, reproduced"
                } else {
                    "a different failure than the saved one"
                };
                let step = r
                    .failure
                    .step
                    .map_or("the clean end".to_owned(), |i| format!("step {i}"));
                println!(
                    "replay: FAILED ({same}; saved: rule {} at {step})",
                    r.failure.rule
                );
                print!("{}", explore::render(&lc, &m));
                ExitCode::from(1)
            }
        });
    }

    let backends: Vec<Backend> = match backend {
        Some("shm") => vec![Backend::Shm],
        Some("mmap") => vec![Backend::Mmap],
        _ => vec![Backend::Shm, Backend::Mmap],
    }
    .into_iter()
    .filter(|b| {
        [&producer, &consumer]
            .iter()
            .all(|s| s.capabilities.iter().any(|c| c == b.as_str()))
    })
    .collect();
    if backends.is_empty() {
        return Err(format!("{pair}: no backend both offer"));
    }
    let cfg = Config {
        lifecycles: a.explore.unwrap_or(explore::DEFAULT_LIFECYCLES),
        seed: a.seed,
        backends,
        ..Config::default()
    };
    let caps = explore::Caps::of(&producer, &consumer);
    println!(
        "explore: {pair}, {} lifecycles of seed {} ({}); steps for: {caps}",
        cfg.lifecycles,
        cfg.seed,
        cfg.backends
            .iter()
            .map(|b| b.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let bar = ProgressBar::new(cfg.lifecycles as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed}").expect("valid template"),
    );
    let s = explore::explore(&producer, &consumer, &schema, &cfg, |done, _| {
        bar.set_position(done as u64)
    });
    bar.finish_and_clear();
    println!("steps carried out:\n{}", explore::coverage_lines(&s));
    for (pattern, n) in &s.expected_hits {
        let reason = s
            .expected_unseen
            .iter()
            .chain(producer.expected.iter())
            .chain(consumer.expected.iter())
            .find(|e| &e.pattern == pattern)
            .map_or("", |e| e.reason.as_str());
        println!("expected mismatch x{n}: {pattern}  # {reason}");
    }
    if s.found.is_none() {
        for e in &s.expected_unseen {
            println!(
                "note: listed mismatch not seen in this run: {}  # {}",
                e.pattern, e.reason
            );
        }
    }
    let Some(f) = &s.found else {
        println!(
            "explore: {} lifecycles passed, {} ended in an expected mismatch, in {:.1?}",
            s.passed, s.ended_expected, s.elapsed
        );
        return Ok(ExitCode::SUCCESS);
    };
    println!(
        "explore: FAILED: lifecycle {} of seed {} broke {} after {} passed; shrunk from {} to {} steps in {} runs ({:.1?} in all)\n",
        f.index,
        cfg.seed,
        f.key,
        s.passed,
        f.original_len,
        f.lifecycle.ops.len(),
        f.shrink_runs,
        s.elapsed
    );
    print!("{}", explore::render(&f.lifecycle, &f.mismatch));
    let path = a
        .save
        .clone()
        .unwrap_or_else(|| PathBuf::from("ringproof-explore-failure.json"));
    Replay::of(f, &specs[0], specs.last().expect("one or two"), cfg.seed).save(&path)?;
    let impl_args: String = if specs.len() == 2 {
        format!("--impl {} --impl {}", specs[0], specs[1])
    } else {
        format!("--impl {}", specs[0])
    };
    println!("\nsaved the minimal lifecycle to {}; run it again with:\n  ringproof conform {impl_args} --replay {}", path.display(), path.display());
    Ok(ExitCode::from(1))
}
