"""`results` grouping time beside a hand-written SQL GROUP BY over the same paths.

    .venv/bin/python benchmarks/results_bench.py [--tasks 100000] [--db PATH]
        [--pg postgresql+psycopg://postgres@127.0.0.1:54329/bench] [--runs 3]

The tasks are benchmarks/seed.py's synthetic rows (SQLite: built with seed.py, reused when
the file already has N tasks; PostgreSQL: COPY of the same rows into the tasks table of the
given database, which should be one of its own). Grouped by args.model and args.opt.momentum
(5 x 3 groups) with one metric (summary.acc) and with two (summary.acc, summary.best.epoch):

  hand   SELECT json_extract(args, '$.model'), json_extract(args, '$.opt.momentum'),
         count(*), count(m), avg(m), min(m), max(m), sum(m * m) ... GROUP BY 1, 2
         (PostgreSQL: args -> 'model', ..., (summary ->> 'acc')::float8): no type checks,
         no status counts, no best task; run through the plain driver (sqlite3 / psycopg)
  ours   compute_results() in process (the store: SQLAlchemy, aiosqlite / psycopg async):
         typed group keys, status counts, NaN / missing / other counts, mean ± std, min,
         max and the best task (best of --runs)
  cli    the whole `labtasker-tui results --by ... --metric ... --format json` (one run)

and the ratio ours / hand (the target is at most 1.5x): of the best runs, and the median of
the ratios of runs made side by side (steadier on a loaded machine). The default grouping
(every varying args path found with json_tree / jsonb_each first) is timed too.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from seed import build, copy_into_pg  # noqa: E402

from labtasker_tui.store.results import compute_results  # noqa: E402
from labtasker_tui.store.task_store import open_store  # noqa: E402

BY = ["args.model", "args.opt.momentum"]
CASES = [["summary.acc"], ["summary.acc", "summary.best.epoch"]]


def side_by_side(url: str, hand: Callable[[], Any], metrics: list[str] | None, runs: int,
                 by: list[str] | None = BY) -> tuple[float, float, int, float]:
    """Best of ``runs`` for the hand-written query and for compute_results, run alternately
    (the machine's load then weighs on both alike), and the median of the runs' ratios."""
    async def go() -> tuple[float, float, int, float]:
        store = open_store(url)
        await store.ensure_schema()
        hand_times, ours_times, groups = [], [], 0
        for _ in range(runs):
            t0 = time.perf_counter()
            hand()
            hand_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            res = await compute_results(store, by=by, metrics=metrics)
            ours_times.append(time.perf_counter() - t0)
            groups = len(res.groups)
        await store.close()
        return min(hand_times), min(ours_times), groups, statistics.median(
            o / h for o, h in zip(ours_times, hand_times, strict=True))

    return asyncio.run(go())


def cli_time(url: str, metrics: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "labtasker_tui", "--db", url, "results", "--by",
                    ",".join(BY), "--metric", ",".join(metrics), "--format", "json"],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def sqlite_hand(metrics: list[str]) -> str:
    cols = []
    for m in metrics:
        col, key = m.split(".", 1)
        x = f"json_extract({col}, '$.{key}')"
        cols += [f"count({x})", f"avg({x})", f"min({x})", f"max({x})", f"sum({x} * {x})"]
    return (f"SELECT json_extract(args, '$.model'), json_extract(args, '$.opt.momentum'), "
            f"count(*), {', '.join(cols)} FROM tasks WHERE queue = 'default' GROUP BY 1, 2")


def pg_hand(metrics: list[str]) -> str:
    cols = []
    for m in metrics:
        col, *keys = m.split(".")
        x = col + "".join(f" -> '{k}'" for k in keys[:-1]) + f" ->> '{keys[-1]}'"
        x = f"({x})::float8"
        cols += [f"count({x})", f"avg({x})", f"min({x})", f"max({x})", f"stddev_samp({x})"]
    return (f"SELECT args -> 'model', args -> 'opt' -> 'momentum', count(*), "
            f"{', '.join(cols)} FROM tasks WHERE queue = 'default' GROUP BY 1, 2")


def report(rows: list[tuple[str, float, float, float, float]]) -> None:
    print(f"{'metrics':<34}{'hand':>8}{'ours':>8}{'best/best':>11}{'median':>8}{'cli':>8}")
    for name, hand, ours, ratio, cli in rows:
        print(f"{name:<34}{hand:>7.3f}s{ours:>7.3f}s{ours / hand:>10.2f}x{ratio:>7.2f}x"
              f"{cli:>7.2f}s")
    print("(best/best: the best run of each; median: of the ratios of runs made side by side)")


def sqlite_part(db: Path, n: int, runs: int) -> None:
    if db.exists():
        have = sqlite3.connect(db).execute("SELECT count(*) FROM tasks").fetchone()[0]
        if have != n:
            db.unlink()
    if not db.exists():
        t0 = time.perf_counter()
        build(db, n)
        print(f"seeded {n:,} tasks in {time.perf_counter() - t0:.0f} s -> {db}")
    url = f"sqlite+aiosqlite:///{db}"
    con = sqlite3.connect(db)
    print(f"\nSQLite {sqlite3.sqlite_version}, {n:,} tasks, by {', '.join(BY)}")
    rows = []
    for metrics in CASES:
        sql = sqlite_hand(metrics)
        hand, ours, groups, ratio = side_by_side(
            url, lambda sql=sql: con.execute(sql).fetchall(), metrics, runs)
        assert groups == len(con.execute(sql).fetchall())
        rows.append((", ".join(metrics), hand, ours, ratio, cli_time(url, metrics)))
    report(rows)
    default_grouping(url)


def default_grouping(url: str) -> None:
    _, default, groups, _ = side_by_side(url, lambda: None, None, 1, by=None)
    print(f"default grouping (every varying args path, every numeric summary path): "
          f"{default:.2f}s, {groups:,} groups (args.lr is distinct in every task)")


def pg_part(url: str, n: int, runs: int) -> None:
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
        have = pg.execute(  # the tests use other queues of the same database
            "SELECT count(*) FROM tasks WHERE queue = 'default'").fetchone()[0]  # type: ignore
        if have != n:
            pg.execute("DELETE FROM tasks WHERE queue = 'default'")
            took = copy_into_pg(pg, n)
            print(f"\nseeded PostgreSQL with {n:,} tasks by COPY in {took:.0f} s")
        version = pg.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        print(f"\nPostgreSQL {version}, {n:,} tasks, by {', '.join(BY)}")
        rows = []
        for metrics in CASES:
            sql = pg_hand(metrics)
            hand, ours, _, ratio = side_by_side(
                url, lambda sql=sql: pg.execute(sql).fetchall(), metrics, runs)  # type: ignore
            rows.append((", ".join(metrics), hand, ours, ratio, cli_time(url, metrics)))
        report(rows)
        default_grouping(url)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--db", default="/tmp/labtasker-results-bench.db")
    parser.add_argument("--pg", help="PostgreSQL URL (a database of its own: tasks are added)")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--no-sqlite", action="store_true")
    opts = parser.parse_args()
    if not opts.no_sqlite:
        sqlite_part(Path(opts.db), opts.tasks, opts.runs)
    if opts.pg:
        pg_part(opts.pg, opts.tasks, opts.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
