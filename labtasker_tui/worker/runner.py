"""The ``loop`` engine: claim -> run the job -> heartbeat -> report, on one or many slots.

One asyncio event loop drives every slot (``--workers N`` / ``--gpus 0,1``): each slot has its
own worker row, claims tasks and runs their jobs (:mod:`.job`), which are guarded by heartbeats
(:mod:`.lease`) and reported (:mod:`.report`). This module ties them together: registering the
workers, the claim loop of each slot, stopping, and the exit code.

Ctrl-C (or SIGTERM, SIGHUP) forwards SIGINT to the running jobs, puts their tasks back to
pending ("ignore") and stops; a second Ctrl-C kills the jobs.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time

from ..log_paths import log_root_for
from ..models import Task
from ..safe_text import inert
from ..store import claims
from ..store import workers as worker_rows
from ..store.task_store import Selection, TaskStore, open_store
from .config import MAX_SECONDS, LoopConfig, LoopStats, parse_duration, parse_slots
from .console import Console, Tail
from .db_calls import DatabaseFailure, Slot, Stopped, is_transient
from .job import JobRunner
from .job_signals import signal_group, stop_job
from .lease import fence_margin, kill_grace
from .watchdog import Watchdog

NEVER_CRASH = 2**31 - 1
IDLE_TOUCH = worker_rows.IDLE_TOUCH  # an idle --follow worker refreshes last_seen this often
NOTHING_MATCHED = 3  # exit code: pending tasks exist but the loop could claim none of them


class Loop(JobRunner):
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
                signal_group(slot.proc, sig)
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
                asyncio.ensure_future(stop_job(slot.proc, self.kill_grace))

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
                    signal_group(slot.proc, signal.SIGKILL)
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



async def run_loop(cfg: LoopConfig, *, store: TaskStore | None = None,
                   install_signals: bool = True) -> LoopStats:
    """Run the loop; Ctrl-C / SIGTERM / SIGHUP go to :meth:`Loop.interrupt` when possible.
    A given ``store`` is left open for the caller to close."""
    loop = Loop(cfg, store)
    aio = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    if install_signals:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            try:
                aio.add_signal_handler(sig, loop.interrupt)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # no loop signal handlers here (Windows, or not the main thread)
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


__all__ = ["MAX_SECONDS", "Console", "DatabaseFailure", "Loop", "LoopConfig", "LoopStats",
           "Tail", "exit_code", "fence_margin", "is_transient", "kill_grace", "log_root_for",
           "parse_duration", "parse_slots", "run", "run_loop"]
