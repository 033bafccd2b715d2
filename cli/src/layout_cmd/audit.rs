//! `layout audit`: every golden under a directory validated and compared with what the current
//! writer produces (drift), and files the catalogue does not know reported.

use super::fail;
use super::load::{load, load_as, Src};
use clap::Args;
use ringproof::kit::layout::describe::{describe, diff, Format};
use ringproof::kit::layout::golden::{self, Config, CountersEntry, Entry};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub(super) struct AuditArgs {
    /// The golden-layouts directory.
    #[arg(default_value = "golden-layouts")]
    dir: PathBuf,
    #[arg(long)]
    json: bool,
}

/// The audit's finding for one file.
struct Finding {
    path: String,
    status: &'static str,
    verdict: String,
    problems: Vec<String>,
    notes: Vec<String>,
}

/// Checks one catalogued golden: present, valid, of its configuration, equal to the builder.
fn audit_entry(dir: &Path, e: &Entry) -> Finding {
    let mut f = Finding {
        path: e.path(),
        status: "ok",
        verdict: String::new(),
        problems: vec![],
        notes: vec![],
    };
    let file = dir.join(e.path());
    if !file.exists() && e.skippable() {
        f.status = "skipped";
        f.notes.push(
            "not generated: disruptor-mp could not create a segment this large (see README)".into(),
        );
        return f;
    }
    let l = match load_as(&Src::File(file), true) {
        Ok(l) => l,
        Err(msg) => {
            f.problems.push(msg);
            f.status = "problem";
            return f;
        }
    };
    let d = describe(&l.bytes, l.len);
    f.verdict = d.verdict_line();
    match &d.verdict {
        Err(_) => f
            .problems
            .push(format!("rejected by the validator: {}", f.verdict)),
        Ok(g) => {
            let want = match e.config {
                Config::Ring {
                    element_size,
                    capacity,
                    alignment,
                } => (element_size, capacity, alignment.max(8)),
                Config::Cursor { .. } => (64, 1, 64),
                Config::Registry(init) => (128, init.slots as u64, 64),
            };
            if g.kind != e.kind() || (g.element_size, g.capacity, g.alignment) != want {
                f.problems
                    .push(format!("its header does not match its name: {}", f.verdict));
            }
        }
    }
    match e.image() {
        Err(err) => f
            .problems
            .push(format!("the builder cannot produce it: {err}")),
        Ok(img) if img.bytes() != l.bytes.as_slice() => {
            let changed: Vec<String> = diff(
                &describe(img.bytes(), img.geometry().total_len() as usize),
                &d,
            )
            .iter()
            .map(|x| format!("{}@{}", x.name, x.offset))
            .collect();
            let first = img
                .bytes()
                .iter()
                .zip(&l.bytes)
                .position(|(a, b)| a != b)
                .unwrap_or(img.bytes().len().min(l.bytes.len()));
            f.problems.push(format!(
                "drift: differs from the current writer from byte {first} ({} vs {} bytes; fields: {}); if the layout change is intended, follow SPEC.md §11 and regenerate (golden-layouts/README.md)",
                l.bytes.len(),
                img.bytes().len(),
                if changed.is_empty() { "none".into() } else { changed.join(", ") }
            ));
        }
        Ok(_) => {}
    }
    if let (Some(twin), Ok(mine)) = (e.counterpart(), e.image()) {
        if let Ok(theirs) = twin.image() {
            let differ: Vec<usize> = (0..mine.bytes().len().max(theirs.bytes().len()))
                .filter(|&i| mine.bytes().get(i) != theirs.bytes().get(i))
                .collect();
            f.notes.push(match (differ.first(), differ.last()) {
                (Some(a), Some(b)) => format!("differs from {} at bytes {a}..{} only (ringproof stamps the registry epoch in cell.epoch; disruptor-mp writes 0)", twin.path(), b + 1),
                _ => format!("byte-identical to {}", twin.path()),
            });
        }
    }
    if !f.problems.is_empty() {
        f.status = "problem";
    }
    f
}

/// Checks one counters golden: present, a valid counters segment, equal to the builder.
fn audit_counters(dir: &Path, e: &CountersEntry) -> Finding {
    let mut f = Finding {
        path: e.path(),
        status: "ok",
        verdict: String::new(),
        problems: vec![],
        notes: vec![],
    };
    let l = match load(&Src::File(dir.join(e.path()))) {
        Ok(l) => l,
        Err(msg) => {
            f.problems.push(msg);
            f.status = "problem";
            return f;
        }
    };
    let d = describe(&l.bytes, l.len);
    f.verdict = d.verdict_line();
    if !matches!(d.format, Format::Counters(_)) {
        f.problems.push(format!(
            "not a counters segment (no \"MYC0\" magic): {}",
            f.verdict
        ));
    } else if !d.is_ok() {
        f.problems
            .push(format!("rejected by the counters validator: {}", f.verdict));
    }
    match e.image() {
        Err(err) => f
            .problems
            .push(format!("the builder cannot produce it: {err}")),
        Ok(img) if img != l.bytes => {
            let changed: Vec<String> = diff(&describe(&img, img.len()), &d)
                .iter()
                .map(|x| format!("{}@{}", x.name, x.offset))
                .collect();
            let first = img
                .iter()
                .zip(&l.bytes)
                .position(|(a, b)| a != b)
                .unwrap_or(img.len().min(l.bytes.len()));
            f.problems.push(format!(
                "drift: differs from the current writer from byte {first} ({} vs {} bytes; fields: {}); if the layout change is intended, follow SPEC.md §11 and regenerate (golden-layouts/README.md)",
                l.bytes.len(),
                img.len(),
                if changed.is_empty() { "none".into() } else { changed.join(", ") }
            ));
        }
        Ok(_) => {}
    }
    if !f.problems.is_empty() {
        f.status = "problem";
    }
    f
}

/// Every file under `dir` (relative paths, `/`-separated), or why it cannot be listed.
fn list_files(dir: &Path) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let entries = std::fs::read_dir(dir.join(&rel))
            .map_err(|e| format!("{}: cannot list: {e}", dir.join(&rel).display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
            let path = rel.join(entry.file_name());
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(path);
            } else {
                out.push(path.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

pub(super) fn audit(a: AuditArgs) -> ExitCode {
    if !a.dir.is_dir() {
        return fail(a.json, format!("{}: not a directory (run from the repository root, or pass the golden-layouts directory)", a.dir.display()));
    }
    let files = match list_files(&a.dir) {
        Ok(f) => f,
        Err(msg) => return fail(a.json, msg),
    };
    let catalogue = golden::all();
    let counters = golden::counters();
    let mut findings: Vec<Finding> = catalogue.iter().map(|e| audit_entry(&a.dir, e)).collect();
    findings.extend(counters.iter().map(|e| audit_counters(&a.dir, e)));
    let known: Vec<String> = catalogue
        .iter()
        .map(Entry::path)
        .chain(counters.iter().map(CountersEntry::path))
        .collect();
    for path in files
        .iter()
        .filter(|p| !p.ends_with(".md") && !known.contains(p))
    {
        let verdict = load(&Src::File(a.dir.join(path)))
            .map(|l| describe(&l.bytes, l.len).verdict_line())
            .unwrap_or_else(|m| m);
        let problem = "not in the golden catalogue (ringproof::kit::layout::golden): remove it, or add it to the catalogue".to_owned();
        findings.push(Finding {
            path: path.clone(),
            status: "problem",
            verdict,
            problems: vec![problem],
            notes: vec![],
        });
    }
    let problems = findings.iter().filter(|f| f.status == "problem").count();
    let skipped = findings.iter().filter(|f| f.status == "skipped").count();
    if a.json {
        let rows: Vec<Value> = findings
            .iter()
            .map(|f| json!({ "path": f.path, "status": f.status, "verdict": f.verdict, "problems": f.problems, "notes": f.notes }))
            .collect();
        println!(
            "{}",
            json!({ "dir": a.dir.display().to_string(), "ok": problems == 0, "files": rows, "problems": problems, "skipped": skipped })
        );
    } else {
        for f in &findings {
            let tag = match f.status {
                "ok" => "ok  ",
                "skipped" => "skip",
                _ => "FAIL",
            };
            println!("{tag}  {}", f.path);
            for p in &f.problems {
                println!("      problem: {p}");
            }
            for n in &f.notes {
                println!("      note: {n}");
            }
        }
        println!(
            "audit of {}: {} files ok, {problems} with problems, {skipped} skipped",
            a.dir.display(),
            findings.len() - problems - skipped
        );
    }
    if problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
