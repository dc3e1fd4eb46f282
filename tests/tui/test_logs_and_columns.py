"""Running tasks' worker and run time, the run.log screen (`l`) and extra columns (`C`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from labtasker_tui.store.task_store import open_store
from labtasker_tui.store.views import View, get_view, save_view
from labtasker_tui.timefmt import elapsed
from labtasker_tui.tui.cells import parse_columns
from labtasker_tui.tui.screens.log_screen import LogScreen
from labtasker_tui.tui.screens.task_list import TaskListScreen
from labtasker_tui.tui.widgets.detail_pane import DetailPane
from labtasker_tui.tui.widgets.task_table import TaskTable

from .conftest import make_app, settle
from .seed import FIXED_NOW, WORKERS, seed_sync, task_uuid

RUNNING_1 = task_uuid(3)    # seed: running, worker gpu-a on node1 slot 0
RUNNING_2 = task_uuid(10)   # seed: running, unnamed worker on node2 slot 1
PENDING = task_uuid(1)
SUCCESS = task_uuid(4)


@pytest.fixture
def project(tmp_path) -> tuple[str, Path]:
    """A seeded database in ``<tmp>/.labtasker/tasks.db``: logs go to ``.labtasker/logs``."""
    folder = tmp_path / ".labtasker"
    folder.mkdir()
    url = f"sqlite+aiosqlite:///{folder / 'tasks.db'}"
    seed_sync(url)
    return url, folder / "logs"


def cell(table: TaskTable, task_id: str, key: str) -> str:
    return str(table.get_cell(task_id, key))


def shown(view) -> list[str]:
    """The Log's lines without the empty line after a final newline."""
    return list(view.lines[:view.line_count])


async def goto(app, pilot, task_id: str) -> None:
    table = app.screen.query_one(TaskTable)
    table.move_cursor(row=table.get_row_index(task_id), animate=False)
    await pilot.pause()


def test_cell_helpers():
    assert elapsed(FIXED_NOW.replace(second=0, minute=0, hour=11), FIXED_NOW) == "1h00m"
    assert elapsed(FIXED_NOW.replace(hour=11, minute=59, second=18), FIXED_NOW) == "42s"
    assert parse_columns("args.model, summary.acc  lr,args.model") == [
        "args.model", "summary.acc", "args.lr"]
    with pytest.raises(ValueError):
        parse_columns("args..x")


@pytest.mark.asyncio
async def test_running_tasks_show_worker_and_run_time(project):
    url, _ = project
    app = make_app(url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(TaskTable)
        assert cell(table, RUNNING_1, "summary") == "gpu-a@node1/0"
        assert cell(table, RUNNING_2, "summary") == f"{WORKERS[1][0][:8]}@node2/1"
        task = app.screen.by_id[RUNNING_1]
        assert cell(table, RUNNING_1, "modified") == "▶ " + elapsed(task.start_time, FIXED_NOW)
        assert cell(table, SUCCESS, "summary").startswith("acc=")
        assert cell(table, SUCCESS, "modified").endswith("ago")
        await goto(app, pilot, RUNNING_1)
        await pilot.press("d")
        await pilot.pause()
        text = app.screen.query_one(DetailPane).text
        assert "# gpu-a on node1, slot 0 (active)" in text
        assert "# running for " in text
        run_time = elapsed(task.start_time, FIXED_NOW)
    # 80 columns: `modified` is off screen, the run time leads the summary cell
    app = make_app(url)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(TaskTable)
        assert table.compact
        assert cell(table, RUNNING_1, "summary") == f"▶{run_time} gpu-a@node1/0"
        await pilot.resize_terminal(120, 36)
        await settle(app, pilot)
        assert not table.compact and cell(table, RUNNING_1, "summary") == "gpu-a@node1/0"


@pytest.mark.asyncio
async def test_log_screen_follows_the_file(project):
    url, logs = project
    log = logs / RUNNING_1 / "run.log"
    log.parent.mkdir(parents=True)
    log.write_text("".join(f"line {i}\n" for i in range(100)) + "epoch 1  10%")
    app = make_app(url)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await goto(app, pilot, RUNNING_1)
        await pilot.press("l")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LogScreen)
        view = screen.log_view
        assert shown(view)[0] == "line 0" and shown(view)[-1] == "epoch 1  10%"
        assert view.is_vertical_scroll_end
        assert "gpu-a@node1/0" in str(screen.query_one("#log-title").render())
        # the job writes more: a progress bar redraws its line, colours are dropped
        with log.open("a") as fh:
            fh.write("\repoch 1 100%\n\x1b[32mdone\x1b[0m\n")
        await pilot.pause(0.7)
        assert shown(view)[-2:] == ["epoch 1 100%", "done"]
        assert view.is_vertical_scroll_end
        # scrolled up: new output does not move the view; G follows again
        await pilot.press("home")
        await pilot.pause()
        with log.open("a") as fh:
            fh.write("more\n")
        await pilot.pause(0.7)
        assert shown(view)[-1] == "more" and view.scroll_y == 0
        assert "scrolled up" in str(screen.query_one("#log-status").render())
        await pilot.press("G")
        await pilot.pause()
        assert view.is_vertical_scroll_end
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, TaskListScreen)


@pytest.mark.asyncio
async def test_log_screen_without_a_log(project):
    url, logs = project
    app = make_app(url)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await goto(app, pilot, SUCCESS)
        await pilot.press("l")
        await pilot.pause()
        message = str(app.screen.query_one("#log-empty").render())
        assert "No log for this task: it has not run on this machine" in message
        assert str(logs / SUCCESS / "run.log") in message.replace("\n", "")
        await pilot.press("q")
        await goto(app, pilot, PENDING)
        await pilot.press("l")
        await pilot.pause()
        screen = app.screen
        assert "it has not run yet" in str(screen.query_one("#log-empty").render())
        # the worker starts it: the log shows up
        (logs / PENDING).mkdir(parents=True)
        (logs / PENDING / "run.log").write_text("started\n")
        await pilot.pause(0.7)
        assert screen.log_view.display and shown(screen.log_view) == ["started"]


@pytest.mark.asyncio
async def test_extra_columns_and_views(project):
    url, _ = project
    app = make_app(url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        table = screen.query_one(TaskTable)
        await pilot.press("C")
        await pilot.pause()
        screen.app.screen.query_one(Input).value = "args.model, summary.acc, opt.wd"
        await pilot.pause()
        await pilot.press("enter")
        await settle(app, pilot)
        labels = [str(c.label) for c in table.columns.values()]
        assert labels[7:10] == ["model", "acc", "wd"]
        assert cell(table, SUCCESS, "x:args.model") == "resnet18"
        assert cell(table, SUCCESS, "x:summary.acc") == "0.73"
        assert cell(table, PENDING, "x:summary.acc") == ""   # missing: blank
        assert cell(table, PENDING, "x:args.opt.wd") == "0.0001"
        # kept across reloads; saved with the view
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert "x:summary.acc" in table.columns
        await pilot.press("V")
        await pilot.pause()
        app.screen.query_one(Input).value = "acc"
        await pilot.pause(0.2)
        await pilot.press("enter")
        await settle(app, pilot)
        store = open_store(url)
        try:
            assert (await get_view(store, "acc")).columns == [
                "args.model", "summary.acc", "args.opt.wd"]
            await save_view(store, View(name="lr", filter="status == 'success'",
                                        columns=["args.lr"]))
        finally:
            await store.close()
        # loading a view applies its columns
        screen.load_view(View(name="lr", filter="status == 'success'", columns=["args.lr"]))
        await settle(app, pilot)
        assert [k.value for k in table.columns][7:8] == ["x:args.lr"]
        assert "x:summary.acc" not in table.columns
        assert cell(table, SUCCESS, "x:args.lr") == "0.003"
        # empty input removes them
        await pilot.press("C")
        await pilot.pause()
        app.screen.query_one(Input).value = ""
        await pilot.press("enter")
        await settle(app, pilot)
        assert not any(str(k.value).startswith("x:") for k in table.columns)


def test_a_remote_workers_log_path_follows_the_log_path_rule(tmp_path):
    from types import SimpleNamespace

    def remote(url: str) -> str:
        screen = SimpleNamespace(lt_app=SimpleNamespace(url=url), path=tmp_path / "run.log",
                                 log_task=SimpleNamespace(task_id=SUCCESS))
        return LogScreen.remote_path(screen)  # type: ignore[arg-type]

    assert remote("postgresql+asyncpg://db.example/lab") == (
        f"<the worker's working directory>/.labtasker/logs/{SUCCESS}/run.log")
    # a SQLite file: the project's logs folder, the same path on every machine sharing it
    assert remote(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}") == str(tmp_path / "run.log")
