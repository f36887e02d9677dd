#!/usr/bin/env python3
# Checks the crate's layering: the top-level modules of src/ import each other only downwards,
# in the data-flow order below (ripgrep-style: files inside one module may use each other
# freely, modules may not). A module imports only modules in later layers; two modules of
# one layer do not import each other. So no import loop between modules can exist, and the
# plumbing at the bottom (metrics, log, util, ...) never reaches up into the server.
# Test code (`#[cfg(test)] mod tests` and files under a tests/ folder) is left out.
# Usage: python3 scripts/import-cycles.py   (from the repository root; exit 1 on a violation)
import os, re, sys

LAYERS = [
    ["main", "lib", "cli"],          # the binary: parse the command line, run
    ["http"],                        # tiny_http server, routing, transports
    ["mcp"],                         # JSON-RPC methods and tools
    ["kb"],                          # knowledge bases: Bedrock, local BM25
    ["auth", "aws"],                 # beside the data flow: sign-in; SigV4 and credentials
    ["config"],                      # settings, read and validated once
    ["metrics"],                     # the recorder every layer above writes into
    ["log"],                         # JSON log lines (metrics logs a flood's end)
    ["alloc", "clock", "dns", "rfc3339", "slots", "socket", "util", "golden"],  # leaves
]
# Known exceptions, each with the reason it is allowed and when it goes (none today).
ALLOWED: set = set()

layer_of = {m: i for i, ms in enumerate(LAYERS) for m in ms}
problems = []
edges = {}
for dp, _, fs in os.walk("src"):
    if "/tests" in dp + "/" and dp.rstrip("/").endswith("tests"):
        continue
    for f in fs:
        if not f.endswith(".rs") or f == "tests.rs":
            continue
        path = os.path.join(dp, f)
        top = path[len("src/"):].split("/")[0].removesuffix(".rs")
        if top not in layer_of:
            problems.append(f"{path}: module `{top}` is in no layer; add it to LAYERS in {sys.argv[0]}")
            continue
        src = open(path).read()
        src = re.split(r"#\[cfg\(test\)\]\s*mod \w*tests", src)[0]
        targets = set(re.findall(r"crate::(\w+)", src))
        for group in re.findall(r"crate::\{([^}]*)\}", src):
            targets |= {t.strip().split("::")[0] for t in group.split(",") if t.strip()}
        for t in targets - {top, "self"}:
            edges.setdefault((top, t), set()).add(path)

for (a, b), paths in sorted(edges.items()):
    if b not in layer_of:
        continue
    if layer_of[b] > layer_of[a] or (a, b) in ALLOWED:
        continue
    where = ", ".join(sorted(paths))
    kind = "a sibling" if layer_of[a] == layer_of[b] else "a module above it"
    problems.append(f"`{a}` imports `{b}`, {kind} ({where})")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
