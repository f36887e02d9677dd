#!/usr/bin/env python3
"""Counts the lines of non-test Rust under a source directory, for scripts/bench.sh.

Usage: loc.py DIR   → {"files": n, "lines": total, "code": non-blank non-comment}

Left out: files named tests.rs, files of modules declared under #[cfg(test)]
(`#[cfg(test)] mod testing;`), and every item that follows a #[cfg(test)] attribute
(usually `mod tests { … }`), found with a small lexer that knows strings, raw strings,
chars and comments so braces inside them do not count. Standard library only.
"""

import json
import os
import re
import sys

CFG_TEST = re.compile(r"#\s*\[\s*cfg\s*\(\s*test\s*\)\s*\]")
MOD_DECL = re.compile(r"\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;")


def skip_token(src, i):
    """If a string, char or comment starts at i, returns the index after it; else None."""
    if src.startswith("//", i):
        j = src.find("\n", i)
        return len(src) if j < 0 else j
    if src.startswith("/*", i):
        depth, j = 1, i + 2
        while j < len(src) and depth:
            if src.startswith("/*", j):
                depth, j = depth + 1, j + 2
            elif src.startswith("*/", j):
                depth, j = depth - 1, j + 2
            else:
                j += 1
        return j
    m = re.compile(r'b?r(#*)"').match(src, i)
    if m and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
        end = src.find('"' + m.group(1), m.end())
        return len(src) if end < 0 else end + 1 + len(m.group(1))
    if src[i] == '"' or src.startswith('b"', i):
        j = i + (2 if src[i] == "b" else 1)
        while j < len(src) and src[j] != '"':
            j += 2 if src[j] == "\\" else 1
        return j + 1
    if src[i] == "'":
        m = re.compile(r"'(?:\\.[^']*|[^\\'])'").match(src, i)
        if m:
            return m.end()
    return None


def item_end(src, i):
    """Index just after the item starting at i: its balanced `{…}` block or its `;`."""
    depth = 0
    while i < len(src):
        j = skip_token(src, i)
        if j is not None:
            i = j
            continue
        c = src[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        elif c == ";" and depth == 0:
            return i + 1
        i += 1
    return len(src)


def strip_tests(src):
    """The source without #[cfg(test)] items; also the names of test-only module files."""
    out, test_mods, i = [], [], 0
    while True:
        m = CFG_TEST.search(src, i)
        if not m:
            out.append(src[i:])
            break
        # An attribute inside a comment or string is not one.
        k, inside = 0, False
        while k < m.start():
            j = skip_token(src, k)
            if j is not None and j > m.start():
                inside = True
                break
            k = j if j is not None else k + 1
        if inside:
            out.append(src[i : m.end()])
            i = m.end()
            continue
        out.append(src[i : m.start()])
        decl = MOD_DECL.match(src, m.end())
        if decl:
            test_mods.append(decl.group(1))
        i = item_end(src, m.end())
        if src.startswith("\n", i):
            i += 1  # the removed item's line break goes with it
    return "".join(out), test_mods


def count(text):
    """(lines, code lines) of text; code excludes blank and comment-only lines."""
    lines = text.splitlines()
    code, in_block = 0, False
    for line in lines:
        s = line.strip()
        if in_block:
            if "*/" in s:
                in_block = False
            continue
        if not s or s.startswith("//"):
            continue
        if s.startswith("/*") and "*/" not in s:
            in_block = True
            continue
        code += 1
    return len(lines), code


def main():
    if len(sys.argv) != 2:
        print("usage: loc.py DIR", file=sys.stderr)
        return 2
    root = sys.argv[1]
    excluded = set()
    kept = {}
    for dirpath, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            if not name.endswith(".rs"):
                continue
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8") as f:
                text, test_mods = strip_tests(f.read())
            stem = os.path.splitext(path)[0] if name not in ("mod.rs", "lib.rs", "main.rs") else dirpath
            for mod in test_mods:
                excluded.add(os.path.join(stem, mod + ".rs"))
                excluded.add(os.path.join(stem, mod, "mod.rs"))
            if name != "tests.rs":
                kept[path] = text
    # A module file declared test-only by its parent is dropped whole.
    totals = {"files": 0, "lines": 0, "code": 0}
    for path, text in kept.items():
        if path in excluded:
            continue
        lines, code = count(text)
        totals["files"] += 1
        totals["lines"] += lines
        totals["code"] += code
    print(json.dumps(totals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
