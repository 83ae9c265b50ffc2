#!/usr/bin/env python3
"""Fails when files of one module folder import each other.

For each folder given (a module directory such as `core/src/session`), every
`.rs` file below it is a node; a path in a file that names another file's
module (`super::x`, `crate::hub::x::Y`, `self::x`, or a sibling module by its
bare name in a `mod.rs`) is an edge. Any cycle among the files of one folder
is printed and makes the script exit with 1. Test files (`tests.rs`,
`tests/`) and everything after a `#[cfg(test)]` (or `#[cfg(all(test, ...))]`) line are skipped: tests may
reach into what they test.

Usage: .ci/imports.py CRATE_SRC:MODULE_DIR ...
  e.g. .ci/imports.py core/src:session core/src:diff std-adapter/src:hub
"""

import os
import re
import sys

TEST_CFG = re.compile(r"#\[cfg\((all\()?test\b")
PATH = re.compile(r"\b(crate|super|self)((?:::\w+)+)")


def module_of(src, path):
    """The module path (a list of names) of a source file."""
    rel = os.path.relpath(path, src)[: -len(".rs")].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return rel


def file_of(src, module):
    """The file that defines a module path, if any."""
    base = os.path.join(src, *module)
    for candidate in (base + ".rs", os.path.join(base, "mod.rs")):
        if os.path.isfile(candidate):
            return candidate
    return None


def flatten_uses(text):
    """Expands `use a::{b, c::{d}}` into `a::b`, `a::c::d`."""
    out = []
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        tree = re.sub(r"\s+as\s+\w+", "", m.group(1))
        tree = re.sub(r"\s+", "", tree)
        stack = [""]

        def expand(prefix, s):
            depth, start, parts = 0, 0, []
            for i, ch in enumerate(s):
                if ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                elif ch == "," and depth == 0:
                    parts.append(s[start:i])
                    start = i + 1
            parts.append(s[start:])
            for part in parts:
                if not part:
                    continue
                brace = part.find("{")
                if brace >= 0 and part.endswith("}"):
                    expand(prefix + part[:brace], part[brace + 1 : -1])
                else:
                    out.append(prefix + part)

        expand(stack[0], tree)
    return out


def code_of(path):
    lines = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if TEST_CFG.match(line.strip()):
                break
            stripped = line.split("//")[0]
            lines.append(stripped)
    return "".join(lines)


def edges_of(src, path, files):
    here = module_of(src, path)
    is_mod = os.path.basename(path) in ("mod.rs", "lib.rs")
    # The module that `super` and `self` mean in this file.
    self_mod = here
    text = code_of(path)
    names = set()
    for m in PATH.finditer(text):
        names.add(m.group(1) + m.group(2))
    for used in flatten_uses(text):
        names.add(used)
    if is_mod:
        # Bare names of child modules, in `use child::X` or `child::f()`.
        children = set(re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text, re.M))
        for m in re.finditer(r"(?<![:\w])(\w+)((?:::\w+)+)", text):
            if m.group(1) in children:
                names.add("self::" + m.group(1) + m.group(2))
    else:
        # Bare sibling names are not in scope in a non-mod file.
        pass
    targets = set()
    for name in names:
        parts = name.split("::")
        head, rest = parts[0], parts[1:]
        if head == "crate":
            module = []
        elif head == "self":
            module = list(self_mod)
        elif head == "super":
            module = list(self_mod[:-1])
            while rest and rest[0] == "super":
                module = module[:-1]
                rest = rest[1:]
        else:
            module = []
            rest = parts
        # Longest prefix that is a module file.
        best = file_of(src, module) if head in ("crate", "self", "super") else None
        for i in range(len(rest)):
            candidate = file_of(src, module + rest[: i + 1])
            if candidate:
                best = candidate
            else:
                break
        if best and best in files and os.path.abspath(best) != os.path.abspath(path):
            targets.add(best)
    return targets


def is_test_file(path):
    parts = path.split(os.sep)
    return "tests" in parts[:-1] or parts[-1] == "tests.rs"


def cycles(graph):
    """Strongly connected components with more than one file (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def main(args):
    failed = False
    for arg in args:
        src, module = arg.split(":")
        folder = os.path.join(src, module)
        files = set()
        for root, _, names in os.walk(folder):
            for n in names:
                p = os.path.join(root, n)
                if n.endswith(".rs") and not is_test_file(os.path.relpath(p, folder)):
                    files.add(p)
        graph = {f: edges_of(src, f, files) for f in sorted(files)}
        found = cycles(graph)
        if found:
            failed = True
            for comp in found:
                print(f"{folder}: files import each other:")
                for f in comp:
                    inside = sorted(os.path.relpath(t, folder) for t in graph[f] if t in comp)
                    print(f"  {os.path.relpath(f, folder)} -> {', '.join(inside)}")
        else:
            print(f"{folder}: {len(files)} files, no imports in a loop")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
