"""Reporting a finished job: success, failure (with its exit code and the tail of its output),
cancellation, a task timeout, or its task handed back to pending (interrupted, fenced, the loop
stopping); and a task whose run failed inside the loop itself fails that task only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..models import Task
from ..safe_text import inert
from ..store import claims
from .console import Tail
from .db_calls import DatabaseFailure, LoopCore, Slot, Stopped, task_label


def read_status(path: Path) -> str | None:
    """The status a job asked for through the job API (``report(status=...)``), if any."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    status = data.get("status") if isinstance(data, dict) else None
    return status if status in claims.FINAL_REPORTS else None



class Reporting(LoopCore):
    """How a job's outcome reaches the store."""

    async def _finish(self, slot: Slot, task: Task, label: str, reason: str | None, rc: int,
                      duration: float, tail: Tail, status_file: Path) -> None:
        if reason in ("fenced", "fatal") or slot.interrupted:
            slot.interrupted = False
            if await self._db(slot, claims.release, task.task_id, slot.worker_id,
                              critical=True):
                self.stats.released += 1
                why = {"fenced": "its lease could not be renewed",
                       "fatal": "the loop is stopping"}.get(reason or "", "interrupted")
                self.note(slot, f"task {label}: {why}; back to pending", force=bool(reason))
            elif reason:
                self.stats.lost += 1
            return
        if reason == "lost":
            self.stats.lost += 1
            self.note(slot, f"task {label} is no longer running for this worker (timed out,"
                      " cancelled or edited); job stopped, nothing reported")
            return
        reported = read_status(status_file)
        if reason == "timeout":
            await self._report_failure(slot, task, {
                "labtasker_error": claims.TIMEOUT_ERROR,
                "labtasker_exception": {"type": "TaskTimeout", "message":
                                        f"killed after task_timeout={task.task_timeout}s",
                                        "exit_code": rc, "duration": duration,
                                        "log_tail": tail.result()}}, why="task timeout")
            return
        status = reported or ("success" if rc == 0 else "failed")
        if status == "success":
            done = await self._db(slot, claims.report, task.task_id, slot.worker_id,
                                  "success", critical=True)
            if done is not None:
                self.stats.success += 1
                self.note(slot, f"task {label} success in {duration}s")
            else:
                self.stats.lost += 1
        elif status == "cancelled":
            await self._db(slot, claims.report, task.task_id, slot.worker_id, "cancelled",
                           critical=True)
            self.note(slot, f"task {label} cancelled by the job")
        else:
            summary = None
            if rc != 0:
                summary = {"labtasker_exception": {
                    "type": "ExitCode" if rc > 0 else "Signal",
                    "message": (f"command exited with code {rc}" if rc > 0
                                else f"command killed by signal {-rc}"),
                    "exit_code": rc, "duration": duration, "log_tail": tail.result()}}
            await self._report_failure(slot, task, summary,
                                       why=f"exit {rc}" if rc else "reported by the job")

    async def _report_failure(self, slot: Slot, task: Task, summary: dict[str, Any] | None,
                              why: str = "") -> None:
        label = task_label(task)
        done = await self._db(slot, claims.report, task.task_id, slot.worker_id, "failed",
                              summary, critical=True)
        if done is None:
            self.stats.lost += 1
            return
        why = f" ({why})" if why else ""
        if done.status == "pending":
            self.stats.retried += 1
            self.note(slot, f"task {label} failed{why}; will retry"
                      f" (attempt {done.retries}/{done.max_retries})")
        else:
            self.stats.failed += 1
            self.note(slot, f"task {label} failed{why} (attempt {done.retries}"
                      f"/{done.max_retries}, no retries left)")

    async def _task_error(self, slot: Slot, task: Task, exc: Exception) -> None:
        label = task_label(task)
        kind = type(exc).__name__
        text = inert(str(exc))[:300]
        if isinstance(exc, UserError) and "not found" in str(exc):
            self.stats.lost += 1
            self.note(slot, f"task {label} was deleted while it ran; nothing reported",
                      force=True)
            return
        self.note(slot, f"task {label}: {kind}: {text}; reporting it failed", force=True)
        try:
            await self._report_failure(slot, task, {"labtasker_exception": {
                "type": kind, "message": text}}, why=kind)
        except (Stopped, DatabaseFailure):
            raise
        except Exception as exc2:  # noqa: BLE001
            self.stats.lost += 1
            self.note(slot, f"task {label}: could not report it ({type(exc2).__name__}:"
                      f" {inert(str(exc2))[:200]})", force=True)

