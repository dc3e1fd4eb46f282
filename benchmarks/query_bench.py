"""Query-layer figures at 1,000,000 tasks (issue: Query layer). Prints a table; asserts nothing.

Usage: python benchmarks/query_bench.py [--db PATH] [--tasks N] [--pg URL]
For each case: in-process time (parse + compile + run through TaskStore, ids only), CLI wall
time (`ls -f F -q`), and a hand-written SQL query for the same predicate run through the
sqlite3 module on the same file, with the ratio. Medians of 5. With --pg, the same cases run
through TaskStore on PostgreSQL (the database is seeded from the SQLite file if empty).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CASES = [
    # label, filter, sort, limit, hand-written SQL
    ("selective, no index", "args.lr > 0.0999", [], 0,
     "SELECT task_id FROM tasks WHERE json_extract(args, '$.lr') > 0.0999"),
    ("selective, indexed", "args.lr > 0.0999", [], 0,
     "SELECT task_id FROM tasks WHERE json_extract(args, '$.\"lr\"') > 0.0999"),
    ("full scan, nested path", "args.opt.momentum > 0.85 and args.opt.name == 'adam'", [], 0,
     "SELECT task_id FROM tasks WHERE json_extract(args, '$.opt.momentum') > 0.85 "
     "AND json_extract(args, '$.opt.name') = 'adam'"),
    ("array membership", "'ablation' in list(metadata.tags)", [], 0,
     "SELECT task_id FROM tasks WHERE EXISTS (SELECT 1 FROM json_each(metadata, '$.tags') "
     "WHERE value = 'ablation')"),
    ("sorted page by JSON path", "", [("summary.acc", True)], 50,
     # by type rank first, as the BSON order needs (a bare json_extract sorts text above
     # numbers and cannot tell true from 1): the fair hand-written equivalent
     "SELECT task_id FROM tasks ORDER BY CASE json_type(summary, '$.acc') WHEN 'null' THEN 1 "
     "WHEN 'integer' THEN 2 WHEN 'real' THEN 2 WHEN 'text' THEN 3 WHEN 'object' THEN 4 "
     "WHEN 'array' THEN 5 WHEN 'true' THEN 6 WHEN 'false' THEN 6 ELSE 1 END DESC, "
     "json_extract(summary, '$.acc') DESC LIMIT 50"),
]


def median_time(fn, n: int = 5) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(n):
        t0 = time.perf_counter()
        count = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), count


async def in_process(url: str, text: str, sort, limit: int, n: int = 5,
                     parse_each_time: bool = True) -> tuple[float, int]:
    """Median time of parse + compile + run (ids only) on an open store (warm connection);
    with ``parse_each_time=False`` the filter is parsed once: the time of the query alone."""
    from labtasker_tui.query import filter_to_sql, parse_filter
    from labtasker_tui.store.task_store import Selection, open_store

    store = open_store(url)
    try:
        await store.count()  # connect and check the schema outside the timing
        times, count = [], 0
        compiled = parse_filter(text) if text else None
        sel = Selection(where=filter_to_sql(compiled, store.dialect)) if compiled else None
        for _ in range(n):
            t0 = time.perf_counter()
            if parse_each_time:
                compiled = parse_filter(text) if text else None
                sel = (Selection(where=filter_to_sql(compiled, store.dialect))
                       if compiled else None)
            count = 0
            async for batch in store.iter_batches(sel, sort=sort, limit=limit or None,
                                                  ids_only=True):
                count += len(batch)
            times.append(time.perf_counter() - t0)
        return statistics.median(times), count
    finally:
        await store.close()


def cli_wall(db: str, text: str, sort, limit: int) -> float:
    argv = [sys.executable, "-m", "labtasker_tui", "--db", db, "ls", "-q", "--limit",
            str(limit)]
    if text:
        argv += ["-f", text]
    for path, desc in sort:
        argv += ["-S", f"{path}:{'desc' if desc else 'asc'}"]
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def set_index(db: str, on: bool) -> None:
    verb = ["index", "add", "args.lr"] if on else ["index", "drop", "args.lr"]
    subprocess.run([sys.executable, "-m", "labtasker_tui", "--db", db, *verb],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None)
    ap.add_argument("--tasks", type=int, default=1_000_000)
    ap.add_argument("--pg", default=None, help="PostgreSQL URL (an empty database)")
    opts = ap.parse_args()
    from seed import build

    db = Path(opts.db) if opts.db else Path(tempfile.mkdtemp()) / "big.db"
    if not db.exists():
        build(db, opts.tasks)
    url = f"sqlite+aiosqlite:///{db}"
    con = sqlite3.connect(db, cached_statements=0)
    print(f"{'case':<26} {'matches':>8} {'in-process':>11} {'query only':>11} {'CLI wall':>9} "
          f"{'hand SQL':>9} {'ratio':>6}")
    for label, text, sort, limit, sql in CASES:
        set_index(str(db), "indexed" in label)
        t_in, n = asyncio.run(in_process(url, text, sort, limit))
        t_q, _ = asyncio.run(in_process(url, text, sort, limit, parse_each_time=False))
        t_cli = cli_wall(str(db), text, sort, limit)
        t_sql, _ = median_time(lambda q=sql: len(con.execute(q).fetchall()))
        print(f"{label:<26} {n:>8,} {t_in * 1000:>9.1f}ms {t_q * 1000:>9.1f}ms {t_cli:>8.2f}s "
              f"{t_sql * 1000:>7.1f}ms {t_in / t_sql:>6.2f}")
    set_index(str(db), False)
    if opts.pg:
        pg_figures(opts.pg, db)


def pg_figures(pg: str, db: Path) -> None:
    """Seed PostgreSQL from the SQLite file (once) and time the same cases in-process."""
    from labtasker_tui.store.task_store import open_store

    async def count() -> int:
        store = open_store(pg)
        try:
            await store.ensure_schema()
            return await store.count()
        finally:
            await store.close()

    if asyncio.run(count()) == 0:
        import psycopg

        src = sqlite3.connect(db)
        cols = [r[1] for r in src.execute("PRAGMA table_info(tasks)")]
        dsn = pg.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as pgc, pgc.cursor() as cur:
            with cur.copy(f"COPY tasks ({', '.join(cols)}) FROM STDIN") as cp:
                for row in src.execute(f"SELECT {', '.join(cols)} FROM tasks"):
                    stamped = ("created_at", "last_modified")
                    cp.write_row([v + "+00" if isinstance(v, str) and c in stamped else v
                                  for c, v in zip(cols, row, strict=True)])
            cur.execute("ANALYZE tasks")
    print(f"\nPostgreSQL ({pg.split('@')[-1]})")
    for label, text, sort, limit, _ in CASES:
        if "indexed" in label:
            subprocess.run([sys.executable, "-m", "labtasker_tui", "--db", pg, "index", "add",
                            "args.lr"], stdout=subprocess.DEVNULL)
        t_in, n = asyncio.run(in_process(pg, text, sort, limit))
        print(f"{label:<26} {n:>8,} {t_in * 1000:>9.1f}ms")
    subprocess.run([sys.executable, "-m", "labtasker_tui", "--db", pg, "index", "drop",
                    "args.lr"], stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
