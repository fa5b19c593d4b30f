#!/usr/bin/env python3
"""List the module import circles of idcheck's non-test code.

For every module file under src/ this reads the `crate::…`, `super::…`, `self::…` and
`idcheck::…` paths it names (in `use` items and inline), leaving out test code: `#[cfg(test)]`
items (modules, functions, uses), files declared by `#[cfg(test)] mod x;`, and files named
`tests.rs` / `*_tests.rs`. Each path is resolved to the deepest module file it reaches; a
name re-exported by a module (`pub use other::Name`) resolves to the module the re-export names.

Cycles are printed at two granularities:
  * top level: the modules directly under the crate root (store, audit, compare, rules,
    fixtures, ...; the binary's `cli` counts as one), edges between different ones;
  * siblings: inside each module, between its direct submodules (chip::read, chip::session,
    cli::verify_cmd, daemon::api, ...), edges between different submodules.
Each cycle lists, per edge, the file and the path that makes it.

Usage: scripts/import-cycles.py [--edges] [--all] [--strict] [src-dir]
  --edges  also list every module-to-module edge; --all  every site of a cycle's edges;
  --strict  exit 1 on a sibling cycle too
Exit status: 1 when a cycle exists among top-level modules, 0 otherwise (sibling cycles are
reported but do not fail).
"""

import os
import re
import sys
from collections import defaultdict


def strip_comments_and_strings(text):
    """Blank comments, string and char literals (keeping newlines and lengths)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 40]) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'\n])'", text[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:  # a lifetime
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def skip_attrs(text, i):
    """Index after any further attributes and whitespace starting at i."""
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if text.startswith("#[", i):
            depth, j = 0, i + 1
            while j < len(text):
                if text[j] == "[":
                    depth += 1
                elif text[j] == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            i = j + 1
        else:
            return i


def item_end(text, i):
    """End of the item starting at i: its `;` or its balanced `{…}` block, whichever first."""
    depth = 0
    j = i
    while j < len(text):
        c = text[j]
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == ";" and depth == 0:
            return j + 1
        elif c == "{" and depth == 0:
            d = 0
            while j < len(text):
                if text[j] == "{":
                    d += 1
                elif text[j] == "}":
                    d -= 1
                    if d == 0:
                        return j + 1
                j += 1
            return j
        j += 1
    return j


CFG_TEST = re.compile(r"#\[cfg\(test\)\]")


def strip_test_items(text):
    """Remove every item under #[cfg(test)]; return (text, names of `mod x;` so removed)."""
    test_mods = []
    while True:
        m = CFG_TEST.search(text)
        if not m:
            return text, test_mods
        start = skip_attrs(text, m.end())
        end = item_end(text, start)
        mm = re.match(r"(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text[start:end])
        if mm:
            test_mods.append(mm.group(1))
        text = text[:m.start()] + re.sub(r"[^\n]", " ", text[m.start():end]) + text[end:]


def expand_use_tree(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e'] (aliases dropped)."""
    tree = re.sub(r"\s+as\s+\w+", "", tree)
    tree = re.sub(r"\s+", "", tree)

    def split_top(s):
        parts, depth, cur = [], 0, ""
        for ch in s:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        if cur:
            parts.append(cur)
        return parts

    def rec(prefix, s):
        i = s.find("{")
        if i < 0:
            return [prefix + s]
        head = s[:i]
        inner = s[i + 1:s.rfind("}")]
        out = []
        for p in split_top(inner):
            out += rec(prefix + head, p)
        return out

    return [re.sub(r"::self$", "", p) for p in rec("", tree)]


class Crate:
    def __init__(self, src):
        self.src = src
        self.files = {}  # module path tuple -> file path (lib crate: (); bin crate: ('cli',...))
        self.test_files = set()
        self.reexports = defaultdict(dict)  # module -> {name: child module}
        self.uses = {}  # module -> list of (path string, line)

    def module_of(self, rel):
        """Module path of a file relative to src (cli/ belongs to the binary, named cli)."""
        parts = rel[:-3].split(os.sep)
        if parts[-1] == "mod":
            parts = parts[:-1]
        if parts in (["lib"], ["main"]):
            return ()
        return tuple(parts)

    def load(self):
        texts = {}
        for root, _, names in os.walk(self.src):
            for name in names:
                if not name.endswith(".rs"):
                    continue
                path = os.path.join(root, name)
                rel = os.path.relpath(path, self.src)
                if rel.split(os.sep)[0] in ("bin",):
                    continue
                mod = self.module_of(rel)
                if rel == "main.rs":
                    mod = ("<main>",)
                texts[mod] = (path, open(path, encoding="utf-8").read())
        declared_test = set()
        for mod, (path, text) in texts.items():
            clean = strip_comments_and_strings(text)
            clean, test_mods = strip_test_items(clean)
            base = () if mod == ("<main>",) else mod
            for t in test_mods:
                declared_test.add(base + (t,))
            texts[mod] = (path, clean)
        for mod, (path, clean) in texts.items():
            name = os.path.basename(path)
            if name == "tests.rs" or name.endswith("_tests.rs") or mod in declared_test or any(
                    mod[:k] in declared_test for k in range(1, len(mod))):
                self.test_files.add(mod)
                continue
            self.files[mod] = path
            self.scan(mod, clean)

    def scan(self, mod, clean):
        uses = []
        line_of = lambda pos: clean.count("\n", 0, pos) + 1
        spans = []
        for m in re.finditer(r"\b(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", clean):
            spans.append((m.start(), m.end()))
            for p in expand_use_tree(m.group(2)):
                uses.append((p, line_of(m.start()), bool(m.group(1))))
        in_use = lambda pos: any(a <= pos < b for a, b in spans)
        for m in re.finditer(r"(?<![\w:])((?:crate|super|self|idcheck)(?:::\w+)+)", clean):
            if not in_use(m.start()):
                uses.append((m.group(1), line_of(m.start()), False))
        self.uses[mod] = uses

    def children(self, mod):
        return {m[len(mod)] for m in self.files if len(m) > len(mod) and m[:len(mod)] == mod}

    def resolve(self, mod, path):
        """Module a path names (deepest existing module file), or None for external crates."""
        segs = path.split("::")
        is_bin = mod[:1] in (("cli",), ("<main>",))
        here = () if mod == ("<main>",) else mod
        # a file's own module for `super`: foo/bar.rs and foo/bar/mod.rs both have parent foo
        if segs[0] == "crate":
            base, rest = ((), segs[1:])
            if not is_bin and rest and rest[0] == "cli":
                return None
        elif segs[0] == "idcheck":
            base, rest = ((), segs[1:])
        elif segs[0] in ("super", "self"):
            base, rest = here, segs
            while rest and rest[0] in ("super", "self"):
                if rest[0] == "super":
                    base = base[:-1]
                rest = rest[1:]
        elif segs[0] in self.children(here):
            base, rest = here, segs
        elif segs[0] in self.children(()) and not is_bin:
            base, rest = (), segs  # 2018 paths can name crate-root modules only via crate::
            return None
        else:
            return None
        target = base
        for s in rest:
            if target + (s,) in self.files:
                target = target + (s,)
            else:
                # an item of `target`: re-exported from a child?
                child = self.reexports.get(target, {}).get(s)
                if child is not None:
                    target = child
                break
        return target

    def build_reexports(self):
        # `pub use path::Name` in a module -> Name lives where the path leads (a child or elsewhere)
        for _ in range(3):
            for mod, uses in self.uses.items():
                for p, _, is_pub in uses:
                    if not is_pub:
                        continue
                    segs = p.split("::")
                    name = segs[-1]
                    if name in ("*", "self"):
                        continue
                    t = self.resolve(mod, p)
                    if t is not None and t != mod:
                        self.reexports[mod][name] = t

    def edges(self):
        out = defaultdict(list)  # (from module, to module) -> [(file, line, path)]
        for mod, uses in self.uses.items():
            for p, line, _ in uses:
                t = self.resolve(mod, p)
                if t is None or t == mod:
                    continue
                src_mod = () if mod == ("<main>",) else mod
                out[(src_mod, t)].append((os.path.relpath(self.files[mod]), line, p))
        return out


def sccs(nodes, adj):
    index, low, stack, on, res, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in adj.get(v, ()):
            if w not in index:
                strong(w)
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
            res.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            strong(v)
    return [c for c in res if len(c) > 1]


def name(m):
    return "::".join(m) if m else "crate"


def report(level, edges, group):
    """group(module) -> node at this level or None; print cycles; return count."""
    adj, why = defaultdict(set), defaultdict(list)
    for (a, b), sites in edges.items():
        ga, gb = group(a), group(b)
        if ga is None or gb is None or ga == gb:
            continue
        adj[ga].add(gb)
        why[(ga, gb)] += sites
    nodes = set(adj) | {w for vs in adj.values() for w in vs}
    cycles = sccs(nodes, adj)
    for comp in cycles:
        print(f"cycle ({level}): " + " <-> ".join(name(c) for c in comp))
        cs = set(comp)
        for a in comp:
            for b in sorted(adj[a]):
                if b in cs:
                    sites = why[(a, b)]
                    f, line, p = sites[0]
                    more = f" (+{len(sites) - 1} more)" if len(sites) > 1 else ""
                    print(f"    {name(a)} -> {name(b)}: {f}:{line} {p}{more}")
                    if "--all" in sys.argv:
                        for f, line, p in sites[1:]:
                            print(f"        {f}:{line} {p}")
    return len(cycles)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    src = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    crate = Crate(os.path.normpath(src))
    crate.load()
    crate.build_reexports()
    edges = crate.edges()
    if "--edges" in sys.argv:
        for (a, b), sites in sorted(edges.items()):
            print(f"{name(a)} -> {name(b)}  ({sites[0][0]}:{sites[0][1]} {sites[0][2]})")
    top = report("top level", edges, lambda m: m[:1] if m else None)
    sib = 0
    parents = sorted({m[:k] for m in crate.files for k in range(1, len(m))})
    for p in parents:
        sib += report(f"in {name(p)}", edges,
                      lambda m, p=p: m[:len(p) + 1] if len(m) > len(p) and m[:len(p)] == p else None)
    print(f"{top} top-level cycle(s), {sib} sibling cycle(s); "
          f"{len(crate.files)} module files read, {len(crate.test_files)} test files left out")
    return 1 if top or (sib and "--strict" in sys.argv) else 0


if __name__ == "__main__":
    sys.exit(main())
