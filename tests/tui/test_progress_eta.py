"""The progress column and the ETA line of the task list (seeded database, frozen clock)."""

from __future__ import annotations

import time

import pytest

from labtasker_tui.eta import EtaInputs
from labtasker_tui.store.progress import report_progress
from labtasker_tui.store.task_store import open_store
from labtasker_tui.tui.screens import eta_status
from labtasker_tui.tui.widgets.eta_line import EtaLine
from labtasker_tui.tui.widgets.task_table import TaskTable

from .conftest import make_app, settle
from .progress_seed import seed_progress_sync
from .seed import FIXED_NOW, task_uuid

SIZE = (120, 36)
STALLED = task_uuid(0x18)


@pytest.fixture
def progress_url(db_url):
    expected = seed_progress_sync(db_url)
    assert sorted(expected) == sorted([task_uuid(3), task_uuid(0x0A), STALLED])
    return db_url


def cell(table: TaskTable, task_id: str, key: str = "progress") -> str:
    value = table.get_cell(task_id, key)
    return getattr(value, "plain", str(value))


@pytest.mark.asyncio
async def test_the_progress_column_shows_the_running_tasks_progress(progress_url):
    app = make_app(progress_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(TaskTable)
        keys = table.keys
        assert keys[keys.index("status") + 1] == "progress"
        assert "created" not in keys  # a table below 105 columns: it gives way to progress
        assert cell(table, task_uuid(3)) == "12%"
        assert cell(table, task_uuid(0x0A)) == "74%"
        assert cell(table, STALLED) == "40% stalled"  # unmoved for 50 minutes
        assert cell(table, task_uuid(0x11)) == ""  # running, never reported progress
        assert cell(table, task_uuid(2)) == ""  # pending
        assert table.columns["progress"].width == len("40% stalled")


@pytest.mark.asyncio
async def test_wide_tables_keep_created_and_narrow_ones_move_progress_to_the_summary(
        progress_url):
    app = make_app(progress_url)
    async with app.run_test(size=(150, 36)) as pilot:
        await settle(app, pilot)
        keys = app.screen.query_one(TaskTable).keys
        assert "progress" in keys and "created" in keys
    app = make_app(progress_url)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(TaskTable)
        assert "progress" not in table.keys
        assert "12% gpu-a@node1/0" in cell(table, task_uuid(3), "summary")


@pytest.mark.asyncio
async def test_no_progress_no_column(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        keys = app.screen.query_one(TaskTable).keys
        assert "progress" not in keys and "created" in keys


@pytest.mark.asyncio
async def test_the_stall_limit_comes_from_the_setting(progress_url, monkeypatch):
    monkeypatch.setenv("LABTASKER_TUI_STALLED_AFTER", "1h")
    app = make_app(progress_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert cell(app.screen.query_one(TaskTable), STALLED) == "40%"
        est = app.screen.query_one(EtaLine).estimate
        assert est is not None and est.stalled == ()


@pytest.mark.asyncio
async def test_the_eta_line_for_the_whole_list_and_for_a_filter(progress_url):
    app = make_app(progress_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        line = app.screen.query_one(EtaLine)
        est = line.estimate
        assert est is not None and (est.pending, est.running, est.slots) == (10, 4, 4)
        assert [t for t, _ in est.stalled] == [STALLED]
        assert est.now == FIXED_NOW and len(est.spark) == 24
        text = str(line.render_estimate(est))
        assert text.startswith(est.spark + " 24h  done in about ")
        assert " · 1 stalled · median " in text and text.endswith("/h")
        # a filter: the ETA follows it at once
        await pilot.press("slash", *"args.model == 'vit-b16'", "enter")
        await settle(app, pilot)
        est2 = line.estimate
        mine = [t for t in await _all(progress_url) if t.args["model"] == "vit-b16"]
        assert est2.pending == sum(t.status == "pending" for t in mine)
        assert est2.running == sum(t.status == "running" for t in mine)
        assert est2.pending != est.pending


async def _all(url):
    store = open_store(url)
    try:
        return await store.list()
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_the_eta_is_cached_between_reloads(progress_url, monkeypatch):
    calls = []
    real = eta_status.eta_inputs

    async def counting(*args, **kwargs) -> EtaInputs:
        calls.append(kwargs.get("counts"))
        return await real(*args, **kwargs)

    monkeypatch.setattr(eta_status, "eta_inputs", counting)
    app = make_app(progress_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert len(calls) == 1 and calls[0]["pending"] == 10  # the load's counts, reused
        for _ in range(3):
            await pilot.press("ctrl+r")
            await settle(app, pilot)
        assert len(calls) == 1  # same filter, within ETA_EVERY: not recomputed
        screen = app.screen
        screen._eta_at = time.monotonic() - eta_status.ETA_EVERY - 1
        screen.eta_tick()  # the clock tick catches up with the skipped reloads
        await settle(app, pilot)
        assert len(calls) == 2


@pytest.mark.asyncio
async def test_a_live_progress_report_reaches_the_column(db_url):
    app = make_app(db_url, live=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(TaskTable)
        assert "progress" not in table.keys
        store = open_store(db_url)
        try:
            before = (await store.get(task_uuid(3))).version
            assert await report_progress(store, task_uuid(3), None, 0.5, 5, 10)
            assert (await store.get(task_uuid(3))).version == before
        finally:
            await store.close()
        for _ in range(40):
            await pilot.pause(0.1)
            if "progress" in table.keys:
                break
        await settle(app, pilot)
        assert cell(table, task_uuid(3)) == "50%"


@pytest.mark.asyncio
async def test_the_eta_line_says_unknown_without_history(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        line = app.screen.query_one(EtaLine)
        est = line.estimate
        # the seed records no finished run, and nothing finished in the last hour
        assert est is not None and est.seconds is None and est.median is None
        assert est.eta_text() == "ETA unknown: no finished run yet to time"
        assert "ETA unknown: no finished run yet to time · 0/h" in str(
            line.render_estimate(est))


@pytest.mark.asyncio
async def test_the_detail_pane_says_progress_and_stalled(progress_url):
    from labtasker_tui.tui.widgets.detail_pane import DetailPane

    app = make_app(progress_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(TaskTable)
        table.move_cursor(row=table.get_row_index(STALLED), animate=False)
        await pilot.press("d")
        await settle(app, pilot)
        text = app.screen.query_one(DetailPane).text
        line = next(x for x in text.splitlines() if x.startswith("start_time:"))
        assert line.endswith("· progress 4/10 40% stalled, moved 50m00s ago")
        table.move_cursor(row=table.get_row_index(task_uuid(2)), animate=False)  # pending
        await settle(app, pilot)
        assert "progress" not in app.screen.query_one(DetailPane).text


@pytest.mark.asyncio
async def test_a_costly_eta_is_computed_less_often(progress_url, monkeypatch):
    """The interval grows with what the last computation cost (COST_FACTOR times it)."""
    import asyncio

    real = eta_status.eta_inputs

    async def slow(*args, **kwargs) -> EtaInputs:
        await asyncio.sleep(0.8)
        return await real(*args, **kwargs)

    monkeypatch.setattr(eta_status, "eta_inputs", slow)
    app = make_app(progress_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.screen._eta_every >= eta_status.COST_FACTOR * 0.8
