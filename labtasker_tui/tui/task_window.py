"""The task list's window: which rows are loaded, where they sit in the selection, the
total, and how the next window is read (by keyset). No Textual: plain unit tests drive it.

The screen asks :meth:`TaskWindow.begin` for a load generation, reads with
:func:`fetch_window`, and hands the result to :meth:`TaskWindow.accept` only while that
generation is still the newest (a newer load supersedes and interrupts an older one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..models import Task
from ..store.task_store import Selection, TaskStore

Read = Callable[[Any], Awaitable[Any]]  # runs one store read (tagged, shielded) and awaits it


@dataclass(frozen=True)
class WindowRequest:
    """Which window to show: at ``offset``, the last one (``to_end``), or the ``size`` tasks
    after / before an edge task (keyset paging); and where the cursor goes."""

    offset: int = 0
    cursor_id: str | None = None
    cursor_row: int = 0
    to_end: bool = False
    after: Task | None = None
    before: Task | None = None
    size: int | None = None


@dataclass
class Fetched:
    seq: int | None
    tasks: list[Task]
    offset: int
    total: int | None  # None: not counted yet (the count follows)


async def fetch_window(store: TaskStore, sel: Selection, sort: list[tuple[str, bool]],
                       req: WindowRequest, *, window: int, read: Read) -> Fetched:
    """Read the requested window (``window`` rows at most). Moving to the next/previous
    window passes the edge task: the store then reads by keyset, so a window deep in a
    million tasks costs what the first does; ``offset`` only keeps the position right."""
    offset, total = req.offset, None
    size = req.size or window
    keyset = req.after is not None or req.before is not None
    if not (req.to_end or keyset):
        seq, tasks = await read(store.window(sel, sort=sort, limit=window, offset=offset))
    else:
        seq = await read(store.change_seq())
    if req.to_end:
        total = await read(store.count(sel))
        offset = max(0, total - window)
        tasks = await read(store.page(sel, sort=sort, limit=window, last=True, offset=offset))
    elif keyset:
        tasks = await read(store.page(sel, sort=sort, limit=size, after=req.after,
                                      before=req.before, offset=offset))
    if not tasks and offset > 0:  # past the end (tasks went away): the last window
        total = await read(store.count(sel))
        offset = max(0, total - window)
        tasks = await read(store.list(sel, sort=sort, limit=window, offset=offset))
    if total is None and offset == 0 and len(tasks) < size:
        total = len(tasks)  # the whole selection is on screen: no count needed
    return Fetched(seq, tasks, offset, total)


@dataclass
class TaskWindow:
    """The loaded rows and their place in the selection."""

    tasks: list[Task] = field(default_factory=list)
    by_id: dict[str, Task] = field(default_factory=dict)
    offset: int = 0
    total: int = 0
    total_known: bool = False
    loaded_once: bool = False
    seq: int | None = None  # the store's change counter when the window was read
    gen: int = 0  # bumped by every load; results of an older one are dropped

    def begin(self) -> int:
        self.gen += 1
        return self.gen

    def is_current(self, gen: int) -> bool:
        return gen == self.gen

    def accept(self, fetched: Fetched, size: int) -> None:
        """Show ``fetched``; until the count reports, the total is a lower bound that still
        lets the cursor page onwards."""
        n = len(fetched.tasks)
        self.loaded_once = True
        self.seq = fetched.seq
        self.total_known = fetched.total is not None
        self.total = fetched.total if fetched.total is not None else (
            fetched.offset + n + (1 if n >= size else 0))
        self.offset = fetched.offset
        self.tasks = fetched.tasks
        self.by_id = {t.task_id: t for t in fetched.tasks}

    def set_total(self, total: int) -> None:
        self.total, self.total_known = total, True

    @property
    def at_top(self) -> bool:
        return self.offset == 0

    @property
    def at_bottom(self) -> bool:
        return self.offset + len(self.tasks) >= self.total

    def edge_request(self, direction: str, window: int) -> WindowRequest | None:
        """The window past the ``next`` / ``prev`` edge (None at the selection's end)."""
        n = len(self.tasks)
        if direction == "next" and self.offset + n < self.total:
            return WindowRequest(self.offset + n, cursor_row=0,
                                 after=self.tasks[-1] if self.tasks else None)
        if direction == "prev" and self.offset > 0:
            start = max(0, self.offset - window)
            return WindowRequest(start, cursor_row=self.offset - start - 1,
                                 before=self.tasks[0] if self.tasks else None,
                                 size=self.offset - start)
        return None

    def rows_text(self) -> str:
        """`rows 201–400 of 1,234` (`of …` while the count is on its way)."""
        n = len(self.tasks)
        total = f"{self.total:,}" if self.total_known else "…"
        return f"rows {self.offset + 1:,}–{self.offset + n:,} of {total}"
