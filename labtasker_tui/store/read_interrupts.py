"""Stopping a running SQLite read from the event loop (``TaskStore.interrupt_reads``).

A superseded million-row count should end at once rather than hold its connection and a core;
sqlite3's ``interrupt()`` does that, from any thread. PostgreSQL has no such handle here.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3

    from sqlalchemy.ext.asyncio import AsyncConnection


def interrupted_error() -> Exception:
    """The error an interrupted read raises (what sqlite3 raises, as SQLAlchemy wraps it)."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    return OperationalError("read interrupted", None, sqlite3.OperationalError("interrupted"))


def interrupt(raw: sqlite3.Connection) -> None:
    """sqlite3's interrupt() is thread-safe and a no-op when no statement runs."""
    with suppress(Exception):  # already closed (SQLAlchemy terminated it): nothing runs
        raw.interrupt()


def sqlite_connection(conn: AsyncConnection) -> sqlite3.Connection | None:
    """The sqlite3.Connection under an aiosqlite connection (None on other drivers)."""
    if conn.dialect.name != "sqlite":
        return None
    try:
        sync = conn.sync_connection
        assert sync is not None
        driver = sync.connection.driver_connection  # aiosqlite.Connection
    except Exception:  # noqa: BLE001 - no interruption then; reads still work
        return None
    import sqlite3

    raw = getattr(driver, "_conn", None)
    return raw if isinstance(raw, sqlite3.Connection) else None
