"""The one direct-SQLite module: its connection set-up is the engine's, and it opens only a
database with the current schema."""

from __future__ import annotations

import asyncio
import sqlite3

from sqlalchemy import text

from labtasker_tui.settings import SCHEMA_VERSION
from labtasker_tui.store.sqlite_direct import PRAGMAS, open_existing
from labtasker_tui.store.task_store import open_store


def _settings(query: str, con) -> tuple:
    return tuple(con.execute(f"PRAGMA {q}").fetchone()[0] for q in query.split())


SETTINGS = "journal_mode busy_timeout synchronous foreign_keys"


def test_open_existing_refuses_what_the_store_must_handle(tmp_path):
    path = tmp_path / "t.db"
    assert open_existing(path) is None  # no file: nothing is created
    assert not path.exists()
    sqlite3.connect(path).close()
    assert open_existing(path) is None  # no schema yet: the store creates it
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE schema_info (key TEXT, value TEXT)")
    con.execute("INSERT INTO schema_info VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION + 1),))
    con.commit()
    con.close()
    assert open_existing(path) is None  # a newer schema: the store refuses it


def test_direct_connections_have_the_engines_settings(tmp_path):
    path = tmp_path / "t.db"

    async def via_engine() -> tuple:
        store = open_store(str(path))
        try:
            await store.submit([{"args": {"x": 1}}])
            async with store.read() as conn:
                return tuple([(await conn.execute(text(f"PRAGMA {q}"))).scalar()
                              for q in SETTINGS.split()])
        finally:
            await store.close()

    engine = asyncio.run(via_engine())
    con = open_existing(path)
    assert con is not None
    try:
        assert _settings(SETTINGS, con) == engine
        assert engine[0] == "wal" and engine[3] == 1 and len(PRAGMAS) == 4
    finally:
        con.close()
