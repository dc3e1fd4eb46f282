"""``count`` and ``ls -q`` on an existing SQLite file through the one direct-SQLite path
(:mod:`labtasker_tui.store.sqlite_direct`): no SQLAlchemy engine, no pydantic, no asyncio.

A filter's SQL comes from the compiled-filter cache (:mod:`labtasker_tui.store.sql_cache`);
a new filter is parsed (its errors are today's, caret and exit 2) and compiled once by
SQLAlchemy core (:mod:`labtasker_tui.query.dialects.sqlite_text`), then cached when
reproducible.
Whatever the direct path does not cover (another database, a missing file, another schema
version, id prefixes) returns a :class:`Plan` without a connection: the caller takes the
store, with the filter already parsed when it was.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from .context import AppContext

_UNPARSED: Any = object()


@dataclass
class Plan:
    """The direct path's connection and WHERE text, or (``con`` None) the store's way."""

    filter_text: str | None
    con: sqlite3.Connection | None = None
    where: str | None = None
    params: list[Any] = field(default_factory=list)
    compiled: Any = _UNPARSED

    def compiled_filter(self) -> Any:
        """The parsed filter for the store (parsed now if the cache served it)."""
        if self.compiled is _UNPARSED:
            from .selectors import compile_filter

            self.compiled = compile_filter(self.filter_text)
        return self.compiled

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None


def plan(app: AppContext, filter_text: str | None, task_ids: tuple[str, ...] | list[str]
         ) -> Plan:
    """Open the direct path when it applies (see the module docstring)."""
    p = Plan(filter_text)
    text = filter_text if filter_text is not None and filter_text.strip() else None
    cached = None
    if text is not None:
        from ..store import sql_cache

        cached = sql_cache.lookup(text)
        if cached is None:
            p.compiled_filter()  # a bad filter exits 2 here, before any database access
    if any(len(x.strip()) != 36 for x in task_ids):
        return p  # prefixes: the store resolves them
    from ..store.location import sqlite_path

    path = sqlite_path(app.url)
    if path is None:
        return p
    try:
        from ..store.sqlite_direct import open_existing

        p.con = open_existing(path)
    except sqlite3.Error as exc:
        raise _db_error(exc, app) from None
    if p.con is None or text is None:
        return p
    if cached is not None:
        p.where, p.params = cached
        return p
    try:
        from ..query.dialects.sqlite_text import filter_sqlite_sql

        sql = filter_sqlite_sql(p.compiled)
    except Exception as exc:
        p.close()
        from .context import translate_errors

        mapped = translate_errors(exc, app.url)
        if mapped is None:
            raise
        raise mapped from None
    p.where, p.params = sql.where, list(sql.params)
    if sql.reproducible:
        from ..store import sql_cache

        sql_cache.remember(text, sql.where, sql.params)
    return p


def count_by_status(p: Plan, app: AppContext, task_ids: tuple[str, ...], name: str | None,
                    status: str | None) -> dict[str, int]:
    from ..lifecycle import STATUSES
    from ..store.sqlite_direct import count_by_status_sqlite

    assert p.con is not None
    try:
        found = count_by_status_sqlite(p.con, app.queue, p.where, p.params,
                                       list(task_ids) if task_ids else None, name, status)
    except sqlite3.Error as exc:
        raise _db_error(exc, app) from None
    finally:
        p.close()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update(found)
    return counts


def ids(p: Plan, app: AppContext, task_ids: tuple[str, ...], name: str | None,
        status: str | None, limit: int, offset: int) -> list[str]:
    """The ids as chunks of newline-joined text."""
    from ..store.sqlite_direct import ids_sqlite

    assert p.con is not None
    try:
        return ids_sqlite(p.con, app.queue, p.where, p.params,
                          list(task_ids) if task_ids else None, name, status,
                          limit or None, offset)
    except sqlite3.Error as exc:
        raise _db_error(exc, app) from None
    finally:
        p.close()


def _db_error(exc: sqlite3.Error, app: AppContext) -> Exception:
    """As the store reports it: a filter function's own error (a regex over its time
    bound), else ``database error: MESSAGE (file)``."""
    from ..query.sqlite_functions import take_error
    from .context import database_error, translate_errors

    cause = take_error(exc)
    if cause is not None:
        mapped = translate_errors(cause)
        if mapped is not None:
            return mapped
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return database_error(msg, app.url)
