"""The task list's marks: marked ids, ranges (shift+arrows) or "all matching" (a selection),
and what an action acts on. No Textual."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..store.task_store import Selection


@dataclass
class Target:
    """What an action acts on, as the user chose it (``kind``: matching, marked, cursor)."""

    sel: Selection
    n: int
    kind: str
    task_id: str | None = None

    def label(self, n: int | None = None) -> str:
        n = self.n if n is None else n
        if self.kind == "cursor" and n == 1 and self.task_id:
            return f"task {self.task_id[:8]}"
        return f"{n:,} {self.kind} task{'s' * (n != 1)}"


@dataclass
class Frozen:
    """The target's tasks at their versions when the confirmation was shown: a confirmed
    action applies to exactly these or refuses (nothing written)."""

    target: Target
    shown: dict[str, int]
    running: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.shown)

    @property
    def label(self) -> str:
        return self.target.label(self.n)


@dataclass
class Marks:
    """Marked task ids, or every task of ``all_matching`` (then ``ids`` is empty)."""

    ids: set[str] = field(default_factory=set)
    all_matching: Selection | None = None
    all_count: int = 0

    def __bool__(self) -> bool:
        return self.all_matching is not None or bool(self.ids)

    def is_marked(self, task_id: str) -> bool:
        return self.all_matching is not None or task_id in self.ids

    @property
    def count(self) -> int:
        return self.all_count if self.all_matching is not None else len(self.ids)

    def text(self) -> str:
        """`12 marked`, `1,234 marked (all matching)`, or empty."""
        if not self.count:
            return ""
        return f"{self.count:,} marked" + (" (all matching)" if self.all_matching else "")

    def clear(self, shown: Iterable[str]) -> set[str]:
        """Unmark everything; returns the ids of ``shown`` rows whose mark changed."""
        had = set(self.ids) | (set(shown) if self.all_matching is not None else set())
        self.ids.clear()
        self.all_matching, self.all_count = None, 0
        return had

    def toggle(self, task_id: str) -> None:
        self.ids.symmetric_difference_update({task_id})

    def add(self, *task_ids: str) -> None:
        self.ids.update(task_ids)

    def mark_all(self, sel: Selection, count: int) -> None:
        self.ids.clear()
        self.all_matching, self.all_count = sel, count

    def target(self, cursor_id: str | None) -> Target | None:
        """What an action acts on: the marks, else the cursor task (None: nothing)."""
        if self.all_matching is not None:
            return Target(self.all_matching, self.all_count, "matching")
        if self.ids:
            return Target(Selection(ids=sorted(self.ids)), len(self.ids), "marked")
        if cursor_id is None:
            return None
        return Target(Selection(ids=[cursor_id]), 1, "cursor", cursor_id)

    def ordered_ids(self, shown: list[str]) -> list[str]:
        """The marked ids, those on screen first in screen order, then the rest sorted."""
        ids = [t for t in shown if t in self.ids]
        return ids + sorted(self.ids - set(ids))
