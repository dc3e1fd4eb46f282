"""Task ids from the 8-character prefixes the tables show."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import and_, func, select

from ..errors import UserError
from ..schema import tasks

if TYPE_CHECKING:
    from .task_store import TaskStore


async def resolve_id_prefixes(store: TaskStore, ids: Sequence[str], *, shown: int = 5
                              ) -> list[str]:
    """Full task ids for ids or unique id prefixes of at least 4 hex/dash characters.

    A full UUID, an id that exists as given, or a text that cannot be a prefix is kept
    as it is (a missing one is reported by the command); a prefix matching no task is
    kept too. Raises UserError for a prefix shorter than 4 characters or one that
    matches several tasks (naming ``shown`` of them). One indexed range query a prefix:
    ``task_id LIKE 'p%'`` on PostgreSQL, the equivalent binary range on SQLite."""
    out: list[str] = []
    async with store.read() as conn:
        for raw in ids:
            x = raw.strip()
            if len(x) == 36 or not re.fullmatch(r"[0-9A-Fa-f-]+", x):
                out.append(x)
                continue
            if len(x) < 4:
                raise UserError(f"task id prefix {x!r} is too short: give at least 4"
                                " characters (or the whole id)")
            p = x.lower()
            col = tasks.c.task_id
            if store.dialect == "sqlite":  # binary collation: the range uses the index
                cond = and_(col >= p, col < p + "~")
            else:
                cond = col.like(p + "%")  # validated: no LIKE wildcard in it
            found = list((await conn.execute(
                select(col).where(tasks.c.queue == store.queue, cond)
                .order_by(col).limit(shown + 1))).scalars())
            if x in found or len(found) <= 1:
                out.append(x if x in found or not found else found[0])
                continue
            extra = ""
            if len(found) > shown:
                total = (await conn.execute(select(func.count()).select_from(tasks).where(
                    tasks.c.queue == store.queue, cond))).scalar() or 0
                extra = f" and {total - shown:,} more"
            raise UserError(f"task id prefix {x!r} is ambiguous: it matches "
                            f"{', '.join(found[:shown])}{extra}; give more characters")
    return out
