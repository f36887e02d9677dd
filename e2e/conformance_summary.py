#!/usr/bin/env python3
"""Lists the failed or warning checks of one conformance run that the baseline does not excuse.

Reads the suite's results directory (`-o DIR`: one `server-<scenario>-<timestamp>/checks.json`
per scenario) and the --expected-failures YAML, and prints one tab-separated line per
unexcused check: `scenario:check-id<TAB>STATUS<TAB>message`. Scenarios listed in
`--not-scored` (the requirement set's not_scored entries) are skipped, as the suite does.
Prints nothing when everything is excused. Standard library only (the baseline's simple
list syntax is parsed by hand).

Usage: conformance_summary.py RESULTS_DIR BASELINE.yml [--not-scored REQUIREMENTS.yml]
"""

import json
import re
import sys
from pathlib import Path


def baseline_entries(path):
    """The `- entry` lines under `server:`, comments stripped."""
    entries, in_server = set(), False
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].rstrip()
        if not line:
            continue
        if not line.startswith(" "):
            in_server = line.strip() == "server:"
            continue
        m = re.match(r"\s+-\s+(\S+)$", line)
        if in_server and m:
            entries.add(m.group(1))
    return entries


def not_scored(path):
    """Server scenarios a requirement set runs without scoring."""
    if not path:
        return set()
    text = Path(path).read_text()
    tail = text.split("\nnot_scored:", 1)[1] if "\nnot_scored:" in text else ""
    names = set()
    for block in re.split(r"\n\s*-\s+scenario:\s*", tail)[1:]:
        name = block.split()[0]
        if re.search(r"^\s*leg:\s*server\s*$", block, re.M):
            names.add(name)
    return names


def main(argv):
    if len(argv) not in (3, 5) or (len(argv) == 5 and argv[3] != "--not-scored"):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    results, excused = Path(argv[1]), baseline_entries(argv[2])
    skipped = not_scored(argv[4] if len(argv) == 5 else None)
    for checks in sorted(results.glob("server-*/checks.json")):
        scenario = re.sub(r"^server-|-\d{4}-\d\d-\d\dT.*$", "", checks.parent.name)
        if scenario in excused or scenario in skipped:
            continue
        for check in json.loads(checks.read_text()):
            status = check.get("status")
            key = f"{scenario}:{check.get('id')}"
            if status in ("FAILURE", "WARNING") and key not in excused:
                message = " ".join(str(check.get("errorMessage") or "").split())
                print(f"{key}\t{status}\t{message}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
