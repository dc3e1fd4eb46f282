"""The results screen (R): opened on the list's filter, sorted by a key or a header click,
Enter back to the list filtered to the group, Escape back unchanged, the grouping saved as a
view (its columns) and read back from the list's columns; user values shown as typed."""

from __future__ import annotations

import pytest

from labtasker_tui.store.task_store import open_store
from labtasker_tui.store.views import get_view
from labtasker_tui.tui.screens.prompt import PromptModal
from labtasker_tui.tui.screens.results import ResultsScreen
from labtasker_tui.tui.screens.task_list import TaskListScreen
from labtasker_tui.tui.widgets.filter_bar import FilterBar

from .conftest import make_app, settle

SIZE = (140, 36)


async def open_results(app, pilot) -> ResultsScreen:
    await settle(app, pilot)
    await pilot.press("R")
    await settle(app, pilot)
    assert isinstance(app.screen, ResultsScreen)
    return app.screen


def column_texts(screen: ResultsScreen, key: str) -> list[str]:
    table = screen.table
    return [str(table.get_cell_at((r, list(table.columns).index(key))))
            for r in range(table.row_count)]


@pytest.mark.asyncio
async def test_open_sort_and_escape(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_results(app, pilot)
        res = screen.results
        assert res is not None and res.by == ["args.lr", "args.model"]
        assert res.over == ["args.seed"] and res.metrics == ["summary.acc", "summary.loss"]
        assert screen.table.row_count == len(res.groups) == 12
        info = str(screen.query_one("#results-info").render())
        assert "30 tasks in 12 groups" in info and "over args.seed" in info
        # s sorts by the column under the cursor: the accuracy's mean, highest first
        col = list(screen.table.columns).index("summary.acc:mean")
        screen.table.move_cursor(column=col)
        await pilot.press("s")
        await settle(app, pilot)
        means = [g.metrics["summary.acc"].mean for g in screen.shown]
        filled = [m for m in means if m is not None]
        assert filled == sorted(filled, reverse=True) and means[len(filled):] == \
            [None] * (len(means) - len(filled))
        await pilot.press("s")  # again: reversed
        await settle(app, pilot)
        filled = [g.metrics["summary.acc"].mean for g in screen.shown
                  if g.metrics["summary.acc"].mean is not None]
        assert filled == sorted(filled)
        # a click on the first header sorts by args.lr
        await pilot.click("#results-table", offset=(2, 0))
        await settle(app, pilot)
        assert screen.sort_column == "args.lr"
        assert [g.values[0] for g in screen.shown] == sorted(g.values[0] for g in screen.shown)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, TaskListScreen) and app.screen.filter_text == ""
        assert app.screen.total == 30


@pytest.mark.asyncio
async def test_enter_filters_the_list_to_the_group(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        lst: TaskListScreen = app.screen
        assert lst.apply_filter("args.model == 'resnet18'")
        screen = await open_results(app, pilot)
        res = screen.results
        assert res is not None and res.by == ["args.lr"]  # model no longer varies
        assert res.total == 10
        await pilot.press("down")
        group = screen.shown[1]
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is lst
        want = f"args.model == 'resnet18' and args.lr == {group.values[0]!r}"
        assert lst.filter_text == want
        assert lst.query_one(FilterBar).input.value == want
        assert lst.total == group.count
        assert {t.args["lr"] for t in lst.tasks} == {group.values[0]}


@pytest.mark.asyncio
async def test_enter_typed_fast_after_moves_opens_the_group_moved_to(db_url):
    """Down, down, Enter in one terminal read: Enter opens the third group, not the first
    (Enter must not run ahead of the cursor moves queued before it)."""
    from textual import events

    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        lst: TaskListScreen = app.screen
        screen = await open_results(app, pilot)
        assert len(screen.shown) >= 3
        group = screen.shown[2]
        for key, ch in (("down", None), ("down", None), ("enter", "\r")):
            event = events.Key(key, ch)
            event.set_sender(app)
            app._driver.send_message(event)
        await settle(app, pilot)
        assert app.screen is lst
        assert lst.total == group.count
        cond = " and ".join(f"{p} == {v!r}" for p, v in zip(screen.results.by, group.values,
                                                            strict=True))
        assert lst.filter_text == cond


@pytest.mark.asyncio
async def test_grouping_saved_as_a_view_and_read_from_columns(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_results(app, pilot)
        await pilot.press("b")
        await settle(app, pilot)
        assert isinstance(app.screen, PromptModal)
        await pilot.press(*"args.model", "enter")
        await settle(app, pilot)
        assert screen.results is not None and screen.results.by == ["args.model"]
        assert screen.table.row_count == 3
        await pilot.press("V")
        await settle(app, pilot)
        await pilot.press(*"by-model", "enter")
        await settle(app, pilot)
        store = open_store(db_url)
        try:
            view = await get_view(store, "by-model")
        finally:
            await store.close()
        assert view is not None and view.columns == ["args.model", "summary.acc",
                                                     "summary.loss"]
        await pilot.press("escape")
        await settle(app, pilot)
        lst: TaskListScreen = app.screen
        lst.load_view(view)
        await settle(app, pilot)
        again = await open_results(app, pilot)
        assert again.results is not None and again.results.by == ["args.model"]
        assert again.results.metrics == ["summary.acc", "summary.loss"]


@pytest.mark.asyncio
async def test_markup_like_values_display_literally(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    store = open_store(url)
    try:
        await store.import_records([
            {"args": {"model": name}, "summary": {"acc": 0.5}, "status": "success"}
            for name in ("[bold]x[/]", "[/]", "[$accent]y", "plain")])
    finally:
        await store.close()
    app = make_app(url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_results(app, pilot)
        assert sorted(column_texts(screen, "args.model")) == sorted(
            ["[bold]x[/]", "[/]", "[$accent]y", "plain"])
        screen.table.move_cursor(row=column_texts(screen, "args.model").index("[/]"))
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen.filter_text == "args.model == '[/]'" and app.screen.total == 1


@pytest.mark.asyncio
async def test_many_groups_are_capped(db_url, monkeypatch):
    from labtasker_tui.tui.screens import results as results_screen

    monkeypatch.setattr(results_screen, "MAX_ROWS", 5)
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_results(app, pilot)
        assert screen.table.row_count == 5 and len(screen.shown) == 12
        assert "showing the first 5 of 12 groups" in str(
            screen.query_one("#results-status").render())
