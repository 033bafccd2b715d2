//! `ringproof layout`: look inside segments and keep the golden layouts honest.
//!
//! - `inspect PATH | --shm NAME [--hex] [--json]`: every field with its offset, and a verdict
//!   (LayoutV1 segments, and counters segments, recognised by their "MYC0" magic).
//! - `diff A B [--shm] [--json]`: the fields that differ between two segments.
//! - `audit [DIR] [--json]`: validates every golden under DIR and compares it with what the
//!   current writer produces (drift).
//! - `regen DIR`: writes ringproof's goldens (only the regeneration command in
//!   `golden-layouts/README.md` runs this).
//!
//! Exit codes: 0 fine; 1 a segment is rejected, segments differ, or the audit found a problem;
//! 2 a file could not be read (the message says why and what to do).

use clap::{Args, Subcommand};
use ringproof::kit::layout::describe::{describe, diff, hexdump, Description, Format};
use ringproof::kit::layout::golden::{self, Config, CountersEntry, Entry};
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// How much of a segment is read: enough for every header and cursor and any registry.
const MAX_READ: u64 = 16 << 20;

#[derive(Args)]
pub struct LayoutArgs {
    #[command(subcommand)]
    cmd: LayoutCmd,
}

#[derive(Subcommand)]
enum LayoutCmd {
    /// Decode a segment file (or a shm segment) into fields, offsets and a verdict.
    Inspect(InspectArgs),
    /// Show the fields that differ between two segments.
    Diff(DiffArgs),
    /// Validate every golden layout and report drift against the current writer.
    Audit(AuditArgs),
    /// Write ringproof's golden layouts into DIR/ringproof/v1 (see golden-layouts/README.md).
    Regen(RegenArgs),
}

#[derive(Args)]
struct InspectArgs {
    /// A segment file (a ring, cursor or registry file, or a golden).
    #[arg(required_unless_present = "shm", conflicts_with = "shm")]
    path: Option<PathBuf>,
    /// A POSIX shm segment name instead (as in /dev/shm, without the leading '/').
    #[arg(long)]
    shm: Option<String>,
    /// Add a hexdump of the bytes read.
    #[arg(long)]
    hex: bool,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Take a ring file that holds only its header region as an image of the whole ring (what
    /// a golden is); otherwise a segment is judged by its real length, and a cut one is
    /// reported truncated. Catalogued goldens are recognised without it.
    #[arg(long)]
    header_image: bool,
}

#[derive(Args)]
struct DiffArgs {
    /// First segment (a file; a shm name with --shm or as shm:NAME).
    a: String,
    /// Second segment.
    b: String,
    /// Both operands are shm segment names.
    #[arg(long)]
    shm: bool,
    #[arg(long)]
    json: bool,
    /// Take ring files holding only their header region as images of whole rings (goldens;
    /// see `inspect --header-image`).
    #[arg(long)]
    header_image: bool,
}

#[derive(Args)]
struct AuditArgs {
    /// The golden-layouts directory.
    #[arg(default_value = "golden-layouts")]
    dir: PathBuf,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct RegenArgs {
    /// The golden-layouts directory to write into.
    dir: PathBuf,
}

pub fn run(a: LayoutArgs) -> ringproof::Result<ExitCode> {
    Ok(match a.cmd {
        LayoutCmd::Inspect(a) => inspect(a),
        LayoutCmd::Diff(a) => diff_cmd(a),
        LayoutCmd::Audit(a) => audit(a),
        LayoutCmd::Regen(a) => regen(a),
    })
}

/// A segment's first bytes and its full length.
struct Loaded {
    label: String,
    bytes: Vec<u8>,
    /// The segment's length: the file's, or the whole ring's for a golden header image.
    len: usize,
    /// Whether the file is a ring header image (a golden) standing for a longer segment.
    header_image: bool,
}

enum Src {
    File(PathBuf),
    Shm(String),
}

impl Src {
    fn parse(s: &str, shm: bool) -> Src {
        match s.strip_prefix("shm:") {
            Some(name) => Src::Shm(name.to_owned()),
            None if shm => Src::Shm(s.to_owned()),
            None => Src::File(PathBuf::from(s)),
        }
    }
}

/// Whether a short ring file stands for a whole ring: asked for (`--header-image`), or a file
/// (never a shm segment, never a file-backend `.ring` segment) whose bytes are exactly a
/// catalogued golden ring's header region. Anything else is judged by its real length: a ring
/// cut to its header is *truncated*, not valid.
fn is_header_image(src: &Src, bytes: &[u8], asked: bool) -> bool {
    let Src::File(path) = src else { return false };
    if asked {
        return true;
    }
    if path.extension().is_some_and(|e| e == "ring") {
        return false;
    }
    golden::all()
        .iter()
        .filter_map(|e| e.image().ok())
        .any(|img| !img.is_whole() && img.bytes() == bytes)
}

fn load(src: &Src) -> Result<Loaded, String> {
    load_as(src, false)
}

fn load_as(src: &Src, header_image: bool) -> Result<Loaded, String> {
    let (label, path) = match src {
        Src::File(p) => (p.display().to_string(), p.clone()),
        Src::Shm(name) => {
            let name = name.trim_start_matches('/');
            ringproof::kit::names::validate_name(name)
                .map_err(|e| format!("{e} (shm names are [A-Za-z0-9_-], as listed in /dev/shm)"))?;
            (format!("shm:{name}"), Path::new("/dev/shm").join(name))
        }
    };
    let why = |e: std::io::Error| match (e.kind(), src) {
        (std::io::ErrorKind::NotFound, Src::Shm(_)) => {
            format!("{label}: no such shm segment (list them with `ls /dev/shm`; give the name without the leading '/')")
        }
        (std::io::ErrorKind::NotFound, Src::File(_)) => {
            format!(
                "{label}: no such file (check the path; a shm segment is named with --shm NAME)"
            )
        }
        (std::io::ErrorKind::PermissionDenied, _) => {
            format!("{label}: permission denied (segments are created mode 0600: run as the user that created it)")
        }
        _ => format!("{label}: cannot read: {e}"),
    };
    // Judge the type before opening: opening a FIFO for reading blocks until a writer comes.
    let before = std::fs::metadata(&path).map_err(why)?;
    if !before.is_file() && !before.is_dir() {
        return Err(format!(
            "{label} is not a regular file (a device, FIFO or socket is no segment)"
        ));
    }
    let file = std::fs::File::open(&path).map_err(why)?;
    let meta = file.metadata().map_err(why)?;
    if meta.is_dir() {
        return Err(format!("{label} is a directory, not a segment (to check a golden directory: ringproof layout audit DIR)"));
    }
    if !meta.is_file() {
        return Err(format!(
            "{label} is not a regular file (a device or pipe is no segment)"
        ));
    }
    let mut bytes = Vec::new();
    file.take(meta.len().min(MAX_READ))
        .read_to_end(&mut bytes)
        .map_err(why)?;
    let file_len = usize::try_from(meta.len()).unwrap_or(usize::MAX);
    // A golden ring file holds only its header region: it stands for the whole ring.
    let len = if file_len == bytes.len() && is_header_image(src, &bytes, header_image) {
        golden::segment_len(&bytes)
    } else {
        file_len
    };
    Ok(Loaded {
        label,
        bytes,
        len,
        header_image: len != file_len,
    })
}

/// Prints a read error (as JSON too with `--json`) and returns exit code 2.
fn fail(json: bool, msg: String) -> ExitCode {
    if json {
        println!("{}", json!({ "error": msg }));
    }
    eprintln!("ringproof layout: {msg}");
    ExitCode::from(2)
}

fn verdict_json(d: &Description) -> Value {
    if let Format::Counters(v) = &d.format {
        return match v {
            Ok(g) => json!({ "ok": true, "kind": "counters", "slot_count": g.slot_count,
                "slot_capacity": ringproof::kit::layout::counters::SLOT_CAPACITY, "len": ringproof::kit::layout::counters::SEGMENT_SIZE }),
            Err(e) => {
                json!({ "ok": false, "kind": "counters", "error": e.variant(), "message": e.to_string() })
            }
        };
    }
    match &d.verdict {
        Ok(g) => {
            json!({ "ok": true, "kind": g.kind.name(), "alignment": g.alignment, "payload_offset": g.payload_offset,
            "payload_size": g.payload_size, "element_size": g.element_size, "capacity": g.capacity })
        }
        Err(e) => json!({ "ok": false, "error": e.variant(), "message": e.to_string() }),
    }
}

fn description_json(l: &Loaded, d: &Description) -> Value {
    let fields: Vec<Value> = d
        .fields
        .iter()
        .map(|f| json!({ "name": f.name, "offset": f.offset, "size": f.size, "value": f.value, "meaning": f.meaning }))
        .collect();
    json!({ "source": l.label, "len": d.len, "shown": d.shown, "kind": d.kind_name(), "fields": fields, "verdict": verdict_json(d) })
}

fn inspect(a: InspectArgs) -> ExitCode {
    let src = match (a.path, a.shm) {
        (_, Some(name)) => Src::Shm(name),
        (Some(p), None) => Src::File(p),
        (None, None) => return fail(a.json, "give a PATH or --shm NAME".into()),
    };
    let l = match load_as(&src, a.header_image) {
        Ok(l) => l,
        Err(msg) => return fail(a.json, msg),
    };
    let d = describe(&l.bytes, l.len);
    if a.json {
        let mut v = description_json(&l, &d);
        if a.hex {
            v["hexdump"] = Value::String(hexdump(&l.bytes));
        }
        println!("{v}");
    } else {
        println!("{}: {} bytes", l.label, l.len);
        if l.header_image {
            println!("(header image: the file holds bytes 0..{} of the segment; the rest is taken as zero)", l.bytes.len());
        }
        print!("{}", d.table());
        if a.hex {
            print!("{}", hexdump(&l.bytes));
        }
    }
    if d.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn diff_cmd(a: DiffArgs) -> ExitCode {
    let (la, lb) = match (
        load_as(&Src::parse(&a.a, a.shm), a.header_image),
        load_as(&Src::parse(&a.b, a.shm), a.header_image),
    ) {
        (Ok(la), Ok(lb)) => (la, lb),
        (Err(msg), _) | (_, Err(msg)) => return fail(a.json, msg),
    };
    let (da, db) = (describe(&la.bytes, la.len), describe(&lb.bytes, lb.len));
    let diffs = diff(&da, &db);
    if a.json {
        let rows: Vec<Value> = diffs
            .iter()
            .map(|d| json!({ "field": d.name, "offset": d.offset, "a": d.a, "b": d.b }))
            .collect();
        println!(
            "{}",
            json!({ "a": la.label, "b": lb.label, "differences": rows, "verdict_a": verdict_json(&da), "verdict_b": verdict_json(&db) })
        );
    } else {
        println!("A: {} ({} bytes): {}", la.label, la.len, da.verdict_line());
        println!("B: {} ({} bytes): {}", lb.label, lb.len, db.verdict_line());
        if diffs.is_empty() {
            println!("no field differs");
        }
        let w = diffs.iter().map(|d| d.name.len()).max().unwrap_or(5).max(5);
        for d in &diffs {
            let side = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
            println!("{:>8}  {:w$}  A: {}", d.offset, d.name, side(&d.a));
            println!("{:>8}  {:w$}  B: {}", "", "", side(&d.b));
        }
    }
    if diffs.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
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

fn audit(a: AuditArgs) -> ExitCode {
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

fn regen(a: RegenArgs) -> ExitCode {
    let mut images: Vec<(String, Result<Vec<u8>, String>)> = golden::ringproof()
        .iter()
        .map(|e| {
            (
                e.path(),
                e.image()
                    .map(|i| i.bytes().to_vec())
                    .map_err(|e| e.to_string()),
            )
        })
        .collect();
    images.extend(
        golden::counters()
            .iter()
            .map(|e| (e.path(), e.image().map_err(|e| e.to_string()))),
    );
    for (rel, image) in &images {
        let path = a.dir.join(rel);
        let image = match image {
            Ok(i) => i,
            Err(err) => return fail(false, format!("{rel}: {err}")),
        };
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, image));
        if let Err(err) = written {
            return fail(false, format!("{}: cannot write: {err}", path.display()));
        }
    }
    println!(
        "wrote {} ringproof goldens under {}",
        images.len(),
        a.dir.join(golden::RINGPROOF_DIR).display()
    );
    ExitCode::SUCCESS
}
