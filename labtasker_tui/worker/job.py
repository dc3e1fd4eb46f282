"""The job process: render the command for the task, start it in a new session with the task's
environment (argv without a shell, a string through ``/bin/sh -c``), tee its output to the
terminal and to ``.labtasker/logs/<task_id>/run.log``, guard it (:mod:`.lease`) and report its
outcome (:mod:`.report`)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from .. import settings
from ..log_paths import LOG_FILE, STATUS_FILE, task_log_dir
from ..models import Task
from ..safe_text import inert
from .console import Tail
from .db_calls import Slot, task_label
from .job_signals import child_setup, signal_group
from .lease import Lease
from .report import Reporting
from .template import TemplateKeyError, render


class JobRunner(Lease, Reporting):
    """Runs one claimed task's job on a slot, from its log directory to its report."""

    def _log_dir(self, task_id: str) -> Path | None:
        return task_log_dir(self.log_root, task_id)

    async def _run_task(self, slot: Slot, task: Task) -> None:
        label = task_label(task)
        log_dir = self._log_dir(task.task_id)
        if log_dir is None:
            self.note(slot, f"task {label}: its id is not a canonical UUID; not run",
                      force=True)
            await self._report_failure(slot, task, {"labtasker_exception": {
                "type": "InvalidTaskId",
                "message": "task id is not a canonical UUID; no log directory was created"}},
                why="invalid task id")
            return
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            status_file = log_dir / STATUS_FILE
            status_file.unlink(missing_ok=True)
            logf = open(log_dir / LOG_FILE, "ab")  # noqa: SIM115 - closed below
        except OSError as exc:
            self.note(slot, f"task {label}: cannot write its log directory: {exc}", force=True)
            await self._report_failure(slot, task, {"labtasker_exception": {
                "type": "LogDirError", "message": f"cannot write {log_dir}: {exc}"}},
                why="log directory")
            return
        with logf:
            await self._run_job(slot, task, label, log_dir, status_file, logf)

    async def _run_job(self, slot: Slot, task: Task, label: str, log_dir: Path,
                       status_file: Path, logf: IO[bytes]) -> None:
        started = time.monotonic()
        try:
            command = render(self.cfg.command, task.args)
        except TemplateKeyError as exc:
            self.note(slot, f"task {label}: {exc}")
            await self._report_failure(slot, task, {"labtasker_exception": {
                "type": "TemplateKeyError", "message": str(exc)}})
            return
        argv = command if isinstance(command, list) else ["/bin/sh", "-c", command]
        env = dict(os.environ)
        env.update({
            settings.ENV_TASK_ID: task.task_id,
            settings.ENV_WORKER_ID: slot.worker_id,
            settings.ENV_LOG_DIR: str(log_dir),
            settings.ENV_DB: self.cfg.url,
            settings.ENV_QUEUE: self.cfg.queue,
            "PYTHONUNBUFFERED": "1",
        })
        if slot.gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = slot.gpu.replace("+", ",")
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        logf.write(f"=== {stamp} attempt {task.retries + 1} worker {slot.worker_id}"
                   f" cmd {command!r}\n".encode())
        logf.flush()
        self.note(slot, f"task {label} started")
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env=env, start_new_session=True,
                # the parent-death signal fires when the forking *thread* ends
                preexec_fn=child_setup() if threading.current_thread() is
                threading.main_thread() else None)
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            msg = inert(str(exc))
            logf.write(f"cannot start: {msg}\n".encode())
            self.note(slot, f"task {label}: cannot start {inert(str(argv[0]))!r}: {msg}",
                      force=True)
            await self._report_failure(slot, task, {"labtasker_exception": {
                "type": type(exc).__name__, "message": msg, "exit_code": 127}},
                why="cannot start")
            return
        if self.watchdog is not None:
            self.watchdog.add(proc.pid)
        self.stats.running += 1
        slot.task = task
        slot.proc = proc
        guard: asyncio.Task[None] | None = None
        try:
            if self.stop.is_set():  # interrupted while starting
                slot.interrupted = True
                signal_group(proc, signal.SIGINT if not self.fatal else signal.SIGKILL)
                if self.fatal:
                    slot.stop_reason = "fatal"
            tail = Tail()
            guard = asyncio.create_task(self._guard(slot, task, proc))
            await asyncio.gather(
                self._pump(proc.stdout, "out", slot, logf, tail),
                self._pump(proc.stderr, "err", slot, logf, tail))
            rc = await proc.wait()
            guard.cancel()
            await asyncio.gather(guard, return_exceptions=True)
            duration = round(time.monotonic() - started, 3)
            logf.write(f"=== exit code {rc} after {duration}s\n".encode())
        finally:
            if guard is not None:
                guard.cancel()
            if proc.returncode is None:  # an error in the loop itself: the job goes too
                signal_group(proc, signal.SIGKILL)
                try:
                    await asyncio.wait_for(proc.wait(), 5)
                except (TimeoutError, asyncio.CancelledError):
                    pass
            if self.watchdog is not None:
                self.watchdog.remove(proc.pid)
            slot.proc = None
            slot.task = None
            self.stats.running -= 1
        reason, slot.stop_reason = slot.stop_reason, None
        await self._finish(slot, task, label, reason, rc, duration, tail, status_file)


    async def _pump(self, reader: asyncio.StreamReader | None, which: str, slot: Slot,
                    logf: IO[bytes], tail: Tail) -> None:
        if reader is None:
            return
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            logf.write(chunk)
            logf.flush()
            tail.feed(chunk)
            self.console.job_output(slot.tag, which, chunk)
        self.console.job_output(slot.tag, which, b"", final=True)

