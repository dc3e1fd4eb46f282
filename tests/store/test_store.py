"""TaskStore on SQLite (and PostgreSQL when LABTASKER_TUI_TEST_PG is set)."""

from __future__ import annotations

import asyncio

import pytest

from labtasker_tui.errors import ConflictError, NotFoundError, UserError
from labtasker_tui.store.task_store import Selection, open_store


def run(coro):
    return asyncio.run(coro)


async def _with_store(url, queue, fn):
    store = open_store(url, queue)
    try:
        return await fn(store)
    finally:
        await store.close()


def test_submit_defaults_and_fetch_order(db_url, queue):
    async def go(store):
        low = (await store.submit([{"args": {"a": 1}, "priority": 0}]))[0]
        first = (await store.submit([{"args": {"a": 2}}]))[0]
        high = (await store.submit([{"args": {"a": 3}, "priority": 20}]))[0]
        second = (await store.submit([{"args": {"a": 4}}]))[0]
        tasks = await store.list()
        return [t.task_id for t in tasks], (low, first, high, second), tasks

    ids, (low, first, high, second), tasks = run(_with_store(db_url, queue, go))
    assert ids == [high, first, second, low]
    t = tasks[0]
    assert t.status == "pending" and t.retries == 0 and t.max_retries == 3
    assert t.heartbeat_timeout == 60.0 and t.summary == {} and t.worker_id is None
    assert t.created_at.tzinfo is not None


def test_submit_batch_is_all_or_nothing(db_url, queue):
    async def go(store):
        with pytest.raises(UserError, match="task 2: task_name"):
            await store.submit([{"args": {"a": 1}}, {"args": {"a": 2}, "task_name": "bad name"}])
        with pytest.raises(UserError, match="Either cmd or args"):
            await store.submit([{"args": {}}])
        return await store.count()

    assert run(_with_store(db_url, queue, go)) == 0


def test_update_validates_everything_before_writing(db_url, queue):
    async def go(store):
        ids = await store.submit([{"args": {"a": 1}}, {"args": {"a": 2}}])
        await store.update(Selection(ids=ids[:1]), lambda t: {"status": "cancelled"})
        before = {t.task_id: t for t in await store.list()}
        # the cancelled task may go to pending, but the pending one may not go to success:
        with pytest.raises(UserError, match="Cannot transition from pending to success"):
            await store.update(Selection(ids=ids), lambda t: {"status": "success"})
        after = {t.task_id: t for t in await store.list()}
        return ids, before, after

    ids, before, after = run(_with_store(db_url, queue, go))
    assert before == after
    assert after[ids[0]].status == "cancelled"


def test_update_bumps_version_and_detects_conflicts(db_url, queue):
    async def go(store):
        [tid] = await store.submit([{"args": {"a": 1}}])
        t0 = await store.get(tid)
        await store.update(Selection(ids=[tid]), lambda t: {"priority": 5})
        t1 = await store.get(tid)
        with pytest.raises(ConflictError):
            await store.update(Selection(ids=[tid]), lambda t: {"priority": 7},
                               expected_versions={tid: t0.version})
        return t0, t1, await store.get(tid)

    t0, t1, t2 = run(_with_store(db_url, queue, go))
    assert t1.version == t0.version + 1 and t1.priority == 5
    assert t1.last_modified > t0.last_modified
    assert t2.priority == 5


def test_reset_pending_and_running_to_pending_clear_worker(db_url, queue):
    async def go(store):
        [tid] = await store.submit([{"args": {"a": 1}}])
        await store.update(Selection(ids=[tid]), lambda t: {"status": "cancelled", "retries": 2})
        changes = await store.update(Selection(ids=[tid]), lambda t: {}, reset_pending=True)
        return changes, await store.get(tid)

    changes, task = run(_with_store(db_url, queue, go))
    assert task.status == "pending" and task.retries == 0
    assert changes[0].changes["status"] == "pending"


def test_manual_running_is_refused(db_url, queue):
    async def go(store):
        [tid] = await store.submit([{"args": {"a": 1}}])
        with pytest.raises(UserError, match="only a worker"):
            await store.update(Selection(ids=[tid]), lambda t: {"status": "running"})

    run(_with_store(db_url, queue, go))


def test_delete_ids_validates_all_first(db_url, queue):
    async def go(store):
        ids = await store.submit([{"args": {"a": i}} for i in range(3)])
        deleted, missing = await store.delete_ids([ids[0], "nope"], dry_run=True)
        assert (deleted, missing) == ([ids[0]], ["nope"])
        assert await store.count() == 3
        deleted, missing = await store.delete_ids(ids[:2])
        return deleted, await store.count()

    deleted, remaining = run(_with_store(db_url, queue, go))
    assert len(deleted) == 2 and remaining == 1


def test_queues_are_isolated(db_url, queue):
    async def go():
        a = open_store(db_url, queue)
        b = open_store(db_url, queue + "b")
        try:
            await a.submit([{"args": {"x": 1}}])
            return await a.count(), await b.count()
        finally:
            await a.close()
            await b.close()

    assert run(go()) == (1, 0)


def test_import_keeps_records_and_refuses_existing_ids(db_url, queue):
    rec = {
        "task_id": "0b6c4f1e-1111-4222-8333-444455556666", "status": "success",
        "task_name": "old", "created_at": "2025-01-02T03:04:05+00:00", "retries": 1,
        "args": {"lr": 0.1}, "summary": {"acc": 0.93},
    }

    async def go(store):
        await store.import_records([rec], replace=True)
        t = await store.get(rec["task_id"])
        with pytest.raises(UserError, match="already exists"):
            await store.import_records([rec])
        return t

    t = run(_with_store(db_url, queue, go))
    assert t.status == "success" and t.summary == {"acc": 0.93} and t.retries == 1
    assert t.created_at.isoformat() == "2025-01-02T03:04:05+00:00"
    assert t.last_modified == t.created_at


def test_update_unknown_id_is_not_found(db_url, queue):
    async def go(store):
        with pytest.raises(NotFoundError):
            await store.update(Selection(ids=["0b6c4f1e-0000-4222-8333-444455556666"]),
                               lambda t: {"priority": 1})

    run(_with_store(db_url, queue, go))


def test_change_marker_moves_on_every_write(db_url, queue):
    async def go(store):
        s0 = await store.change_seq()
        [tid] = await store.submit([{"args": {"a": 1}}])
        s1 = await store.change_seq()
        await store.update(Selection(ids=[tid]), lambda t: {"priority": 1}, dry_run=True)
        s2 = await store.change_seq()
        return s0, s1, s2

    s0, s1, s2 = run(_with_store(db_url, queue, go))
    assert s1 > s0 and s2 == s1


def test_keyset_pages_match_offset_pages(db_url, queue):
    """page(after=/before=/last=) walks the same order as OFFSET, ties included."""
    async def go(store):
        # one batch: equal created_at/last_modified, so the task_id tie-breaker decides
        await store.submit([{"args": {"i": i}, "priority": i % 3} for i in range(23)])
        await store.submit([{"args": {"i": 99}, "priority": 1}])
        out = {}
        for sort in ([], [("priority", False)], [("status", True), ("retries", False)]):
            every = await store.list(sort=sort)
            ids = [t.task_id for t in every]
            got_after = [[t.task_id for t in await store.page(sort=sort, after=every[i],
                                                                 limit=5)] for i in range(24)]
            got_before = [[t.task_id for t in await store.page(sort=sort, before=every[i],
                                                                  limit=5)] for i in range(24)]
            last = [t.task_id for t in await store.page(sort=sort, last=True, limit=5)]
            out[str(sort)] = (ids, got_after, got_before, last)
        assert store.keyset_keys([("task_name", False)]) is None  # nullable: offset instead
        return out

    for ids, got_after, got_before, last in run(_with_store(db_url, queue, go)).values():
        assert len(ids) == 24
        for i in range(24):
            assert got_after[i] == ids[i + 1:i + 6]
            assert got_before[i] == ids[max(0, i - 5):i]
        assert last == ids[-5:]
