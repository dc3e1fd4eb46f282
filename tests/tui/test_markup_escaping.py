"""Where user data meets Rich markup it is shown as typed: no MarkupError, no control
characters obeyed. Renders the list, detail pane, facets (numeric ranges included), editor,
help, confirm dialogs and toasts over values like ``[/]``, ``[bold]`` and an OSC sequence."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from textual.widgets import OptionList

from labtasker_tui.tui.screens.confirm import ConfirmModal
from labtasker_tui.tui.screens.filter_screen import FilterScreen
from labtasker_tui.tui.screens.task_list import TaskListScreen
from labtasker_tui.tui.widgets.filter_bar import FilterBar

from .conftest import make_app, settle
from .seed import task_uuid

EVIL = "[/]\x1b]0;x\x07[bold]Z[/bold][red"
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]")


@pytest.fixture
def evil_url(db_url):
    path = db_url.split("///", 1)[1]
    con = sqlite3.connect(path)
    con.execute("UPDATE tasks SET args = json_set(args, '$.evil', ?), task_name = ?,"
                " summary = ?, metadata = ? WHERE task_id = ?",
                (EVIL, EVIL, json.dumps({"[b]acc": EVIL}), json.dumps({"[/]": [EVIL]}),
                 task_uuid(1)))
    con.commit()
    con.close()
    return db_url


def screen_text(app) -> str:
    svg = app.export_screenshot()
    assert "\x1b" not in svg and "\x07" not in svg
    return svg


async def toasts_render(app, pilot) -> list[str]:
    await pilot.pause()
    screen_text(app)
    return [str(n.message) for n in app._notifications]


@pytest.mark.asyncio
async def test_list_detail_help_and_toasts(evil_url):
    app = make_app(evil_url)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        screen: TaskListScreen = app.screen
        screen.table.move_cursor(row=[t.task_id for t in screen.tasks].index(task_uuid(1)))
        await pilot.pause()
        await pilot.press("d")  # detail pane
        await settle(app, pilot)
        screen_text(app)
        await pilot.press("y")  # the copy toast carries the args
        messages = await toasts_render(app, pilot)
        assert any("evil" in m for m in messages)
        await pilot.press("question_mark")
        await settle(app, pilot)
        screen_text(app)
        await pilot.press("escape")
        # an invalid filter quoting markup: the message under the bar and the position line
        bar = screen.query_one(FilterBar)
        await pilot.press("slash", *"[/] == '[bold]'")
        await settle(app, pilot)
        screen_text(app)
        bar.input.value = "task_name == '[/][bold]'"
        await pilot.press("enter")
        await settle(app, pilot)
        screen_text(app)
        screen.error = "cannot load [/] [bold"
        screen.update_position()
        screen_text(app)
        screen.fail(RuntimeError("bad [/] value \x1b]0;x\x07"), "Title [/]")
        await toasts_render(app, pilot)
        # a confirm dialog naming tasks
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        await pilot.press("x")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmModal)
        screen_text(app)
        await pilot.press("n")
        await settle(app, pilot)
        # the editor over the hostile task
        await pilot.press("e")
        await settle(app, pilot)
        screen_text(app)
        app.screen.notify(EVIL, title=EVIL)  # the editor's messages quote what was typed
        assert EVIL.replace("\x1b", "\\x1b").replace("\x07", "\\x07") in (
            await toasts_render(app, pilot))


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["args.lr", "priority", "args.evil", "summary.[b]acc"])
async def test_facets_of_numbers_and_markup_render_and_apply(evil_url, path):
    app = make_app(evil_url)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("f")
        await settle(app, pilot)
        fs: FilterScreen = app.screen
        await pilot.press("f3")
        fs.pick_path(path)
        await settle(app, pilot)
        screen_text(app)
        values = fs.query_one("#fs-values", OptionList)
        assert values.option_count, path
        values.highlighted = values.option_count - 1  # a numeric range when there are any
        await pilot.press("enter")
        await settle(app, pilot)
        screen_text(app)
        await toasts_render(app, pilot)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, TaskListScreen)
        screen_text(app)
