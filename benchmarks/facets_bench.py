"""Facet-count latency at scale, beside a hand-written GROUP BY on the same data.

    .venv/bin/python benchmarks/facets_bench.py [--tasks 1000000] [--db PATH]
        [--pg postgresql+psycopg://postgres@127.0.0.1:54329/bench] [--pg-tasks N]

SQLite: the database is built with benchmarks/seed.py (reused when it already has N tasks).
For args.model (string), metadata.tags (array) and args.lr (numeric) it prints
  hand   SELECT json_extract(col, '$.key'), count(*) FROM tasks GROUP BY 1  (sqlite3 module)
  facet  facet_counts() in process (best of 2)
  cli    the whole `labtasker-tui facets PATH --format json` command (one run)
then the same after `index add PATH` (with the EXPLAIN QUERY PLAN line), and drops the
indexes again. PostgreSQL (--pg): the tasks table of a fresh queue-less database is filled by
COPY with the same synthetic rows; hand = `SELECT col -> 'key', count(*) ... GROUP BY 1`.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from seed import build, copy_into_pg  # noqa: E402

from labtasker_tui.store.facets import facet_counts  # noqa: E402
from labtasker_tui.store.indexes import add_index, drop_index  # noqa: E402
from labtasker_tui.store.task_store import open_store  # noqa: E402

PATHS = [("args.model", "string"), ("metadata.tags", "array"), ("args.lr", "numeric")]


def best(fn, runs: int = 2) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def facet_time(url: str, path: str, runs: int = 2) -> tuple[float, bool]:
    async def go() -> tuple[float, bool]:
        store = open_store(url)
        await store.ensure_schema()
        times, used = [], False
        for _ in range(runs):
            t0 = time.perf_counter()
            f = await facet_counts(store, path, None)
            times.append(time.perf_counter() - t0)
            used = f.used_index
        await store.close()
        return min(times), used

    return asyncio.run(go())


def cli_time(url: str, path: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "labtasker_tui", "--db", url, "facets", path,
                    "--format", "json"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def index_paths(url: str, paths: list[str], add: bool) -> None:
    async def go() -> None:
        store = open_store(url)
        async with store.write() as conn:
            for p in paths:
                await (add_index(conn, p) if add else drop_index(conn, p))
        await store.close()

    asyncio.run(go())


def sqlite_part(db: Path, n: int) -> None:
    if db.exists():
        have = sqlite3.connect(db).execute("SELECT count(*) FROM tasks").fetchone()[0]
        if have != n:
            db.unlink()
    if not db.exists():
        t0 = time.perf_counter()
        build(db, n)
        print(f"seeded {n:,} tasks in {time.perf_counter() - t0:.0f} s -> {db}")
    url = f"sqlite+aiosqlite:///{db}"
    index_paths(url, [p for p, _ in PATHS], add=False)
    con = sqlite3.connect(db)
    print(f"\nSQLite {sqlite3.sqlite_version}, {n:,} tasks ({db.stat().st_size / 1e6:.0f} MB)")
    print(f"{'path':<15}{'kind':<9}{'hand':>8}{'facet':>8}{'cli':>8}{'cli/hand':>10}")
    for path, kind in PATHS:
        col, key = path.split(".", 1)
        sql = f"SELECT json_extract({col}, '$.{key}'), count(*) FROM tasks GROUP BY 1"
        hand = best(lambda sql=sql: con.execute(sql).fetchall())
        facet, _ = facet_time(url, path)
        cli = cli_time(url, path)
        print(f"{path:<15}{kind:<9}{hand:>7.2f}s{facet:>7.2f}s{cli:>7.2f}s{cli / hand:>9.2f}x")
    index_paths(url, [p for p, _ in PATHS], add=True)
    print("\nwith `index add PATH` (no filter; every task in this queue):")
    print(f"{'path':<15}{'facet':>8}{'cli':>8}  index used / plan")
    for path, _ in PATHS:
        facet, used = facet_time(url, path)
        cli = cli_time(url, path)
        col, key = path.split(".", 1)
        fresh = sqlite3.connect(db)  # a connection opened after the index exists
        plan = fresh.execute(f"EXPLAIN QUERY PLAN SELECT json_extract({col}, '$.\"{key}\"') "
                             "AS v, count(*) FROM tasks GROUP BY v").fetchall()
        print(f"{path:<15}{facet:>7.2f}s{cli:>7.2f}s  {'yes' if used else 'no (scan)'}"
              f" / {'; '.join(r[-1] for r in plan)}")
    index_paths(url, [p for p, _ in PATHS], add=False)


def pg_part(url: str, n: int) -> None:
    import psycopg

    from labtasker_tui.store.location import normalise_url

    url = normalise_url(url)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")

    async def init() -> None:
        store = open_store(url)
        await store.ensure_schema()
        await store.close()

    asyncio.run(init())
    with psycopg.connect(dsn, autocommit=True) as pg:
        have = pg.execute("SELECT count(*) FROM tasks").fetchone()[0]
        if have != n:
            pg.execute("TRUNCATE tasks")
            took = copy_into_pg(pg, n)
            print(f"\nseeded PostgreSQL with {n:,} tasks by COPY in {took:.0f} s")
        version = pg.execute("SHOW server_version").fetchone()[0]
        index_paths(url, [p for p, _ in PATHS], add=False)
        print(f"\nPostgreSQL {version}, {n:,} tasks")
        print(f"{'path':<15}{'hand':>8}{'facet':>8}{'+index':>8}{'cli':>8}")
        rows = []
        for path, _ in PATHS:
            col, key = path.split(".", 1)
            sql = f"SELECT {col} -> '{key}', count(*) FROM tasks GROUP BY 1"
            hand = best(lambda sql=sql: pg.execute(sql).fetchall())
            facet, _ = facet_time(url, path)
            cli = cli_time(url, path)
            rows.append([path, hand, facet, cli])
        index_paths(url, [p for p, _ in PATHS], add=True)
        for row in rows:
            row.insert(3, facet_time(url, row[0])[0])
            print(f"{row[0]:<15}{row[1]:>7.2f}s{row[2]:>7.2f}s{row[3]:>7.2f}s{row[4]:>7.2f}s")
        index_paths(url, [p for p, _ in PATHS], add=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--db", default="/tmp/labtasker-facets-bench.db")
    parser.add_argument("--pg", help="PostgreSQL URL (a database of its own: tasks are added)")
    parser.add_argument("--pg-tasks", type=int, help="tasks on PostgreSQL (default --tasks)")
    parser.add_argument("--no-sqlite", action="store_true")
    opts = parser.parse_args()
    if not opts.no_sqlite:
        sqlite_part(Path(opts.db), opts.tasks)
    if opts.pg:
        pg_part(opts.pg, opts.pg_tasks or opts.tasks)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
