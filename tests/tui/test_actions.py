"""Pilot tests of the task actions, asserting on the database."""

from __future__ import annotations

import pytest

from labtasker_tui.store.task_store import Selection, open_store
from labtasker_tui.tui.screens.confirm import ConfirmModal
from labtasker_tui.tui.screens.prompt import PromptModal
from labtasker_tui.tui.screens.submit import SubmitScreen
from labtasker_tui.tui.screens.task_list import TaskListScreen

from .conftest import make_app, settle


async def db_task(url: str, task_id: str):
    store = open_store(url)
    try:
        return await store.get(task_id)
    finally:
        await store.close()


async def db_count(url: str, **sel) -> int:
    store = open_store(url)
    try:
        return await store.count(Selection(**sel) if sel else None)
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_delete_marked_after_confirm(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen: TaskListScreen = app.screen
        doomed = [screen.tasks[0].task_id, screen.tasks[1].task_id]
        await pilot.press("space", "space", "x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        assert "Delete 2 marked tasks?" in app.screen.message
        await pilot.press("y")
        await settle(app, pilot)
        assert await db_count(db_url) == 28
        assert await db_task(db_url, doomed[0]) is None
        assert screen.total == 28 and not screen.marked


@pytest.mark.asyncio
async def test_delete_default_is_no(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("delete")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("enter")  # the focused button is No
        await settle(app, pilot)
        assert isinstance(app.screen, TaskListScreen)
        assert await db_count(db_url) == 30


@pytest.mark.asyncio
async def test_delete_all_matching(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("5")  # cancelled only
        await settle(app, pilot)
        await pilot.press("a", "x")
        await pilot.pause()
        assert "4 matching tasks" in app.screen.message
        await pilot.press("y")
        await settle(app, pilot)
        assert await db_count(db_url, status="cancelled") == 0
        assert await db_count(db_url) == 26


@pytest.mark.asyncio
async def test_reset_and_cancel(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("4")  # failed
        await settle(app, pilot)
        failed = screen.tasks[0].task_id
        await pilot.press("r")
        await settle(app, pilot)
        task = await db_task(db_url, failed)
        assert task.status == "pending" and task.retries == 0
        await pilot.press("1")  # pending
        await settle(app, pilot)
        target = screen.tasks[0].task_id
        await pilot.press("c")
        await settle(app, pilot)
        assert (await db_task(db_url, target)).status == "cancelled"


@pytest.mark.asyncio
async def test_bulk_reset_asks_first(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        await pilot.press("a", "r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(app, pilot)
        assert await db_count(db_url, status="failed") == 0
        assert await db_count(db_url, status="pending") == 14


@pytest.mark.asyncio
async def test_priority_prompt(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        target = app.screen.tasks[0].task_id
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, PromptModal)
        await pilot.press("ctrl+a", "ctrl+k", "x")
        await settle(app, pilot)
        assert "integer" in str(app.screen.query_one("#prompt-preview").render())
        await pilot.press("backspace", "4", "2", "enter")
        await settle(app, pilot)
        assert (await db_task(db_url, target)).priority == 42


@pytest.mark.asyncio
async def test_assign_with_preview(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("1")  # 10 pending tasks
        await settle(app, pilot)
        await pilot.press("a", "equals_sign")
        await pilot.pause()
        assert isinstance(app.screen, PromptModal)
        await pilot.press(*"args.lr=0.1")
        await settle(app, pilot)
        preview = str(app.screen.query_one("#prompt-preview").render())
        # 10 pending tasks; lr cycles 0.1/0.03/0.01/0.003 so some already have 0.1
        assert preview.startswith("10 tasks, ") and "will change" in preview
        assert not preview.startswith("10 tasks, 10 ")
        await pilot.press("enter")
        await settle(app, pilot)
        for task in screen.tasks:
            assert (await db_task(db_url, task.task_id)).args["lr"] == 0.1


@pytest.mark.asyncio
async def test_assign_rejects_bad_input(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        target = app.screen.tasks[0]
        await pilot.press("equals_sign", *"task_id=x")
        await settle(app, pilot)
        preview = app.screen.query_one("#prompt-preview")
        assert preview.has_class("-error") and "read-only" in str(preview.render())
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, PromptModal)  # not applied
        await pilot.press("escape")
        assert (await db_task(db_url, target.task_id)).version == target.version


@pytest.mark.asyncio
async def test_submit_form(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, SubmitScreen)
        await pilot.press(*"-- --lr 0.5 --opt.momentum 0.8 --flag")
        await pilot.pause()
        preview = str(app.screen.query_one("#submit-preview").render())
        assert "lr: 0.5" in preview and "momentum: 0.8" in preview and "--flag" in preview
        app.screen.query_one("#submit-name").value = "fresh"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, TaskListScreen)
        assert await db_count(db_url) == 31
        assert await db_count(db_url, name="fresh") == 1
        assert app.screen.query_one("TaskTable").cursor_task_id is not None


@pytest.mark.asyncio
async def test_copy_submit_line(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        task = app.screen.tasks[0]
        await pilot.press("y")
        assert app.clipboard.startswith(f"labtasker-tui submit --name {task.task_name}")
        assert "--opt.momentum 0.9" in app.clipboard
