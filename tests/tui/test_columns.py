"""Columns: widths by content, the column picker (hide, reorder, widen; kept with views) and
horizontal scrolling by whole columns."""

from __future__ import annotations

import pytest

from labtasker_tui.store.task_store import open_store
from labtasker_tui.store.views import View, get_view, save_view
from labtasker_tui.tui.cells import compact_pairs, parse_columns
from labtasker_tui.tui.screens.columns import ColumnPicker
from labtasker_tui.tui.widgets.task_table import TaskTable, water_fill

from .conftest import make_app, settle


def test_water_fill_keeps_short_columns_whole():
    assert water_fill({"a": (4, 10), "b": (4, 30)}, 100) == {"a": 10, "b": 30}
    got = water_fill({"name": (4, 8), "args": (12, 60), "summary": (7, 25)}, 50, {"args": 3})
    assert got["name"] == 8 and sum(got.values()) <= 50 and got["args"] > got["summary"]
    assert water_fill({"a": (4, 10), "b": (4, 10)}, 2) == {"a": 4, "b": 4}  # minimums hold


@pytest.mark.asyncio
async def test_args_column_gets_the_room_its_content_needs(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(200, 36)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(TaskTable)
        longest = max(len(compact_pairs(t.args, limit=120)) for t in app.screen.tasks)
        assert table.columns["args"].width >= longest  # nothing cut at 200 columns
        assert table.columns["name"].width == len("grid-001")  # by content, not a fixed 12
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(TaskTable)
        assert table.columns["args"].width > 16  # was 16 (cut to `lr=0.03 model=re`)


@pytest.mark.asyncio
async def test_column_picker_hides_reorders_widens_and_views_keep_it(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("O")
        await pilot.pause()
        assert isinstance(app.screen, ColumnPicker)
        # id, name, status, priority: hide priority; then args up one place and wider
        await pilot.press("down", "down", "down", "space", "down", "left_square_bracket",
                          "plus", "plus", "enter")
        await settle(app, pilot)
        table = screen.query_one(TaskTable)
        assert table.keys == ["mark", "id", "name", "status", "args", "summary", "created",
                              "modified"]
        args_width = table.columns["args"].width
        assert screen.extra_columns[3] == f"args:{args_width}"
        assert "priority" not in screen.extra_columns
        store = open_store(db_url)
        await save_view(store, View(name="narrow", columns=list(screen.extra_columns)))
        stored = await get_view(store, "narrow")
        await store.close()
        assert stored is not None and stored.columns == screen.extra_columns
        # back to the defaults, then the view restores the layout
        screen.set_columns([])
        assert "priority" in table.keys
        screen.load_view(stored)
        await settle(app, pilot)
        assert table.keys[4] == "args" and "priority" not in table.keys
        assert table.columns["args"].width == args_width
        # Escape in the picker changes nothing
        await pilot.press("O")
        await pilot.pause()
        await pilot.press("space", "escape")
        await settle(app, pilot)
        assert table.keys[4] == "args" and "id" in table.keys


def test_column_specs_keep_widths_and_paths_ignore_them():
    assert parse_columns("task_id, args:40 lr summary.acc:9") == [
        "task_id", "args:40", "args.lr", "summary.acc:9"]


@pytest.mark.asyncio
async def test_horizontal_scroll_moves_by_whole_columns(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(60, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(TaskTable)
        edges = table.column_edges()
        assert table.max_scroll_x > 0
        await pilot.press("right")
        await pilot.pause()
        assert table.scroll_x == min(edges[1], table.max_scroll_x)
        await pilot.press("right")
        await pilot.pause()
        assert table.scroll_x in edges or table.scroll_x == table.max_scroll_x
        await pilot.press("left", "left")
        await pilot.pause()
        assert table.scroll_x == 0


@pytest.mark.asyncio
async def test_keys_typed_fast_in_the_picker_apply_in_order(db_url):
    """down, down, down, space, Enter in one terminal read: Enter applies after the toggle
    (it must not run ahead of the keys queued before it)."""
    from textual import events

    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("O")
        await pilot.pause()
        assert isinstance(app.screen, ColumnPicker)
        for key, ch in (("down", None), ("down", None), ("down", None), ("space", " "),
                        ("enter", "\r")):
            event = events.Key(key, ch)
            event.set_sender(app)
            app._driver.send_message(event)
        await settle(app, pilot)
        assert app.screen is screen
        assert "priority" not in screen.query_one(TaskTable).keys
