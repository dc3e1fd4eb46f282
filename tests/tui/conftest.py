from __future__ import annotations

import asyncio

import pytest
from textual.worker import WorkerState

from labtasker_tui.tui.app import LabtaskerApp
from labtasker_tui.tui.screens.task_list import TaskListScreen

from .seed import FIXED_NOW, seed_sync


@pytest.fixture
def db_url(tmp_path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'tasks.db'}"
    seed_sync(url)
    return url


def make_app(url: str, **kwargs) -> LabtaskerApp:
    kwargs.setdefault("live", False)
    kwargs.setdefault("db_label", "tests/tasks.db")
    return LabtaskerApp(url, now=lambda: FIXED_NOW, **kwargs)


def _busy(app) -> list:
    """Running workers, except actions parked on a modal (they wait for the user)."""
    waiting_on_user = not isinstance(app.screen, TaskListScreen)
    return [w for w in app.workers
            if w.state in (WorkerState.PENDING, WorkerState.RUNNING)
            and not (waiting_on_user and w.group in ("action", "editor"))]


async def settle(app, pilot, timeout: float = 10.0) -> None:
    """Let workers finish and the screen repaint."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        await pilot.pause()
        if not _busy(app):
            await pilot.pause()
            if not _busy(app):
                return
        if loop.time() > end:
            raise TimeoutError(f"workers still busy: {_busy(app)}")
        await asyncio.sleep(0.01)


@pytest.fixture(autouse=True)
def _state_dir(tmp_path_factory, monkeypatch):
    """Filter history, other per-user state and the keymap live in temporary folders."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
    # and the keymap is the test's, never the developer's ~/.config/labtasker-tui/keymap.toml
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
