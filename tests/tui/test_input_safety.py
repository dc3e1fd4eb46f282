"""Keys typed right after a key that opens an input reach that input, never the task list.

A burst (``/`` then text, posted in one go, as a terminal delivers a fast typist or a paste)
used to reach the table's one-key bindings before the input had focus: ``r`` reset a finished
task, ``c`` cancelled one. Each test checks the database afterwards: no task changed.
"""

from __future__ import annotations

import pytest
from textual import events
from textual.keys import _character_to_key
from textual.widgets import Input

from labtasker_tui.store.task_store import open_store
from labtasker_tui.tui.screens.filter_screen import FilterEditor, FilterScreen
from labtasker_tui.tui.screens.prompt import PromptModal
from labtasker_tui.tui.screens.task_list import TaskListScreen
from labtasker_tui.tui.widgets.filter_bar import FilterBar

from .conftest import make_app, settle

TEXT = "try summary.acc > 0.9 and x r c y a p e"


def key_event(ch: str) -> events.Key:
    """The Key event the terminal driver makes for one typed character."""
    if ch == "\r":
        return events.Key("enter", "\r")
    return events.Key(ch if ch.isalnum() else _character_to_key(ch), ch)


def burst(app, keys: str) -> None:
    """Post every key at once, as the terminal driver does for one read."""
    for ch in keys:
        event = key_event(ch)
        event.set_sender(app)
        app._driver.send_message(event)


async def snapshot(url: str) -> dict[str, tuple]:
    store = open_store(url)
    try:
        return {t.task_id: (t.status, t.priority, t.version, t.args)
                for t in await store.list(None, limit=1000)}
    finally:
        await store.close()


async def on_success_row(app, pilot) -> None:
    screen: TaskListScreen = app.screen
    row = next(i for i, t in enumerate(screen.tasks) if t.status == "success")
    screen.table.move_cursor(row=row)
    await pilot.pause()


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["burst", "press"])
async def test_slash_then_text_reaches_the_filter_bar(db_url, mode):
    before = await snapshot(db_url)
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await on_success_row(app, pilot)
        if mode == "burst":
            burst(app, "/" + TEXT)
        else:
            await pilot.press("/", *TEXT)
        await settle(app, pilot)
        screen: TaskListScreen = app.screen
        assert isinstance(screen, TaskListScreen)
        assert screen.query_one(FilterBar).input.value == TEXT
        assert not screen.marked and screen.mark_all is None
    assert await snapshot(db_url) == before


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["burst", "press"])
async def test_f_then_text_reaches_the_filter_screen(db_url, mode):
    before = await snapshot(db_url)
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await on_success_row(app, pilot)
        if mode == "burst":
            burst(app, "f" + TEXT)
        else:
            await pilot.press("f", *TEXT)
        await settle(app, pilot)
        assert isinstance(app.screen, FilterScreen)
        assert app.screen.query_one(FilterEditor).text == TEXT
    assert await snapshot(db_url) == before


@pytest.mark.asyncio
@pytest.mark.parametrize("key", ["C", "=", "p", "S", "V"])
async def test_prompt_keys_then_text_reach_the_prompt(db_url, key):
    before = await snapshot(db_url)
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await on_success_row(app, pilot)
        initial = {"C": "", "=": "", "p": None, "S": "", "V": ""}[key]
        burst(app, key + "xrcya")
        await settle(app, pilot)
        assert isinstance(app.screen, PromptModal)
        value = app.screen.query_one(Input).value
        assert value.endswith("xrcya"), value
        if initial is not None:
            assert value == initial + "xrcya"
    assert await snapshot(db_url) == before


@pytest.mark.asyncio
async def test_x_then_y_in_one_burst_does_not_confirm(db_url):
    """A confirmation is answered by a key pressed after the dialog was shown."""
    from labtasker_tui.tui.screens.confirm import ConfirmModal

    before = await snapshot(db_url)
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        burst(app, "xy")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        await settle(app, pilot)
    assert await snapshot(db_url) == before


@pytest.mark.asyncio
async def test_filter_burst_with_enter_applies_it_and_changes_nothing(db_url):
    before = await snapshot(db_url)
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await on_success_row(app, pilot)
        burst(app, "/summary.acc > 0.9\r")
        await settle(app, pilot)
        screen: TaskListScreen = app.screen
        assert screen.filter_text == "summary.acc > 0.9"
        assert {t.status for t in screen.tasks} == {"success"}
    assert await snapshot(db_url) == before


@pytest.mark.asyncio
async def test_keys_held_for_an_input_that_never_opens_are_dropped(db_url):
    """`=` with no task under the cursor opens nothing: the text typed after it is dropped
    (it was meant as input: replayed as list keys, `a` would mark and `r` reset)."""
    before = await snapshot(db_url)
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen: TaskListScreen = app.screen
        assert screen.apply_filter("task_name == 'nothing'")
        await settle(app, pilot)
        assert not screen.tasks
        burst(app, "=args.lr=0.3 ar")
        await settle(app, pilot)
        await pilot.pause(0.4)
        assert screen.mark_all is None and screen.type_ahead is None
        assert any("ignored" in str(n.message) for n in app._notifications)
        await pilot.press("0")  # the list takes keys again
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        assert screen.tasks
    assert await snapshot(db_url) == before
