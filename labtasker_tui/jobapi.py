"""The Python API for jobs run by ``labtasker-tui loop`` (spec §8).

Inside a job, the loop exports ``LABTASKER_TASK_ID``, ``LABTASKER_WORKER_ID``,
``LABTASKER_LOG_DIR``, ``LABTASKER_TUI_DB`` and ``LABTASKER_TUI_QUEUE``; these functions use
them to reach the task through the store::

    from labtasker_tui import task_info, report
    info = task_info()                 # the current Task: .args, .retries, .summary, ...
    report(summary={"acc": 0.93})      # merged into summary now, while the task runs
    report(status="failed")            # the loop reports "failed" whatever the exit code
    report(step=120, total=1000)       # progress (or progress=0.12), shown in the list
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from . import settings
from .models import Task

T = TypeVar("T")

NOT_IN_JOB = ("Could not load task info: LABTASKER_TASK_ID is not set. This is likely because"
              " the task was not run by labtasker-tui loop.")


def current_task_id() -> str | None:
    return settings.env(settings.ENV_TASK_ID)


def current_worker_id() -> str | None:
    return settings.env(settings.ENV_WORKER_ID)


def is_enabled() -> bool:
    """Whether this process runs as a labtasker-tui job."""
    return current_task_id() is not None


def _url() -> str:
    from .store.location import resolve_url

    return resolve_url(settings.env(settings.ENV_DB))


def _queue() -> str:
    return settings.default_queue()


def _run(fn: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``fn(store)`` on a fresh event loop (in a thread if one is already running)."""
    from .store.task_store import open_store

    async def main() -> T:
        store = open_store(_url(), _queue())
        try:
            return await fn(store)
        finally:
            await store.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="labtasker-jobapi")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def task_info() -> Task:
    """The current task, freshly loaded from the database."""
    task_id = current_task_id()
    if task_id is None:
        raise RuntimeError(NOT_IN_JOB)

    async def load(store: Any) -> Task | None:
        return await store.get(task_id)

    task = _run(load)
    if task is None:
        raise RuntimeError(f"Could not load task info: task {task_id} not found in queue"
                           f" {_queue()!r}")
    return task


def report(summary: Mapping[str, Any] | None = None, status: str | None = None, *,
           progress: float | None = None, step: float | None = None,
           total: float | None = None) -> None:
    """Merge ``summary`` into the task's summary (by top-level key) while it runs; with
    ``status`` ("success", "failed" or "cancelled"), the loop reports that status when the
    job exits, whatever its exit code.

    Outside ``loop`` (no ``LABTASKER_LOG_DIR``) a status is reported to the store at once.

    ``summary`` goes through the same validator as every other way in, with one difference: a
    job must not die over a value that can be recorded, so NaN, +inf and -inf are stored as the
    strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (NUL characters and lone surrogates
    in strings are replaced). Invalid keys or non-JSON objects raise ``UserError``.

    ``progress`` (a fraction, 0..1) or ``step`` of ``total`` is the run's progress, shown in
    the list and used by the ETA. It never stops nor slows the job: it is written by a
    background thread (the latest report, at most once per
    ``LABTASKER_TUI_PROGRESS_INTERVAL`` seconds, default 2; progress 1.0 at once; the pending
    one gets 2 s at exit), so calling it every step of a training loop is cheap, and a locked
    or unreachable database only delays it. A bad value (NaN, out of range, step > total) or
    a failed write is ignored with a warning on stderr."""
    from .errors import UserError
    from .store import claims

    task_id = current_task_id()
    if task_id is None:
        raise RuntimeError(NOT_IN_JOB)
    if status is not None and status not in claims.FINAL_REPORTS:
        raise UserError(f"status must be one of {', '.join(claims.FINAL_REPORTS)}")
    worker_id = current_worker_id()
    log_dir = settings.env(settings.ENV_LOG_DIR)
    if progress is not None or step is not None or total is not None:
        _report_progress(task_id, worker_id, progress, step, total)

    if status is not None and not log_dir:
        flush_progress(2.0)  # the run's last progress first: the status ends the run

        async def finish(store: Any) -> None:
            await claims.report(store, task_id, None, status, summary)

        _run(finish)
        return
    if summary is not None:
        async def merge(store: Any) -> bool:
            return await claims.update_summary(store, task_id, summary, worker_id)

        if not _run(merge):
            raise RuntimeError(f"task {task_id} is no longer running for this worker")
    if status is not None and log_dir:
        path = Path(log_dir) / "status.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"status": status}))
        tmp.replace(path)


DEFAULT_PROGRESS_INTERVAL = 2.0


def _warn(text: str) -> None:
    try:
        print(f"labtasker-tui: {text}", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr closed: the job goes on
        pass


def progress_interval() -> float:
    raw = settings.env(settings.ENV_PROGRESS_INTERVAL)
    if raw is None:
        return DEFAULT_PROGRESS_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        _warn(f"{settings.ENV_PROGRESS_INTERVAL}={raw!r} is not a number of seconds;"
              f" using {DEFAULT_PROGRESS_INTERVAL:g}")
        return DEFAULT_PROGRESS_INTERVAL
    return value


_not_running: set[str] = set()  # tasks already warned about (one warning each)


def _write_progress(rep: Any) -> None:
    """Runs in the writer thread: one report to the store; never raises."""
    from .store.progress import report_progress

    async def write(store: Any) -> bool:
        return await report_progress(store, rep.task_id, rep.worker_id, rep.fraction,
                                     rep.step, rep.total)

    try:
        written = _run(write)
    except Exception as exc:  # noqa: BLE001 - progress is best effort: the job goes on
        _warn(f"progress not recorded: {type(exc).__name__}: {exc}")
        return
    if not written and rep.task_id not in _not_running:
        _not_running.add(rep.task_id)
        _warn(f"progress not recorded: task {rep.task_id} is no longer running for this"
              " worker")


_writer: Any = None


def _progress_writer() -> Any:
    global _writer
    if _writer is None:
        from .job_progress import ProgressWriter

        _writer = ProgressWriter(_write_progress, progress_interval)
    return _writer


def flush_progress(timeout: float = 10.0) -> bool:
    """Wait until the last progress report is written (at most ``timeout`` seconds); True
    when it was. ``report`` returns before its progress reaches the database."""
    return _writer is None or bool(_writer.flush(timeout))


def _report_progress(task_id: str, worker_id: str | None, progress: Any, step: Any,
                     total: Any) -> bool:
    """Check a progress report and hand it to the writer thread; never raises or blocks on
    the database. False (with a warning on stderr) when the values are bad."""
    from .eta import check_progress
    from .job_progress import Report

    try:
        fraction, s, t = check_progress(progress, step, total)
    except ValueError as exc:
        _warn(f"progress ignored: {exc}")
        return False
    _progress_writer().submit(Report(task_id, worker_id, fraction, s, t))
    return True


finish = report

__all__ = ["current_task_id", "current_worker_id", "finish", "flush_progress", "is_enabled",
           "report", "task_info"]
