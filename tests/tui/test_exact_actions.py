"""A confirmed action applies to exactly the tasks its confirmation showed.

"Mark all matching" used to be evaluated again when the action ran: a worker that moved one
more task into the view between the dialog and the key widened the delete. Now the ids and
versions are frozen when the dialog opens; the action applies to exactly those, or refuses
(nothing written) when one of them changed since. A second connection plays the worker.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from labtasker_tui.store.task_store import Selection, open_store
from labtasker_tui.tui.screens.confirm import ConfirmModal
from labtasker_tui.tui.screens.prompt import PromptModal
from labtasker_tui.tui.screens.task_list import TaskListScreen

from .conftest import make_app, settle


async def rows(url: str) -> dict[str, dict]:
    store = open_store(url)
    try:
        return {t.task_id: t.model_dump() for t in await store.list(None, limit=1000)}
    finally:
        await store.close()


async def worker(url: str, op: str, task_id: str | None = None) -> str:
    """Another connection changes the queue; returns the id it touched."""
    store = open_store(url)
    try:
        if op == "submit":
            return (await store.submit([{"args": {"lr": 0.2}, "task_name": "late"}]))[0]
        changes = {"cancel": {"status": "cancelled"}, "fail": {"status": "failed"},
                   "bump": {"priority": 77}}[op]
        await store.update(Selection(ids=[task_id]), lambda t: changes)
        return task_id
    finally:
        await store.close()


# key, status key, worker op that adds a task to the view (and the status it takes from)
CASES = {
    "x": ("5", "cancel", "pending"),
    "r": ("4", "fail", "running"),
    "c": ("1", "submit", None),
    "p": ("1", "submit", None),
    "=": ("1", "submit", None),
}
VIEW_STATUS = {"1": "pending", "4": "failed", "5": "cancelled"}


async def open_and_answer(app, pilot, key: str, between) -> None:
    """Press ``key`` on all marked tasks, run ``between`` while the dialog shows, confirm."""
    await pilot.press(key)
    await settle(app, pilot)
    if key in ("p", "="):
        assert isinstance(app.screen, PromptModal)
        app.screen.query_one(Input).value = "99" if key == "p" else "args.lr=0.5"
        await settle(app, pilot)
        await between()
        await pilot.press("enter")
    else:
        assert isinstance(app.screen, ConfirmModal)
        await between()
        await pilot.press("y")
    await settle(app, pilot)


def applied(key: str, row: dict) -> bool:
    return {"x": False, "r": row["status"] == "pending", "c": row["status"] == "cancelled",
            "p": row["priority"] == 99, "=": row["args"].get("lr") == 0.5}[key]


@pytest.mark.asyncio
@pytest.mark.parametrize("key", list(CASES))
async def test_a_task_entering_the_view_is_not_touched(db_url, key):
    view, op, source = CASES[key]
    before = await rows(db_url)
    shown = {k for k, r in before.items() if r["status"] == VIEW_STATUS[view]}
    late = next((k for k, r in before.items() if r["status"] == source), None)
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press(view, "a")
        await settle(app, pilot)
        added: list[str] = []

        async def between() -> None:
            added.append(await worker(db_url, op, late))

        await open_and_answer(app, pilot, key, between)
        assert isinstance(app.screen, TaskListScreen)
    after = await rows(db_url)
    (new,) = added
    if key == "x":
        assert set(after) == set(before) - shown  # exactly the shown ones went
        assert new in after
    else:
        assert {k for k, r in after.items() if applied(key, r)} >= shown
        assert not applied(key, after[new]), "the task that entered the view was changed"
        unchanged = set(before) - shown - {new}
        assert all(after[k] == before[k] for k in unchanged)


@pytest.mark.asyncio
@pytest.mark.parametrize("key", list(CASES))
async def test_a_shown_task_changed_since_refuses(db_url, key):
    view, _, _ = CASES[key]
    before = await rows(db_url)
    shown = sorted(k for k, r in before.items() if r["status"] == VIEW_STATUS[view])
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press(view, "a")
        await settle(app, pilot)

        async def between() -> None:
            await worker(db_url, "bump", shown[-1])

        await open_and_answer(app, pilot, key, between)
        messages = [str(n.message) for n in app._notifications]
        assert any("selection changed" in m for m in messages), messages
    after = await rows(db_url)
    assert set(after) == set(before)
    for k in shown[:-1]:
        assert after[k] == before[k], "a refused action wrote something"
    assert after[shown[-1]]["priority"] == 77


@pytest.mark.asyncio
@pytest.mark.parametrize("answer", ["n", "y"])
async def test_running_tasks_are_deleted_only_when_forced(db_url, answer):
    before = await rows(db_url)
    running = {k for k, r in before.items() if r["status"] == "running"}
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("a", "x")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmModal)
        assert f"Delete {len(before)} matching tasks?" in app.screen.message
        await pilot.press("y")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmModal)
        assert f"{len(running)} of them are running" in app.screen.message
        assert app.focused.id == "confirm-no"  # the default keeps them
        await pilot.press(answer)
        await settle(app, pilot)
    after = await rows(db_url)
    assert set(after) == (set() if answer == "y" else running)
