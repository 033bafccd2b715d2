//! No circles in the import graph between the source files of any crate of the workspace.
//!
//! An edge A -> B means file A names an item of module B (`use crate::b::..`, `crate::b::..`,
//! `super::..`, `self::..`). A module naming its own descendants is not an edge: a parent
//! listing and re-exporting its children is what a parent is for. Every strongly connected
//! component of more than one file fails the test, with the edges that close it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

#[test]
fn no_crate_has_an_import_circle_between_its_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let crates = crates(&root);
    assert!(
        crates.len() >= 5,
        "found only {crates:?}: is the walk broken?"
    );
    let mut circles = Vec::new();
    for dir in &crates {
        let modules = modules(&dir.join("src"));
        let edges = edges(&modules);
        for component in strongly_connected(&edges) {
            let mut lines = vec![format!("circle in {}:", dir.display())];
            for m in &component {
                for t in edges[m].iter().filter(|t| component.contains(*t)) {
                    lines.push(format!(
                        "    {} -> {}",
                        modules[m].display(),
                        modules[t].display()
                    ));
                }
            }
            circles.push(lines.join("\n"));
        }
    }
    assert!(circles.is_empty(), "{}", circles.join("\n"));
}

/// The crate: a circle `a -> b -> a` between two files is found, a parent naming its child
/// is not one.
#[test]
fn the_checker_sees_a_circle_and_ignores_aggregation() {
    let m = |s: &str| {
        s.split('/')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect::<Module>()
    };
    let sources = [
        ("", "mod a; mod b; mod c; pub use c::X;"),
        ("a", "use crate::b::Thing;"),
        ("b", "use crate::{a::Other, c};"),
        ("c", "pub struct X; mod d;"),
        ("c/d", "use super::X;"),
    ];
    let modules: BTreeMap<Module, PathBuf> = sources
        .iter()
        .map(|(p, _)| (m(p), PathBuf::from(p)))
        .collect();
    let texts: BTreeMap<Module, String> =
        sources.iter().map(|(p, t)| (m(p), t.to_string())).collect();
    let edges = edges_of(&modules, |module| texts[module].clone());
    assert_eq!(
        strongly_connected(&edges),
        vec![BTreeSet::from([m("a"), m("b")])]
    );
}

fn crates(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        if dir.join("Cargo.toml").is_file() && dir.join("src").is_dir() {
            out.push(dir.clone());
        }
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().unwrap().is_dir() && !name.starts_with('.') && name != "target" {
                dirs.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// Module path -> file, for every `.rs` under `src` (binaries under `src/bin` are crates of
/// their own and left out).
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let Ok(rel) = path.strip_prefix(src) else {
                continue;
            };
            let Some(rel) = rel.to_str().and_then(|r| r.strip_suffix(".rs")) else {
                continue;
            };
            let mut module: Module = rel.split('/').map(str::to_owned).collect();
            if module[0] == "bin" {
                continue;
            }
            if module.len() == 1 && (module[0] == "lib" || module[0] == "main")
                || module.last().is_some_and(|l| l == "mod")
            {
                module.pop();
            }
            out.insert(module, path);
        }
    }
    out
}

fn edges(modules: &BTreeMap<Module, PathBuf>) -> BTreeMap<Module, BTreeSet<Module>> {
    edges_of(modules, |m| std::fs::read_to_string(&modules[m]).unwrap())
}

fn edges_of(
    modules: &BTreeMap<Module, PathBuf>,
    text_of: impl Fn(&Module) -> String,
) -> BTreeMap<Module, BTreeSet<Module>> {
    modules
        .keys()
        .map(|here| {
            let targets = references(&strip(&text_of(here)))
                .into_iter()
                .filter_map(|(anchor, path)| resolve(modules, here, &anchor, &path))
                // A module naming itself or its own descendants is not an import.
                .filter(|t| !t.starts_with(here))
                .collect();
            (here.clone(), targets)
        })
        .collect()
}

/// Every `crate::`, `super::` and `self::` path in `text`, a `{..}` group giving one path per
/// item: (anchor, segments).
fn references(text: &str) -> Vec<(String, Vec<String>)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for anchor in ["crate", "super", "self"] {
        for (at, _) in text.match_indices(&format!("{anchor}::")) {
            let boundary = at == 0
                || !(bytes[at - 1].is_ascii_alphanumeric()
                    || bytes[at - 1] == b'_'
                    || bytes[at - 1] == b':');
            if !boundary {
                continue;
            }
            let rest = &text[at + anchor.len() + 2..];
            if let Some(group) = rest.strip_prefix('{') {
                for item in group_items(group) {
                    out.push((anchor.to_owned(), path_segments(&item)));
                }
            } else {
                out.push((anchor.to_owned(), path_segments(rest)));
            }
        }
    }
    out
}

/// The top-level items of a `{..}` group (`group` starts after its `{`).
fn group_items(group: &str) -> Vec<String> {
    let (mut depth, mut item, mut items) = (0, String::new(), Vec::new());
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut item));
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    items.push(item);
    items
}

/// `a::b::{..}` or `a::b as c` -> ["a", "b"].
fn path_segments(s: &str) -> Vec<String> {
    let s = s.trim_start();
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(s.len());
    s[..end]
        .split("::")
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The longest module `anchor::path` names, if it is one of `modules`.
fn resolve(
    modules: &BTreeMap<Module, PathBuf>,
    here: &Module,
    anchor: &str,
    path: &[String],
) -> Option<Module> {
    let mut base: Module = match anchor {
        "crate" => Vec::new(),
        "self" => here.clone(),
        _ => here[..here.len().saturating_sub(1)].to_vec(),
    };
    let mut parts = path;
    while parts.first().is_some_and(|p| p == "super") {
        base.pop();
        parts = &parts[1..];
    }
    let mut target: Module = base.into_iter().chain(parts.iter().cloned()).collect();
    while !target.is_empty() && !modules.contains_key(&target) {
        target.pop();
    }
    (target != *here && modules.contains_key(&target)).then_some(target)
}

/// `text` without comments and string literals.
fn strip(text: &str) -> String {
    let (mut out, mut chars) = (String::new(), text.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('/', Some('/')) => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            // A char literal ('"', '\'', 'x'); a lifetime ('a) is kept.
            ('\'', _) => {
                let mut ahead = chars.clone();
                match (ahead.next(), ahead.next()) {
                    (Some('\\'), _) => {
                        chars.next();
                        for c in chars.by_ref().skip(1) {
                            if c == '\'' {
                                break;
                            }
                        }
                    }
                    (Some(_), Some('\'')) => {
                        chars.next();
                        chars.next();
                    }
                    _ => out.push(c),
                }
            }
            ('"', _) => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => drop(chars.next()),
                        '"' => break,
                        _ => {}
                    }
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

/// Tarjan's strongly connected components of more than one node.
fn strongly_connected(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<BTreeSet<Module>> {
    struct State<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on_stack: BTreeSet<&'a Module>,
        out: Vec<BTreeSet<Module>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        let edges = s.edges;
        for w in &edges[v] {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                s.low.insert(v, s.low[v].min(lw));
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                s.low.insert(v, s.low[v].min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.insert(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}
