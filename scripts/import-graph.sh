#!/usr/bin/env bash
# Lists the `use crate::` / `super::` / `self::` edges between the modules of src/ and fails
# when they form a cycle.
#
# Two graphs are checked, and both must be acyclic:
#   - top level: crate::a -> crate::b when any file under `a` names an item of `b`
#     (src/ffi, the C ABI, is a leaf that imports everything and is left out);
#   - siblings: inside one folder, file -> file (`breaker/config.rs -> breaker/events.rs`).
# A folder's mod.rs is the module's own face (it declares and re-exports its children), so
# edges between it and its children are not counted; a path through a re-export
# (`super::Window` where mod.rs has `pub use config::Window`) counts as an edge to the file
# that defines the item.
#
# Usage: scripts/import-graph.sh          check (exit 1 on a cycle)
#        scripts/import-graph.sh --list   also print every edge
set -euo pipefail
cd "$(dirname "$0")/.."

exec python3 - "$@" <<'PY'
import os, re, sys

SRC = "src"
LEAVES = {"ffi"}  # the C ABI imports every policy and nothing imports it

def node_of(path):
    rel = os.path.relpath(path, SRC)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib"):
        rel = rel[:-1]
    return tuple(rel)

def strip(text):
    """Drops comments, strings and char literals (roughly: enough for paths)."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"r#*\"(?:.|\n)*?\"#*", '""', text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"'(?:\\.|[^'\\])'", "' '", text)
    return text

files = {}
for root, _, names in os.walk(SRC):
    for n in names:
        if n.endswith(".rs"):
            p = os.path.join(root, n)
            files[node_of(p)] = strip(open(p, encoding="utf-8").read())
modules = set(files)

def is_dir_module(node):
    return os.path.isdir(os.path.join(SRC, *node)) if node else True

def expand(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']"""
    tree = re.sub(r"\s+", "", tree)
    out = []
    def walk(prefix, s):
        depth, start, parts = 0, 0, []
        for i, ch in enumerate(s):
            if ch == "{": depth += 1
            elif ch == "}": depth -= 1
            elif ch == "," and depth == 0:
                parts.append(s[start:i]); start = i + 1
        parts.append(s[start:])
        for part in parts:
            if not part:
                continue
            m = re.match(r"^(.*?)::\{(.*)\}$", part)
            if m:
                walk(prefix + m.group(1) + "::", m.group(2))
            elif part.startswith("{") and part.endswith("}"):
                walk(prefix, part[1:-1])
            else:
                out.append(prefix + re.sub(r"\bas\b.*$", "", part))
    walk("", tree)
    return out

# Re-exports of each module: item name -> the path it points at.
reexports = {}
for node, text in files.items():
    table = {}
    for m in re.finditer(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);", text):
        for path in expand(m.group(1)):
            segs = [s for s in path.split("::") if s]
            if segs:
                table[segs[-1]] = segs
    reexports[node] = table

def absolute(node, segs):
    """Resolves a path written in file `node` to absolute segments, or None (external)."""
    here = list(node) if is_dir_module(node) or node == () else list(node)
    if segs[0] == "crate":
        return segs[1:]
    base = list(node)
    if segs[0] in ("self", "super"):
        while segs and segs[0] in ("self", "super"):
            if segs[0] == "super":
                base = base[:-1]
            segs = segs[1:]
        return base + segs
    # 2018 paths relative to the current module: a child module's name.
    if tuple(base + [segs[0]]) in modules:
        return base + segs
    return None

def target(segs, seen=0):
    """The file that defines what `segs` names: the longest module prefix, followed
    through that module's re-exports."""
    for k in range(len(segs), -1, -1):
        if tuple(segs[:k]) in modules:
            mod = tuple(segs[:k])
            rest = segs[k:]
            if rest and seen < 8 and rest[0] in reexports.get(mod, {}):
                again = absolute(mod, reexports[mod][rest[0]])
                if again and again != segs:
                    return target(again + rest[1:], seen + 1)
            return mod
    return ()

edges = set()
for node, text in files.items():
    paths = []
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        paths += expand(m.group(1))
    paths += re.findall(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)", text)
    for p in paths:
        segs = [s for s in p.split("::") if s and s != "*"]
        if not segs:
            continue
        a = absolute(node, segs)
        if a is None:
            continue
        t = target(a)
        if t != node and t != ():
            edges.add((node, t))

def name(n):
    return "::".join(n) if n else "crate"

top, siblings = set(), set()
for a, b in edges:
    if not a or not b or a[0] in LEAVES or b[0] in LEAVES:
        continue
    if a[0] != b[0]:
        top.add((a[0], b[0]))
    elif len(a) == len(b) and a[:-1] == b[:-1]:
        siblings.add((a, b))

if "--list" in sys.argv:
    for a, b in sorted(top):
        print(f"{a} -> {b}")
    for a, b in sorted(siblings):
        print(f"{name(a)} -> {name(b)}")

def cycles(graph):
    adj = {}
    for a, b in graph:
        adj.setdefault(a, []).append(b)
    found, state, stack = [], {}, []
    def dfs(v):
        state[v] = 1; stack.append(v)
        for w in sorted(adj.get(v, [])):
            if state.get(w) == 1:
                found.append(stack[stack.index(w):] + [w])
            elif not state.get(w):
                dfs(w)
        stack.pop(); state[v] = 2
    for v in sorted(adj):
        if not state.get(v):
            dfs(v)
    return found

bad = cycles(top) + cycles(siblings)
for c in bad:
    print("import cycle: " + " -> ".join(x if isinstance(x, str) else name(x) for x in c))
if bad:
    sys.exit(1)
print(f"import graph: {len(top)} module edges, {len(siblings)} sibling edges, no cycle")
PY
