"""``count``, ``ls`` and ``export`` on an existing SQLite file through the one direct-SQLite
path (:mod:`labtasker_tui.store.sqlite_direct`, whole tasks by
:mod:`labtasker_tui.store.sqlite_direct_reads`): no SQLAlchemy engine, no pydantic, no
asyncio.

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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..plain_task import PlainTask
    from .context import AppContext  # (click: imported by the commands, not by this path)

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


def connect(app: AppContext, task_ids: Sequence[str]) -> sqlite3.Connection | None:
    """A direct connection when the path applies (an existing SQLite file with the current
    schema, whole ids), else None."""
    if any(len(x.strip()) != 36 for x in task_ids):
        return None
    from ..store.location import sqlite_path

    path = sqlite_path(app.url)
    if path is None:
        return None
    try:
        from ..store.sqlite_direct import open_existing

        return open_existing(path)
    except sqlite3.Error as exc:
        raise _db_error(exc, app) from None


def plan(app: AppContext, filter_text: str | None, task_ids: tuple[str, ...] | list[str],
         con: sqlite3.Connection | None = None) -> Plan:
    """Open the direct path when it applies (see the module docstring); ``con``: already
    open (by :func:`connect`)."""
    p = Plan(filter_text)
    text = filter_text if filter_text is not None and filter_text.strip() else None
    cached = None
    if text is not None:
        from ..store import sql_cache

        cached = sql_cache.lookup(text)
        if cached is None:
            try:  # a bad filter exits 2 here, before any (further) database access
                p.compiled_filter()
            except BaseException:
                if con is not None:
                    con.close()
                raise
    p.con = con if con is not None else connect(app, task_ids)
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
        status: str | None, limit: int, offset: int,
        sort: Sequence[tuple[str, bool]] = ()) -> list[str]:
    """The ids as chunks of newline-joined text."""
    from ..store.sqlite_direct import ids_sqlite

    assert p.con is not None
    try:
        order = None
        if sort:
            from ..store.sqlite_direct_reads import order_sql

            order = order_sql(sort)
        return ids_sqlite(p.con, app.queue, p.where, p.params,
                          list(task_ids) if task_ids else None, name, status,
                          limit or None, offset, order=order)
    except sqlite3.Error as exc:
        raise _db_error(exc, app) from None
    finally:
        p.close()


def task_batches(p: Plan, app: AppContext, task_ids: tuple[str, ...], name: str | None,
                 status: str | None, sort: Sequence[tuple[str, bool]], limit: int,
                 offset: int, batch: int) -> Iterator[list[PlainTask]]:
    """Whole tasks in ``sort`` order (fetch order when empty), ``batch`` at a time."""
    from ..store.sqlite_direct_reads import order_sql, task_batches_sqlite

    assert p.con is not None
    try:
        yield from task_batches_sqlite(p.con, app.queue, p.where, p.params,
                                       list(task_ids) if task_ids else None, name, status,
                                       order_sql(sort), limit or None, offset, batch)
    except sqlite3.Error as exc:
        raise _db_error(exc, app) from None
    finally:
        p.close()


def view(con: sqlite3.Connection, app: AppContext, name: str
         ) -> tuple[str, list[tuple[str, bool]], list[str]] | None:
    """A saved view's (filter, sort keys, columns) read on ``con``; None if there is none."""
    from ..store.sqlite_direct_reads import view_sqlite

    try:
        return view_sqlite(con, app.queue, name)
    except sqlite3.Error as exc:
        con.close()
        raise _db_error(exc, app) from None


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


def merge_view(found: tuple[str, list[tuple[str, bool]], list[str]],
                filter_text: str | None, sort_keys: list[tuple[str, bool]],
                columns: list[str] | None
                ) -> tuple[str | None, list[tuple[str, bool]], list[str]]:
    """A view's settings under the command line's: filters AND-ed, the given sort and
    columns first."""
    text, view_sort, view_columns = found
    if filter_text:
        text = f"({text}) and ({filter_text})" if text else filter_text
    return (text, sort_keys or [(p, bool(d)) for p, d in view_sort],
            view_columns if columns is None else columns)
