"""Deduplication's cost: importing configurations into a large queue with and without the
duplicate check (issue 13: at most 1.5x).

Usage: python benchmarks/dedup_bench.py [--tasks 1000000] [--configs 100000] [--pg URL]
                                        [--keep] [--no-sqlite] [--repeats 3]

A queue of --tasks tasks (benchmarks/seed.py; on PostgreSQL by COPY into the queue
``bench_dedup``) receives --configs configurations, a fifth of them already present (args
copied from seeded tasks, keys reordered and 0.9 spelled 0.90000), through the store's
``import_batch`` as `import` runs it: once with ``dedup="off"`` (the plain import, no lookup)
once with ``dedup="skip"`` (look up every configuration's args hash in the (queue,
args_hash) index, compare the candidates, insert only the new ones), and once with
``dedup="allow"`` (the same lookup, then every record inserted: the check's whole cost).
The journal is off in all (it would add the same cost to each, hiding the difference).
Runs alternate, the imported rows are deleted after each run, and the medians and their
ratios are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from seed import build, copy_into_pg  # noqa: E402

from labtasker_tui.store.task_store import open_store  # noqa: E402

PG_QUEUE = "bench_dedup"


def configs(n: int, present: list[dict[str, Any]], seed: int = 11) -> list[dict[str, Any]]:
    """``n`` import records: a fifth copies existing args (reordered), the rest are new."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 5 == 0 and present:
            args = dict(reversed(list(rng.choice(present).items())))
        else:
            args = {"lr": round(10 ** rng.uniform(-5, -1), 8), "model": "new",
                    "seed": 10_000_000 + i, "opt": {"momentum": 0.9, "name": "sgd"}}
        out.append({"args": args})
    return out


async def sample_args(url: str, queue: str, k: int) -> list[dict[str, Any]]:
    store = open_store(url, queue)
    try:
        return [t.args for t in await store.list(None, limit=k)]
    finally:
        await store.close()


async def one_run(url: str, queue: str, records: list[dict[str, Any]], mode: str
                  ) -> tuple[float, str]:
    from sqlalchemy import delete

    from labtasker_tui.schema import tasks

    store = open_store(url, queue)
    try:
        await store.ensure_schema()
        t0 = time.perf_counter()
        out = await store.import_batch([dict(r) for r in records], journaled=False,
                                       dedup=mode)  # type: ignore[arg-type]
        took = time.perf_counter() - t0
        async with store.write() as conn:  # back to the seeded state
            for i in range(0, len(out.ids), 20_000):
                await conn.execute(delete(tasks).where(
                    store.ids_in(tasks.c.task_id, out.ids[i:i + 20_000])))
        return took, out.report()
    finally:
        await store.close()


def measure(label: str, url: str, queue: str, n_tasks: int, n_configs: int,
            repeats: int) -> float:
    present = asyncio.run(sample_args(url, queue, max(1, n_configs // 5)))
    records = configs(n_configs, present)
    times: dict[str, list[float]] = {"off": [], "skip": [], "allow": []}
    report = ""
    for _ in range(repeats):
        for mode in times:
            took, rep = asyncio.run(one_run(url, queue, records, mode))
            times[mode].append(took)
            if mode == "skip":
                report = rep
    off, skip, allow = (statistics.median(times[m]) for m in ("off", "skip", "allow"))
    print(f"\n{label}: import {n_configs:,} configurations into {n_tasks:,} tasks "
          f"(medians of {repeats})")
    print(f"  without dedup (off)          {off:7.2f} s")
    print(f"  with dedup (skip)            {skip:7.2f} s  {skip / off:5.2f}x  ({report})")
    print(f"  check, insert all (allow)    {allow:7.2f} s  {allow / off:5.2f}x"
          "  (the lookup's whole cost)")
    return max(skip, allow) / off


def seed_pg(url: str, n: int) -> None:
    import psycopg

    from labtasker_tui.store.location import normalise_url

    url = normalise_url(url)

    async def init() -> None:
        store = open_store(url)
        await store.ensure_schema()
        await store.close()

    asyncio.run(init())
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as pg:
        have = pg.execute("SELECT count(*) FROM tasks WHERE queue = %s",
                          (PG_QUEUE,)).fetchone()[0]
        if have == n:
            return
        pg.execute("DELETE FROM tasks WHERE queue = %s", (PG_QUEUE,))
        took = copy_into_pg(pg, n, seed=8, queue=PG_QUEUE)  # ids unlike other benches
        print(f"seeded PostgreSQL queue {PG_QUEUE} with {n:,} tasks in {took:.0f} s")


def drop_pg_queue(url: str) -> None:
    import psycopg

    from labtasker_tui.store.location import normalise_url

    dsn = normalise_url(url).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as pg:
        pg.execute("DELETE FROM tasks WHERE queue = %s", (PG_QUEUE,))
        pg.execute("VACUUM ANALYZE tasks")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--configs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--db", default="/tmp/labtasker-dedup-bench.db",
                        help="the SQLite file (kept and reused when it has --tasks tasks)")
    parser.add_argument("--pg", help="a PostgreSQL URL (queue bench_dedup is seeded there)")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--keep", action="store_true",
                        help="keep the PostgreSQL queue bench_dedup for another run (by"
                             " default it is deleted at the end: tests share databases)")
    a = parser.parse_args()
    ratios = []
    if not a.no_sqlite:
        path = Path(a.db)
        import sqlite3

        have = -1
        if path.exists():
            try:
                con = sqlite3.connect(path)
                have = con.execute("SELECT count(*) FROM tasks WHERE args_hash IS NOT NULL"
                                   ).fetchone()[0]
                con.close()
            except sqlite3.Error:
                have = -1
        if have != a.tasks:
            t0 = time.perf_counter()
            build(path, a.tasks)
            print(f"seeded {path} with {a.tasks:,} tasks in {time.perf_counter() - t0:.0f} s")
        ver = sqlite3.sqlite_version
        ratios.append(measure(f"SQLite {ver}", f"sqlite+aiosqlite:///{path}", "default",
                              a.tasks, a.configs, a.repeats))
    if a.pg:
        seed_pg(a.pg, a.tasks)
        try:
            ratios.append(measure("PostgreSQL", a.pg, PG_QUEUE, a.tasks, a.configs,
                                  a.repeats))
        finally:
            if not a.keep:
                drop_pg_queue(a.pg)
    print(json.dumps({"ratios": [round(r, 2) for r in ratios]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
