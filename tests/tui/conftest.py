from __future__ import annotations

import pytest

from labtasker_tui.tui.app import LabtaskerApp

from .seed import FIXED_NOW, seed_sync


@pytest.fixture
def db_url(tmp_path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'tasks.db'}"
    seed_sync(url)
    return url


def make_app(url: str, **kwargs) -> LabtaskerApp:
    kwargs.setdefault("live", False)
    return LabtaskerApp(url, now=lambda: FIXED_NOW, **kwargs)


async def settle(app, pilot) -> None:
    """Let workers finish and the screen repaint."""
    for _ in range(3):
        await pilot.pause()
        await app.workers.wait_for_complete()
    await pilot.pause()
