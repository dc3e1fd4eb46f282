"""App-level behaviour: filter bar, command palette, database errors."""

from __future__ import annotations

import pytest

from labtasker_tui.tui.app import run_app
from labtasker_tui.tui.commands import TaskCommands
from labtasker_tui.tui.widgets.filter_bar import FilterBar, check_filter

from .conftest import make_app, settle


def test_run_app_reports_unopenable_db(tmp_path, capsys):
    bad = tmp_path / "garbage.db"
    bad.write_bytes(b"this is not a database" * 100)
    code = run_app(f"sqlite+aiosqlite:///{bad}")
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: cannot open the database") and "Traceback" not in err


@pytest.mark.asyncio
async def test_filter_bar_validates_and_applies(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("slash")
        assert screen.query_one(FilterBar).input.has_focus
        await pilot.press(*"args.lr >")
        await pilot.pause()
        message = str(screen.query_one("#filter-message").render())
        assert message and screen.query_one("#filter-message").display
        await pilot.press("enter")
        await settle(app, pilot)
        assert len(screen.tasks) == 30  # invalid filter not applied
        await pilot.press(*" 0.05")
        await pilot.pause()
        assert not screen.query_one("#filter-message").display
        await pilot.press("enter")
        await settle(app, pilot)
        assert screen.filter_text == "args.lr > 0.05"
        assert {t.args["lr"] for t in screen.tasks} == {0.1}
        # history and escape
        await pilot.press("slash", "ctrl+a", "ctrl+k", "up")
        assert screen.query_one(FilterBar).input.value == "args.lr > 0.05"
        await pilot.press("ctrl+a", "ctrl+k", *"x", "escape")
        assert screen.query_one(FilterBar).input.value == "args.lr > 0.05"
        assert screen.filter_text == "args.lr > 0.05"


@pytest.mark.asyncio
async def test_filter_at_start_mongo_syntax(db_url):
    app = make_app(db_url, filter_text='{"args.model": "vit-b16"}')
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        assert app.screen.tasks and {t.args["model"] for t in app.screen.tasks} == {"vit-b16"}


def test_check_filter_without_text():
    assert check_filter("   ") is None


@pytest.mark.asyncio
async def test_palette_lists_every_action(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        provider = TaskCommands(app.screen)
        titles = [action for action, _title, _help in provider.commands()]
        for name in ("delete", "edit", "assign", "submit", "copy", "toggle_detail", "reset",
                     "cancel_tasks", "priority", "mark_all", "cycle_sort", "filter"):
            assert name in titles
        await provider.run_command("toggle_detail")
        assert app.screen.query_one("#detail").display
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"assign")
        await pilot.pause(0.3)
        assert "CommandPalette" in type(app.screen).__name__
