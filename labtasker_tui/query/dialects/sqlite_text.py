"""A compiled filter as SQLite SQL text and positional parameters, for the direct path
(:mod:`labtasker_tui.store.sqlite_direct`), through SQLAlchemy core only.

The same boolean expression the store executes (:func:`labtasker_tui.query.sql.ir_to_sql`),
rendered by SQLAlchemy's pysqlite statement compiler with bound parameters kept (never
literal binds) and expanding ``IN`` lists rendered out. Parameters leave here already
converted by their column types' bind processors (a datetime becomes SQLite's text form), so
they are plain JSON values that :mod:`labtasker_tui.store.sql_cache` can keep. No engine,
no ``sqlalchemy.ext.asyncio`` and no aiosqlite driver are loaded.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from labtasker_tui.query import CompiledFilter, FilterError

#: What a cached parameter may be: anything else is not stored (it would not round-trip).
PLAIN = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class FilterSQL:
    """``where`` is a boolean SQL expression over ``tasks`` with ``?`` placeholders."""

    where: str
    params: tuple[Any, ...]
    #: Whether the same text compiles to the same SQL tomorrow (no date() phrase).
    reproducible: bool


def filter_sqlite_sql(compiled: CompiledFilter) -> FilterSQL:
    """The filter's SQLite WHERE text and parameters (FilterError when SQL cannot say it)."""
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

    from labtasker_tui.query.sql import ir_to_sql

    try:
        expr = ir_to_sql(compiled.ir, "sqlite")
    except ValueError as exc:  # as filter_to_sql: a construct the SQL layer cannot express
        raise FilterError(str(exc), compiled.text) from None
    sql = expr.compile(dialect=SQLiteDialect_pysqlite(),
                       compile_kwargs={"render_postcompile": True})
    processors: dict[str, Any] = dict(sql._bind_processors)
    values = sql.params
    params = []
    for name in sql.positiontup or ():
        value = values[name]
        proc = processors.get(name)
        params.append(proc(value) if proc is not None else value)
    return FilterSQL(str(sql), tuple(params), _reproducible(compiled, params))


def _reproducible(compiled: CompiledFilter, params: list[Any]) -> bool:
    """False when the SQL depends on more than the text: a Python-syntax ``date('...')``
    phrase is read against the clock and the local time zone (Mongo ``{"$date": ...}``
    values are absolute, UTC when naive)."""
    if not all(isinstance(p, PLAIN) for p in params):
        return False
    if compiled.text.lstrip().startswith("{"):
        return True
    return not _has_datetime(compiled.mongo)


def _has_datetime(doc: Any) -> bool:
    stack = [doc]
    while stack:
        value = stack.pop()
        if isinstance(value, (dt.datetime, dt.date)):
            return True
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
        elif isinstance(value, re.Pattern):
            continue
    return False


def order_sqlite_sql(sort: list[tuple[str, bool]]) -> tuple[str, tuple[Any, ...]]:
    """The ORDER BY terms of ``sort`` (the store's ``order_clause`` on SQLite: JSON paths in
    BSON order, then the tie-breakers) as SQLite text and positional parameters."""
    from sqlalchemy import select
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

    from labtasker_tui.query.sql import order_by
    from labtasker_tui.schema import tasks

    stmt = select(tasks.c.task_id).order_by(*order_by(list(sort), "sqlite"))
    sql = stmt.compile(dialect=SQLiteDialect_pysqlite(),
                       compile_kwargs={"render_postcompile": True})
    text = str(sql)
    head = "FROM tasks ORDER BY "  # the outer clause: nothing before it holds a parameter
    at = text.index(head)
    processors: dict[str, Any] = dict(sql._bind_processors)
    values = sql.params
    params = []
    for name in sql.positiontup or ():
        proc = processors.get(name)
        params.append(proc(values[name]) if proc is not None else values[name])
    if not all(isinstance(p, PLAIN) for p in params):
        raise ValueError("a sort parameter that is not a plain value")
    return text[at + len(head):], tuple(params)
