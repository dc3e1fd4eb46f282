"""`submit` of one task on an existing SQLite database without loading SQLAlchemy.

A one-liner in a sweep script runs thousands of times: importing SQLAlchemy's async engine
costs more than the insert. When the database file exists and has the current schema, the row
(built and validated by :mod:`.rows`, exactly as the store builds it) is written with the
``sqlite3`` module in one ``BEGIN IMMEDIATE`` transaction that also bumps the change marker,
with the same pragmas as the engine. Anything unusual returns None: the caller then takes the
regular path.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from ..settings import BUSY_TIMEOUT_MS, SCHEMA_VERSION
from .rows import TASK_FIELDS, new_task_row, sqlite_params


def submit_sqlite(path: Path, queue: str, specs: list[dict[str, Any]]) -> list[str] | None:
    """Insert ``specs`` as new tasks; None when the fast path does not apply."""
    if not path.is_file():
        return None
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    rows = [new_task_row(spec, queue, now) for spec in specs]  # UserError: bad input
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        con.execute("PRAGMA synchronous=NORMAL")
        try:
            version = con.execute(
                "SELECT value FROM schema_info WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError:
            return None  # no schema yet: the store creates it
        if version is None or str(version[0]) != str(SCHEMA_VERSION):
            return None  # older or newer schema: the store migrates or refuses
        sql = (f"INSERT INTO tasks ({', '.join(TASK_FIELDS)}) "
               f"VALUES ({', '.join('?' * len(TASK_FIELDS))})")
        con.execute("BEGIN IMMEDIATE")
        try:
            con.executemany(sql, sqlite_params(rows))
            con.execute("UPDATE change_marker SET seq = seq + 1 WHERE id = 1")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()
    return [r["task_id"] for r in rows]
