"""Saved views: a name plus filter, sort and extra columns, stored in the database so every
machine sharing a queue sees the same views."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, select

from ..errors import UserError
from ..schema import utcnow, views
from .task_store import TaskStore

VIEW_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,100}$")


@dataclass(frozen=True)
class View:
    name: str
    filter: str = ""
    sort: list[tuple[str, bool]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "filter": self.filter,
                "sort": [f"{p}:{'desc' if d else 'asc'}" for p, d in self.sort],
                "columns": list(self.columns)}


def _row_to_view(row: Row[Any]) -> View:
    m = row._mapping
    return View(name=m["name"], filter=m["filter"],
                sort=[(p, bool(d)) for p, d in m["sort"]], columns=list(m["columns"]),
                created_at=m["created_at"], updated_at=m["updated_at"])


async def save_view(store: TaskStore, view: View, *, overwrite: bool = True) -> bool:
    """Insert or replace a view in one transaction; returns True when it replaced one."""
    if not VIEW_NAME.match(view.name):
        raise UserError(f"view name {view.name!r}: use letters, digits, '_', '-' or '.'")
    if view.filter.strip():
        from ..query import parse_filter

        parse_filter(view.filter)  # FilterError (exit 2) before anything is written
    now = utcnow()
    async with store.write() as conn:
        key = (views.c.queue == store.queue) & (views.c.name == view.name)
        old = (await conn.execute(select(views.c.created_at).where(key))).first()
        if old is not None and not overwrite:
            raise UserError(f"a view named {view.name!r} exists; use --force to replace it")
        if old is not None:
            await conn.execute(delete(views).where(key))
        await conn.execute(views.insert().values(
            queue=store.queue, name=view.name, filter=view.filter,
            sort=[[p, d] for p, d in view.sort], columns=list(view.columns),
            created_at=old[0] if old else now, updated_at=now))
    return old is not None


async def get_view(store: TaskStore, name: str) -> View | None:
    async with store.read() as conn:
        row = (await conn.execute(select(views).where(
            (views.c.queue == store.queue) & (views.c.name == name)))).first()
    return _row_to_view(row) if row else None


async def list_views(store: TaskStore) -> list[View]:
    async with store.read() as conn:
        rows = await conn.execute(select(views).where(views.c.queue == store.queue)
                                  .order_by(views.c.name))
        return [_row_to_view(r) for r in rows]


async def delete_view(store: TaskStore, name: str) -> None:
    async with store.write() as conn:
        res = await conn.execute(delete(views).where(
            (views.c.queue == store.queue) & (views.c.name == name)))
        if res.rowcount == 0:
            raise UserError(f"no saved view named {name!r}")
