"""The filter screen (compose, validate, apply, facets) and saved views in the TUI."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Button, DataTable, OptionList, Static

from labtasker_tui.store.task_store import open_store
from labtasker_tui.store.views import View, get_view, save_view
from labtasker_tui.tui.screens.filter_screen import FilterScreen
from labtasker_tui.tui.screens.task_list import TaskListScreen

from .conftest import make_app, settle

SIZE = (120, 36)


async def _open(pilot) -> FilterScreen:
    await settle(pilot.app, pilot)
    await pilot.press("f")
    await settle(pilot.app, pilot)
    assert isinstance(pilot.app.screen, FilterScreen)
    return pilot.app.screen


async def _write(pilot, screen: FilterScreen, text: str) -> None:
    screen.set_text(text)
    await pilot.pause(0.4)  # the debounce
    await settle(pilot.app, pilot)


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


@pytest.mark.asyncio
async def test_compose_count_preview_and_apply(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot)
        await pilot.press(*"status == 'success'")
        await pilot.pause(0.4)
        await settle(app, pilot)
        assert "8 matches" in _text(screen, "#fs-counts")
        assert screen.query_one("#fs-preview", DataTable).row_count == 8
        assert '{"status": "success"}' in _text(screen, "#fs-form")
        await _write(pilot, screen, "args.lr >= 0.03 and\nargs.model == 'resnet18'")
        assert "5 matches" in _text(screen, "#fs-counts")
        await pilot.press("enter")
        await settle(app, pilot)
        tl = app.screen
        assert isinstance(tl, TaskListScreen)
        assert tl.filter_text == "args.lr >= 0.03 and args.model == 'resnet18'"
        assert tl.total == 5
        # the applied filter is in the history next time
        screen = await _open(pilot)
        assert screen.history_items[0] == tl.filter_text
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen.filter_text == tl.filter_text


@pytest.mark.asyncio
async def test_invalid_shows_caret_and_disables_apply(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot)
        await _write(pilot, screen, "args.lr != 0.1")
        message = _text(screen, "#fs-message")
        assert "^  <-- Error here" in message and "'!=' operator is not supported" in message
        assert screen.query_one("#fs-apply", Button).disabled
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is screen  # not applied
        await _write(pilot, screen, '{"args.lr": {"$gt": 0.01}}')
        assert not screen.query_one("#fs-apply", Button).disabled
        assert "args.lr > 0.01" in _text(screen, "#fs-form")  # the Python form
        await _write(pilot, screen, '{"args.lr": {"$ne": 0.1}}')
        assert "(no Python form)" in _text(screen, "#fs-form")
        await _write(pilot, screen, "args.lr > 0.01")
        await pilot.press("f2")
        await settle(app, pilot)
        assert screen.editor.text == '{"args.lr": {"$gt": 0.01}}'


@pytest.mark.asyncio
async def test_facet_drill_down_adds_conditions(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot)
        await _write(pilot, screen, "status == 'success'")
        await pilot.press("f3")
        await settle(app, pilot)
        paths = screen.query_one("#fs-paths", OptionList)
        assert "metadata.tags" in screen.paths and "args.model" in screen.paths
        paths.highlighted = screen.paths.index("metadata.tags")
        await pilot.press("enter")
        await pilot.pause(0.1)
        await settle(app, pilot)
        values = screen.query_one("#fs-values", OptionList)
        assert app.focused is values
        first = screen.facet_entries[0]
        assert first.in_array and first.count > 0
        await pilot.press("enter")  # the highlighted (most common) value
        await pilot.pause(0.4)
        await settle(app, pilot)
        expected = f"status == 'success' and {first.value!r} in list(metadata.tags)"
        assert screen.editor.text == expected
        assert f"{first.count} match" in _text(screen, "#fs-counts")
        # facets now count within the narrower filter
        assert screen.facet_entries[0].count == first.count
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen.total == first.count


@pytest.mark.asyncio
async def test_save_and_switch_views(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        tl = app.screen
        tl.apply_filter("args.model == 'vit-b16'")
        tl.sort = [("priority", True)]
        await settle(app, pilot)
        await pilot.press("V", *"vit", "enter")
        await settle(app, pilot)
        store = open_store(db_url)
        saved = await get_view(store, "vit")
        assert saved is not None and saved.filter == "args.model == 'vit-b16'"
        assert saved.sort == [("priority", True)]
        await save_view(store, View("failed", "status == 'failed'", [("task_name", False)]))
        await store.close()
        assert "view: vit" in _text(tl, "#position")
        await pilot.press("s")  # another sort: differs from the view
        await settle(app, pilot)
        assert "view: vit (modified)" in _text(tl, "#position")
        await pilot.press("v")
        await settle(app, pilot)
        picker = app.screen.query_one("#views-list", OptionList)
        picker.highlighted = 0  # "failed" (sorted by name)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is tl
        assert tl.filter_text == "status == 'failed'" and tl.sort == [("task_name", False)]
        assert tl.total == 4
        position = _text(tl, "#position")
        assert "view: failed" in position and "modified" not in position


# -- snapshots ------------------------------------------------------------------------------


def _snap(text: str, facet: str | None = None):
    async def run_before(pilot):
        screen = await _open(pilot)
        screen.editor.cursor_blink = False  # a blinking cursor makes snapshots flaky
        await _write(pilot, screen, text)
        if facet:
            await pilot.press("f3")
            screen.pick_path(facet)
            await pilot.pause(0.1)
            await settle(pilot.app, pilot)
        await asyncio.sleep(0)

    return run_before


def test_snapshot_valid(db_url, snap_compare):
    assert snap_compare(make_app(db_url), terminal_size=SIZE,
                        run_before=_snap("args.lr >= 0.03 and status in ['success', 'failed']"))


def test_snapshot_invalid(db_url, snap_compare):
    assert snap_compare(make_app(db_url), terminal_size=SIZE,
                        run_before=_snap("args.lr > 0.01 and not args.model == 'vit-b16'"))


def test_snapshot_facets(db_url, snap_compare):
    assert snap_compare(make_app(db_url), terminal_size=SIZE,
                        run_before=_snap("status == 'success'", facet="args.lr"))
