"""`W`: submit what the cursor task's sweep is missing, after a confirmation; undone with `u`."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from labtasker_tui.cli.main import cli
from labtasker_tui.tui.screens.confirm import ConfirmModal
from labtasker_tui.tui.screens.task_list import TaskListScreen

from .conftest import make_app, settle


def _count(path) -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT count(*) FROM tasks").fetchone()[0]
    finally:
        con.close()


@pytest.fixture
def sweep_db(tmp_path):
    """A 3 x 2 sweep `g` with the lr=0.2 tasks deleted (made with the CLI, outside the loop)."""
    path = tmp_path / "s.db"
    runner = CliRunner()

    def lt(*args: str) -> None:
        res = runner.invoke(cli, ["--db", str(path), *args], catch_exceptions=False)
        assert res.exit_code == 0, res.output

    lt("sweep", "--name", "g", "-q", "--", "--lr", "0.1,0.2,0.3", "--seed", "0..1")
    lt("delete", "-y", "-f", "args.lr == 0.2")
    assert _count(path) == 4
    return path


@pytest.mark.asyncio
async def test_fill_the_cursor_tasks_sweep_then_undo(sweep_db):
    path = sweep_db
    app = make_app(f"sqlite+aiosqlite:///{path}")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("W")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmModal)
        assert app.screen.message == "Sweep g: submit the 2 missing tasks of 6? (u undoes it.)"
        await pilot.press("y")
        await settle(app, pilot)
        assert isinstance(app.screen, TaskListScreen)
        assert _count(path) == 6
        messages = [str(n.message) for n in app._notifications]
        assert "Sweep g: submitted 2 missing tasks" in messages, messages
        await pilot.press("W")  # nothing missing now: a note, no dialog
        await settle(app, pilot)
        assert isinstance(app.screen, TaskListScreen)
        assert any("nothing is missing" in str(n.message) for n in app._notifications)
        await pilot.pause(0.3)  # keys typed at once after W are held for what it opens
        await pilot.press("u")
        await settle(app, pilot)
        if isinstance(app.screen, ConfirmModal):
            await pilot.press("y")
            await settle(app, pilot)
    assert _count(path) == 4


@pytest.mark.asyncio
async def test_a_task_outside_a_sweep_gets_a_note(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("W")
        await settle(app, pilot)
        assert isinstance(app.screen, TaskListScreen)
        assert any("not part of a sweep" in str(n.message) for n in app._notifications)
