"""Whole tasks through ``sqlite3`` for ``ls`` and ``export`` on the direct path, and a saved
view's settings: rows become :class:`~labtasker_tui.plain_task.PlainTask` objects holding
what ``TaskStore.iter_batches`` gives (aware UTC datetimes, decoded JSON), without pydantic.

Values are converted as the store's column types convert them: a timestamp is naive UTC
text read by ``datetime.fromisoformat`` (SQLAlchemy's SQLite DateTime) then made aware
(``schema.UTCDateTime``); a JSON column goes through the store's reader
(:func:`.rows.json_loads`: NaN text as "NaN", text that is not JSON as a malformed marker)
and a number stored bare is kept (SQLAlchemy's SQLite JSON type). Tests compare every
output format with the store's.

The order is the store's: the fetch order by default; sort keys on plain columns are spelled
here; JSON paths are compiled once by SQLAlchemy core
(:func:`labtasker_tui.query.dialects.sqlite_text.order_sqlite_sql`) and cached with the
compiled filters (:mod:`.sql_cache`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from ..fields import COLUMN_ALIASES, FETCH_ORDER, FIELDS, TIE_BREAKERS
from ..plain_task import PlainTask

_COLUMNS = ", ".join(f"tasks.{f.column}" for f in FIELDS)
_TIME_AT = tuple(i for i, f in enumerate(FIELDS) if f.kind == "time")
_JSON_AT = tuple(i for i, f in enumerate(FIELDS) if f.kind in ("document", "json"))
#: Columns sorted as they are (not JSON); a field named by its column's other name is not.
_PLAIN_SORT = frozenset(f.column for f in FIELDS if f.kind not in ("document", "json"))
_DEFAULT_ORDER = FETCH_ORDER + TIE_BREAKERS


def _aware(text: Any) -> datetime:
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json(value: Any) -> Any:
    from .rows import json_loads

    try:
        return json_loads(value)
    except TypeError:
        if isinstance(value, int | float):
            return value
        raise


def decode_row(row: Sequence[Any]) -> PlainTask:
    """A ``tasks`` row (its columns in the field table's order) as a task."""
    values = list(row)
    for i in _TIME_AT:
        if values[i] is not None:
            values[i] = _aware(values[i])
    for i in _JSON_AT:
        if values[i] is not None:
            values[i] = _json(values[i])
    return PlainTask.from_values(values)


def plain_order(sort: Sequence[tuple[str, bool]]) -> str | None:
    """ORDER BY text for the fetch order or for sort keys on plain columns (as the store's
    ``order_clause``); None when a key needs the compiler (a JSON path, an alias)."""
    if not sort:
        return ", ".join(f"tasks.{c} {'DESC' if d else 'ASC'}" for c, d in _DEFAULT_ORDER)
    if not all(p in _PLAIN_SORT and p not in COLUMN_ALIASES for p, _ in sort):
        return None
    terms = [f"tasks.{p} DESC NULLS LAST" if d else f"tasks.{p} ASC NULLS FIRST"
             for p, d in sort]
    return ", ".join(terms + [f"tasks.{c} {'DESC' if d else 'ASC'}" for c, d in TIE_BREAKERS])


def order_sql(sort: Sequence[tuple[str, bool]]) -> tuple[str, list[Any]]:
    """ORDER BY text and parameters for ``sort``: spelled here, else cached, else compiled
    (and cached)."""
    text = plain_order(sort)
    if text is not None:
        return text, []
    import json

    from . import sql_cache

    key = json.dumps([[p, bool(d)] for p, d in sort])
    cached = sql_cache.lookup_order(key)
    if cached is not None:
        return cached
    from ..query.dialects.sqlite_text import order_sqlite_sql

    order, params = order_sqlite_sql(list(sort))
    sql_cache.remember_order(key, order, params)
    return order, list(params)


def task_batches_sqlite(con: sqlite3.Connection, queue: str, where: str | None,
                        params: Sequence[Any], ids: Sequence[str] | None, name: str | None,
                        status: str | None, order: tuple[str, Sequence[Any]],
                        limit: int | None, offset: int, batch: int
                        ) -> Iterator[list[PlainTask]]:
    """The matching tasks in ``order``, ``batch`` at a time, as the store streams them: the
    ordered ids in one short read transaction, then each batch by id in its own (no
    transaction stays open while the caller writes, so a slow reader never holds back
    SQLite's checkpoints). The selection is checked again on each batch: a task deleted or
    changed meanwhile is skipped, one submitted after the ids were read is not listed."""
    import json

    from .sqlite_direct import ids_sqlite, selection_sql

    chunks = ids_sqlite(con, queue, where, params, ids, name, status, limit, offset,
                        chunk=batch, order=(order[0], order[1]))
    cond, args = selection_sql(queue, where, params, None, name, status, scan=False,
                               by_id=True)
    sql = (f"SELECT {_COLUMNS} FROM tasks WHERE {cond} AND tasks.task_id IN "
           "(SELECT value FROM json_each(?))")
    while chunks:
        wanted = chunks.pop(0).split("\n")
        con.execute("BEGIN")
        try:
            found = {r[0]: r for r in con.execute(sql, [*args, json.dumps(wanted)])}
        finally:
            con.execute("COMMIT")
        yield [decode_row(found[i]) for i in wanted if i in found]


def view_sqlite(con: sqlite3.Connection, queue: str, name: str
                ) -> tuple[str, list[tuple[str, bool]], list[str]] | None:
    """A saved view's filter, sort keys and columns (``views.get_view``); None if absent."""
    row = con.execute("SELECT filter, sort, columns FROM views WHERE queue = ? AND name = ?",
                      (queue, name)).fetchone()
    if row is None:
        return None
    from .rows import json_loads

    text, sort, columns = row
    return (text, [(p, bool(d)) for p, d in json_loads(sort)], list(json_loads(columns)))
