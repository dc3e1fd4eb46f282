"""A worker as plain data: its row (WorkerInfo), its stored statuses and the state
``worker ls`` derives from them. No database here: the TUI's widgets and the CLI's help
import it; the rows are read and written by :mod:`labtasker_tui.store.workers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

WORKER_STATUSES = ("active", "suspended", "crashed")
EXITED = "exited"  # stored by a loop that stopped cleanly (not a manual status)
LOST = "lost"      # stored by the sweep that timed out the worker's task; any sign of life
                   # (a claim, an idle touch) makes the worker active again
MAY_FETCH = ("active", LOST)
#: What ``worker ls`` shows: derived from the stored status, heartbeats and the running task.
WORKER_STATES = ("active", "idle", "exited", "lost", "suspended", "crashed")
#: An idle --follow worker refreshes last_seen every IDLE_TOUCH seconds (runner.py); one not
#: seen for LOST_IDLE seconds while holding no task has stopped without saying so.
IDLE_TOUCH = 30.0
LOST_IDLE = 3 * IDLE_TOUCH


@dataclass(frozen=True)
class WorkerInfo:
    worker_id: str
    queue: str
    worker_name: str | None
    host: str | None
    slot: str | None
    status: str
    retries: int
    max_retries: int
    created_at: datetime
    last_seen: datetime

    def record(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class WorkerState:
    """A worker as ``worker ls`` shows it: ``state`` (one of WORKER_STATES) and its task."""

    info: WorkerInfo
    state: str
    task_id: str | None


def derive_state(info: WorkerInfo, task: Mapping[str, Any] | None, now: datetime) -> str:
    """active (running a task, beats recent), idle (alive, no task), exited (its loop stopped
    cleanly), lost (silent for longer than its task's heartbeat timeout, or LOST_IDLE without
    a task), suspended / crashed (stored: set by `worker suspend` or too many failures)."""
    if info.status != "active":
        return info.status if info.status in WORKER_STATES else "lost"
    seen = info.last_seen
    if task is not None:
        beat = task.get("last_heartbeat")
        if beat is not None and beat > seen:
            seen = beat
        limit = task.get("heartbeat_timeout") or LOST_IDLE
        return "active" if (now - seen).total_seconds() <= limit else "lost"
    return "idle" if (now - seen).total_seconds() <= LOST_IDLE else "lost"
