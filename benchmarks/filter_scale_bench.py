"""Filters at scale on SQLite (issue 9, part 4). Prints a table; asserts only that answers agree.

Usage: python benchmarks/filter_scale_bench.py [--db PATH] [--tasks N]
On a database of N tasks (default 200,000, seeded with benchmarks/seed.py): CLI wall time of
`ls -q -f` with an `in` of 100,000 ids (Python and Mongo syntax), an `or` of 5,000 equality
terms (both syntaxes), an `in` of 5,000 numbers on a JSON path, and `update` of 100,000 ids
piped on stdin; beside each, the same query through the raw sqlite3 module (one bound JSON
array, json_each) and the ratio. Long filters go through `-f @FILE` (argv is capped at 128 KiB
per argument).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
CLI = [sys.executable, "-m", "labtasker_tui"]


def _cli(db: Path, *args: str, stdin: str | None = None) -> tuple[float, str]:
    t = time.perf_counter()
    res = subprocess.run([*CLI, "--db", str(db), *args], input=stdin, capture_output=True,
                         text=True)
    took = time.perf_counter() - t
    if res.returncode != 0:
        raise SystemExit(f"{args[:3]} failed: {res.stderr[-500:]}")
    return took, res.stdout


def _raw(db: Path, sql: str, params: tuple = ()) -> tuple[float, list]:
    con = sqlite3.connect(db)
    t = time.perf_counter()
    rows = con.execute(sql, params).fetchall()
    took = time.perf_counter() - t
    con.close()
    return took, rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, default=None)
    ap.add_argument("--tasks", type=int, default=200_000)
    opts = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ltbench-"))
    db = opts.db or tmp / "bench.db"
    if not db.exists():
        from seed import build

        t = time.perf_counter()
        build(db, opts.tasks)
        print(f"seeded {opts.tasks:,} tasks in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    con = sqlite3.connect(db)
    all_ids = [r[0] for r in con.execute("SELECT task_id FROM tasks ORDER BY rowid")]
    con.close()
    ids = all_ids[: 100_000 // 2] + [f"00000000-0000-0000-0000-{i:012d}" for i in range(50_000)]
    real = all_ids[:100_000]
    seeds = list(range(0, 10_000, 2))

    def write(name: str, text: str) -> str:
        path = tmp / name
        path.write_text(text, encoding="utf-8")
        return f"@{path}"

    by_id = "SELECT task_id FROM tasks WHERE queue = 'default' AND task_id IN " \
            "(SELECT value FROM json_each(?))"
    by_seed = "SELECT task_id FROM tasks WHERE queue = 'default' AND json_extract(args, " \
              "'$.seed') IN (SELECT value FROM json_each(?))"
    cases = [
        ("ls: task_id in [100,000 ids] (Python)",
         ["ls", "-q", "-f", write("p.txt", "task_id in [" + ",".join(map(repr, ids)) + "]")],
         None, by_id, (json.dumps(ids),)),
        ("ls: {task_id: {$in: 100,000 ids}} (Mongo)",
         ["ls", "-q", "-f", write("m.txt", json.dumps({"task_id": {"$in": ids}}))],
         None, by_id, (json.dumps(ids),)),
        ("ls: args.seed == 0 or ... (5,000 terms, Python)",
         ["ls", "-q", "-f", write("o.txt", " or ".join(f"args.seed == {s}" for s in seeds))],
         None, by_seed, (json.dumps(seeds),)),
        ("ls: {$or: [5,000 terms]} (Mongo)",
         ["ls", "-q", "-f", write("om.txt", json.dumps({"$or": [{"args.seed": s}
                                                               for s in seeds]}))],
         None, by_seed, (json.dumps(seeds),)),
        ("ls: args.seed in [5,000 numbers]",
         ["ls", "-q", "-f", write("in.txt", f"args.seed in {seeds}")],
         None, by_seed, (json.dumps(seeds),)),
        ("update -u priority=11, 100,000 ids on stdin",
         ["update", "-y", "-q", "-u", "priority=11"], "\n".join(real) + "\n",
         "UPDATE tasks SET priority = 12, version = version + 1 WHERE queue = 'default' AND "
         "task_id IN (SELECT value FROM json_each(?))", (json.dumps(real),)),
    ]
    print(f"{'case':<48}{'CLI s':>9}{'sqlite3 s':>11}{'ratio':>8}{'rows':>9}")
    for label, args, stdin, sql, params in cases:
        took, out = _cli(db, *args, stdin=stdin)
        if sql.startswith("UPDATE"):
            con = sqlite3.connect(db)
            t = time.perf_counter()
            with con:
                n = con.execute(sql, params).rowcount
            raw = time.perf_counter() - t
            con.close()
        else:
            raw, rows = _raw(db, sql, params)
            n = len(rows)
            got = set(out.split())
            if got != {r[0] for r in rows}:
                raise SystemExit(f"{label}: the CLI and sqlite3 disagree")
        print(f"{label:<48}{took:>9.2f}{raw:>11.3f}{took / max(raw, 1e-6):>8.1f}{n:>9,}")
    print(f"(database: {db}; CLI times include the ~0.3-0.5 s process start)", file=sys.stderr)


if __name__ == "__main__":
    main()
