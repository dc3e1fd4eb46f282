"""Pilot tests of `u` / `U` (undo / redo), asserting on the database; a snapshot of the preview."""

from __future__ import annotations

import pytest

from labtasker_tui.store import journal
from labtasker_tui.store.task_store import Selection, open_store
from labtasker_tui.tui.screens.confirm import ConfirmModal
from labtasker_tui.tui.screens.task_list import TaskListScreen

from .conftest import make_app, settle


async def rows(url: str) -> dict[str, dict]:
    store = open_store(url)
    try:
        return {t.task_id: {**t.model_dump(), "version": t.version} for t in await store.list()}
    finally:
        await store.close()


async def entries(url: str):
    store = open_store(url)
    try:
        return await journal.entries(store)
    finally:
        await store.close()


def toasts(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def _press_and_confirm(app, pilot, key: str, expect: str) -> None:
    await pilot.press(key)
    await settle(app, pilot)
    assert isinstance(app.screen, ConfirmModal), toasts(app)
    assert expect in app.screen.message
    await pilot.press("y")
    await settle(app, pilot)


@pytest.mark.asyncio
async def test_delete_marked_then_u_restores_them_exactly(db_url):
    start = await rows(db_url)
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen: TaskListScreen = app.screen
        doomed = [screen.tasks[0].task_id, screen.tasks[1].task_id]
        await pilot.press("space", "space", "x")
        await pilot.pause()
        await pilot.press("y")
        await settle(app, pilot)
        assert set(start) - set(await rows(db_url)) == set(doomed)
        await _press_and_confirm(app, pilot, "u", "undo: restore 2 deleted tasks?")
        assert await rows(db_url) == start  # every field and version as before
        assert any("undo: restore 2 deleted tasks" in t for t in toasts(app))
        assert screen.total == 30 and isinstance(app.screen, TaskListScreen)
    undo, delete = (await entries(db_url))[:2]
    assert (undo.kind, undo.actor, undo.undo_of) == ("undo", "app", delete.id)
    assert (delete.kind, delete.actor, delete.undone_by) == ("delete", "app", undo.id)


@pytest.mark.asyncio
async def test_u_several_levels_then_redo(db_url):
    start = await rows(db_url)
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("1")  # pending only
        await settle(app, pilot)
        screen: TaskListScreen = app.screen
        first = screen.tasks[0].task_id
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")  # delete the cursor task
        await settle(app, pilot)
        second = screen.tasks[0].task_id
        await pilot.press("c")  # cancel the next one (one task: no dialog)
        await settle(app, pilot)
        now = await rows(db_url)
        assert first not in now and now[second]["status"] == "cancelled"
        await _press_and_confirm(app, pilot, "u", "undo: 1 task back to pending?")
        await _press_and_confirm(app, pilot, "u", "undo: restore 1 deleted task?")
        assert await rows(db_url) == start
        # U redoes the newest undo: the delete again
        await _press_and_confirm(app, pilot, "U", "redo: delete 1 task again?")
        assert first not in await rows(db_url)
        # declining changes nothing
        await pilot.press("u")
        await settle(app, pilot)
        assert "undo: restore 1 deleted task?" in app.screen.message
        await pilot.press("n")
        await settle(app, pilot)
        assert first not in await rows(db_url)


@pytest.mark.asyncio
async def test_u_refuses_when_a_task_changed_since(db_url, monkeypatch):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("1")
        await settle(app, pilot)
        screen: TaskListScreen = app.screen
        target = screen.tasks[0].task_id
        await pilot.press("c")
        await settle(app, pilot)
        # someone else (not journaled, like a worker) changes it afterwards
        store = open_store(db_url)
        monkeypatch.setenv("LABTASKER_TUI_JOURNAL", "0")
        try:
            await store.update(Selection(ids=[target]), lambda t: {"priority": 1})
        finally:
            await store.close()
        monkeypatch.delenv("LABTASKER_TUI_JOURNAL")
        before = await rows(db_url)
        await pilot.press("u")
        await settle(app, pilot)
        assert isinstance(app.screen, TaskListScreen)  # no dialog: the refusal instead
        assert any(f"task {target} changed since" in t and "nothing written" in t
                   for t in toasts(app))
        assert await rows(db_url) == before


def test_undo_preview_snapshot(db_url, snap_compare, monkeypatch):
    monkeypatch.setattr(journal, "who", lambda: "ann@gpu1")

    async def run_before(pilot):
        await settle(pilot.app, pilot)
        await pilot.press("5", "a", "x")  # delete every cancelled task
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot.app, pilot)
        pilot.app.clear_notifications()
        await pilot.press("u")
        await settle(pilot.app, pilot)

    assert snap_compare(make_app(db_url), terminal_size=(100, 28), run_before=run_before)
