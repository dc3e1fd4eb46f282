"""What every part of the loop shares, and its database calls.

:class:`Slot` is one worker slot's state; :class:`LoopCore` holds the loop's state (config,
store, console, stats, stop events) and calls the store through :meth:`LoopCore._db`, which
retries transient errors (busy, deadlock, connection lost) and gives up (:class:`Stopped`)
once the loop is stopping, so that Ctrl-C never waits on an unreachable database."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..models import Task
from ..safe_text import inert
from ..store.task_store import TaskStore
from .config import LoopConfig, LoopStats
from .console import Console
from .watchdog import Watchdog

DB_RETRY_DELAYS = (0.5, 1, 2, 4, 8, 15)
STOP_DB_GRACE = 3.0  # once stopping, a report/release waits this long for the database
HARD_DB_GRACE = 1.0  # ... and this long after a second Ctrl-C
QUICK_DB_GRACE = 0.5  # ... and a claim or idle touch this long


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

class LoopCore:
    """The loop's shared state (set by :class:`~.runner.Loop`), its notes and database calls."""

    cfg: LoopConfig
    store: TaskStore
    console: Console
    log_root: Path
    stats: LoopStats
    stop: asyncio.Event
    hard_stop: asyncio.Event
    fatal: DatabaseFailure | None
    slots: list[Slot]
    kill_grace: float
    watchdog: Watchdog | None

    def note(self, slot: Slot | None, msg: str, *, force: bool = False) -> None:
        if force or not self.cfg.quiet:
            who = f"[{slot.tag}] " if slot is not None and slot.tag else ""
            self.console.info(f"labtasker-tui: {who}{msg}")

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



def task_label(task: Task) -> str:
    """``1a2b3c4d (name)``: how notes name a task (terminal-safe)."""
    return inert(task.task_id[:8] + (f" ({task.task_name})" if task.task_name else ""))
