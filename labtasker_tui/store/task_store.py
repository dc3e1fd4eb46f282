"""TaskStore: the single door to the database. Every public write is one transaction.

The class is composed in layers, each a module that says what it holds:
:mod:`.store_core` (transactions, read interruption, schema, scope and order) <-
:mod:`.task_reads` (get, pages, streams, counts) <- :mod:`.task_writes` (submit, import,
update, delete, with their checks and journaling) <- :class:`TaskStore` (this module).
"""

from __future__ import annotations

from collections.abc import Sequence

from .rows import row_to_task
from .selection import Selection, SelectionChanged, TaskChange
from .store_core import READ_TAG, TASK_COLUMNS, Rollback
from .task_writes import TaskWrites


class TaskStore(TaskWrites):
    """Async access to tasks of one queue. Create with :func:`open_store`."""

    # -- id prefixes (the tables show 8 characters) ---------------------------------------------

    async def resolve_id_prefixes(self, ids: Sequence[str], *, shown: int = 5) -> list[str]:
        """Full task ids for ids or unique id prefixes (:mod:`.id_prefixes`)."""
        from .id_prefixes import resolve_id_prefixes

        return await resolve_id_prefixes(self, ids, shown=shown)


def open_store(url: str, queue: str = "default", *, echo: bool = False,
               create: bool = True) -> TaskStore:
    """``create=False``: refuse a missing SQLite file instead of creating it."""
    from .engine import create_engine
    from .location import normalise_url

    return TaskStore(create_engine(normalise_url(url), echo=echo, create=create), queue)


__all__ = ["READ_TAG", "TASK_COLUMNS", "Rollback", "Selection", "SelectionChanged", "TaskChange",
           "TaskStore", "open_store", "row_to_task"]
