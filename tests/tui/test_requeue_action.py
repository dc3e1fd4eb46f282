"""`F`: the failed tasks of the current filter back to pending (attempts reset), after a
confirmation; exactly the tasks it showed; undone with `u`."""

from __future__ import annotations

import pytest

from labtasker_tui.tui.screens.confirm import ConfirmModal
from labtasker_tui.tui.screens.task_list import TaskListScreen

from .conftest import make_app, settle
from .test_exact_actions import rows, worker


@pytest.mark.asyncio
async def test_requeue_failed_of_the_current_filter_then_undo(db_url):
    before = await rows(db_url)
    flt = "args.model == 'resnet18'"
    target = {k for k, r in before.items()
              if r["status"] == "failed" and r["args"]["model"] == "resnet18"}
    assert target and len(target) < sum(r["status"] == "failed" for r in before.values())
    app = make_app(db_url, filter_text=flt)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("F")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmModal)
        n = len(target)
        assert app.screen.message == (f"Requeue {n} failed task{'s' * (n != 1)} (back to"
                                      " pending, attempts reset)? (u undoes it.)")
        await pilot.press("y")
        await settle(app, pilot)
        assert isinstance(app.screen, TaskListScreen)
        after = await rows(db_url)
        for k, r in after.items():
            if k in target:
                assert (r["status"], r["retries"], r["worker_id"]) == ("pending", 0, None)
            else:
                assert r == before[k]
        await pilot.press("u")
        await settle(app, pilot)
        if isinstance(app.screen, ConfirmModal):
            await pilot.press("y")
            await settle(app, pilot)
    assert await rows(db_url) == before


@pytest.mark.asyncio
async def test_requeue_refuses_when_a_shown_task_changed(db_url):
    before = await rows(db_url)
    failed = sorted(k for k, r in before.items() if r["status"] == "failed")
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("F")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmModal)
        await worker(db_url, "bump", failed[0])  # another connection changes a shown task
        await pilot.press("y")
        await settle(app, pilot)
        messages = [str(n.message) for n in app._notifications]
        assert any("selection changed" in m for m in messages), messages
    after = await rows(db_url)
    assert all(after[k]["status"] == "failed" for k in failed)
