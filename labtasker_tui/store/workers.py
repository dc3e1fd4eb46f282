"""Worker rows: register, list, status (manual and derived), touch, failures, delete.

A worker is one slot of a `loop` (spec §1.4). Its stored status says whether it may fetch;
``worker ls`` shows a state derived from it, its heartbeats and its running task. Every write
is one transaction on the TaskStore.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import UserError
from ..schema import tasks, utcnow, workers
from ..worker_states import (
    EXITED,
    IDLE_TOUCH,
    LOST,
    LOST_IDLE,
    MAY_FETCH,
    WORKER_STATES,
    WORKER_STATUSES,
    WorkerInfo,
    WorkerState,
    derive_state,
)
from .task_store import TaskStore

__all__ = [
    "EXITED", "IDLE_TOUCH", "LOST", "LOST_IDLE", "MAY_FETCH", "WORKER_STATES",
    "WORKER_STATUSES", "WorkerInactive", "WorkerInfo", "WorkerState", "count_worker_failure",
    "delete_worker", "derive_state", "fetch_workers", "get_worker", "list_workers",
    "mark_exited", "register_worker", "running_tasks_by_worker", "set_worker_status",
    "touch_worker", "worker_states",
]

class WorkerInactive(RuntimeError):
    """The worker may not fetch: it is suspended, crashed or gone."""

    def __init__(self, worker_id: str, status: str | None) -> None:
        self.worker_id = worker_id
        self.status = status
        what = "not found" if status is None else status
        super().__init__(f"Worker {what}.")


async def worker_states(store: TaskStore, state: str | None = None) -> list[WorkerState]:
    """Every worker of the queue with its derived state (``state``: only those in it)."""
    infos = await list_workers(store)
    async with store.read() as conn:
        rows = await conn.execute(select(
            tasks.c.worker_id, tasks.c.task_id, tasks.c.last_heartbeat,
            tasks.c.heartbeat_timeout).where(
            tasks.c.queue == store.queue, tasks.c.status == "running",
            tasks.c.worker_id.is_not(None)))
        running = {r.worker_id: dict(r._mapping) for r in rows}
    now = utcnow()
    out = []
    for info in infos:
        task = running.get(info.worker_id)
        st = derive_state(info, task, now)
        if state is None or st == state:
            out.append(WorkerState(info, st, task["task_id"] if task else None))
    return out


async def mark_exited(store: TaskStore, worker_ids: Sequence[str]) -> None:
    """A loop that stops cleanly marks its workers exited (a suspended or crashed one keeps
    that status: it says why the worker stopped)."""
    if not worker_ids:
        return
    async with store.write() as conn:
        await conn.execute(update(workers).where(
            workers.c.worker_id.in_(list(worker_ids)), workers.c.status.in_(MAY_FETCH))
            .values(status=EXITED, last_seen=utcnow()))


def _worker_from_row(row: Row[Any]) -> WorkerInfo:
    m = row._mapping
    return WorkerInfo(**{k: m[k] for k in WorkerInfo.__dataclass_fields__})

async def register_worker(
    store: TaskStore,
    *,
    name: str | None = None,
    host: str | None = None,
    slot: str | None = None,
    max_retries: int = 3,
    worker_id: str | None = None,
) -> str:
    """Create an active worker row (or re-use ``worker_id`` if it exists); returns its id."""
    now = utcnow()
    async with store.write() as conn:
        if worker_id is not None:
            row = (await conn.execute(select(workers.c.worker_id, workers.c.status)
                                      .where(workers.c.worker_id == worker_id))).first()
            if row is not None:
                values: dict[str, Any] = {"last_seen": now}
                if row.status in (EXITED, LOST):  # a re-used id starts afresh
                    values["status"] = "active"
                await conn.execute(update(workers).where(workers.c.worker_id == worker_id)
                                   .values(**values))
                return worker_id
        wid = worker_id or str(uuid.uuid4())
        await conn.execute(insert(workers).values(
            worker_id=wid, queue=store.queue, worker_name=name,
            host=host if host is not None else socket.gethostname(), slot=slot,
            status="active", retries=0, max_retries=max_retries, created_at=now, last_seen=now))
    return wid


async def get_worker(store: TaskStore, worker_id: str) -> WorkerInfo | None:
    async with store.read() as conn:
        row = (await conn.execute(select(workers).where(workers.c.worker_id == worker_id))).first()
    return _worker_from_row(row) if row else None


async def list_workers(store: TaskStore, status: str | None = None) -> list[WorkerInfo]:
    stmt = select(workers).where(workers.c.queue == store.queue)
    if status:
        stmt = stmt.where(workers.c.status == status)
    async with store.read() as conn:
        rows = (await conn.execute(stmt.order_by(workers.c.created_at, workers.c.worker_id))).all()
    return [_worker_from_row(r) for r in rows]


async def running_tasks_by_worker(store: TaskStore) -> dict[str, str]:
    """worker_id -> task_id of the tasks currently running in this queue."""
    async with store.read() as conn:
        rows = await conn.execute(select(tasks.c.worker_id, tasks.c.task_id).where(
            tasks.c.queue == store.queue, tasks.c.status == "running",
            tasks.c.worker_id.is_not(None)))
        return {w: t for w, t in rows}


async def set_worker_status(store: TaskStore, worker_id: str, status: str) -> WorkerInfo:
    """Manual status change; reactivating resets the failure count (spec §1.4)."""
    if status not in WORKER_STATUSES:
        raise UserError(f"worker status must be one of {', '.join(WORKER_STATUSES)}")
    async with store.write() as conn:
        row = (await conn.execute(select(workers).where(
            workers.c.worker_id == worker_id, workers.c.queue == store.queue))).first()
        if row is None:
            raise UserError(f"worker not found: {worker_id}")
        values: dict[str, Any] = {"status": status}
        if status == "active":
            values["retries"] = 0
        await conn.execute(update(workers).where(workers.c.worker_id == worker_id)
                           .values(**values))
    info = await get_worker(store, worker_id)
    assert info is not None
    return info


async def delete_worker(store: TaskStore, worker_id: str) -> bool:
    """Delete a worker; its tasks keep their status but lose the worker id (spec §1.4)."""
    async with store.write() as conn:
        res = await conn.execute(delete(workers).where(
            workers.c.worker_id == worker_id, workers.c.queue == store.queue))
        await conn.execute(update(tasks).where(tasks.c.worker_id == worker_id)
                           .values(worker_id=None))
        return bool(res.rowcount)


async def count_worker_failure(conn: AsyncConnection, worker_id: str | None, now: datetime,
                                *, silent: bool = False) -> None:
    """One more task failure for this worker (crashed past its limit). ``silent``: the sweep
    found its task without heartbeats, so the worker is marked lost and last_seen (the last
    time it was heard from) is left alone."""
    if not worker_id:
        return
    row = (await conn.execute(select(workers.c.retries, workers.c.max_retries, workers.c.status)
                              .where(workers.c.worker_id == worker_id))).first()
    if row is None:
        return
    retries = row.retries + 1
    values: dict[str, Any] = {"retries": retries} if silent else {"retries": retries,
                                                                   "last_seen": now}
    if retries >= row.max_retries and row.status in MAY_FETCH:
        values["status"] = "crashed"
    elif silent and row.status == "active":
        values["status"] = LOST
    await conn.execute(update(workers).where(workers.c.worker_id == worker_id).values(**values))

async def touch_worker(store: TaskStore, worker_id: str) -> None:
    """Refresh a worker's last_seen (idle workers in --follow mode)."""
    async with store.write() as conn:
        await conn.execute(update(workers).where(workers.c.worker_id == worker_id)
                           .values(last_seen=utcnow()))
        await conn.execute(update(workers).where(workers.c.worker_id == worker_id,
                                                 workers.c.status == LOST)
                           .values(status="active"))


async def fetch_workers(store: TaskStore, ids: Iterable[str]) -> dict[str, WorkerInfo]:
    """worker_id -> WorkerInfo for the given ids, any queue (unknown ids are left out)."""
    wanted = sorted({i for i in ids if i})
    out: dict[str, WorkerInfo] = {}
    if not wanted:
        return out
    async with store.read() as conn:
        for i in range(0, len(wanted), 500):
            rows = await conn.execute(select(workers).where(
                workers.c.worker_id.in_(wanted[i:i + 500])))
            for row in rows:
                info = _worker_from_row(row)
                out[info.worker_id] = info
    return out
