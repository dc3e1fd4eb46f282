"""Register the SQL functions compiled filters call, without importing the compiler.

The engine registers these on every SQLite connection, including for commands that never
filter (``submit``); each shim loads :mod:`labtasker_tui.query.sql` on its first call only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_pending: list[BaseException] = []


def set_error(exc: BaseException) -> BaseException:
    """Remember why a function gave up: SQLite only reports that it raised."""
    _pending[:] = [exc]
    return exc


def take_error(exc: BaseException | None = None) -> BaseException | None:
    """The error a registered function raised during the statement that failed with ``exc``
    (None: that failure has another cause). Clears it."""
    if not _pending:
        return None
    if exc is not None and "user-defined function raised exception" not in str(exc):
        return None
    return _pending.pop()


def _shim(name: str) -> Callable[..., Any]:
    impl: list[Callable[..., Any]] = []

    def call(*args: Any) -> Any:
        if not impl:
            from . import sql

            impl.append(getattr(sql, name))
        return impl[0](*args)

    return call


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """Register lt_regexp, regexp, lt_bson_cmp (and mod where SQLite lacks it)."""
    create = dbapi_connection.create_function
    funcs = (("lt_regexp", 3, "_lt_regexp"), ("regexp", 2, "_regexp"),
             ("lt_bson_cmp", 2, "_lt_bson_cmp"))
    for sql_name, nargs, impl in funcs:
        try:
            create(sql_name, nargs, _shim(impl), deterministic=True)
        except TypeError:  # an adapter without the keyword
            create(sql_name, nargs, _shim(impl))
    if not _has_math(dbapi_connection):
        create("mod", 2, _shim("_fmod"))


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
