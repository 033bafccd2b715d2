#!/usr/bin/env python3
"""Report circles in the import graph between the source files of each crate.

An edge A -> B means file A names an item of module B (`use crate::b::..`, `crate::b::..`,
`super::..`, `self::..`). A module listing its own children (lib.rs, mod.rs, or a file
with a folder of submodules) is not an edge: aggregation is what a parent is for. The
script prints every strongly connected component of more than one file and exits 1 if
there is any.

    python3 ci/import-cycles.py [crate-dir ...]   # default: every crate of the workspace
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def crates():
    out = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d not in ("target", ".git", "shared")]
        if "Cargo.toml" in filenames and os.path.isdir(os.path.join(dirpath, "src")):
            out.append(dirpath)
    return sorted(out)


def modules(src):
    """file path -> module path tuple, for every .rs under src (bins under src/bin skipped)."""
    mods = {}
    for dirpath, _, filenames in os.walk(src):
        for f in filenames:
            if not f.endswith(".rs"):
                continue
            full = os.path.join(dirpath, f)
            rel = os.path.relpath(full, src)[:-3].split(os.sep)
            if rel[0] == "bin":
                continue
            if rel[-1] in ("lib", "main") and len(rel) == 1:
                rel = []
            elif rel[-1] == "mod":
                rel = rel[:-1]
            mods[tuple(rel)] = full
    return mods


PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+|::\{)")
USE_GROUP = re.compile(r"\buse\s+(crate|super|self)::\{([^;]*)\};", re.S)


def strip(text):
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return text


def resolve(mods, here, anchor, parts):
    if anchor == "crate":
        base = ()
    elif anchor == "self":
        base = here
    else:
        base = here[:-1]
        while parts and parts[0] == "super":
            base = base[:-1]
            parts = parts[1:]
    target = base + tuple(parts)
    while target and target not in mods:
        target = target[:-1]
    return target


def graph(src):
    mods = modules(src)
    edges = {m: set() for m in mods}
    for m, path in mods.items():
        text = strip(open(path, encoding="utf-8").read())
        refs = []
        for g in USE_GROUP.finditer(text):
            for item in re.split(r",(?![^{]*\})", g.group(2)):
                item = item.strip().split(" as ")[0]
                if item:
                    refs.append((g.group(1), [p for p in re.split(r"::", item.split("{")[0]) if p]))
        for r in PATH.finditer(text):
            refs.append((r.group(1), [p for p in r.group(2).split("::") if p and p != "{"]))
        for anchor, parts in refs:
            t = resolve(mods, m, anchor, parts)
            if t == m or t not in mods:
                continue
            # a parent naming its own descendants is aggregation, not an import
            if t[: len(m)] == m:
                continue
            edges[m].add(t)
    return mods, edges


def sccs(edges):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]


def main():
    dirs = sys.argv[1:] or crates()
    bad = 0
    for d in dirs:
        mods, edges = graph(os.path.join(d, "src"))
        for comp in sccs(edges):
            bad += 1
            names = sorted(os.path.relpath(mods[m], ROOT) for m in comp)
            print(f"circle in {os.path.relpath(d, ROOT)}: " + ", ".join(names))
            for m in sorted(comp):
                for t in sorted(edges[m] & set(comp)):
                    print(f"    {os.path.relpath(mods[m], ROOT)} -> {os.path.relpath(mods[t], ROOT)}")
    if bad:
        sys.exit(1)
    print(f"no circles in {len(dirs)} crates")


if __name__ == "__main__":
    main()
