"""Core figures at 1,000,000 tasks on SQLite (issue: Core). Prints a table; asserts nothing.

Usage: python benchmarks/core_bench.py [--tasks 1000000] [--import-tasks 100000] [--db PATH]
Measures, whole process, median of 5: cold `submit -- --foo.bar 0.1`, `count`, `ls -q`
(with peak RSS, to show streaming keeps memory flat), and `submit --file` / `import`
throughput for 100,000 tasks into a fresh database.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
EXE = [sys.executable, "-m", "labtasker_tui"]


def timed(argv: list[str], stdin: Path | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one run, output discarded."""
    t0 = time.perf_counter()
    with open(stdin or os.devnull, "rb") as fin:
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], stdin=fin,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    wall = time.perf_counter() - t0
    rss = int(proc.stderr.decode().strip().splitlines()[-1])
    return wall, rss


def median_of(argv: list[str], n: int = 5) -> tuple[float, int]:
    runs = [timed(argv) for _ in range(n)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=1_000_000)
    ap.add_argument("--import-tasks", type=int, default=100_000)
    ap.add_argument("--db", default=None)
    opts = ap.parse_args()
    from seed import build

    tmp = Path(tempfile.mkdtemp(prefix="ltbench."))
    db = Path(opts.db) if opts.db else tmp / "big.db"
    if not db.exists():
        t0 = time.perf_counter()
        build(db, opts.tasks)
        print(f"built {opts.tasks:,} tasks in {time.perf_counter() - t0:.1f} s -> {db}")
    base = [*EXE, "--db", str(db)]
    rows = []
    wall, rss = median_of([*base, "submit", "-q", "--", "--foo.bar", "0.1"])
    rows.append(("submit -- --foo.bar 0.1", f"{wall:.3f} s", f"{rss / 1024:.0f} MiB", "<= 0.30 s"))
    wall, rss = median_of([*base, "count"])
    rows.append(("count", f"{wall:.3f} s", f"{rss / 1024:.0f} MiB", "<= 0.5 s"))
    for n in (10_000, None):
        argv = [*base, "ls", "-q"] + (["--limit", str(n)] if n else [])
        wall, rss = median_of(argv, 3)
        label = f"ls -q --limit {n:,}" if n else f"ls -q (all {opts.tasks:,})"
        rows.append((label, f"{wall:.3f} s", f"{rss / 1024:.0f} MiB", "memory flat"))

    specs = tmp / "specs.jsonl"
    with specs.open("w") as f:
        for i in range(opts.import_tasks):
            f.write(json.dumps({"args": {"lr": 0.001 * (i % 97), "seed": i,
                                         "opt": {"name": "adam"}},
                                "metadata": {"tags": ["bench"]}, "task_name": f"b{i}"}) + "\n")
    for label, cmd in (("submit --file", "submit"), ("import", "import")):
        fresh = tmp / f"fresh-{label.split()[0]}.db"
        argv = [*EXE, "--db", str(fresh), *(["submit", "-q", "--file", str(specs)]
                                            if cmd == "submit" else ["import", "-q", str(specs)])]
        wall, rss = timed(argv)
        rows.append((f"{label} ({opts.import_tasks:,})",
                     f"{opts.import_tasks / wall:,.0f} tasks/s", f"{rss / 1024:.0f} MiB",
                     ">= 20,000 tasks/s"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'figure':>16}  {'peak RSS':>9}  target")
    for r in rows:
        print(f"{r[0]:<{width}}  {r[1]:>16}  {r[2]:>9}  {r[3]}")


if __name__ == "__main__":
    main()
