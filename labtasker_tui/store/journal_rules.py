"""The journal's rules that need no database: whether it is on, its retention, who made an
entry, and how an update is summarised. Plain stdlib, so that the direct SQLite writes
(:mod:`.sqlite_direct_writes`) journal exactly as :mod:`.journal` does without loading
SQLAlchemy; :mod:`.journal` re-exports every name here."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from ..errors import UserError
from ..settings import ENV_JOURNAL, ENV_JOURNAL_DAYS, ENV_JOURNAL_KEEP

DEFAULT_KEEP = 200
DEFAULT_DAYS = 30.0


def enabled() -> bool:
    return os.environ.get(ENV_JOURNAL, "1").strip().lower() not in ("0", "no", "off", "false")


def _setting(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise UserError(f"{name}={raw!r}: expected a number") from None
    if value < 1:
        raise UserError(f"{name}={raw!r}: expected a number of at least 1")
    return value


def keep_entries() -> int:
    return int(_setting(ENV_JOURNAL_KEEP, DEFAULT_KEEP))


def keep_days() -> float:
    return _setting(ENV_JOURNAL_DAYS, DEFAULT_DAYS)


def who() -> str:
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"[:255]


def plural(n: int) -> str:
    return f"{n:,} task{'s' * (n != 1)}"


def describe_update(changes: Iterable[dict[str, Any]], n: int) -> tuple[str, str]:
    """(kind, summary) of an update from the fields it changed."""
    changes = list(changes)
    keys: set[str] = set().union(*changes) if changes else set()
    statuses = {c.get("status") for c in changes}
    tasks_ = plural(n)
    if "status" in keys and keys <= {"status", "retries", "worker_id"} and len(statuses) == 1:
        status = next(iter(statuses))
        if status == "pending":
            return "reset", f"reset {tasks_} to pending"
        if status == "cancelled":
            return "cancel", f"cancel {tasks_}"
        return "status", f"set {tasks_} to {status}"
    if keys == {"priority"}:
        values = {c["priority"] for c in changes}
        to = f" to {next(iter(values))}" if len(values) == 1 else ""
        return "priority", f"set priority of {tasks_}{to}"
    return "update", f"update {tasks_} ({', '.join(sorted(keys))})"
