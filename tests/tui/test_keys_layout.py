"""Keys and layout: g/G, a/A, the detail pane's order, filter history across sessions,
copying (OSC 52 plus the tmux buffer, a line that round-trips through submit, Y ids)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import Footer

from labtasker_tui.store.task_store import open_store
from labtasker_tui.tui import history
from labtasker_tui.tui.clipboard import submit_line
from labtasker_tui.tui.screens import task_list
from labtasker_tui.tui.screens.help import HelpScreen
from labtasker_tui.tui.screens.task_list import TaskListScreen
from labtasker_tui.tui.widgets.detail_pane import DetailPane
from labtasker_tui.tui.widgets.filter_bar import FilterBar

from .conftest import make_app, settle
from .seed import task_uuid

BIN = Path(sys.executable).parent


@pytest.mark.asyncio
async def test_g_and_G_go_to_the_first_and_last_task_across_windows(db_url, monkeypatch):
    monkeypatch.setattr(task_list, "WINDOW", 8)
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen: TaskListScreen = app.screen
        first = screen.tasks[0].task_id
        await pilot.press("G")
        await settle(app, pilot)
        assert screen.win_offset + len(screen.tasks) == 30
        assert screen.table.cursor_row == len(screen.tasks) - 1
        last = screen.table.cursor_task_id
        await pilot.press("g")
        await settle(app, pilot)
        assert screen.win_offset == 0 and screen.table.cursor_task_id == first
        await pilot.press("G")
        await settle(app, pilot)
        assert screen.table.cursor_task_id == last


@pytest.mark.asyncio
async def test_a_marks_all_even_with_marks_and_A_clears(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen: TaskListScreen = app.screen
        await pilot.press("space")
        await pilot.press("a")
        assert screen.mark_all is not None and not screen.marked
        await pilot.press("a")  # again: still all
        assert screen.mark_all is not None
        footer = app.screen.query_one(Footer)
        assert "Unmark" in str(app.export_screenshot()) and footer.display
        await pilot.press("A")
        assert screen.mark_all is None and not screen.marked
        await pilot.press("question_mark")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(str(w.render()) for w in app.screen.query(".help-row"))
        assert "clear the marks" in text and "first task" in text and "last task" in text


@pytest.mark.asyncio
async def test_detail_pane_shows_args_summary_metadata_first(db_url):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
        lines = app.screen.query_one(DetailPane).text.splitlines()
        tops = [i for i, line in enumerate(lines) if not line.startswith((" ", "-"))]
        keys = [lines[i].split(":")[0] for i in tops]
        assert keys[:3] == ["args", "summary", "metadata"], keys
        assert keys.index("task_id") > keys.index("metadata")


@pytest.mark.asyncio
async def test_filter_history_survives_a_restart_per_database(db_url, tmp_path):
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        for text in ("status == 'failed'", "args.lr > 0.01"):
            await pilot.press("slash", *text, "enter")
            await settle(app, pilot)
    assert history.load(db_url) == ["status == 'failed'", "args.lr > 0.01"]
    app = make_app(db_url)  # a new session on the same database
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        bar = app.screen.query_one(FilterBar)
        await pilot.press("slash")
        await settle(app, pilot)  # this test is about history, not keys typed ahead
        await pilot.press("up")
        assert bar.input.value == "args.lr > 0.01"
        await pilot.press("up")
        assert bar.input.value == "status == 'failed'"
    assert history.load(f"sqlite+aiosqlite:///{tmp_path / 'other.db'}") == []


def fake_tmux(tmp_path: Path) -> Path:
    """A `tmux` on PATH that stores what load-buffer reads."""
    tools = tmp_path / "bin"
    tools.mkdir()
    script = tools / "tmux"
    script.write_text(f"#!/bin/sh\n[ \"$1\" = load-buffer ] && cat > {tmp_path / 'buffer'}\n")
    script.chmod(0o755)
    return tools


FLAGS = {"lr": 0.001, "name": "it's \"quoted\" $HOME `x`", "n": "10", "flag": True,
         "none": None, "opt": {"wd": 1e-4, "tag": "True"}}
JSON = {**FLAGS, "opt": {"wd": 1e-4, "betas": [0.9, 0.99]}, "neg": "-x", "e": {}}


@pytest.mark.asyncio
@pytest.mark.parametrize("tricky", [FLAGS, JSON], ids=["flags", "json"])
async def test_y_copies_a_submit_line_that_round_trips(db_url, tmp_path, monkeypatch, tricky):
    path = db_url.split("///", 1)[1]
    store = open_store(db_url)
    try:
        await store.update(task_list.Selection(ids=[task_uuid(1)]),
                           lambda t: {"args": tricky, "priority": 20,
                                      "metadata": {"tags": ["a b", "c'd"]}})
    finally:
        await store.close()
    monkeypatch.setenv("TMUX", "/tmp/fake,1,0")
    monkeypatch.setenv("PATH", f"{fake_tmux(tmp_path)}:{os.environ['PATH']}")
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen: TaskListScreen = app.screen
        screen.table.move_cursor(row=[t.task_id for t in screen.tasks].index(task_uuid(1)))
        await pilot.press("y")
        await settle(app, pilot)
        titles = [n.title for n in app._notifications]
        assert any("OSC 52 and the tmux buffer" in t for t in titles), titles
        source = screen.cursor_task
    line = (tmp_path / "buffer").read_text()
    assert line == submit_line(source)
    env = {**os.environ, "LABTASKER_TUI_DB": path, "PATH": f"{BIN}:{os.environ['PATH']}"}
    quiet = line.replace("labtasker-tui submit", "labtasker-tui submit --quiet", 1)
    done = subprocess.run(["sh", "-c", quiet], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    new_id = done.stdout.strip().splitlines()[-1]
    store = open_store(db_url)
    try:
        copy = await store.get(new_id)
    finally:
        await store.close()
    assert copy is not None and copy.task_id != source.task_id
    assert copy.args == source.args and copy.metadata == source.metadata
    assert (copy.task_name, copy.priority, copy.status) == (source.task_name, 20, "pending")
    words = shlex.split(line)
    assert words[:2] == ["labtasker-tui", "submit"]
    assert ("--args" in words) == (tricky is JSON)


@pytest.mark.asyncio
async def test_Y_copies_the_marked_ids(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TMUX", "/tmp/fake,1,0")
    monkeypatch.setenv("PATH", f"{fake_tmux(tmp_path)}:{os.environ['PATH']}")
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen: TaskListScreen = app.screen
        want = [screen.tasks[0].task_id, screen.tasks[1].task_id]
        await pilot.press("space", "space", "Y")
        await settle(app, pilot)
        assert (tmp_path / "buffer").read_text() == "\n".join(want) + "\n"
        await pilot.press("3", "a", "Y")
        await settle(app, pilot)
        ids = (tmp_path / "buffer").read_text().split()
        assert len(ids) == sum(t.status == "success" for t in screen.tasks) > 2
