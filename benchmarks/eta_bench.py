"""What the ETA costs: its reads beside the status counts the list reads anyway.

Usage: python benchmarks/eta_bench.py [N] [--runs 3]

Builds an N-task SQLite database (benchmarks/seed.py) with 64 running tasks, and records a
finish for every finished task over the last day (task_runs): a heavy day (a third of the
tasks finished in it).
Prints the median time of:
  - count_by_status: what the app reads on every load (the sidebar);
  - eta_inputs with those counts: what the app adds for its ETA line (at most every 5 s);
  - eta_inputs alone: what `labtasker-tui eta` reads;
  - one progress report (report_progress), as a job's writer thread sends it;
unfiltered and with a filter on an args path.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from seed import build  # noqa: E402

from labtasker_tui.query import filter_to_sql, parse_filter  # noqa: E402
from labtasker_tui.store.progress import eta_inputs, report_progress  # noqa: E402
from labtasker_tui.store.task_store import Selection, open_store  # noqa: E402


def add_runs(path: Path, now: datetime) -> tuple[int, int]:
    """Start times for the running tasks, finishes for the finished ones (last 24 h)."""
    rng = random.Random(3)
    con = sqlite3.connect(path)
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    start = (now - timedelta(minutes=5)).replace(tzinfo=None).strftime(fmt)
    # a 64-slot cluster: 64 tasks running, the seed's other "running" ones pending
    con.execute("UPDATE tasks SET status = 'pending' WHERE status = 'running' AND rowid NOT IN"
                " (SELECT rowid FROM tasks WHERE status = 'running' LIMIT 64)")
    con.execute("UPDATE tasks SET start_time = ?, worker_id = 'w' WHERE status = 'running'",
                (start,))
    running = [r[0] for r in con.execute("SELECT task_id FROM tasks WHERE status = 'running'")]
    finished = con.execute("SELECT task_id, status FROM tasks WHERE status IN"
                           " ('success', 'failed', 'cancelled')").fetchall()
    rows = []
    for task_id, status in finished:
        ended = now - timedelta(seconds=rng.uniform(0, 86400))
        duration = rng.uniform(60, 1800)
        rows.append((task_id, "default", (ended - timedelta(seconds=duration)).replace(
            tzinfo=None).strftime(fmt), ended.replace(tzinfo=None).strftime(fmt),
            ended.replace(tzinfo=None).strftime(fmt), status, duration))
    con.executemany("INSERT INTO task_runs (task_id, queue, run_start, finished_at, updated_at,"
                    " outcome, duration) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()
    return len(running), len(finished)


async def timed(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


async def bench(url: str, runs: int) -> None:
    store = open_store(url)
    try:
        where = filter_to_sql(parse_filter("args.model == 'vit'"), store.dialect)
        running = [t.task_id for t in await store.list(Selection(status="running"), limit=1)]
        for label, sel in (("all tasks", None), ("-f args.model == 'vit'", Selection(
                where=where))):
            counts = await store.count_by_status(sel)
            c = await timed(lambda sel=sel: store.count_by_status(sel), runs)
            with_counts = await timed(
                lambda sel=sel, counts=counts: eta_inputs(store, sel, counts=counts), runs)
            alone = await timed(lambda sel=sel: eta_inputs(store, sel), runs)
            print(f"{label:<26} count_by_status {c * 1000:8.1f} ms   ETA reads given the"
                  f" counts {with_counts * 1000:7.1f} ms ({with_counts / c:.2f}x)"
                  f"   eta command reads {alone * 1000:8.1f} ms")
        if running:
            step = iter(range(10**9))
            t = await timed(lambda: report_progress(store, running[0], None,
                                                    next(step) / 10**9), runs * 10)
            print(f"one progress report (a write transaction): {t * 1000:.1f} ms")
    finally:
        await store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "eta.db"
        t = time.perf_counter()
        build(path, opts.n)
        running, finished = add_runs(path, datetime.now(UTC))
        print(f"{opts.n:,} tasks ({running:,} running, {finished:,} finished in the last day)"
              f" built in {time.perf_counter() - t:.1f} s; median of {opts.runs} runs")
        asyncio.run(bench(f"sqlite+aiosqlite:///{path}", opts.runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
