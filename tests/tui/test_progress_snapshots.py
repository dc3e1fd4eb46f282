"""Snapshots of the list with the progress column and the ETA line (seeded database with
progress and finished runs, frozen clock)."""

from __future__ import annotations

from .conftest import make_app, settle
from .progress_seed import seed_progress_sync


async def _ready(pilot) -> None:
    await settle(pilot.app, pilot)


def test_list_with_progress_and_eta(db_url, snap_compare):
    seed_progress_sync(db_url)
    assert snap_compare(make_app(db_url), terminal_size=(120, 36), run_before=_ready)


def test_list_with_progress_and_eta_wide(db_url, snap_compare):
    seed_progress_sync(db_url)
    assert snap_compare(make_app(db_url), terminal_size=(150, 36), run_before=_ready)
