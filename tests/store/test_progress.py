"""Progress reports and run finishes (store/progress.py) and the ETA inputs of a selection,
on SQLite and PostgreSQL (a fresh queue per test on the shared server)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from labtasker_tui.eta import SPARK_HOURS, estimate
from labtasker_tui.query import filter_to_sql, parse_filter
from labtasker_tui.schema import journal, task_runs, utcnow
from labtasker_tui.store import claims, progress
from labtasker_tui.store import workers as worker_rows
from labtasker_tui.store.task_store import Selection, open_store


def go(url, queue, fn):
    async def main():
        store = open_store(url, queue)
        try:
            return await fn(store)
        finally:
            await store.close()

    return asyncio.run(main())


async def claimed(store, n=1, **spec):
    ids = await store.submit([{"args": {"i": i, **spec}} for i in range(n)])
    wid = await worker_rows.register_worker(store)
    tasks = [await claims.claim_next(store, wid) for _ in range(n)]
    return ids, wid, tasks


async def journal_count(store):
    async with store.read() as conn:
        return (await conn.execute(select(func.count()).select_from(journal))).scalar_one()


def test_a_progress_report_bumps_no_version_and_no_journal(db_url, queue):
    async def body(store):
        _, wid, (task,) = await claimed(store)
        entries = await journal_count(store)
        assert await progress.report_progress(store, task.task_id, wid, 0.25, 25, 100)
        after = await store.get(task.task_id)
        assert after.version == task.version and after.last_modified == task.last_modified
        assert await journal_count(store) == entries
        got = await progress.progress_of(store, [task.task_id, "not-an-id"])
        assert list(got) == [task.task_id]
        p = got[task.task_id]
        assert (p.progress, p.step, p.total) == (0.25, 25, 100)

    go(db_url, queue, body)


def test_moved_at_changes_only_when_the_progress_moves(db_url, queue):
    async def body(store):
        _, wid, (task,) = await claimed(store)
        await progress.report_progress(store, task.task_id, wid, 0.5)
        first = (await progress.progress_of(store, [task.task_id]))[task.task_id].moved_at
        await asyncio.sleep(0.02)
        await progress.report_progress(store, task.task_id, wid, 0.5)  # the same value
        assert (await progress.progress_of(store, [task.task_id]))[task.task_id].moved_at \
            == first
        await progress.report_progress(store, task.task_id, wid, 0.6)
        assert (await progress.progress_of(store, [task.task_id]))[task.task_id].moved_at \
            > first

    go(db_url, queue, body)


def test_no_report_for_a_task_not_running_for_this_worker(db_url, queue):
    async def body(store):
        (pending,) = await store.submit([{"args": {"x": 1}}])
        assert not await progress.report_progress(store, pending, None, 0.5)
        _, wid, (task,) = await claimed(store)
        assert not await progress.report_progress(store, task.task_id, "another-worker", 0.5)
        async with store.read() as conn:
            assert (await conn.execute(select(func.count()).select_from(task_runs).where(
                task_runs.c.queue == store.queue))).scalar_one() == 0

    go(db_url, queue, body)


def test_progress_is_gone_when_the_task_stops_running(db_url, queue):
    """Finished, handed back (release), reset by a user, reclaimed: the old run's progress is
    never shown for the task again."""
    async def body(store):
        _, wid, (a, b) = await claimed(store, 2)
        for t in (a, b):
            await progress.report_progress(store, t.task_id, wid, 0.7)
        await claims.report(store, a.task_id, wid, "success")
        assert await claims.release(store, b.task_id, wid)
        assert await progress.progress_of(store, [a.task_id, b.task_id]) == {}
        again = await claims.claim_next(store, wid)  # b runs again: a new run, no progress
        assert again.task_id == b.task_id
        assert await progress.progress_of(store, [b.task_id]) == {}
        await progress.report_progress(store, b.task_id, wid, 0.1)
        assert (await progress.progress_of(store, [b.task_id]))[b.task_id].progress == 0.1
        await store.update(Selection(ids=[b.task_id]), lambda t: {"status": "pending"})
        assert await progress.progress_of(store, [b.task_id]) == {}

    go(db_url, queue, body)


def test_a_finished_run_records_its_outcome_and_duration(db_url, queue):
    async def body(store):
        _, wid, (a, b) = await claimed(store, 2)
        await claims.report(store, a.task_id, wid, "success")
        await claims.report(store, b.task_id, wid, "failed")  # retries left: back to pending
        async with store.read() as conn:
            rows = {r.task_id: r for r in await conn.execute(
                select(task_runs).where(task_runs.c.queue == store.queue))}
        ra, rb = rows[a.task_id], rows[b.task_id]
        assert ra.outcome == "success" and rb.outcome == "pending"
        assert ra.run_start == a.start_time and ra.finished_at >= a.start_time
        assert ra.duration == pytest.approx((ra.finished_at - a.start_time).total_seconds())
        assert ra.progress is None and ra.moved_at is None

    go(db_url, queue, body)


def test_eta_inputs_follow_the_filter(db_url, queue):
    """Counts, running tasks with progress, durations and the per-hour completions of the
    selection only; finish times written with chosen times."""
    async def body(store):
        now = utcnow()
        ids = await store.submit([{"args": {"kind": "a" if i < 6 else "b", "i": i}}
                                  for i in range(10)])
        wid = await worker_rows.register_worker(store)
        running = [await claims.claim_next(store, wid) for _ in range(2)]
        await progress.report_progress(store, running[0].task_id, wid, 0.5)
        done = [i for i in ids if i not in {t.task_id for t in running}][:5]
        async with store.write() as conn:
            for n, task_id in enumerate(done):
                finished = now - timedelta(minutes=30 + 60 * n)
                start = finished - timedelta(seconds=100 * (n + 1))
                await progress.record_finish(conn, store.dialect, store.queue, task_id,
                                             start, finished, "success")
        where = filter_to_sql(parse_filter("args.kind == 'a'"), store.dialect)
        sel = Selection(where=where)
        everything = await progress.eta_inputs(store, None, now=now)
        only_a = await progress.eta_inputs(store, sel, now=now)
        kinds = {t.task_id: t.args["kind"] for t in await store.list()}
        return everything, only_a, kinds, running, done, now

    everything, only_a, kinds, running, done, now = go(db_url, queue, body)
    assert everything.counts["running"] == 2 and everything.counts["pending"] == 8
    assert len(everything.per_hour) == SPARK_HOURS
    assert everything.per_hour[-5:] == [1, 1, 1, 1, 1] and sum(everything.per_hour) == 5
    assert sorted(everything.durations) == [100, 200, 300, 400, 500]
    assert everything.workers == 1
    by_id = {t.task_id: t for t in everything.running}
    assert by_id[running[0].task_id].progress == 0.5
    assert by_id[running[1].task_id].progress is None
    # the filter: only kind a
    a_done = [i for i in done if kinds[i] == "a"]
    assert sum(only_a.per_hour) == len(a_done) and len(only_a.durations) == len(a_done)
    assert sum(only_a.counts.values()) == sum(1 for k in kinds.values() if k == "a")
    assert {t.task_id for t in only_a.running} == {
        t.task_id for t in running if kinds[t.task_id] == "a"}
    est = estimate(everything, now)
    assert est.median == 300 and est.slots == 2 and est.seconds is not None


def test_eta_inputs_of_an_empty_queue(db_url, queue):
    inputs = go(db_url, queue, lambda store: progress.eta_inputs(store, None))
    assert sum(inputs.counts.values()) == 0 and inputs.workers == 0
    assert inputs.per_hour == [0] * SPARK_HOURS and inputs.durations == []
    assert estimate(inputs, utcnow()).eta_text() == "nothing to run"


def test_a_sweep_timeout_records_the_finish(db_url, queue):
    async def body(store):
        _, wid, (task,) = await claimed(store, 1)
        await store.update(Selection(ids=[task.task_id]), lambda t: {"max_retries": 1})
        async with store.write() as conn:
            from labtasker_tui.schema import tasks

            await conn.execute(tasks.update().where(tasks.c.task_id == task.task_id).values(
                last_heartbeat=utcnow() - timedelta(hours=1)))
        assert await claims.sweep_timeouts(store) == [task.task_id]
        async with store.read() as conn:
            row = (await conn.execute(select(task_runs).where(
                task_runs.c.queue == store.queue))).one()
        return task, row

    task, row = go(db_url, queue, body)
    assert row.outcome == "failed" and row.task_id == task.task_id
    assert row.run_start == task.start_time and 0 <= row.duration < 60
