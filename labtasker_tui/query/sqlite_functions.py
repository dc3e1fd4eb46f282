"""The SQL functions compiled filters call on SQLite, registered on every connection.

``regex_search``, ``bson_compare`` and ``filter_error`` are the SQL names the compiler emits
(none appears in an expression index: indexes are built on ``json_extract`` alone). The
implementations live in :mod:`.bson` and :mod:`.regexes` (no SQLAlchemy); ``regexes`` is
loaded on the first call only, so commands that never filter (``submit``) do not pay for the
``regex`` package. ``filter_error`` raises: a ``$expr`` MongoDB rejects fails the statement.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from labtasker_tui.query.bson import bson_compare_json
from labtasker_tui.query.errors import FilterError, filter_error_from_database

_pending: list[BaseException] = []


def set_error(exc: BaseException) -> BaseException:
    """Remember why a function gave up: SQLite only reports that it raised."""
    _pending[:] = [exc]
    return exc


def take_error(exc: BaseException | None = None) -> BaseException | None:
    """The error a registered function raised during the statement that failed with ``exc``,
    or the filter error the statement raised in the database (PostgreSQL: a ``$expr`` that
    MongoDB rejects); None: that failure has another cause. Clears it."""
    if exc is not None and (raised := filter_error_from_database(exc)) is not None:
        return raised
    if not _pending:
        return None
    if exc is not None and "user-defined function raised exception" not in str(exc):
        return None
    return _pending.pop()


def _regex_search(pattern: Any, flags: Any, value: Any) -> int:
    if not _search:  # the first call loads the regex module
        from labtasker_tui.query.regexes import regex_search

        _search.append(regex_search)
    try:
        return _search[0](pattern, flags, value)
    except FilterError as exc:  # the regex took too long
        # SQLite reports "user-defined function raised exception"; the store maps it back
        raise set_error(exc) from None


_search: list[Callable[[Any, Any, Any], int]] = []


def _regexp(pattern: Any, value: Any) -> int:
    """SQLite's ``value REGEXP pattern`` operator."""
    return _regex_search(pattern, "", value)


def _filter_error(message: Any) -> int:
    """``filter_error(message)``: a ``$expr`` MongoDB rejects fails the statement."""
    raise set_error(FilterError(str(message)))


def _fmod(a: Any, b: Any) -> float | None:
    try:
        return math.fmod(a, b)
    except (TypeError, ValueError, ZeroDivisionError):
        return None


_FUNCTIONS: tuple[tuple[str, int, Callable[..., Any]], ...] = (
    ("regex_search", 3, _regex_search), ("regexp", 2, _regexp),
    ("bson_compare", 2, bson_compare_json),
)
#: Functions with side effects (SQLite must call them where the statement reaches them).
_RAISING: tuple[tuple[str, int, Callable[..., Any]], ...] = (
    ("filter_error", 1, _filter_error),
)


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """Register regex_search, regexp, bson_compare, filter_error (and mod where SQLite lacks
    it)."""
    create = dbapi_connection.create_function
    for sql_name, nargs, impl in _FUNCTIONS:
        try:
            create(sql_name, nargs, impl, deterministic=True)
        except TypeError:  # an adapter without the keyword
            create(sql_name, nargs, impl)
    for sql_name, nargs, impl in _RAISING:
        create(sql_name, nargs, impl)
    if not _has_math(dbapi_connection):
        create("mod", 2, _fmod)


def _has_math(dbapi_connection: Any) -> bool:
    try:
        cur = dbapi_connection.cursor()
        try:
            cur.execute("SELECT mod(5.5, 2)")
            cur.fetchall()
        finally:
            cur.close()
        return True
    except Exception:
        return False
