"""How a worker is named in the task table, the detail pane and the log screen.

Plain data in, text out: the rows come from :func:`labtasker_tui.store.workers.fetch_workers`,
and where a task's log lives from :mod:`labtasker_tui.log_paths`.
"""

from __future__ import annotations

from ..worker_states import WorkerInfo


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
