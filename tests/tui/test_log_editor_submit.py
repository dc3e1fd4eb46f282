"""The log screen follows the job's end and says where a remote log is; the editor's diff
shows only the changed lines; the submit form shows the flags it drops."""

from __future__ import annotations

import sqlite3

import pytest
from textual.widgets import Input, TextArea

from labtasker_tui.store.task_store import Selection, open_store
from labtasker_tui.tui.screens import log_screen
from labtasker_tui.tui.screens.editor import DiffModal, EditorScreen
from labtasker_tui.tui.screens.log_screen import LogScreen
from labtasker_tui.tui.screens.submit import SubmitScreen
from labtasker_tui.tui.widgets.task_table import TaskTable

from .conftest import make_app, settle
from .seed import task_uuid

RUNNING_1 = task_uuid(3)   # running on gpu-a@node1/0 (not this machine)


async def goto(app, pilot, task_id: str) -> None:
    table = app.screen.query_one(TaskTable)
    table.move_cursor(row=table.get_row_index(task_id), animate=False)
    await pilot.pause()


def rows(url: str, sql: str) -> list[tuple]:
    con = sqlite3.connect(url.split("///", 1)[1])
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.asyncio
async def test_log_screen_stops_saying_running_and_says_where_the_log_is(
        db_url, tmp_path, monkeypatch):
    monkeypatch.setattr(log_screen, "STATUS_POLL", 0.1)
    app = make_app(db_url, log_root=tmp_path / "logs")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        await goto(app, pilot, RUNNING_1)
        await pilot.press("l")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LogScreen)
        title = lambda: str(screen.query_one("#log-title").render())  # noqa: E731
        assert "running for" in title()
        empty = str(screen.query_one("#log-empty").render())
        assert "on node1" in empty and "gpu-a" in empty and str(screen.path) in empty
        # the job ends (a worker reports it); the screen follows
        store = open_store(db_url)
        await store.update(Selection(ids=[RUNNING_1]), lambda t: {"status": "success"})
        await store.close()
        for _ in range(50):
            await pilot.pause(0.05)
            if "success" in title():
                break
        assert "running" not in title() and "success" in title()
        assert "on node1" in str(screen.query_one("#log-empty").render())
        # the log becomes reachable (e.g. a shared filesystem): shown, inert, "job success"
        screen.path.parent.mkdir(parents=True)
        screen.path.write_text("epoch 1 [bold]x[/] \x1b]0;title\x07ok\x08\n")
        await pilot.pause(0.7)
        assert screen.log_view.lines[0] == "epoch 1 [bold]x[/] ok\\x08"
        assert "job success" in str(screen.query_one("#log-status").render())
    assert rows(db_url, f"SELECT status FROM tasks WHERE task_id='{RUNNING_1}'") == [
        ("success",)]


@pytest.mark.asyncio
async def test_editor_diff_shows_only_changed_lines(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        task = app.screen.tasks[0]
        await pilot.press("e")
        await settle(app, pilot)
        editor = app.screen
        assert isinstance(editor, EditorScreen)
        area = editor.query_one(TextArea)
        area.load_text(area.text.replace("momentum: 0.9", "momentum: 0.5"))
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        diff = app.screen
        assert isinstance(diff, DiffModal)
        changed = [(k, line.strip()) for k, line in diff.lines if k in "-+"]
        assert changed == [("-", "momentum: 0.9"), ("+", "momentum: 0.5")]
        assert not any("model:" in line for _, line in diff.lines)  # far from the change
        assert diff.lines[1] == (" ", "args:")  # the field is named
        assert len(diff.lines) <= 7
        await pilot.press("y")
        await settle(app, pilot)
    saved = rows(db_url, f"SELECT args FROM tasks WHERE task_id='{task.task_id}'")[0][0]
    assert '"momentum": 0.5' in saved


@pytest.mark.asyncio
async def test_submit_form_shows_dropped_flags_before_submitting(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(100, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, SubmitScreen)
        form.query_one("#submit-args", Input).value = "-- --lr 0.1 --debug --tag [b]x"
        await pilot.pause()
        dropped = form.query_one("#submit-dropped")
        assert dropped.display
        assert "--debug has no value and will be dropped" in str(dropped.render())
        assert "[b]x" in str(form.query_one("#submit-preview").render())  # not markup
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    got = rows(db_url, "SELECT args FROM tasks WHERE args LIKE '%[b]x%'")
    assert len(got) == 1 and "debug" not in got[0][0] and '"lr": 0.1' in got[0][0]
    assert rows(db_url, "SELECT count(*) FROM tasks") == [(31,)]
