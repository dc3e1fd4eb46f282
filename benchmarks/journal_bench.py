"""Journal overhead on a bulk update (issue 10: at most 1.5x the update alone, on SQLite).

Usage: python benchmarks/journal_bench.py [--tasks 50000] [--runs 3] [--db PATH]
Builds a SQLite database of N tasks (benchmarks/seed.py), then times TaskStore.update of every
task in the queue (a new priority each run, so every task changes), alternating journaling
off (LABTASKER_TUI_JOURNAL=0) and on. Prints the medians and their ratio, plus the time of
undoing the last journaled update (restoring N rows) and an N-record import with and without
journaling, for reference.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


async def bench(path: Path, runs: int) -> None:
    from labtasker_tui.store import journal
    from labtasker_tui.store.task_store import Selection, open_store

    store = open_store(f"sqlite+aiosqlite:///{path}", "default")
    n = await store.count()
    from sqlalchemy import true

    all_tasks = Selection(where=true())
    times: dict[bool, list[float]] = {False: [], True: []}
    priority = 1000
    for _ in range(runs):
        for journaled in (False, True):
            os.environ["LABTASKER_TUI_JOURNAL"] = "1" if journaled else "0"
            priority += 1
            t0 = time.perf_counter()
            plan = await store.update(all_tasks, lambda t, p=priority: {"priority": p})
            times[journaled].append(time.perf_counter() - t0)
            assert sum(1 for c in plan if c.changed) == n
    os.environ["LABTASKER_TUI_JOURNAL"] = "1"
    t0 = time.perf_counter()
    done = await journal.undo(store)
    undo_s = time.perf_counter() - t0
    await store.close()
    off, on = statistics.median(times[False]), statistics.median(times[True])
    print(f"tasks: {n:,}  runs: {runs} (median)")
    print(f"bulk update, journal off : {off:6.2f} s")
    print(f"bulk update, journal on  : {on:6.2f} s")
    print(f"ratio (on / off)         : {on / off:6.2f}x   (target <= 1.5x)")
    print(f"undo of that update      : {undo_s:6.2f} s   ({done.preview})")


async def bench_import(tmp: Path, n: int, runs: int) -> None:
    """``import`` of N new records into an empty database, journaled (the default) or not."""
    from labtasker_tui.store.task_store import open_store

    records = [{"args": {"lr": i / n, "model": "vit", "seed": i}, "metadata": {"tags": ["a"]},
                "status": "success", "summary": {"acc": 0.5}} for i in range(n)]
    times: dict[bool, list[float]] = {False: [], True: []}
    for r in range(runs):
        for journaled in (False, True):
            store = open_store(f"sqlite+aiosqlite:///{tmp / f'imp{r}{journaled}.db'}")
            await store.ensure_schema()
            t0 = time.perf_counter()
            await store.import_records(records, journaled=journaled)
            times[journaled].append(time.perf_counter() - t0)
            await store.close()
    off, on = statistics.median(times[False]), statistics.median(times[True])
    print(f"import {n:,} new, --no-journal : {off:6.2f} s")
    print(f"import {n:,} new, journaled   : {on:6.2f} s   ({on / off:.2f}x)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--db", default=None)
    opts = ap.parse_args()
    from seed import build

    path = Path(opts.db) if opts.db else Path(tempfile.mkdtemp(prefix="ltjournal.")) / "j.db"
    if not path.exists():
        build(path, opts.tasks)
    asyncio.run(bench(path, opts.runs))
    asyncio.run(bench_import(path.parent, opts.tasks, opts.runs))


if __name__ == "__main__":
    main()
