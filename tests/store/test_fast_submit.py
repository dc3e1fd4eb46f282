"""The sqlite3 fast path of `submit` writes exactly what the store writes."""

from __future__ import annotations

import asyncio
import sqlite3

from labtasker_tui.schema import tasks
from labtasker_tui.store.rows import TASK_FIELDS
from labtasker_tui.store.sqlite_direct import submit_sqlite
from labtasker_tui.store.task_store import open_store


def test_field_order_matches_the_table():
    assert TASK_FIELDS == tuple(c.name for c in tasks.c)


def test_fast_path_only_for_an_existing_current_database(tmp_path):
    path = tmp_path / "t.db"
    assert submit_sqlite(path, "default", [{"args": {"x": 1}}]) is None
    sqlite3.connect(path).close()  # an empty file: no schema
    assert submit_sqlite(path, "default", [{"args": {"x": 1}}]) is None


def test_fast_and_store_rows_read_back_the_same(tmp_path):
    path = tmp_path / "t.db"
    spec = {"args": {"lr": 0.1, "opt": {"m": 0.9}, "s": "ü"}, "metadata": {"tags": ["a"]},
            "task_name": "n-1", "priority": 20, "cmd": ["python", "x.py"]}

    async def via_store():
        store = open_store(str(path))
        try:
            [a] = await store.submit([spec])
            seq0 = await store.change_seq()
            return a, seq0
        finally:
            await store.close()

    a, seq0 = asyncio.run(via_store())
    [b] = submit_sqlite(path, "default", [spec]).ids

    async def read():
        store = open_store(str(path))
        try:
            return await store.get(a), await store.get(b), await store.change_seq()
        finally:
            await store.close()

    ta, tb, seq1 = asyncio.run(read())
    assert seq1 == seq0 + 1  # live views see the fast write
    skip = {"task_id", "created_at", "last_modified"}
    assert {k: v for k, v in ta.model_dump().items() if k not in skip} == \
        {k: v for k, v in tb.model_dump().items() if k not in skip}
    assert tb.created_at.tzinfo is not None and tb.created_at >= ta.created_at
