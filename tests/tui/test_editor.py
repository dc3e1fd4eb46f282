"""The in-app YAML editor: round-trip, validation, diff, save, conflicts, edit-at-start."""

from __future__ import annotations

import pytest
from textual.widgets import Button, TextArea

from labtasker_tui.store.task_store import Selection, open_store
from labtasker_tui.tui.screens.editor import DiffModal, EditorScreen
from labtasker_tui.tui.screens.task_list import TaskListScreen
from labtasker_tui.tui.task_yaml import EditError, dump_tasks, parse_tasks

from .conftest import make_app, settle
from .seed import task_uuid


async def get(url, task_id):
    store = open_store(url)
    try:
        return await store.get(task_id)
    finally:
        await store.close()


async def open_editor(app, pilot, keys=("e",)) -> EditorScreen:
    await settle(app, pilot)
    await pilot.press(*keys)
    await settle(app, pilot)
    assert isinstance(app.screen, EditorScreen)
    return app.screen


def status_text(screen) -> str:
    return str(screen.query_one("#editor-status").render())


@pytest.mark.asyncio
async def test_round_trip_unchanged_is_valid(db_url):
    store = open_store(db_url)
    tasks = await store.list()
    await store.close()
    text = dump_tasks(tasks)
    assert text.count("# Read-only") == 7 * len(tasks)
    assert parse_tasks(text, tasks).changes == {}


@pytest.mark.asyncio
async def test_parse_errors_have_positions(db_url):
    store = open_store(db_url)
    tasks = await store.list(limit=2)
    await store.close()
    text = dump_tasks(tasks)
    with pytest.raises(EditError) as err:
        parse_tasks(text.replace("  priority: ", "  priority: [", 1), tasks)
    assert err.value.line > 1
    first, second = text.split("\n\n")
    bad = first + "\n\n" + second.replace(f"priority: {tasks[1].priority}\n", "priority: hi\n")
    with pytest.raises(EditError) as err:
        parse_tasks(bad, tasks)
    assert "priority" in err.value.message
    assert err.value.line == bad.splitlines().index("  priority: hi") + 1
    with pytest.raises(EditError, match="Number of tasks"):
        parse_tasks(text.split("\n\n")[0], tasks)
    warn = parse_tasks(text.replace("queue_id: default", "queue_id: other", 1), tasks)
    assert warn.changes == {} and "read-only" in warn.warnings[0]


@pytest.mark.asyncio
async def test_edit_and_save_with_diff(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        task = app.screen.tasks[0]
        editor = await open_editor(app, pilot)
        area = editor.query_one(TextArea)
        assert area.language == "yaml" and f"task_id: {task.task_id}" in area.text
        area.load_text(area.text.replace(f"priority: {task.priority}", "priority: 77")
                       .replace("momentum: 0.9", "momentum: 0.5"))
        await pilot.pause()
        assert "1 task changed" in status_text(editor)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, DiffModal)
        assert any(kind == "+" and "priority: 77" in line for kind, line in app.screen.lines)
        await pilot.press("y")
        await settle(app, pilot)
        assert isinstance(app.screen, TaskListScreen)
        saved = await get(db_url, task.task_id)
        assert saved.priority == 77 and saved.args["opt"] == {"momentum": 0.5, "wd": 1e-4}
        assert saved.version == task.version + 1


@pytest.mark.asyncio
async def test_invalid_buffer_disables_save(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        editor = await open_editor(app, pilot)
        area = editor.query_one(TextArea)
        area.load_text(area.text.replace("status: ", "status: exploded #", 1))
        await pilot.pause()
        assert editor.query_one("#editor-save", Button).disabled
        assert "line 3" in status_text(editor) and "status" in status_text(editor)
        await pilot.press("ctrl+g")
        assert area.cursor_location[0] == 2
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, EditorScreen)  # nothing to confirm


@pytest.mark.asyncio
async def test_conflict_is_shown_not_overwritten(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        task = app.screen.tasks[0]
        editor = await open_editor(app, pilot)
        # someone else changes the task meanwhile
        other = open_store(db_url)
        await other.update(Selection(ids=[task.task_id]), lambda t: {"priority": 5})
        await other.close()
        area = editor.query_one(TextArea)
        area.load_text(area.text.replace(f"priority: {task.priority}", "priority: 99"))
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("y")
        await settle(app, pilot)
        assert isinstance(app.screen, EditorScreen)
        assert "conflict" in status_text(editor)
        assert (await get(db_url, task.task_id)).priority == 5


@pytest.mark.asyncio
async def test_edit_marked_tasks_and_cancel(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("space", "space", "space")
        editor = await open_editor(app, pilot)
        assert len(editor.tasks) == 3
        await pilot.press("escape")  # unchanged: closes without asking
        await settle(app, pilot)
        assert isinstance(app.screen, TaskListScreen)


@pytest.mark.asyncio
async def test_edit_at_start_exits_after(db_url):
    ids = [task_uuid(3), task_uuid(4)]
    app = make_app(db_url, ids=ids, edit=True)
    async with app.run_test(size=(120, 36)) as pilot:
        for _ in range(50):
            await pilot.pause(0.05)
            if isinstance(app.screen, EditorScreen):
                break
        editor = app.screen
        assert isinstance(editor, EditorScreen) and len(editor.tasks) == 2
        area = editor.query_one(TextArea)
        area.load_text(area.text.replace("model: ", "model: x", 1))
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("y")
        for _ in range(50):
            await pilot.pause(0.05)
            if app.return_code is not None:
                break
    assert app.return_code == 0
    changed = [await get(db_url, i) for i in ids]
    assert sum(t.args["model"].startswith("x") for t in changed) == 1
