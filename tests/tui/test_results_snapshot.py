"""Snapshot of the results screen (seeded database, frozen clock): sorted by the accuracy's
mean, the cursor on it."""

from __future__ import annotations

from .conftest import make_app, settle


def test_results_screen(db_url, snap_compare):
    async def run_before(pilot):
        await settle(pilot.app, pilot)
        await pilot.press("R")
        await settle(pilot.app, pilot)
        await pilot.press(*["right"] * 9, "s")
        await settle(pilot.app, pilot)

    assert snap_compare(make_app(db_url), terminal_size=(140, 30), run_before=run_before)
