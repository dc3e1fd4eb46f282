"""Run the shared filter examples through the real CLI, as the differential suite does.

Usage: python scripts/differential.py [--db URL] [--examples FILE] [--tasks FILE]
Imports the 400 adversarial tasks into the database (which should be empty), then runs
`ls --extra-filter F --format jsonl --no-pager --limit 0` for every case and compares task names.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "filters"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file)")
    ap.add_argument("--examples", default=str(SHARED / "examples.jsonl"))
    ap.add_argument("--tasks", default=str(SHARED / "tasks.json"))
    opts = ap.parse_args()
    db = opts.db or f"sqlite:///{tempfile.mkdtemp()}/diff.db"
    exe = [sys.executable, "-m", "labtasker_tui", "--db", db]
    subprocess.run([*exe, "import", "--replace", "-q", opts.tasks], check=True)
    cases = [json.loads(line) for line in Path(opts.examples).read_text().splitlines() if line]
    bad = 0
    for case in cases:
        proc = subprocess.run([*exe, "ls", "--extra-filter", case["filter"], "--format", "jsonl",
                               "--no-pager", "--limit", "0"], capture_output=True, text=True)
        if case["expect"] == "error":
            if proc.returncode == 0:
                bad += 1
                print(f"FAIL {case['id']}: expected an error for {case['filter']!r}")
            continue
        if proc.returncode != 0:
            bad += 1
            print(f"FAIL {case['id']}: {case['filter']!r} -> {proc.stderr.strip()[-200:]}")
            continue
        got = {json.loads(line)["task_name"] for line in proc.stdout.splitlines()}
        want = set(case["task_names"])
        if got != want:
            bad += 1
            print(f"FAIL {case['id']}: {case['filter']!r} missing {sorted(want - got)[:5]} "
                  f"extra {sorted(got - want)[:5]}")
    print(f"{len(cases) - bad}/{len(cases)} cases pass on {db.split('://')[0]}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
