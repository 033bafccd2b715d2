//! The catalogue's mutation score: every planted defect of the reference implementation
//! (`ringproof_conformance::mutants::MUTANTS`) must be killed by its killer cases, with the
//! mutant in both roles, on both backends. Built only with `--features mutants`
//! (`ci/test` runs `cargo test -p ringproof-conformance --features mutants --test mutants`).
//!
//! The reference testee is this test binary itself (`--ringproof-testee`), so it carries the
//! mutation points; `RINGPROOF_MUTANT` picks the one switched on in each testee process.

use libtest_mimic::{Arguments, Failed, Trial};
use ringproof_conformance::cases::catalogue;
use ringproof_conformance::mutants::{judge, MUTANTS, SURVIVORS};
use ringproof_conformance::protocol::Backend;
use ringproof_conformance::schema::Schema;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

fn main() {
    ringproof_conformance::testee_ref::serve_if_asked();
    let mut args = Arguments::from_args();
    args.test_threads.get_or_insert(1);
    let reference = ringproof_conformance::testee_ref::this_executable();
    let schema = Arc::new(Schema::load());
    let cases = Arc::new(catalogue());
    let mut trials = vec![Trial::test("mutants.catalogue-consistent", consistent)];
    for m in MUTANTS {
        let (reference, schema, cases) =
            (reference.clone(), Arc::clone(&schema), Arc::clone(&cases));
        trials.push(Trial::test(format!("mutant.{}", m.name), move || {
            let survivor = SURVIVORS.iter().find(|(n, _)| *n == m.name);
            let v = judge(
                m,
                &reference,
                &cases,
                &schema,
                &[Backend::Shm, Backend::Mmap],
                false,
            )
            .map_err(Failed::from)?;
            match (&v.killed_by, survivor) {
                (Some(k), None) => {
                    println!(
                        "{} killed by {} ({}): {}",
                        m.name,
                        k.key,
                        k.status.as_str(),
                        k.detail.lines().next().unwrap_or("")
                    );
                    Ok(())
                }
                (None, Some(_)) => Ok(()),
                (Some(k), Some(_)) => Err(format!(
                    "{} is listed as a survivor but {} killed it ({}): remove it from SURVIVORS",
                    m.name,
                    k.key,
                    k.status.as_str()
                )
                .into()),
                (None, None) => {
                    let ran: Vec<String> = v
                        .ran
                        .iter()
                        .map(|r| format!("  {} {}", r.key, r.status.as_str()))
                        .collect();
                    Err(format!(
                        "mutant {} ({}) survived its killers {:?}:\n{}",
                        m.name,
                        m.what,
                        m.killers,
                        ran.join("\n")
                    )
                    .into())
                }
            }
        }));
    }
    libtest_mimic::run(&args, trials).exit();
}

/// The catalogue and the mutation points agree: unique names, at least 30, every name planted
/// exactly where the ring crate says `mutant!("name")`, every planted name catalogued, every
/// killer glob matching a case.
fn consistent() -> Result<(), Failed> {
    let mut names = HashSet::new();
    for m in MUTANTS {
        if !names.insert(m.name) {
            return Err(format!("mutant {} is catalogued twice", m.name).into());
        }
    }
    let planted = planted_names(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../ring/src"));
    let catalogued: HashSet<String> = names.iter().map(|s| s.to_string()).collect();
    let unplanted: Vec<_> = catalogued.difference(&planted).collect();
    let uncatalogued: Vec<_> = planted.difference(&catalogued).collect();
    if !unplanted.is_empty() || !uncatalogued.is_empty() {
        return Err(format!("catalogued but not planted: {unplanted:?}; planted but not catalogued: {uncatalogued:?}").into());
    }
    let cases = catalogue();
    for m in MUTANTS {
        for k in m.killers {
            if !cases
                .iter()
                .any(|c| ringproof_conformance::expected::glob_match(k, c.id))
            {
                return Err(format!("mutant {}: killer {k} matches no case", m.name).into());
            }
        }
    }
    for (n, _) in SURVIVORS {
        if !names.contains(n) {
            return Err(format!("SURVIVORS lists {n}, which is not a mutant").into());
        }
    }
    const MIN: usize = 30;
    if MUTANTS.len() < MIN {
        return Err(format!(
            "only {} mutants catalogued; the suite's score needs at least {MIN}",
            MUTANTS.len()
        )
        .into());
    }
    Ok(())
}

/// Every `mutant!("name")` literal in the ring crate's sources.
fn planted_names(dir: &Path) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("ring sources").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).expect("source");
                for part in text.split("mutant!(\"").skip(1) {
                    if let Some(end) = part.find('"') {
                        out.insert(part[..end].to_string());
                    }
                }
            }
        }
    }
    out.retain(|n| n != "name" && !n.starts_with('<'));
    out
}
