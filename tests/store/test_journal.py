"""The edit journal (store/journal.py): every user change journaled with exact before-images,
undo restores rows exactly, redo, conflict refusal, retention. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select

from labtasker_tui.errors import ConflictError, UserError
from labtasker_tui.schema import journal as journal_t
from labtasker_tui.schema import journal_tasks, tasks
from labtasker_tui.settings import SCHEMA_VERSION
from labtasker_tui.store import claims, journal
from labtasker_tui.store import workers as worker_rows
from labtasker_tui.store.task_store import TASK_COLUMNS, Selection, open_store


def run(coro):
    return asyncio.run(coro)


async def _with_store(url, queue, fn):
    store = open_store(url, queue)
    try:
        return await fn(store)
    finally:
        await store.close()


def go(url, queue, fn):
    return run(_with_store(url, queue, fn))


SPECS = [
    {"args": {"lr": 0.1 + 0.2, "model": "vit", "nested": {"a": [1, 2.5, None]}},
     "metadata": {"tag": "x", "big": 1e16}, "task_name": "t0", "priority": 3},
    {"args": {"lr": 1e-7, "s": "[bold]ünï\u202e"}, "cmd": ["python", "train.py"]},
    {"args": {"lr": 3}, "heartbeat_timeout": 0.1 + 0.7, "task_timeout": 600},
    {"args": {"lr": 4}, "max_retries": 9},
]


async def rows(store, ids=None) -> dict[str, dict]:
    """Every column of the queue's tasks, as stored (JSON columns compared as JSON text)."""
    async with store.read() as conn:
        stmt = select(*TASK_COLUMNS).where(tasks.c.queue == store.queue)
        out = {}
        for r in await conn.execute(stmt):
            m = dict(r._mapping)
            for k in ("args", "metadata", "summary", "cmd"):
                m[k] = json.dumps(m[k], sort_keys=True)
            out[m["task_id"]] = m
    return out if ids is None else {k: v for k, v in out.items() if k in ids}


async def items(store, entry_id) -> dict[str, tuple]:
    async with store.read() as conn:
        res = await conn.execute(select(journal_tasks).where(journal_tasks.c.entry_id == entry_id))
        return {r.task_id: (r.before_image, r.after_version) for r in res}


async def seeded(store) -> list[str]:
    ids = await store.submit(SPECS)
    # one finished task with a summary, through a worker
    wid = await worker_rows.register_worker(store, name="w")
    task = await claims.claim_next(store, wid)
    await claims.report(store, task.task_id, wid, "success", {"acc": 0.9, "loss": [1, 0.5]})
    return ids


@pytest.mark.parametrize("change", ["cancel", "reset", "priority", "assign", "edit", "delete",
                                    "delete_ids"])
def test_every_change_is_journaled_and_undone_exactly(db_url, queue, change):
    async def body(store):
        ids = await seeded(store)
        start = await rows(store)
        sel = Selection(ids=ids)
        if change == "cancel":
            await store.update(Selection(ids=ids[1:]), lambda t: {"status": "cancelled"})
        elif change == "reset":
            await store.update(sel, lambda t: {}, reset_pending=True)
        elif change == "priority":
            await store.update(sel, lambda t: {"priority": 99})
        elif change == "assign":
            await store.update(sel, lambda t: {"args": {**t.args, "lr": 0.5}, "summary": {}})
        elif change == "edit":
            await store.update(Selection(ids=ids[:2]), lambda t: {"task_name": "edited"},
                               expected_versions={i: start[i]["version"] for i in ids[:2]})
        elif change == "delete":
            await store.delete(Selection(status="pending"))
        else:
            await store.delete_ids(ids[:2], force=True)
        changed = await rows(store)
        touched = {k for k in start if start[k] != changed.get(k)}
        assert touched
        [entry] = await journal.entries(store)
        kind = {"assign": "update", "delete_ids": "delete"}.get(change, change)
        assert entry.kind == kind and entry.task_count == len(touched)
        assert entry.actor == "cli" and "@" in entry.who and entry.queue == queue
        recorded = await items(store, entry.id)
        assert set(recorded) == touched
        for task_id, (before, after_version) in recorded.items():
            image = journal.row_of_image(before)
            assert image["version"] == start[task_id]["version"]
            assert after_version == (changed[task_id]["version"] if task_id in changed else None)
        plan = await journal.undo(store)
        assert plan.verb == "undo" and not plan.conflicts
        assert await rows(store) == start  # every column, byte-equal JSON, same versions
        # redo brings the change back exactly
        redo = await journal.undo(store, redo=True)
        assert redo.verb == "redo"
        assert await rows(store) == changed
        # and the redo is an ordinary change: undo again restores the start
        await journal.undo(store)
        assert await rows(store) == start
        kinds = [e.kind for e in await journal.entries(store)]
        assert kinds == ["undo", "redo", "undo", kind]

    go(db_url, queue, body)


def test_preview_texts(db_url, queue):
    async def body(store):
        ids = await store.submit([{"args": {"i": i}} for i in range(5)])
        await store.update(Selection(ids=ids[:2]), lambda t: {"status": "cancelled"})
        await store.delete(Selection(ids=ids[2:]))
        p = await journal.preview(store)
        assert p.preview == "undo: restore 3 deleted tasks"
        await journal.undo(store)
        assert (await journal.preview(store)).preview == "undo: 2 tasks back to pending"
        assert (await journal.preview(store, redo=True)).preview == \
            "redo: delete 3 tasks again"
        await store.update(Selection(ids=ids[:1]), lambda t: {"priority": 1})
        assert (await journal.preview(store)).preview == "undo: 1 task back to priority 10"
        return await store.count()

    assert go(db_url, queue, body) == 5


def test_undo_refuses_when_a_worker_changed_a_task_since(db_url, queue):
    async def body(store):
        ids = await store.submit([{"args": {"i": i}} for i in range(3)])
        await store.update(Selection(ids=ids), lambda t: {"priority": 50})
        wid = await worker_rows.register_worker(store, name="w")
        claimed = await claims.claim_next(store, wid)  # a worker runs one of them
        after = await rows(store)
        p = await journal.preview(store)
        assert len(p.conflicts) == 1 and claimed.task_id in p.conflicts[0]
        assert "now running" in p.conflicts[0]
        with pytest.raises(ConflictError, match=f"undo refused: task {claimed.task_id}"):
            await journal.undo(store)
        assert await rows(store) == after  # nothing written
        [entry] = await journal.entries(store)
        assert entry.undone_by is None

    go(db_url, queue, body)


def test_restore_refuses_when_the_id_exists_again(db_url, queue):
    async def body(store):
        ids = await store.submit([{"args": {"i": 1}}, {"args": {"i": 2}}])
        keep = await rows(store)
        await store.delete(Selection(ids=ids))
        await store.import_records([{**{"task_id": ids[0], "args": {"i": "again"}}}],
                                   journaled=False)
        with pytest.raises(ConflictError, match=f"task {ids[0]} exists again"):
            await journal.undo(store)
        now = await rows(store)
        assert list(now) == [ids[0]] and json.loads(now[ids[0]]["args"]) == {"i": "again"}
        assert keep  # the restore wrote nothing

    go(db_url, queue, body)


def test_import_journaled_undo_deletes_new_and_restores_replaced(db_url, queue):
    async def body(store):
        ids = await store.submit([{"args": {"i": 1}}])
        start = await rows(store)
        recs = [{"task_id": ids[0], "args": {"i": "replaced"}, "status": "success"},
                {"args": {"i": "new"}}]
        assert await store.import_records(recs, replace=True) == (1, 1)
        [entry] = await journal.entries(store)
        assert entry.kind == "import" and entry.summary == "import 2 tasks, 1 replaced"
        p = await journal.preview(store)
        assert "delete 1 imported task" in p.preview and "back to pending" in p.preview
        await journal.undo(store)
        assert await rows(store) == start
        # --no-journal: nothing recorded
        await store.import_records([{"args": {"i": 3}}], journaled=False)
        assert [e.kind for e in await journal.entries(store)] == ["undo", "import"]

    go(db_url, queue, body)


def test_journal_off_and_nothing_changed_record_nothing(db_url, queue, monkeypatch):
    async def body(store):
        ids = await store.submit([{"args": {"i": 1}}])
        await store.update(Selection(ids=ids), lambda t: {"priority": 10})  # no change
        monkeypatch.setenv("LABTASKER_TUI_JOURNAL", "0")
        await store.update(Selection(ids=ids), lambda t: {"priority": 11})
        monkeypatch.delenv("LABTASKER_TUI_JOURNAL")
        assert await journal.entries(store) == []
        with pytest.raises(UserError, match="no change to undo"):
            await journal.undo(store)
        with pytest.raises(UserError, match="no undone change to redo"):
            await journal.undo(store, redo=True)

    go(db_url, queue, body)


def test_undo_twice_and_stale_preview_refuse(db_url, queue):
    async def body(store):
        ids = await store.submit([{"args": {"i": 1}}, {"args": {"i": 2}}])
        await store.update(Selection(ids=ids[:1]), lambda t: {"priority": 1})
        first = (await journal.entries(store))[0].id
        await store.update(Selection(ids=ids[1:]), lambda t: {"priority": 2})
        p = await journal.preview(store)
        await journal.undo(store, p.entry.id)
        with pytest.raises(ConflictError, match="already undone"):
            await journal.undo(store, p.entry.id)
        # a preview of the newest change, then someone made a newer one: refuse
        with pytest.raises(ConflictError, match="journal changed since the preview"):
            await journal.undo(store, expect=p.entry.id)
        done = await journal.undo(store, expect=first)
        assert done.entry.id == first
        assert {t.priority for t in await store.list()} == {10}

    go(db_url, queue, body)


def test_other_queue_entries_are_not_undone(db_url, queue):
    async def body(store):
        await store.submit([{"args": {"i": 1}}])
        await store.update(Selection(status="pending"), lambda t: {"priority": 1})
        entry = (await journal.entries(store))[0].id
        other = open_store(db_url, queue + "x")
        try:
            with pytest.raises(UserError, match="no change to undo"):
                await journal.undo(other)
            with pytest.raises(UserError, match=f"belongs to queue '{queue}'"):
                await journal.undo(other, entry)
        finally:
            await other.close()

    go(db_url, queue, body)


def test_retention_keeps_the_newest_entries_per_queue(sqlite_url, monkeypatch):
    monkeypatch.setenv("LABTASKER_TUI_JOURNAL_KEEP", "3")

    async def body(store):
        ids = await store.submit([{"args": {"i": 1}}])
        for p in range(6):
            await store.update(Selection(ids=ids), lambda t, p=p: {"priority": p})
        kept = [e.id for e in await journal.entries(store)]
        assert kept == [6, 5, 4]
        async with store.read() as conn:
            left = {r[0] for r in await conn.execute(select(journal_tasks.c.entry_id))}
        assert left == {4, 5, 6}
        with pytest.raises(UserError, match="entry 2 not found"):
            await journal.undo(store, 2)
        # entries older than the age limit go at the next write
        async with store.write() as conn:
            from datetime import timedelta

            from sqlalchemy import update

            from labtasker_tui.schema import utcnow

            await conn.execute(update(journal_t).where(journal_t.c.id < 6).values(
                created_at=utcnow() - timedelta(days=31)))
        await store.update(Selection(ids=ids), lambda t: {"priority": 77})
        assert [e.id for e in await journal.entries(store)] == [7, 6]

    go(sqlite_url, "default", body)


def test_bad_retention_setting_is_a_user_error(sqlite_url, monkeypatch):
    async def body(store):
        ids = await store.submit([{"args": {"i": 1}}])
        monkeypatch.setenv("LABTASKER_TUI_JOURNAL_KEEP", "lots")
        with pytest.raises(UserError, match="LABTASKER_TUI_JOURNAL_KEEP"):
            await store.update(Selection(ids=ids), lambda t: {"priority": 1})
        monkeypatch.delenv("LABTASKER_TUI_JOURNAL_KEEP")
        assert (await store.get(ids[0])).priority == 10  # nothing written

    go(sqlite_url, "default", body)


def test_v2_database_migrates_to_v3(tmp_path):
    """A v2 file (no journal tables) gains them on first use; its tasks are kept."""
    import sqlite3

    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"

    async def make(store):
        return await store.submit([{"args": {"i": 1}}])

    ids = go(url, "default", make)
    con = sqlite3.connect(tmp_path / "old.db")
    con.executescript("DROP TABLE journal_tasks; DROP TABLE journal;"
                      "UPDATE schema_info SET value = '2' WHERE key = 'schema_version';")
    con.close()

    async def use(store):
        await store.delete(Selection(ids=ids))
        await journal.undo(store)
        return [t.task_id for t in await store.list()]

    assert go(url, "default", use) == ids
    con = sqlite3.connect(tmp_path / "old.db")
    assert con.execute("SELECT value FROM schema_info").fetchone() == (str(SCHEMA_VERSION),)
    con.close()


def test_headless_undo_does_not_import_textual(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys\n"
        f"sys.argv = ['labtasker-tui', '--db', r'{tmp_path / 't.db'}', 'undo', '--list']\n"
        "from labtasker_tui.cli.main import cli\n"
        "try:\n    cli(prog_name='labtasker-tui')\nexcept SystemExit:\n    pass\n"
        "print('\\n'.join(sorted(sys.modules)))"
    )
    mods = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True).stdout.split())
    assert "labtasker_tui.cli.undo_cmd" in mods and "labtasker_tui.store.journal" in mods
    assert not any(m == "textual" or m.startswith("textual.") for m in mods)
