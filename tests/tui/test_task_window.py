"""The task list's window, marks and error mapping as plain objects (no Pilot)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy.exc import OperationalError

from labtasker_tui.errors import ConflictError, StoreError
from labtasker_tui.query.errors import FilterError
from labtasker_tui.store.task_store import Selection, open_store
from labtasker_tui.tui.errors import describe
from labtasker_tui.tui.marks import Marks
from labtasker_tui.tui.task_window import Fetched, TaskWindow, WindowRequest, fetch_window

SORT = [("priority", True)]


async def read(awaitable):
    return await awaitable


async def walk(store, window: int) -> list[str]:
    """Every task id, window after window, moving by keyset as the screen does."""
    win = TaskWindow()
    req: WindowRequest | None = WindowRequest(0)
    seen: list[str] = []
    while req is not None:
        fetched = await fetch_window(store, Selection(), SORT, req, window=window, read=read)
        win.accept(fetched, req.size or window)
        assert win.offset == len(seen)
        seen += [t.task_id for t in win.tasks]
        if not fetched.total:
            win.set_total(await store.count())
        req = win.edge_request("next", window)
    return seen


@pytest.mark.asyncio
async def test_keyset_windows_cover_the_selection_once_in_order(db_url):
    store = open_store(db_url)
    try:
        everything = [t.task_id for t in await store.list(Selection(), sort=SORT, limit=100)]
        assert await walk(store, 7) == everything
        last = await fetch_window(store, Selection(), SORT, WindowRequest(0, to_end=True),
                                  window=7, read=read)
        assert (last.offset, last.total) == (23, 30)
        assert [t.task_id for t in last.tasks] == everything[-7:]
        # the window before the last one, by keyset from its first task
        win = TaskWindow()
        win.accept(last, 7)
        prev = win.edge_request("prev", 7)
        assert prev is not None and (prev.offset, prev.size, prev.cursor_row) == (16, 7, 6)
        before = await fetch_window(store, Selection(), SORT, prev, window=7, read=read)
        assert [t.task_id for t in before.tasks] == everything[16:23]
        # past the end (tasks went away): the last window instead
        gone = await fetch_window(store, Selection(), SORT, WindowRequest(500), window=7,
                                  read=read)
        assert gone.offset == 23 and len(gone.tasks) == 7
    finally:
        await store.close()


def test_window_total_is_a_lower_bound_until_counted():
    win = TaskWindow()
    gen = win.begin()
    assert win.is_current(gen) and not win.is_current(gen - 1)
    tasks = [SimpleNamespace(task_id=str(i)) for i in range(5)]
    win.accept(Fetched(seq=3, tasks=tasks, offset=10, total=None), size=5)  # type: ignore[arg-type]
    assert set(win.by_id) == {"0", "1", "2", "3", "4"} and win.loaded_once
    assert (win.total, win.total_known) == (16, False)  # one more: the cursor may page on
    assert win.rows_text() == "rows 11–15 of …"
    assert win.edge_request("next", 5) is not None
    win.set_total(15)
    assert win.rows_text() == "rows 11–15 of 15" and win.at_bottom
    assert win.edge_request("next", 5) is None
    win.begin()
    assert not win.is_current(gen)  # a newer load supersedes the older one


def test_marks_targets_and_all_matching():
    marks = Marks()
    assert not marks and marks.target(None) is None
    cursor = marks.target("c" * 36)
    assert cursor is not None and cursor.label() == "task cccccccc"
    marks.toggle("b")
    marks.add("a", "b")
    assert marks.count == 2 and marks.text() == "2 marked"
    target = marks.target("zzz")
    assert target is not None and target.sel.ids == ["a", "b"] and target.kind == "marked"
    assert marks.ordered_ids(["b", "x"]) == ["b", "a"]
    marks.toggle("a")
    assert marks.ids == {"b"}
    sel = Selection(status="failed")
    marks.mark_all(sel, 1234)
    assert marks.is_marked("anything") and marks.text() == "1,234 marked (all matching)"
    assert marks.target(None).sel is sel  # type: ignore[union-attr]
    assert marks.clear(["r1", "r2"]) == {"r1", "r2"}  # the rows shown lose their mark
    assert not marks and marks.count == 0


def test_describe_maps_our_errors_and_the_databases():
    assert describe(ConflictError("task abc changed")) == ("task abc changed", "error")
    assert describe(FilterError("unexpected ')'", "a)", 2))[0] == \
        "Invalid filter: unexpected ')'"
    assert describe(StoreError("database is locked"))[0] == "database is locked"
    db = OperationalError("SELECT secret FROM t WHERE x = ?", {}, Exception("disk I/O error"))
    assert describe(db) == ("database: disk I/O error", "error")  # never the SQL
    assert describe(KeyError("x"))[0] == "KeyError: 'x'"
