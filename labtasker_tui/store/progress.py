"""Runs of tasks (the ``task_runs`` table, schema v4): the progress a job reports while its
task runs, when each run finished, and the ETA inputs of a selection.

A progress report writes only ``task_runs``: the task's version, last_modified and the undo
journal are untouched (workers' reports are not journaled), so a report never makes an
exact-apply check or an undo refuse. A row describes the run that started at its
``run_start``; it counts only while the task is running with that start_time, so a task that
is reset, requeued or reclaimed after a crash shows no stale progress, and nothing has to
clear it. The finish of a run is written by the report that ends it (:mod:`.claims`), in the
same transaction, with its duration: finish times survive later edits of the task.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, cast, func, literal, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from ..eta import HISTORY, SPARK_HOURS, EtaInputs, RunningTask
from ..lifecycle import STATUSES
from ..schema import UTCDateTime, task_runs, tasks, utcnow, workers
from ..worker_states import WorkerInfo, derive_state
from .selection import Selection
from .task_store import TaskStore

#: Statuses a finished run can leave its task in that take it out of the work left.
FINAL = ("success", "failed", "cancelled")


def _upsert(dialect: str, values: dict[str, Any], update_cols: Iterable[str]) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(task_runs).values(**values)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(task_runs).values(**values)
    return stmt.on_conflict_do_update(
        index_elements=[task_runs.c.task_id],
        set_={c: getattr(stmt.excluded, c) for c in update_cols})


async def report_progress(store: TaskStore, task_id: str, worker_id: str | None,
                          fraction: float, step: float | None = None,
                          total: float | None = None) -> bool:
    """Record a checked progress report (:func:`labtasker_tui.eta.check_progress`) for the
    task's current run; False (nothing written) when the task is not running (for this
    worker, when one is given)."""
    now = utcnow()
    async with store.write() as conn:
        conds = [tasks.c.task_id == task_id, tasks.c.queue == store.queue,
                 tasks.c.status == "running"]
        if worker_id is not None:
            conds.append(tasks.c.worker_id == worker_id)
        row = (await conn.execute(select(tasks.c.start_time).where(*conds))).first()
        if row is None:
            return False
        old = (await conn.execute(select(
            task_runs.c.run_start, task_runs.c.progress, task_runs.c.step,
            task_runs.c.moved_at).where(task_runs.c.task_id == task_id))).first()
        same_run = old is not None and old.run_start == row.start_time
        moved = not same_run or old is None or old.progress != fraction or old.step != step
        values = dict(task_id=task_id, queue=store.queue, run_start=row.start_time,
                      progress=fraction, step=step, total=total, updated_at=now,
                      moved_at=now if moved or old is None else old.moved_at,
                      finished_at=None, outcome=None, duration=None)
        await conn.execute(_upsert(store.dialect, values, [k for k in values if k != "task_id"]))
        return True


async def record_finish(conn: AsyncConnection, dialect: str, queue: str, task_id: str,
                        start_time: datetime | None, now: datetime, outcome: str) -> None:
    """The run that started at ``start_time`` ended now, leaving the task ``outcome`` (called
    inside the report's transaction). The progress of the run is cleared."""
    duration = (now - start_time).total_seconds() if start_time is not None else None
    values = dict(task_id=task_id, queue=queue, run_start=start_time, progress=None,
                  step=None, total=None, updated_at=now, moved_at=None, finished_at=now,
                  outcome=outcome, duration=duration)
    await conn.execute(_upsert(dialect, values, [k for k in values if k != "task_id"]))


def _hours_ago(dialect: str, now: datetime) -> Any:
    """Whole hours between a run's finish and ``now`` (0: the last 60 minutes), in SQL: the
    completions are counted per hour by the database (a GROUP BY of at most 24 rows)."""
    if dialect == "postgresql":
        return cast(func.floor(func.extract(
            "epoch", literal(now, UTCDateTime()) - task_runs.c.finished_at) / 3600), Integer)
    # SQLite keeps naive UTC text; julianday() reads it (days, as a real number)
    return cast((func.julianday(literal(now, UTCDateTime())) -
                 func.julianday(task_runs.c.finished_at)) * 24, Integer)


def _live_run() -> Any:
    """The join condition of a running task with the progress of its current run."""
    return and_(task_runs.c.task_id == tasks.c.task_id,
                task_runs.c.run_start == tasks.c.start_time,
                task_runs.c.finished_at.is_(None))


async def progress_of(store: TaskStore, task_ids: Iterable[str]) -> dict[str, RunningTask]:
    """task id -> its current run's progress, for those of ``task_ids`` that are running and
    have reported progress in this run (a few hundred ids: the rows on screen)."""
    ids = sorted(set(task_ids))
    out: dict[str, RunningTask] = {}
    if not ids:
        return out
    async with store.read() as conn:
        for i in range(0, len(ids), 500):
            rows = await conn.execute(
                select(tasks.c.task_id, tasks.c.start_time, task_runs.c.progress,
                       task_runs.c.step, task_runs.c.total, task_runs.c.moved_at)
                .select_from(tasks.join(task_runs, _live_run()))
                .where(tasks.c.task_id.in_(ids[i:i + 500]), tasks.c.status == "running",
                       task_runs.c.progress.is_not(None)))
            for r in rows:
                out[r.task_id] = RunningTask(r.task_id, r.start_time, r.progress, r.step,
                                             r.total, r.moved_at)
    return out


async def eta_inputs(store: TaskStore, sel: Selection | None, *,
                     now: datetime | None = None,
                     counts: Mapping[str, int] | None = None) -> EtaInputs:
    """What :func:`labtasker_tui.eta.estimate` needs for the selection, read in one read
    transaction: counts by status (unless given: the app has them already), the running
    tasks with their current progress, the latest successful run durations, completions per
    hour over the last day, and the live worker slots of the queue."""
    now = now or utcnow()
    scope = store.scope(sel)
    since = now - timedelta(hours=SPARK_HOURS)
    async with store.read() as conn:
        if counts is None:
            rows = await conn.execute(select(tasks.c.status, func.count())
                                      .where(store.scope(sel, scan=True))
                                      .group_by(tasks.c.status))
            got = dict.fromkeys(STATUSES, 0)
            got.update({status: int(n) for status, n in rows})
            counts = got
        running = [RunningTask(r.task_id, r.start_time, r.progress, r.step, r.total,
                               r.moved_at) for r in await conn.execute(
            select(tasks.c.task_id, tasks.c.start_time, task_runs.c.progress,
                   task_runs.c.step, task_runs.c.total, task_runs.c.moved_at)
            .select_from(tasks.outerjoin(task_runs, _live_run()))
            .where(scope, tasks.c.status == "running").order_by(tasks.c.start_time))]
        # finished runs of the selection: joined with their tasks only when there is a
        # selection to check (a task deleted since is not counted then; 72,000 finishes of
        # a day joined cost a second on 200,000 tasks, the runs alone a few milliseconds)
        if sel is None or sel.empty:
            joined: Any = task_runs
            of_sel: Any = true()
        else:
            joined = tasks.join(task_runs, task_runs.c.task_id == tasks.c.task_id)
            of_sel = scope
        durations = list((await conn.execute(
            select(task_runs.c.duration).select_from(joined)
            .where(of_sel, task_runs.c.queue == store.queue, task_runs.c.outcome == "success",
                   task_runs.c.finished_at.is_not(None))
            .order_by(task_runs.c.finished_at.desc()).limit(HISTORY))).scalars())
        hours_ago = _hours_ago(store.dialect, now)
        per_hour = [0] * SPARK_HOURS
        for ago, n in await conn.execute(
                select(hours_ago, func.count()).select_from(joined)
                .where(of_sel, task_runs.c.queue == store.queue,
                       task_runs.c.outcome.in_(FINAL), task_runs.c.finished_at > since,
                       task_runs.c.finished_at <= now)
                .group_by(hours_ago)):
            if ago is not None and 0 <= int(ago) < SPARK_HOURS:
                per_hour[SPARK_HOURS - 1 - int(ago)] += int(n)
        worker_rows = (await conn.execute(select(workers).where(
            workers.c.queue == store.queue))).all()
        beats = {r.worker_id: dict(r._mapping) for r in await conn.execute(
            select(tasks.c.worker_id, tasks.c.last_heartbeat, tasks.c.heartbeat_timeout)
            .where(tasks.c.queue == store.queue, tasks.c.status == "running",
                   tasks.c.worker_id.is_not(None)))} if worker_rows else {}
    live = 0
    for row in worker_rows:
        info = WorkerInfo(**{k: row._mapping[k] for k in WorkerInfo.__dataclass_fields__})
        if derive_state(info, beats.get(info.worker_id), now) in ("active", "idle"):
            live += 1
    return EtaInputs(counts=counts, running=running, durations=durations, workers=live,
                     per_hour=per_hour)


__all__ = ["FINAL", "eta_inputs", "progress_of", "record_finish", "report_progress"]
