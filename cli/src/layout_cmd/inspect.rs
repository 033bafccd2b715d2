//! `layout inspect` and `layout diff`: a segment's fields with their offsets and a verdict, and
//! the fields that differ between two segments (as tables or JSON).

use super::fail;
use super::load::{load_as, Loaded, Src};
use clap::Args;
use ringproof::kit::layout::describe::{describe, diff, hexdump, Description, Format};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub(super) struct InspectArgs {
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
pub(super) struct DiffArgs {
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

pub(super) fn inspect(a: InspectArgs) -> ExitCode {
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

pub(super) fn diff_cmd(a: DiffArgs) -> ExitCode {
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
