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
import json
import os
import re
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ..models import Task
from ..store.location import PROJECT_DIR, sqlite_path
from ..store.task_store import Selection, TaskStore, open_store
from . import claims
from .template import TemplateKeyError, render

TAIL_LINES = 20
TAIL_LINE_CHARS = 500
NEVER_CRASH = 2**31 - 1
STATUS_FILE = "status.json"
DB_RETRY_DELAYS = (0.5, 1, 2, 4, 8, 15)
IDLE_TOUCH = 30.0     # an idle --follow worker refreshes last_seen this often
PARTIAL_MAX = 4096   # a prefixed line without newline is flushed past this size
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


def log_root_for(url: str, cwd: Path | None = None) -> Path:
    """``<dir>/.labtasker/logs`` next to a project's SQLite file, else under the cwd."""
    path = sqlite_path(url)
    if path is not None and path.parent.name == PROJECT_DIR:
        return path.parent / "logs"
    return (cwd or Path.cwd()) / PROJECT_DIR / "logs"


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
    interrupted: bool = False
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


@dataclass
class Slot:
    tag: str
    gpu: str | None
    worker_id: str = ""
    proc: asyncio.subprocess.Process | None = None
    task: Task | None = None
    interrupted: bool = False
    stop_reason: str | None = None   # "lost" or "timeout", set by the heartbeat


class Loop:
    """Runs ``cfg.command`` over matching tasks on every slot until none is left (or stopped)."""

    def __init__(self, cfg: LoopConfig, store: TaskStore | None = None,
                 console: Console | None = None) -> None:
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
        self.interrupts = 0
        self.slots: list[Slot] = []
        for i, gpu in enumerate(cfg.slots):
            tag = f"gpu{gpu}" if gpu is not None else f"w{i}"
            self.slots.append(Slot(tag=tag if multi else "", gpu=gpu))
        self._required = claims.parse_required(cfg.required_fields)

    # -- control ----------------------------------------------------------------------------

    def interrupt(self) -> None:
        """First call: stop claiming, SIGINT the jobs (their tasks go back to pending).
        Second call: SIGKILL the jobs."""
        self.interrupts += 1
        self.stats.interrupted = True
        self.stop.set()
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

    def note(self, slot: Slot, msg: str, *, force: bool = False) -> None:
        if force or not self.cfg.quiet:
            who = f"[{slot.tag}] " if slot.tag else ""
            self.console.info(f"labtasker-tui: {who}{msg}")

    # -- main -------------------------------------------------------------------------------

    async def run(self) -> LoopStats:
        ticker = asyncio.create_task(self._ticker()) if self.console.status_enabled else None
        try:
            for i, slot in enumerate(self.slots):
                name = self.cfg.worker_name
                if name and len(self.slots) > 1:
                    name = f"{name}-{i}"
                slot.worker_id = await claims.register_worker(
                    self.store, name=name, slot=slot.gpu,
                    max_retries=self.cfg.worker_max_failures or NEVER_CRASH,
                    worker_id=self.cfg.worker_id if i == 0 else None)
            await asyncio.gather(*(self._work(slot) for slot in self.slots))
        finally:
            if ticker:
                ticker.cancel()
            self.console.close()
            if self._own_store:
                await self.store.close()
        return self.stats

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

    async def _work(self, slot: Slot) -> None:
        cfg = self.cfg
        last_touch = time.monotonic()
        while not self.stop.is_set():
            try:
                task = await self._db(
                    slot, claims.claim_next, slot.worker_id, where=cfg.where,
                    required_fields=self._required, heartbeat_timeout=cfg.heartbeat_timeout,
                    task_timeout=cfg.task_timeout, cmd=cfg.command)
            except claims.WorkerInactive as exc:
                self.stats.crashed_workers += 1
                self.note(slot, f"worker {slot.worker_id[:8]}: {exc} Stopping this worker"
                          " (`worker activate` resets it).")
                return
            if task is None:
                if not cfg.follow:
                    return
                if time.monotonic() - last_touch > IDLE_TOUCH:
                    await self._db(slot, claims.touch_worker, slot.worker_id)
                    last_touch = time.monotonic()
                try:
                    await asyncio.wait_for(self.stop.wait(), cfg.poll_interval)
                except TimeoutError:
                    pass
                continue
            if self.stop.is_set():  # Ctrl-C arrived during the claim: hand the task back
                await self._db(slot, claims.release, task.task_id, slot.worker_id)
                return
            await self._run_task(slot, task)

    async def _run_task(self, slot: Slot, task: Task) -> None:
        log_dir = self.log_root / task.task_id
        log_dir.mkdir(parents=True, exist_ok=True)
        status_file = log_dir / STATUS_FILE
        status_file.unlink(missing_ok=True)
        label = task.task_id[:8] + (f" ({task.task_name})" if task.task_name else "")
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
        env.update(
            LABTASKER_TASK_ID=task.task_id,
            LABTASKER_WORKER_ID=slot.worker_id,
            LABTASKER_LOG_DIR=str(log_dir),
            LABTASKER_TUI_DB=self.cfg.url,
            LABTASKER_TUI_QUEUE=self.cfg.queue,
            PYTHONUNBUFFERED="1",
        )
        if slot.gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = slot.gpu.replace("+", ",")
        self.stats.running += 1
        slot.task = task
        try:
            with open(log_dir / "run.log", "ab") as logf:
                stamp = datetime.now(UTC).isoformat(timespec="seconds")
                logf.write(f"=== {stamp} attempt {task.retries + 1} worker {slot.worker_id}"
                           f" cmd {command!r}\n".encode())
                logf.flush()
                self.note(slot, f"task {label} started")
                try:
                    proc = await asyncio.create_subprocess_exec(
                        *argv, stdin=asyncio.subprocess.DEVNULL,
                        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                        env=env, start_new_session=True)
                except OSError as exc:
                    logf.write(f"cannot start: {exc}\n".encode())
                    self.note(slot, f"task {label}: cannot start {argv[0]!r}: {exc}")
                    await self._report_failure(slot, task, {"labtasker_exception": {
                        "type": type(exc).__name__, "message": str(exc), "exit_code": 127}})
                    return
                slot.proc = proc
                if self.stop.is_set():  # interrupted while starting
                    slot.interrupted = True
                    _signal_group(proc, signal.SIGINT)
                tail = Tail()
                beat = asyncio.create_task(self._heartbeat(slot, task, proc, started))
                await asyncio.gather(
                    self._pump(proc.stdout, "out", slot, logf, tail),
                    self._pump(proc.stderr, "err", slot, logf, tail))
                rc = await proc.wait()
                beat.cancel()
                await asyncio.gather(beat, return_exceptions=True)
                reason, slot.stop_reason = slot.stop_reason, None
                duration = round(time.monotonic() - started, 3)
                logf.write(f"=== exit code {rc} after {duration}s\n".encode())
        finally:
            slot.proc = None
            slot.task = None
            self.stats.running -= 1
        if slot.interrupted:
            slot.interrupted = False
            if await self._db(slot, claims.release, task.task_id, slot.worker_id):
                self.stats.released += 1
                self.note(slot, f"task {label} interrupted; back to pending")
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
                                        "log_tail": tail.result()}})
            return
        status = reported or ("success" if rc == 0 else "failed")
        if status == "success":
            done = await self._db(slot, claims.report, task.task_id, slot.worker_id,
                                "success")
            if done is not None:
                self.stats.success += 1
                self.note(slot, f"task {label} success in {duration}s")
        elif status == "cancelled":
            await self._db(slot, claims.report, task.task_id, slot.worker_id, "cancelled")
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
        label = task.task_id[:8]
        done = await self._db(slot, claims.report, task.task_id, slot.worker_id, "failed",
                              summary)
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

    async def _db(self, slot: Slot, fn: Any, *args: Any, **kw: Any) -> Any:
        """Call a store operation, retrying transient database errors (busy, deadlock,
        connection lost) with backoff for about half a minute before giving up."""
        from sqlalchemy.exc import DBAPIError

        for delay in (*DB_RETRY_DELAYS, None):
            try:
                return await fn(self.store, *args, **kw)
            except (DBAPIError, OSError) as exc:
                if delay is None:
                    raise
                msg = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
                self.note(slot, f"database error ({msg}); retrying in {delay}s", force=True)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

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

    async def _heartbeat(self, slot: Slot, task: Task, proc: asyncio.subprocess.Process,
                         started: float) -> None:
        """Beat until cancelled; stop the job (setting ``slot.stop_reason``) when the task
        is lost or past its task_timeout."""
        interval = self.cfg.interval
        while True:
            await asyncio.sleep(interval)
            if proc.returncode is not None:
                return
            if task.task_timeout is not None and \
                    time.monotonic() - started > task.task_timeout:
                slot.stop_reason = "timeout"
                await _stop_job(proc)
                return
            try:
                alive = await claims.heartbeat(self.store, task.task_id, slot.worker_id)
            except Exception as exc:  # noqa: BLE001 - a DB hiccup must not kill the job
                self.note(slot, f"heartbeat failed ({exc.__class__.__name__}: {exc});"
                          " retrying")
                continue
            if not alive:
                slot.stop_reason = "lost"
                await _stop_job(proc)
                return


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
    """Run the loop; Ctrl-C / SIGTERM go to :meth:`Loop.interrupt` when possible.
    A given ``store`` is left open for the caller to close."""
    loop = Loop(cfg, store)
    aio = asyncio.get_running_loop()
    installed: list[int] = []
    if install_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
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
    if not cfg.quiet:
        loop.console.info(f"labtasker-tui: loop finished in {elapsed:.1f}s: {stats.line()}")
    return stats


def exit_code(stats: LoopStats) -> int:
    """130 after Ctrl-C, 1 when a worker crashed (too many failures), else 0."""
    if stats.interrupted:
        return 130
    if stats.crashed_workers:
        return 1
    return 0


def run(cfg: LoopConfig) -> int:
    """Synchronous entry point for the CLI: run the loop and return the exit code."""
    return exit_code(asyncio.run(run_loop(cfg)))


__all__ = ["Loop", "LoopConfig", "LoopStats", "parse_duration", "parse_slots", "run",
           "run_loop", "log_root_for"]
