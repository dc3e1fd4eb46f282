"""Snapshots of the main screens (seeded database, frozen clock)."""

from __future__ import annotations

from textual.widgets import TextArea

from .conftest import make_app, settle

SIZE = (120, 36)


async def _ready(pilot) -> None:
    await settle(pilot.app, pilot)


def test_task_list(db_url, snap_compare):
    assert snap_compare(make_app(db_url), terminal_size=SIZE, run_before=_ready)


def test_detail_and_marks(db_url, snap_compare):
    async def run_before(pilot):
        await _ready(pilot)
        await pilot.press("space", "down", "space", "d")
        await _ready(pilot)

    assert snap_compare(make_app(db_url), terminal_size=SIZE, run_before=run_before)


def test_editor_with_error(db_url, snap_compare):
    async def run_before(pilot):
        await _ready(pilot)
        await pilot.press("e")
        await _ready(pilot)
        area = pilot.app.screen.query_one(TextArea)
        area.cursor_blink = False  # a blinking cursor makes snapshots flaky
        area.load_text(area.text.replace("priority: 20", "priority: twenty", 1))
        await pilot.pause()

    assert snap_compare(make_app(db_url), terminal_size=SIZE, run_before=run_before)


def test_delete_confirm_small_terminal(db_url, snap_compare):
    async def run_before(pilot):
        await _ready(pilot)
        await pilot.press("4", "a")
        await _ready(pilot)
        await pilot.press("x")
        await pilot.pause()

    assert snap_compare(make_app(db_url), terminal_size=(80, 24), run_before=run_before)


def test_column_picker(db_url, snap_compare):
    async def run_before(pilot):
        await _ready(pilot)
        await pilot.press("O")
        await _ready(pilot)
        await pilot.press("down", "space")  # hide the second column in the picker
        await pilot.pause()

    assert snap_compare(make_app(db_url), terminal_size=SIZE, run_before=run_before)
