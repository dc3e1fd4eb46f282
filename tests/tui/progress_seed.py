"""Progress reports and finished runs on top of the seeded database (tests/tui/seed.py), at
times relative to its frozen clock: for the progress column and ETA line tests, snapshots and
screenshots."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import insert

from labtasker_tui.schema import task_runs
from labtasker_tui.store.task_store import open_store

from .seed import FIXED_NOW

#: (step, total, minutes since the progress last moved) for the running tasks, in list order;
#: the fourth has not moved for 50 minutes: stalled (the default limit is 30 minutes); the
#: 30-task seed has 4 running tasks, the screenshots' 60-task one has 9
RUNNING_PROGRESS = [(120, 1000, 1), (37, 50, 2), (None, None, None), (4, 10, 50),
                    (880, 1000, 0), (3, 200, 1), (199, 200, 0), (None, None, None),
                    (45, 90, 3)]


async def seed_progress(url: str) -> dict[str, str]:
    """Write the runs; returns {task id: what its progress cell should say}."""
    store = open_store(url)
    expected: dict[str, str] = {}
    try:
        tasks = await store.list(sort=[("created_at", False)])
        running = [t for t in tasks if t.status == "running"]
        finished = [t for t in tasks if t.status in ("success", "failed", "cancelled")]
        async with store.write() as conn:
            for task, (step, total, moved) in zip(running, RUNNING_PROGRESS, strict=False):
                if step is None:
                    continue
                moved_at = FIXED_NOW - timedelta(minutes=moved)
                await conn.execute(insert(task_runs).values(
                    task_id=task.task_id, queue=store.queue, run_start=task.start_time,
                    progress=step / total, step=step, total=total, updated_at=moved_at,
                    moved_at=moved_at))
                pct = f"{step * 100 // total}%"
                expected[task.task_id] = f"{step:,}/{total:,} {pct}" + (
                    " stalled" if moved >= 30 else "")
            for k, task in enumerate(finished):
                ended = FIXED_NOW - timedelta(minutes=5 + 47 * k)
                duration = 600.0 + (97 * k) % 900
                await conn.execute(insert(task_runs).values(
                    task_id=task.task_id, queue=store.queue,
                    run_start=ended - timedelta(seconds=duration), finished_at=ended,
                    updated_at=ended, outcome=task.status, duration=duration))
    finally:
        await store.close()
    return expected


def seed_progress_sync(url: str) -> dict[str, str]:
    return asyncio.run(seed_progress(url))
