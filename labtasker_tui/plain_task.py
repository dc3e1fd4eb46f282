"""A task read for output only: the field table's attributes on a plain object, no pydantic.

``ls`` and ``export`` on the direct SQLite path turn rows into :class:`PlainTask` objects; the
output formats (:mod:`labtasker_tui.formats`) and the table cells (``tui/cells.py``) read
tasks by attribute and ``record()``, so they take either this or ``models.Task``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .fields import FIELD_ORDER, FIELDS

#: Every field's name, in the table's order (the order of the values :meth:`from_values` takes).
NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)


class PlainTask:
    """The attributes of ``models.Task`` (same names and values), held in a plain dict."""

    task_id: str
    queue_id: str
    status: str
    task_name: str | None
    created_at: datetime
    start_time: datetime | None
    last_heartbeat: datetime | None
    last_modified: datetime
    heartbeat_timeout: float | None
    task_timeout: int | None
    max_retries: int
    retries: int
    priority: int
    metadata: dict[str, Any]
    args: dict[str, Any]
    cmd: str | list[str]
    summary: dict[str, Any]
    worker_id: str | None
    version: int

    @classmethod
    def from_values(cls, values: Any) -> PlainTask:
        """A task from its values in :data:`NAMES` order (already converted)."""
        task = object.__new__(cls)
        task.__dict__ = dict(zip(NAMES, values, strict=True))
        return task

    def record(self) -> dict[str, Any]:
        """All §1.1 fields in display order (datetimes left as objects), as ``Task.record``."""
        d = self.__dict__
        return {k: d[k] for k in FIELD_ORDER}

    def __repr__(self) -> str:
        return f"PlainTask({self.task_id!r})"
