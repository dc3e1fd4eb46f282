"""Workers of running tasks (name, host, slot) and where a task's run.log lives."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import select

from ..schema import workers
from ..store.task_store import TaskStore
from ..worker.claims import WorkerInfo
from ..worker.runner import log_root_for

LOG_FILE = "run.log"


async def fetch_workers(store: TaskStore, ids: Iterable[str]) -> dict[str, WorkerInfo]:
    """worker_id -> WorkerInfo for the given ids (unknown ids are left out)."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    fields = WorkerInfo.__dataclass_fields__
    out: dict[str, WorkerInfo] = {}
    async with store.read() as conn:
        for i in range(0, len(wanted), 500):
            rows = await conn.execute(select(workers).where(
                workers.c.worker_id.in_(wanted[i:i + 500])))
            for row in rows:
                m = row._mapping
                out[m["worker_id"]] = WorkerInfo(**{k: m[k] for k in fields})
    return out


def worker_label(worker_id: str | None, info: WorkerInfo | None, *, long: bool = False) -> str:
    """`gpu-a@node1/0` (name or short id, host, slot); long: `gpu-a on node1, slot 0`."""
    if not worker_id:
        return ""
    name = (info.worker_name if info else None) or worker_id[:8]
    if info is None:
        return f"{name} (worker row gone)" if long else name
    if long:
        where = f" on {info.host}" if info.host else ""
        slot = f", slot {info.slot}" if info.slot else ""
        return f"{name}{where}{slot} ({info.status})"
    return name + (f"@{info.host}" if info.host else "") + (f"/{info.slot}" if info.slot else "")


def log_path(url: str, task_id: str, root: Path | None = None) -> Path:
    """``<logs>/<task_id>/run.log``, with the worker engine's rule for the logs directory."""
    return (root or log_root_for(url)) / task_id / LOG_FILE
