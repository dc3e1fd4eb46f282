"""The ``loop`` engine: claim -> run the job -> heartbeat -> report, on one or many slots.

One asyncio event loop drives every slot (``--workers N`` / ``--gpus 0,1``): each slot has its
own worker row, claims tasks, runs its job as a subprocess in a new session (argv without a
shell, a string through ``/bin/sh -c``), tees the job's output to the terminal and to
``.labtasker/logs/<task_id>/run.log``, heartbeats while it runs and reports the outcome.

Ctrl-C (or SIGTERM) forwards SIGINT to the running jobs, puts their tasks back to pending
("ignore") and stops; a second Ctrl-C kills the jobs.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from .. import settings
from ..errors import StoreError, UserError
from ..log_paths import LOG_FILE, STATUS_FILE, log_root_for, task_log_dir
from ..models import Task
from ..safe_text import inert
from ..store import claims
from ..store import workers as worker_rows
from ..store.task_store import Selection, TaskStore, open_store
from .template import TemplateKeyError, render
from .watchdog import Watchdog

TAIL_LINES = 20
TAIL_LINE_CHARS = 500
NEVER_CRASH = 2**31 - 1
DB_RETRY_DELAYS = (0.5, 1, 2, 4, 8, 15)
IDLE_TOUCH = worker_rows.IDLE_TOUCH  # an idle --follow worker refreshes last_seen this often
NOTHING_MATCHED = 3  # exit code: pending tasks exist but the loop could claim none of them
PARTIAL_MAX = 4096   # a prefixed line without newline is flushed past this size
STOP_DB_GRACE = 3.0  # once stopping, a report/release waits this long for the database
HARD_DB_GRACE = 1.0  # ... and this long after a second Ctrl-C
QUICK_DB_GRACE = 0.5  # ... and a claim or idle touch this long
TIMEOUT_GRACE = 0.8  # --eta-max: SIGTERM at the limit, SIGKILL this much later
LOST_GRACE = 2.0     # task cancelled/edited elsewhere: SIGTERM, then SIGKILL
MAX_SECONDS = 10 * 365 * 86400.0
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}
_DURATION_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)")


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``50s``, ``1h30m``, ``1.5h``, ``1 hour, 30 minutes``."""
    s = text.strip().lower()
    if not s:
        raise ValueError("empty duration")
    total = 0.0
    pos = 0
    cleaned = re.sub(r"(,|\band\b)", " ", s)
    for m in _DURATION_RE.finditer(cleaned):
        if cleaned[pos:m.start()].strip():
            raise ValueError(f"cannot read duration {text!r}")
        unit = m.group(2) or "s"
        if unit not in _UNITS:
            raise ValueError(f"unknown unit {unit!r} in duration {text!r}")
        total += float(m.group(1)) * _UNITS[unit]
        pos = m.end()
    if pos == 0 or cleaned[pos:].strip():
        raise ValueError(f"cannot read duration {text!r} (try 90, 50s, 1h30m, 1.5h)")
    return total


def parse_slots(gpus: str | None, workers: int | None) -> list[str | None]:
    """Slots from ``--gpus 0,1,2`` (``0+1`` = two GPUs for one job) and ``--workers N``.

    With both, N workers are spread round-robin over the GPUs."""
    if workers is not None and workers < 1:
        raise ValueError("--workers must be at least 1")
    if not gpus:
        return [None] * (workers or 1)
    ids = [g.strip() for g in gpus.split(",")]
    if any(not re.fullmatch(r"[0-9]+(\+[0-9]+)*", g) for g in ids):
        raise ValueError(f"--gpus expects device numbers like 0,1,2 (or 0+1 to share): {gpus!r}")
    n = workers or len(ids)
    return [ids[i % len(ids)] for i in range(n)]


@dataclass
class LoopConfig:
    url: str
    queue: str
    command: str | list[str]
    where: Any = None                  # SQL condition from -f (a ColumnElement)
    required_fields: list[str] = field(default_factory=list)
    heartbeat_timeout: float | None = 30.0
    heartbeat_interval: float | None = None   # default: min(10 s, heartbeat_timeout / 3)
    task_timeout: int | None = None
    slots: list[str | None] = field(default_factory=lambda: [None])
    follow: bool = False
    poll_interval: float = 2.0
    worker_max_failures: int = 3
    worker_name: str | None = None
    worker_id: str | None = None       # re-use this worker row (single slot only)
    log_root: Path | None = None
    quiet: bool = False
    status_line: bool | None = None    # default: several slots and stderr is a terminal

    def validate(self) -> None:
        """Reject negative, zero, NaN or infinite timeouts and intervals (ValueError)."""
        checks: list[tuple[str, float | None, float]] = [
            ("--heartbeat-timeout", self.heartbeat_timeout, 1.0),
            ("heartbeat interval", self.heartbeat_interval, 0.05),
            ("--eta-max/--task-timeout", self.task_timeout, 1.0),
            ("poll interval", self.poll_interval, 0.01),
        ]
        for name, value, low in checks:
            if value is None:
                continue
            if not isinstance(value, (int, float)) or isinstance(value, bool) \
                    or not math.isfinite(value) or not low <= value <= MAX_SECONDS:
                raise ValueError(f"{name} must be a duration from {low:g}s to 10 years,"
                                 f" not {value!r}")
        if not self.slots:
            raise ValueError("at least one worker slot is needed")
        if self.worker_max_failures < 0:
            raise ValueError("--max-worker-failures must be 0 or more")

    @property
    def interval(self) -> float:
        if self.heartbeat_interval is not None:
            return self.heartbeat_interval
        if self.heartbeat_timeout:
            return max(0.2, min(10.0, self.heartbeat_timeout / 3))
        return 10.0


@dataclass
class LoopStats:
    success: int = 0
    failed: int = 0        # finally failed
    retried: int = 0       # failed, back to pending
    released: int = 0      # interrupted, back to pending
    lost: int = 0          # taken away (timed out, cancelled) while running
    running: int = 0
    crashed_workers: int = 0
    fenced: int = 0        # killed because the lease could not be renewed
    interrupted: bool = False
    abandoned: bool = False  # a database call was left blocked at stop: exit without cleanup
    fatal: str | None = None  # the database error that stopped the loop
    claimed: int = 0          # tasks this loop took
    registered: bool = False  # the workers were registered (the database was usable)
    unmatched: str | None = None  # why pending tasks exist but none could be claimed
    stopped_on_fatal: int = 0  # jobs killed because of it
    started: float = field(default_factory=time.monotonic)

    @property
    def finished(self) -> int:
        return self.success + self.failed + self.retried

    def line(self) -> str:
        parts = [f"{self.running} running", f"{self.success} done", f"{self.failed} failed"]
        if self.retried:
            parts.append(f"{self.retried} retried")
        if self.released:
            parts.append(f"{self.released} released")
        if self.lost:
            parts.append(f"{self.lost} lost")
        if self.fenced:
            parts.append(f"{self.fenced} fenced")
        return " | ".join(parts)


class Console:
    """Job output and diagnostics on the terminal; an optional live status line on stderr."""

    def __init__(self, *, prefix_lines: bool, status_line: bool,
                 out: IO[bytes] | None = None, err: IO[bytes] | None = None) -> None:
        self.prefix_lines = prefix_lines
        self.status_enabled = status_line
        self.out = out or sys.stdout.buffer
        self.err = err or sys.stderr.buffer
        self._status = ""
        self._partial: dict[tuple[str, str], bytes] = {}
        self._dead: set[IO[bytes]] = set()

    def _clear(self) -> None:
        if self.status_enabled and self._status:
            self.err.write(b"\r\x1b[K")

    def _redraw(self) -> None:
        if self.status_enabled and self._status:
            self.err.write(self._status.encode())
            self.err.flush()

    def _write(self, stream: IO[bytes], data: bytes) -> None:
        if stream in self._dead:
            return
        try:
            self._clear()
            stream.write(data)
            stream.flush()
            self._redraw()
        except (OSError, ValueError):  # a closed pipe must not stop the jobs; run.log has it
            self._dead.add(stream)

    def job_output(self, tag: str, which: str, data: bytes, *, final: bool = False) -> None:
        stream = self.out if which == "out" else self.err
        if not self.prefix_lines:
            if data:
                self._write(stream, data)
            return
        key = (tag, which)
        buf = self._partial.pop(key, b"") + data
        lines = buf.split(b"\n")
        rest = lines.pop()
        if (final or len(rest) > PARTIAL_MAX) and rest:
            lines.append(rest)
            rest = b""
        if rest:
            self._partial[key] = rest
        if lines:
            pre = f"[{tag}] ".encode()
            self._write(stream, b"".join(pre + ln + b"\n" for ln in lines))

    def info(self, msg: str) -> None:
        self._write(self.err, (msg + "\n").encode())

    def status(self, text: str) -> None:
        if not self.status_enabled or self.err in self._dead:
            return
        try:
            self._clear()
            self._status = text
            self._redraw()
        except (OSError, ValueError):
            self._dead.add(self.err)

    def close(self) -> None:
        if self.status_enabled and self._status and self.err not in self._dead:
            try:
                self.err.write(b"\r\x1b[K")
                self.err.flush()
            except (OSError, ValueError):
                pass
        self._status = ""


class Tail:
    """The last lines of a job's output, ANSI codes stripped, for the failure summary."""

    def __init__(self) -> None:
        self.lines: deque[str] = deque(maxlen=TAIL_LINES)
        self._partial = ""

    def feed(self, data: bytes) -> None:
        text = self._partial + data.decode("utf-8", "replace").replace("\r", "\n")
        *done, self._partial = text.split("\n")
        for ln in done:
            self.lines.append(ANSI_RE.sub("", ln)[:TAIL_LINE_CHARS])
        self._partial = self._partial[-4 * TAIL_LINE_CHARS:]

    def result(self) -> list[str]:
        out = list(self.lines)
        if self._partial:
            out.append(ANSI_RE.sub("", self._partial)[:TAIL_LINE_CHARS])
        while out and not out[-1].strip():
            out.pop()
        return out[-TAIL_LINES:]


class Stopped(Exception):  # noqa: N818 - a control-flow signal, not an error
    """A database operation was abandoned because the loop is stopping (Ctrl-C)."""


class DatabaseFailure(StoreError):
    """The database cannot be used (corrupt, or unreachable past the retry budget)."""


_TRANSIENT_SQLSTATES = ("08", "40", "53", "55P03", "57P01", "57P02", "57P03")
_TRANSIENT_SQLITE = ("locked", "busy", "disk i/o error")


def db_message(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:200]


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: busy/locked, deadlock or serialization failure, connection lost or
    refused. Not: a corrupt file, a missing table, a constraint or syntax error."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, OSError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state:
        return any(str(state).startswith(p) for p in _TRANSIENT_SQLSTATES)
    module = type(orig).__module__ or ""
    if module.startswith("sqlite3") or "sqlite" in module:
        msg = str(orig).lower()
        return any(w in msg for w in _TRANSIENT_SQLITE)
    # psycopg connection failures (refused, closed, timeout) carry no SQLSTATE
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(exc, (OperationalError, InterfaceError))


@dataclass
class Slot:
    tag: str
    gpu: str | None
    worker_id: str = ""
    proc: asyncio.subprocess.Process | None = None
    task: Task | None = None
    interrupted: bool = False
    stop_reason: str | None = None   # "lost", "timeout", "fenced" or "fatal"
    lease_ref: float = 0.0           # monotonic start of the last write that proved the lease


class Loop:
    """Runs ``cfg.command`` over matching tasks on every slot until none is left (or stopped).

    Fault rules: a job never outlives its loop (watchdog helper + parent-death signal); a job
    whose lease cannot be proven (no successful heartbeat for heartbeat_timeout minus a margin)
    is killed before another worker may reclaim its task (self-fencing); one task's error fails
    that task only; a database that stays unusable stops the loop after killing its jobs."""

    def __init__(self, cfg: LoopConfig, store: TaskStore | None = None,
                 console: Console | None = None, *, watchdog: bool = True) -> None:
        cfg.validate()
        self.cfg = cfg
        self.store = store or open_store(cfg.url, cfg.queue)
        self._own_store = store is None
        multi = len(cfg.slots) > 1
        status_line = cfg.status_line
        if status_line is None:
            status_line = multi and sys.stderr.isatty()
        self.console = console or Console(prefix_lines=multi, status_line=status_line)
        self.log_root = cfg.log_root or log_root_for(cfg.url)
        self.stats = LoopStats()
        self.stop = asyncio.Event()
        self.hard_stop = asyncio.Event()
        self.interrupts = 0
        self.fatal: DatabaseFailure | None = None
        self.slots: list[Slot] = []
        for i, gpu in enumerate(cfg.slots):
            tag = f"gpu{gpu}" if gpu is not None else f"w{i}"
            self.slots.append(Slot(tag=tag if multi else "", gpu=gpu))
        self._required = claims.parse_required(cfg.required_fields)
        self.kill_grace = kill_grace(cfg.heartbeat_timeout)
        self.watchdog = Watchdog(self.kill_grace) if watchdog else None
        self._explained = False

    # -- control ----------------------------------------------------------------------------

    def interrupt(self) -> None:
        """First call: stop claiming, SIGINT the jobs (their tasks go back to pending).
        Second call: SIGKILL the jobs and abandon pending database operations."""
        self.interrupts += 1
        self.stats.interrupted = True
        self.stop.set()
        if self.interrupts > 1:
            self.hard_stop.set()
        sig = signal.SIGINT if self.interrupts == 1 else signal.SIGKILL
        busy = False
        for slot in self.slots:
            if slot.proc is not None and slot.proc.returncode is None:
                busy = True
                slot.interrupted = True
                _signal_group(slot.proc, sig)
        if self.interrupts == 1 and busy:
            self.console.info("labtasker-tui: interrupted; waiting for the running job(s) to stop"
                              " (their tasks go back to pending). Ctrl-C again to kill them.")
        elif busy:
            self.console.info("labtasker-tui: killing the running job(s)")

    def _fail(self, exc: DatabaseFailure) -> None:
        """A fatal database error: stop claiming and kill every running job now."""
        if self.fatal is None:
            self.fatal = exc
        self.stop.set()
        for slot in self.slots:
            if slot.proc is not None and slot.proc.returncode is None \
                    and slot.stop_reason != "fatal":
                slot.stop_reason = slot.stop_reason or "fatal"
                self.stats.stopped_on_fatal += 1
                asyncio.ensure_future(_stop_job(slot.proc, self.kill_grace))

    def note(self, slot: Slot | None, msg: str, *, force: bool = False) -> None:
        if force or not self.cfg.quiet:
            who = f"[{slot.tag}] " if slot is not None and slot.tag else ""
            self.console.info(f"labtasker-tui: {who}{msg}")

    # -- main -------------------------------------------------------------------------------

    async def run(self) -> LoopStats:
        ticker = asyncio.create_task(self._ticker()) if self.console.status_enabled else None
        try:
            if self.watchdog is not None:
                self.watchdog.restart()
            try:
                for i, slot in enumerate(self.slots):
                    name = self.cfg.worker_name
                    if name and len(self.slots) > 1:
                        name = f"{name}-{i}"
                    slot.worker_id = await self._db(
                        None, worker_rows.register_worker, name=name, slot=slot.gpu,
                        max_retries=self.cfg.worker_max_failures or NEVER_CRASH,
                        worker_id=self.cfg.worker_id if i == 0 else None)
                self.stats.registered = True
            except Stopped:
                pass
            except DatabaseFailure as exc:
                self._fail(exc)
            if not self.stop.is_set():
                await asyncio.gather(*(self._slot_main(slot) for slot in self.slots))
            await self._wrap_up()
        finally:
            if ticker:
                ticker.cancel()
            self.console.close()
            for slot in self.slots:  # only after an unexpected error: no job outlives run()
                if slot.proc is not None and slot.proc.returncode is None:
                    _signal_group(slot.proc, signal.SIGKILL)
            if self.watchdog is not None:
                self.watchdog.close()
            if self._own_store and not self.stats.abandoned:
                await self.store.close()
        if self.fatal is not None:
            self.stats.fatal = str(self.fatal)
        return self.stats

    async def _wrap_up(self) -> None:
        """After a clean stop: say why pending tasks were left unclaimed (exit code 3 when
        the loop took none), and mark the workers exited for `worker ls`."""
        if self.fatal is None and not self.stats.interrupted and not self.cfg.follow:
            await self._explain(final=True)
        if self.fatal is None and not self.stats.abandoned:
            try:
                await self._db(None, worker_rows.mark_exited,
                               [s.worker_id for s in self.slots if s.worker_id], critical=True)
            except (Stopped, DatabaseFailure):
                pass

    async def _explain(self, *, final: bool) -> None:
        """Print why no pending task matches (``-f``, or the exact-keys rule), once."""
        if self._explained:
            return
        self._explained = True
        try:
            why = await self._db(None, claims.explain_unmatched, self.cfg.where,
                                 self._required)
        except (Stopped, DatabaseFailure):
            return
        except Exception as exc:  # noqa: BLE001 - a diagnostic must never fail the loop
            self.note(None, f"could not check the pending tasks: {type(exc).__name__}")
            return
        if why is None:
            return
        self.stats.unmatched = why
        tail = "" if final else "\n  Waiting for matching tasks (--follow)."
        text = "\n".join(inert(line) for line in why.splitlines())
        self.console.info(f"labtasker-tui: {text}{tail}")

    async def _slot_main(self, slot: Slot) -> None:
        """One slot; its errors never cancel the other slots."""
        try:
            await self._work(slot)
        except Stopped:
            pass
        except DatabaseFailure as exc:
            self._fail(exc)
        except Exception as exc:  # noqa: BLE001 - a bug in one slot must not stop the others
            self.stats.crashed_workers += 1
            self.note(slot, f"worker stopped by an unexpected error: {type(exc).__name__}:"
                      f" {inert(str(exc))[:300]}", force=True)

    async def _ticker(self) -> None:
        pending: int | None = None
        n = 0
        while True:
            if n % 2 == 0:
                try:
                    pending = await self.store.count(Selection(status="pending"))
                except Exception:  # noqa: BLE001 - the status line must never kill the loop
                    pending = None
            n += 1
            extra = f" | {pending} pending" if pending is not None else ""
            self.console.status(f"loop: {self.stats.line()}{extra}")
            await asyncio.sleep(0.5)

    async def _claim(self, store: TaskStore, slot: Slot) -> Task | None:
        slot.lease_ref = time.monotonic()   # the claim's last_heartbeat is at least this late
        return await claims.claim_next(
            store, slot.worker_id, where=self.cfg.where, required_fields=self._required,
            heartbeat_timeout=self.cfg.heartbeat_timeout, task_timeout=self.cfg.task_timeout)

    async def _work(self, slot: Slot) -> None:
        cfg = self.cfg
        last_touch = time.monotonic()
        while not self.stop.is_set():
            try:
                task = await self._db(slot, self._claim, slot)
            except worker_rows.WorkerInactive as exc:
                self.stats.crashed_workers += 1
                self.note(slot, f"worker {slot.worker_id[:8]}: {exc} Stopping this worker"
                          " (`worker activate` resets it).")
                return
            if task is None:
                if not cfg.follow:
                    return
                if not self.stats.claimed:
                    await self._explain(final=False)
                if time.monotonic() - last_touch > IDLE_TOUCH:
                    await self._db(slot, worker_rows.touch_worker, slot.worker_id)
                    last_touch = time.monotonic()
                try:
                    await asyncio.wait_for(self.stop.wait(), min(cfg.poll_interval, IDLE_TOUCH))
                except TimeoutError:
                    pass
                continue
            self.stats.claimed += 1
            if self.stop.is_set():  # Ctrl-C arrived during the claim: hand the task back
                await self._db(slot, claims.release, task.task_id, slot.worker_id,
                               critical=True)
                return
            try:
                await self._run_task(slot, task)
            except (Stopped, DatabaseFailure):
                raise
            except Exception as exc:  # noqa: BLE001 - one task's error fails that task only
                await self._task_error(slot, task, exc)

    async def _task_error(self, slot: Slot, task: Task, exc: Exception) -> None:
        label = _label(task)
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

    def _log_dir(self, task_id: str) -> Path | None:
        return task_log_dir(self.log_root, task_id)

    async def _run_task(self, slot: Slot, task: Task) -> None:
        label = _label(task)
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
                preexec_fn=_child_setup() if threading.current_thread() is
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
                _signal_group(proc, signal.SIGINT if not self.fatal else signal.SIGKILL)
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
                _signal_group(proc, signal.SIGKILL)
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
        reported = _read_status(status_file)
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
        label = _label(task)
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

    # -- database calls -----------------------------------------------------------------------

    async def _db(self, slot: Slot | None, fn: Any, /, *args: Any, critical: bool = False,
                  **kw: Any) -> Any:
        """Call a store operation, retrying transient errors (busy, deadlock, connection lost)
        with backoff for about half a minute; then, or at once for a permanent error (a
        corrupt file), raise DatabaseFailure. Once the loop is stopping, a non-critical call
        is abandoned at once and a critical one (report, release) gets STOP_DB_GRACE seconds:
        Ctrl-C never waits on an unreachable database."""
        from sqlalchemy.exc import DBAPIError

        for delay in (*DB_RETRY_DELAYS, None):
            if self.stop.is_set() and not critical:
                raise Stopped
            try:
                return await self._attempt(fn(self.store, *args, **kw), critical)
            except (DBAPIError, OSError) as exc:
                msg = inert(db_message(exc))
                if not is_transient(exc):
                    raise DatabaseFailure(f"database error: {msg}") from None
                if delay is None:
                    raise DatabaseFailure(
                        f"database unavailable for {sum(DB_RETRY_DELAYS):.0f}s, giving up:"
                        f" {msg}") from None
                if self.stop.is_set():
                    raise Stopped from None
                self.note(slot, f"database error ({msg}); retrying in {delay}s", force=True)
                try:
                    await asyncio.wait_for(self.stop.wait(), delay)
                    raise Stopped
                except TimeoutError:
                    pass
        raise AssertionError("unreachable")

    async def _attempt(self, coro: Any, critical: bool) -> Any:
        """Await one database call, giving up on it (``Stopped``) once the loop is stopping
        and the call has not answered within its grace: a claim or an idle touch gets
        QUICK_DB_GRACE, a report or release STOP_DB_GRACE (HARD_DB_GRACE after a second
        Ctrl-C)."""
        op = asyncio.ensure_future(coro)
        deadline: float | None = None
        while not op.done():
            waiter = None
            if self.stop.is_set():
                now = time.monotonic()
                if not critical:
                    limit = QUICK_DB_GRACE
                elif self.hard_stop.is_set():
                    limit = HARD_DB_GRACE
                else:
                    limit = STOP_DB_GRACE
                deadline = min(deadline or now + limit, now + limit)
                if now >= deadline:
                    break
                if not self.hard_stop.is_set():
                    waiter = asyncio.ensure_future(self.hard_stop.wait())
                await asyncio.wait({op} | ({waiter} if waiter else set()),
                                   timeout=deadline - now, return_when=asyncio.FIRST_COMPLETED)
            else:
                waiter = asyncio.ensure_future(self.stop.wait())
                await asyncio.wait({op, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if waiter is not None:
                waiter.cancel()
        if not op.done():
            op.cancel()           # its thread may stay blocked: the CLI exits without waiting
            self.stats.abandoned = True
            raise Stopped
        return op.result()

    # -- the running job ----------------------------------------------------------------------

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
                    await _stop_job(proc, TIMEOUT_GRACE)
                    return
                fence_at = slot.lease_ref + fence_after if fence_after is not None else None
                if fence_at is not None and now >= fence_at:
                    slot.stop_reason = "fenced"
                    self.stats.fenced += 1
                    self.note(slot, f"task {_label(task)}: no heartbeat could be written for"
                              f" {now - slot.lease_ref:.1f}s; killing the job before its"
                              " task can be given to another worker", force=True)
                    await _stop_job(proc, self.kill_grace)
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
                await _stop_job(proc, LOST_GRACE)
                return
            slot.lease_ref = max(slot.lease_ref, t0)


def fence_margin(heartbeat_timeout: float) -> float:
    """How long before the heartbeat timeout a job without a proven lease is killed."""
    return max(heartbeat_timeout * 0.2, min(heartbeat_timeout * 0.4, 1.0))


def kill_grace(heartbeat_timeout: float | None) -> float:
    """SIGTERM -> SIGKILL delay when a job must be gone before its task can be reclaimed."""
    if not heartbeat_timeout:
        return 1.0
    return min(1.0, fence_margin(heartbeat_timeout) / 3)


def _label(task: Task) -> str:
    return inert(task.task_id[:8] + (f" ({task.task_name})" if task.task_name else ""))


_PR_SET_PDEATHSIG = 1


@functools.cache
def _child_setup() -> Any:
    """A preexec function: the job's direct child gets SIGTERM when the loop dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def setup() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:   # the loop died before prctl took effect
            os._exit(1)

    return setup


def _signal_group(proc: asyncio.subprocess.Process, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


async def _stop_job(proc: asyncio.subprocess.Process, grace: float = 5.0) -> None:
    _signal_group(proc, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        _signal_group(proc, signal.SIGKILL)


def _read_status(path: Path) -> str | None:
    """The status a job asked for through the job API (``report(status=...)``), if any."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    status = data.get("status") if isinstance(data, dict) else None
    return status if status in claims.FINAL_REPORTS else None


async def run_loop(cfg: LoopConfig, *, store: TaskStore | None = None,
                   install_signals: bool = True) -> LoopStats:
    """Run the loop; Ctrl-C / SIGTERM / SIGHUP go to :meth:`Loop.interrupt` when possible.
    A given ``store`` is left open for the caller to close."""
    loop = Loop(cfg, store)
    aio = asyncio.get_running_loop()
    installed: list[int] = []
    if install_signals:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            try:
                aio.add_signal_handler(sig, loop.interrupt)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
    try:
        stats = await loop.run()
    finally:
        for sig in installed:
            aio.remove_signal_handler(sig)
    elapsed = time.monotonic() - stats.started
    if stats.fatal and not stats.registered:
        return stats  # nothing started: the caller reports the error as every command does
    if stats.fatal:
        killed = (f"; {stats.stopped_on_fatal} running job(s) killed"
                  if stats.stopped_on_fatal else "")
        loop.console.info(f"labtasker-tui: {stats.fatal}{killed}")
    if not cfg.quiet:
        loop.console.info(f"labtasker-tui: loop finished in {elapsed:.1f}s: {stats.line()}")
    return stats


def exit_code(stats: LoopStats) -> int:
    """130 after Ctrl-C, 1 on a fatal database error or when a worker crashed, 3 when pending
    tasks exist but none matched (without --follow), else 0."""
    if stats.fatal:
        return 1
    if stats.interrupted:
        return 130
    if stats.crashed_workers:
        return 1
    if stats.unmatched and not stats.claimed:
        return NOTHING_MATCHED
    return 0


def run(cfg: LoopConfig) -> int:
    """Synchronous entry point for the CLI: run the loop and return the exit code."""
    return exit_code(asyncio.run(run_loop(cfg)))


__all__ = ["DatabaseFailure", "Loop", "LoopConfig", "LoopStats", "parse_duration",
           "parse_slots", "run", "run_loop", "log_root_for"]
