"""Deduplication by canonical args (store/dedup.py, canonical.py): the hash agrees with the
filter's `args == {...}` on both backends and with the reference evaluator; every write path
keeps it; the policies, the report, --requeue-failed in the same transaction (undo), and the
v3 -> v4 migration's backfill. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import uuid

import pytest
from reference_eval import bson_eq
from sqlalchemy import select, update

from labtasker_tui.canonical import args_hash, canonical_text
from labtasker_tui.errors import UserError
from labtasker_tui.query import filter_to_sql, parse_filter
from labtasker_tui.schema import tasks
from labtasker_tui.settings import SCHEMA_VERSION
from labtasker_tui.store import dedup, journal
from labtasker_tui.store.dedup import DuplicateError
from labtasker_tui.store.task_store import Selection, open_store

PG_URL = os.environ.get("LABTASKER_TUI_TEST_PG")


def go(url, queue, fn):
    async def main():
        store = open_store(url, queue)
        try:
            return await fn(store)
        finally:
            await store.close()

    return asyncio.run(main())


DOCS = [
    {"a": 1}, {"a": 1.0}, {"a": True}, {"a": 0}, {"a": -0.0}, {"a": False}, {"a": None},
    {"a": "1"}, {"a": 0.5}, {"a": 1, "b": 2}, {"b": 2.0, "a": 1.0}, {"a": [1, 2]},
    {"a": [2, 1]}, {"a": [1.0, 2.0]}, {"a": {"x": 1, "y": "s"}}, {"a": {"y": "s", "x": 1.0}},
    {"a": {"x": [{"p": 1, "q": 2}]}}, {"a": {"x": [{"q": 2.0, "p": 1}]}},
    {"a": 2**53 + 1}, {"a": float(2**53)}, {"a": 2**53}, {"a": []}, {"a": {}}, {"a": [[]]},
    {"a": 1e-7}, {"a": 0.1 + 0.2}, {"a": 0.3}, {"a": "ü"}, {"a": "u"}, {"a": 1.5e300},
    {"a": -(2**63)}, {"a": 1, "b": None}, {"b": 2, "a": 1, "c": [True, 1]},
]


def test_canonical_hash_agrees_with_the_reference_evaluator():
    for x in DOCS:
        for y in DOCS:
            assert (args_hash(x) == args_hash(y)) == bson_eq(x, y), (x, y)
    assert canonical_text({"b": 1.0, "a": [True, None, "x"]}) == '{"a":[true,null,"x"],"b":1}'


def test_hash_agrees_with_filter_equality_on_the_backend(db_url, queue):
    """For every doc d: the tasks `args == d` finds are exactly those whose args_hash is
    hash(d) (with the stored, validated values: -0.0 is 0.0)."""

    async def body(store):
        ids = await store.submit([{"args": d} for d in DOCS])
        async with store.read() as conn:
            stored = {r[0]: r[1] for r in await conn.execute(
                select(tasks.c.task_id, tasks.c.args_hash).where(tasks.c.queue == queue))}
        for d in DOCS:
            where = filter_to_sql(parse_filter(json.dumps({"args": d})), store.dialect)
            found = {t.task_id for t in await store.select_tasks(Selection(where=where))}
            assert found == {i for i in ids if stored[i] == args_hash(d)}, d
        # the stored hash is the hash of the stored args
        for t in await store.list():
            assert stored[t.task_id] == args_hash(t.args)

    go(db_url, queue, body)


async def _set_status(store, ids, status):
    async with store.write() as conn:
        await conn.execute(update(tasks).where(tasks.c.task_id.in_(ids))
                           .values(status=status, retries=2))


def test_policies_report_and_batch_repeats(db_url, queue):
    grid = [{"args": {"lr": lr, "m": m}} for lr in (0.1, 1) for m in ("a", "b")]

    async def body(store):
        first = await store.submit_batch(grid, dedup="skip")
        assert len(first.ids) == 4 and first.report() == "4 new · 0 already present"
        await _set_status(store, first.ids[:2], "success")
        await _set_status(store, first.ids[2:3], "failed")
        # one more value of lr, keys reordered and 1 spelled 1.0, one spec twice
        more = [{"args": {"m": m, "lr": float(lr)}} for lr in (0.1, 1, 10) for m in ("a", "b")]
        more.append({"args": {"lr": 10, "m": "a"}})
        with pytest.raises(DuplicateError) as err:
            await store.submit_batch(more, dedup="error")
        assert str(err.value) == ("--dedup error: 2 new · 4 already present: 2 success,"
                                  " 1 failed, 1 pending · 1 repeated in the input;"
                                  " nothing written")
        assert len(await store.list()) == 4  # nothing written
        out = await store.submit_batch(more, dedup="skip")
        assert out.report() == ("2 new · 4 already present: 2 success, 1 failed, 1 pending"
                                " · 1 repeated in the input")
        assert len(out.ids) == 2 and out.requeued == []
        assert sorted(t.args["lr"] for t in await store.list()) == [0.1, 0.1, 1, 1, 10, 10]
        out = await store.submit_batch(more, dedup="allow")
        assert len(out.ids) == 7 and out.new == 0 and out.duplicates == 7
        # cmd is part of the configuration
        out = await store.submit_batch([{"args": {"lr": 0.1, "m": "a"}, "cmd": "x"}],
                                       dedup="skip")
        assert out.report() == "1 new · 0 already present" and len(out.ids) == 1
        # another queue is another sweep
        other = open_store(db_url, queue + "o")
        try:
            assert len((await other.submit_batch(grid, dedup="skip")).ids) == 4
        finally:
            await other.close()

    go(db_url, queue, body)


def test_requeue_failed_in_the_same_transaction_and_undone(db_url, queue, monkeypatch):
    async def body(store):
        ids = (await store.submit_batch([{"args": {"i": i}} for i in range(3)])).ids
        await _set_status(store, ids[:2], "failed")
        await _set_status(store, ids[2:], "success")
        before = {t.task_id: t for t in await store.list()}
        specs = [{"args": {"i": i}} for i in range(4)]

        def broken(*a, **k):
            raise RuntimeError("journal down")

        with monkeypatch.context() as m:  # the journal write fails: nothing at all happens
            m.setattr(journal, "record", broken)
            with pytest.raises(RuntimeError):
                await store.submit_batch(specs, dedup="skip", requeue_failed=True)
        assert {t.task_id: t for t in await store.list()} == before

        out = await store.submit_batch(specs, dedup="skip", requeue_failed=True)
        assert out.report() == "1 new · 3 already present: 1 success, 2 failed"
        assert sorted(out.requeued) == sorted(ids[:2]) and len(out.ids) == 1
        now = {t.task_id: t for t in await store.list()}
        for i in ids[:2]:
            assert (now[i].status, now[i].retries, now[i].worker_id) == ("pending", 0, None)
            assert now[i].version == before[i].version + 1
        assert now[ids[2]] == before[ids[2]]
        [entry] = await journal.entries(store, 1)
        assert entry.summary == "requeue 2 failed tasks (submit)"
        plan = await journal.undo(store)
        assert plan.preview == "undo: 2 tasks back to failed"
        after = {t.task_id: t for t in await store.list()}
        for i in ids:
            assert after[i] == before[i]
        assert out.ids[0] in after  # submits are not journaled: the new task stays

    go(db_url, queue, body)


def test_import_dedups_in_each_records_queue(db_url, queue):
    async def body(store):
        await store.submit_batch([{"args": {"x": 1}}])
        recs = [{"args": {"x": 1.0}}, {"args": {"x": 1}, "queue_id": queue + "b"},
                {"args": {"x": 2}, "status": "failed"}, {"args": {"x": 2.0}}]
        out = await store.import_batch(recs, dedup="skip")
        assert out.report() == "2 new · 1 already present: 1 pending · 1 repeated in the input"
        assert len(out.ids) == 2
        # undo of the import deletes what it wrote
        plan = await journal.undo(store)
        assert plan.preview == "undo: delete 2 imported tasks"
        assert [t.args for t in await store.list()] == [{"x": 1}]
        # an exported task imported again is present as itself
        rec = (await store.list())[0].record()
        rec = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in rec.items()}
        out = await store.import_batch([rec], dedup="skip")
        assert out.ids == [] and out.present == {"pending": 1}
        with pytest.raises(UserError, match="already exists"):
            await store.import_batch([rec], dedup="allow")

    go(db_url, queue, body)


def test_args_updates_and_undo_keep_the_hash(db_url, queue):
    async def stored(store):
        async with store.read() as conn:
            return {r[0]: (r[1], r[2]) for r in await conn.execute(
                select(tasks.c.task_id, tasks.c.args_hash, tasks.c.args)
                .where(tasks.c.queue == queue))}

    async def body(store):
        ids = await store.submit([{"args": {"lr": 1}}, {"args": {"lr": 2}}])
        await store.update(Selection(ids=ids), lambda t: {"args": {**t.args, "m": "x"}})
        for h, a in (await stored(store)).values():
            assert h == args_hash(a) and a["m"] == "x"
        await store.update(Selection(ids=ids[:1]), lambda t: {"priority": 3})
        await journal.undo(store)
        await journal.undo(store)
        for h, a in (await stored(store)).values():
            assert h == args_hash(a) and "m" not in a
        out = await store.submit_batch([{"args": {"lr": 1.0}}], dedup="skip")
        assert out.present == {"pending": 1}

    go(db_url, queue, body)


def test_concurrent_batches_under_the_lock(db_url, queue):
    """Two skip submits of the same configurations in one event loop (two connections):
    the second reads after the first committed."""
    specs = [{"args": {"i": i}} for i in range(50)]

    async def body(store):
        other = open_store(db_url, queue)
        try:
            a, b = await asyncio.gather(store.submit_batch(specs, dedup="skip"),
                                        other.submit_batch(specs, dedup="skip"))
        finally:
            await other.close()
        assert sorted([len(a.ids), len(b.ids)]) == [0, 50]
        assert len(await store.list()) == 50

    go(db_url, queue, body)


def test_plan_is_pure_and_checks_policies():
    with pytest.raises(UserError, match="--dedup"):
        dedup.check_policy("maybe")
    row = {"task_id": "t1", "queue": "q", "args": {"a": 1}, "cmd": "", "args_hash": 7}
    cand = {"task_id": "c1", "queue": "q", "args": {"a": 1.0}, "cmd": "", "args_hash": 7,
            "status": "failed", "version": 1, "last_modified": "x"}
    wrong = {**cand, "task_id": "c2", "args": {"a": 2}, "status": "success"}  # a collision
    p = dedup.plan([row], [cand, wrong], "skip", True)
    assert p.insert == [] and [c["task_id"] for c in p.requeue] == ["c1"]
    p = dedup.plan([row], [wrong], "skip", False)
    assert p.insert == [row] and p.outcome.present == {}


# -- migration ---------------------------------------------------------------------------------

def _make_v3_sqlite(path):
    con = sqlite3.connect(path)
    con.executescript("DROP INDEX ix_tasks_args_hash; ALTER TABLE tasks DROP COLUMN"
                      " args_hash; UPDATE schema_info SET value = '3'"
                      " WHERE key = 'schema_version';")
    con.close()


def test_v3_sqlite_database_gets_the_hash_backfilled(tmp_path, monkeypatch):
    from labtasker_tui.store import migrations

    monkeypatch.setattr(migrations, "BACKFILL_CHUNK", 7)  # several batches
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    docs = [{"i": i, "f": float(i)} for i in range(20)]
    go(url, "default", lambda s: s.submit([{"args": d} for d in docs]))
    _make_v3_sqlite(tmp_path / "old.db")

    async def use(store):
        out = await store.submit_batch([{"args": {"f": 3, "i": 3.0}}, {"args": {"i": 99}}],
                                       dedup="skip")
        return out.report()

    assert go(url, "default", use) == "1 new · 1 already present: 1 pending"
    con = sqlite3.connect(tmp_path / "old.db")
    rows = con.execute("SELECT args, args_hash FROM tasks").fetchall()
    assert len(rows) == 21 and all(h == args_hash(json.loads(a)) for a, h in rows)
    assert con.execute("SELECT value FROM schema_info").fetchone() == (str(SCHEMA_VERSION),)
    assert con.execute("SELECT 1 FROM sqlite_master WHERE name = 'ix_tasks_args_hash'"
                       ).fetchone()
    con.close()


@pytest.mark.skipif(not PG_URL, reason="set LABTASKER_TUI_TEST_PG")
def test_v3_postgres_database_gets_the_hash_backfilled(monkeypatch):
    """In a schema of its own (search_path), so the shared tables are not touched."""
    from sqlalchemy import create_engine, text

    from labtasker_tui.store import migrations

    monkeypatch.setattr(migrations, "BACKFILL_CHUNK", 7)
    schema_name = "mig_" + uuid.uuid4().hex[:10]
    sync_url = PG_URL
    admin = create_engine(sync_url)
    with admin.begin() as c:
        c.execute(text(f"CREATE SCHEMA {schema_name}"))
    import sqlalchemy.ext.asyncio as sa_async

    real = sa_async.create_async_engine

    def in_schema(url, **kw):  # the store's options, plus the search_path
        kw["connect_args"] = {**kw["connect_args"], "options": kw["connect_args"]["options"]
                              + f" -c search_path={schema_name}"}
        return real(url, **kw)

    monkeypatch.setattr(sa_async, "create_async_engine", in_schema)
    url = PG_URL
    try:
        docs = [{"i": i, "f": float(i)} for i in range(20)]
        go(url, "default", lambda s: s.submit([{"args": d} for d in docs]))
        with admin.begin() as c:
            c.execute(text(f"DROP INDEX {schema_name}.ix_tasks_args_hash"))
            c.execute(text(f"ALTER TABLE {schema_name}.tasks DROP COLUMN args_hash"))
            c.execute(text(f"UPDATE {schema_name}.schema_info SET value = '3'"
                           " WHERE key = 'schema_version'"))

        async def use(store):
            out = await store.submit_batch([{"args": {"f": 3, "i": 3.0}}], dedup="skip")
            return out.report()

        assert go(url, "default", use) == "0 new · 1 already present: 1 pending"
        with admin.begin() as c:
            rows = c.execute(text(f"SELECT args, args_hash FROM {schema_name}.tasks")).all()
            assert len(rows) == 20 and all(h == args_hash(a) for a, h in rows)
            assert c.execute(text(f"SELECT value FROM {schema_name}.schema_info")
                             ).scalar() == str(SCHEMA_VERSION)
    finally:
        with admin.begin() as c:
            c.execute(text(f"DROP SCHEMA {schema_name} CASCADE"))
        admin.dispose()


def test_queue_reads_keep_their_covering_indexes(tmp_path):
    """The hash index must not lure SQLite (no ANALYZE statistics) away from the covering
    indexes of `queue = ?` reads: with (queue, args_hash) it counted statuses through a row
    lookup per task, 10x slower at a million tasks. Dedup's lookup still uses it."""
    from click.testing import CliRunner

    from labtasker_tui.cli.main import cli

    db = tmp_path / "plan.db"
    res = CliRunner().invoke(cli, ["--db", str(db), "submit", "-q", "--", "--lr", "0.1"])
    assert res.exit_code == 0, res.output
    con = sqlite3.connect(db)
    try:
        def plan(sql: str) -> str:
            return " ".join(r[-1] for r in con.execute("EXPLAIN QUERY PLAN " + sql, ("default",)))

        assert "COVERING INDEX ix_tasks_fetch_order" in plan(
            "SELECT status, count(*) FROM tasks WHERE queue = ? GROUP BY status")
        assert "ix_tasks_queue_order" in plan(
            "SELECT task_id FROM tasks WHERE queue = ? ORDER BY priority DESC, last_modified,"
            " created_at, task_id LIMIT 100")
        assert "ix_tasks_args_hash" in plan(  # the store's lookup (task_writes.plan_dedup)
            "SELECT task_id FROM tasks WHERE (queue || '') = ? AND args_hash IN (1, 2)")
        assert "ix_tasks_args_hash" in plan(  # the direct submit's
            "SELECT task_id FROM tasks WHERE queue = ? AND args_hash = 1")
    finally:
        con.close()
