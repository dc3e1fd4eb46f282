"""The task status state machine (spec §1.5): one table, used by store, CLI, TUI and workers."""

from __future__ import annotations

from enum import StrEnum

from .errors import UserError


class TaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"


DEFAULT_PRIORITY = 10
DEFAULT_MAX_RETRIES = 3
DEFAULT_HEARTBEAT_TIMEOUT = 60.0

STATUSES: tuple[str, ...] = tuple(s.value for s in TaskStatus)

# from -> allowed targets (spec §1.5). "running" is reached only by a worker's fetch.
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"pending", "running", "cancelled"}),
    "running": frozenset({"pending", "success", "failed", "cancelled"}),
    "success": frozenset({"pending", "cancelled"}),
    "failed": frozenset({"pending", "failed", "cancelled"}),
    "cancelled": frozenset({"pending", "cancelled"}),
}


class TransitionError(UserError):
    """A status change the state machine forbids."""


def can_transition(old: str, new: str, *, manual: bool = True) -> bool:
    """Whether ``old -> new`` is allowed. Manual edits may never set ``running`` ([REC] §5.6):
    a running task with no worker would never be timed out."""
    if manual and new == "running" and old != "running":
        return False
    return new in TRANSITIONS.get(old, frozenset())


def check_transition(old: str, new: str, *, manual: bool = True) -> None:
    if old == new and new != "running":
        return
    if not can_transition(old, new, manual=manual):
        hint = " (only a worker's fetch starts a task)" if new == "running" else ""
        raise TransitionError(f"Cannot transition from {old} to {new}{hint}.")


def after_failure(retries: int, max_retries: int) -> tuple[str, int]:
    """Status and retry count after one failed attempt: max_retries is the number of attempts."""
    retries += 1
    return ("pending" if retries < max_retries else "failed"), retries
