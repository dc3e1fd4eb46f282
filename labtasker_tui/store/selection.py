"""What a command acts on (a Selection), what it changes (TaskChange), and the checks that
the tasks a prompt showed are still the ones written (SelectionChanged)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement

from ..errors import ConflictError, NotFoundError, UserError
from ..schema import tasks

if TYPE_CHECKING:
    from ..models import Task


@dataclass
class Selection:
    """Which tasks a command acts on: selectors AND-ed with a compiled filter condition."""

    ids: Sequence[str] | None = None
    name: str | None = None
    status: str | None = None
    where: ColumnElement[bool] | None = None

    @property
    def empty(self) -> bool:
        return self.ids is None and self.name is None and self.status is None and self.where is None


@dataclass
class TaskChange:
    before: Task
    changes: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.changes)


class SelectionChanged(ConflictError):
    """What a prompt showed no longer matches: nothing was written (exit 2)."""


def check_shown(now: dict[str, int], shown: dict[str, int], verb: str) -> None:
    if now == shown:
        return
    if len(now) != len(shown):
        raise SelectionChanged(f"selection changed: {len(now)} tasks match now, {len(shown)}"
                               f" were shown; nothing {verb}; run again")
    moved = sum(1 for k, v in shown.items() if now.get(k) != v)
    raise SelectionChanged(f"selection changed: {moved} of the {len(shown)} tasks shown changed"
                           f" or no longer match since; nothing {verb}; run again")


def check_found(ids: Sequence[str], found: set[str], suffix: str) -> None:
    missing = sorted(set(ids) - found)
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise NotFoundError(f"task not found: {missing[0]}{more}{suffix}")


def check_not_running(statuses: Iterable[str], verb: str) -> None:
    n = sum(1 for st in statuses if st == "running")
    if n:
        raise UserError(f"{n} of the selected tasks are running (a worker is executing them);"
                        f" nothing {verb} (force the delete to remove them anyway)")


def selector_conds(sel: Selection) -> list[ColumnElement[bool]]:
    """The name, status and filter conditions of a selection (ids are the caller's)."""
    conds: list[ColumnElement[bool]] = []
    if sel.name is not None:
        conds.append(tasks.c.task_name == sel.name)
    if sel.status is not None:
        conds.append(tasks.c.status == sel.status)
    if sel.where is not None:
        conds.append(sel.where)
    return conds
