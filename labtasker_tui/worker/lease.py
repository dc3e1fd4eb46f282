"""Heartbeats and self-fencing: while a job runs, beat every interval (a successful beat moves
the lease forward) and stop the job when it passes its task_timeout, when its task is lost
(cancelled, timed out or edited elsewhere), or when no heartbeat could be written for nearly
heartbeat_timeout, so it is gone before another worker may reclaim its task."""

from __future__ import annotations

import asyncio
import time

from ..models import Task
from ..safe_text import inert
from ..store import claims
from .db_calls import LoopCore, Slot, db_message, task_label
from .job_signals import stop_job

TIMEOUT_GRACE = 0.8  # --eta-max: SIGTERM at the limit, SIGKILL this much later
LOST_GRACE = 2.0     # task cancelled/edited elsewhere: SIGTERM, then SIGKILL


def fence_margin(heartbeat_timeout: float) -> float:
    """How long before the heartbeat timeout a job without a proven lease is killed."""
    return max(heartbeat_timeout * 0.2, min(heartbeat_timeout * 0.4, 1.0))


def kill_grace(heartbeat_timeout: float | None) -> float:
    """SIGTERM -> SIGKILL delay when a job must be gone before its task can be reclaimed."""
    if not heartbeat_timeout:
        return 1.0
    return min(1.0, fence_margin(heartbeat_timeout) / 3)



class Lease(LoopCore):
    """The guard that runs beside each job: timeout, lost task, self-fencing."""

    async def _guard(self, slot: Slot, task: Task, proc: asyncio.subprocess.Process) -> None:
        """Stop the job (setting ``slot.stop_reason``) when it passes its task_timeout, when
        its lease can no longer be proven (self-fencing), or when the task is lost."""
        claimed = slot.lease_ref
        hb = task.heartbeat_timeout if task.heartbeat_timeout and task.heartbeat_timeout > 0 \
            else None
        fence_after = hb - fence_margin(hb) if hb else None
        limit = claimed + task.task_timeout if task.task_timeout is not None else None
        beats = asyncio.create_task(self._beats(slot, task, proc))
        try:
            while proc.returncode is None and not beats.done():
                now = time.monotonic()
                if limit is not None and now >= limit:
                    slot.stop_reason = "timeout"
                    await stop_job(proc, TIMEOUT_GRACE)
                    return
                fence_at = slot.lease_ref + fence_after if fence_after is not None else None
                if fence_at is not None and now >= fence_at:
                    slot.stop_reason = "fenced"
                    self.stats.fenced += 1
                    self.note(slot, f"task {task_label(task)}: no heartbeat could be written for"
                              f" {now - slot.lease_ref:.1f}s; killing the job before its"
                              " task can be given to another worker", force=True)
                    await stop_job(proc, self.kill_grace)
                    return
                wake = [d for d in (limit, fence_at) if d is not None]
                wait = min(wake) - now if wake else 3600.0
                await asyncio.wait({beats}, timeout=max(0.005, wait))
        finally:
            beats.cancel()

    async def _beats(self, slot: Slot, task: Task, proc: asyncio.subprocess.Process) -> None:
        """Heartbeat every interval; a successful beat moves the lease forward."""
        interval = self.cfg.interval
        failing = False
        while True:
            await asyncio.sleep(interval)
            if proc.returncode is not None:
                return
            if self.watchdog is not None:
                self.watchdog.ensure()
            t0 = time.monotonic()
            try:
                alive = await claims.heartbeat(self.store, task.task_id, slot.worker_id)
            except Exception as exc:  # noqa: BLE001 - a DB hiccup must not kill the job
                if not failing:
                    self.note(slot, f"heartbeat failed ({exc.__class__.__name__}:"
                              f" {inert(db_message(exc))}); retrying", force=True)
                failing = True
                continue
            if failing:
                self.note(slot, "heartbeat written again", force=True)
                failing = False
            if not alive:
                slot.stop_reason = "lost"
                await stop_job(proc, LOST_GRACE)
                return
            slot.lease_ref = max(slot.lease_ref, t0)

