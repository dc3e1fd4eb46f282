"""A superseded load never holds back the next one: its SQLite statement is interrupted, counts
come after the rows, and quitting with a read in flight closes promptly."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from labtasker_tui.store.task_store import READ_TAG, open_store
from labtasker_tui.tui.screens.task_list import LOAD_TAG
from labtasker_tui.tui.widgets.filter_bar import FilterBar

from .conftest import make_app, settle
from .seed import task_uuid

# a statement that runs for many seconds unless interrupted (no table needed)
SLOW = text("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400000000)"
            " SELECT max(x) FROM c")


async def slow_read(store) -> int:
    async with store.read() as conn:
        return (await conn.execute(SLOW)).scalar_one()


def task_count(url: str) -> int:
    con = sqlite3.connect(url.split("///", 1)[1])
    try:
        return con.execute("SELECT count(*) FROM tasks").fetchone()[0]
    finally:
        con.close()


@pytest.mark.asyncio
async def test_interrupt_reads_stops_only_the_tagged_statement(db_url):
    store = open_store(db_url)
    await store.count()

    async def tagged(tag: str) -> int:
        READ_TAG.set(tag)
        return await slow_read(store)

    victim = asyncio.create_task(tagged("old-load"))
    other = asyncio.create_task(tagged("someone-else"))
    await asyncio.sleep(0.3)
    start = time.perf_counter()
    assert store.interrupt_reads("old-load") == 1
    with pytest.raises(OperationalError, match="interrupted"):
        await victim
    assert time.perf_counter() - start < 1.0
    assert not other.done()  # a read under another tag runs on
    store.interrupt_reads()
    with pytest.raises(OperationalError):
        await other
    # the connections went back to the pool usable, and nothing was written
    assert await store.count() == 30 == task_count(db_url)
    await store.close()


@pytest.mark.asyncio
async def test_a_filter_is_not_held_back_by_slow_counts(db_url, monkeypatch):
    """Counts that take 'forever' (a million-row scan) neither delay the rows of the first
    window nor of the filter applied after it; the superseded counts are interrupted."""
    app = make_app(db_url)
    interrupted: list[float] = []
    started: list[float] = []

    async def slow_counts(sel=None):
        started.append(time.perf_counter())
        try:
            await slow_read(app.store)
        except OperationalError:
            interrupted.append(time.perf_counter())
            raise
        return {}

    monkeypatch.setattr(app.store, "count_by_status", slow_counts)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = app.screen
        start = time.perf_counter()
        while not screen.tasks:
            assert time.perf_counter() - start < 5, "first rows held back by the counts"
            await pilot.pause(0.01)
        while not started:  # the first counts run (slowly) behind the rows
            assert time.perf_counter() - start < 5, "the counts never started"
            await pilot.pause(0.01)
        await pilot.pause(0.1)
        assert not interrupted  # the first counts are still running
        bar = screen.query_one(FilterBar)
        bar.input.focus()
        bar.input.value = "task_name == 'grid-008'"
        start = time.perf_counter()
        await pilot.press("enter")
        while [t.task_id for t in screen.tasks] != [task_uuid(8)]:
            assert time.perf_counter() - start < 2, "the filter waited for the old counts"
            await pilot.pause(0.01)
        assert interrupted and interrupted[0] - start < 1.0
        assert screen.query_one("#position").render().plain.startswith("rows 1–1 of 1")
        monkeypatch.undo()
        screen.load(0)
        await settle(app, pilot)
        assert screen.total == 1 and screen.total_known
    assert task_count(db_url) == 30


@pytest.mark.asyncio
async def test_quitting_during_a_slow_count_is_prompt(db_url, monkeypatch):
    app = make_app(db_url)

    async def slow_count(sel=None):
        await slow_read(app.store)
        return 0

    monkeypatch.setattr(app.store, "count_by_status", slow_count)
    start = time.perf_counter()
    async with app.run_test(size=(120, 36)) as pilot:
        while not app.screen.tasks:
            await pilot.pause(0.01)
        await pilot.press("q")
    assert time.perf_counter() - start < 5.0
    assert LOAD_TAG and task_count(db_url) == 30
