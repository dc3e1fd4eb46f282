"""`update` and `delete` on SQLite through the direct sqlite3 path do exactly what the store
does: the same output and exit code, the same tasks afterwards, the same journal entry and
before-images byte for byte, for many assignments and selectors (each case runs on two copies
of one database: once direct, once with the direct path closed, as for another database).
Undo restores what a direct write changed."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from labtasker_tui.cli.main import cli
from labtasker_tui.store import sql_cache, sqlite_direct
from labtasker_tui.store.task_writes import TaskWrites

IDS = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(12)]
MISSING = "ffffffff-0000-4000-8000-000000000000"
T0 = "2026-01-02T03:04:05+00:00"  # microseconds 0: isoformat drops them
T1 = "2026-01-02T03:04:05.250000+00:00"

RECORDS: list[dict[str, Any]] = [
    {"task_id": IDS[0], "task_name": "t0", "status": "pending", "priority": 10,
     "args": {"x": 0.9, "model": "vit", "opt": {"lr": 0.1}}, "created_at": T0},
    {"task_id": IDS[1], "task_name": "t1", "status": "pending", "priority": 5,
     "args": {"x": 0.7, "u": "é\u2603"}, "metadata": {"tags": {"a": 1}}, "created_at": T1,
     "heartbeat_timeout": 1 / 3, "task_timeout": 600},
    {"task_id": IDS[2], "task_name": "t2", "status": "failed", "retries": 3, "priority": 10,
     "args": {"x": 0.6}, "summary": {"acc": 0.5}, "cmd": ["python", "a.py"],
     "worker_id": "w-1", "created_at": T0, "heartbeat_timeout": 1e16},
    {"task_id": IDS[3], "task_name": "t3", "status": "running", "worker_id": "w-2",
     "args": {"x": 0.8, "n": 1}, "start_time": T1, "last_heartbeat": T1, "created_at": T1},
    {"task_id": IDS[4], "task_name": "t4", "status": "success", "args": {"x": 0.3},
     "summary": {"acc": 0.9}, "cmd": "echo hi", "created_at": T0, "heartbeat_timeout": None},
    {"task_id": IDS[5], "task_name": "t5", "status": "cancelled", "args": {"x": 0.1, "n": 1.0},
     "created_at": T1, "max_retries": 7},
    *({"task_id": IDS[i], "task_name": f"g{i}", "status": "pending", "priority": 5,
       "args": {"x": 0.55 + i / 100, "grid": i}, "created_at": T1} for i in range(6, 12)),
]
SEED_ENTRIES = 2  # the imports


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("direct-writes")
    path = folder / "seed.db"
    (folder / "tasks.json").write_text(json.dumps(RECORDS))
    (folder / "other.json").write_text(json.dumps(
        [{**r, "task_id": r["task_id"][:-3] + f"77{i}"} for i, r in enumerate(RECORDS[:3])]))
    for args in (["import", str(folder / "tasks.json")],
                 ["--queue", "other", "import", str(folder / "other.json")]):
        res = CliRunner().invoke(cli, ["--db", str(path), *args])
        assert res.exit_code == 0, res.output
    return path


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(sql_cache, "cache_file", lambda: tmp_path / "c" / "filter-sql.json")


@pytest.fixture
def store_calls(monkeypatch) -> list[str]:
    """Which writes ran: the store's methods, or "direct" (a direct write's commit)."""
    from labtasker_tui.store import sqlite_direct_writes

    calls: list[str] = []
    for name in ("update", "apply_update", "delete"):
        original = getattr(TaskWrites, name)

        def wrapped(self: Any, *a: Any, _o: Any = original, _n: str = name, **k: Any) -> Any:
            calls.append(_n)
            return _o(self, *a, **k)

        monkeypatch.setattr(TaskWrites, name, wrapped)
    write = sqlite_direct_writes._write

    class Outcome(sqlite_direct_writes.Outcome):  # made once every check has passed
        def __init__(self, *a: Any) -> None:
            calls.append("direct read")
            super().__init__(*a)

    def wrote(*a: Any) -> None:
        write(*a)
        calls.append("direct")

    monkeypatch.setattr(sqlite_direct_writes, "Outcome", Outcome)
    monkeypatch.setattr(sqlite_direct_writes, "_write", wrote)
    return calls


def invoke(db: Path, args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["--db", str(db), *args], env=env)
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr


def snapshot(db: Path) -> dict[str, Any]:
    """Tasks (last_modified: whether it moved), journal entries and items, the marker."""
    con = sqlite3.connect(db)
    try:
        tasks = {}
        cols = [d[1] for d in con.execute("PRAGMA table_info(tasks)")]
        for row in con.execute("SELECT * FROM tasks ORDER BY task_id"):
            rec = dict(zip(cols, row, strict=True))
            rec["last_modified"] = rec["last_modified"] == rec["created_at"]
            tasks[rec["task_id"]] = rec
        journal = con.execute("SELECT id, queue, kind, summary, who, actor, task_count, undo_of,"
                              " undone_by FROM journal ORDER BY id").fetchall()
        # by task id: the store's delete writes its items in no particular order
        items = con.execute("SELECT entry_id, task_id, before_image, after_version FROM"
                            " journal_tasks ORDER BY entry_id, task_id").fetchall()
        marker = con.execute("SELECT seq FROM change_marker").fetchone()
        return {"tasks": tasks, "journal": journal, "items": items, "marker": marker}
    finally:
        con.close()


def both(seeded: Path, tmp_path: Path, args: list[str], store_calls: list[str],
         monkeypatch: pytest.MonkeyPatch, env: dict[str, str] | None = None
         ) -> tuple[tuple[int, str, str], dict[str, Any], bool]:
    """Run ``args`` direct and through the store on copies of the seed; they must agree.
    Returns (exit code, stdout, stderr), the snapshot after, and whether it ran direct."""
    direct_db, store_db = tmp_path / "direct.db", tmp_path / "store.db"
    shutil.copy(seeded, direct_db)
    shutil.copy(seeded, store_db)
    got = invoke(direct_db, args, env)
    ran_direct = any(c.startswith("direct") for c in store_calls)
    assert not (ran_direct and not all(c.startswith("direct") for c in store_calls))
    store_calls.clear()
    with monkeypatch.context() as mp:
        mp.setattr(sqlite_direct, "open_existing", lambda path: None)
        want = invoke(store_db, args, env)
    assert got == want, args
    after = snapshot(direct_db)
    assert after == snapshot(store_db), args
    return got, after, ran_direct


UPDATES: list[tuple[list[str], bool]] = [  # (arguments, runs direct)
    (["-f", "args.x > 0.5", "-u", "priority=5"], True),
    (["-s", "pending", "-u", "priority=5"], True),  # some already at 5: unchanged
    (["-f", "args.x > 0.5", "-u", "priority=10"], True),
    (["-f", "args.x > 0.2", "-u", "status=cancelled"], True),  # running, success, failed
    (["-f", "args.x > 0.0", "-u", "status=pending"], True),  # worker ids cleared
    (["-s", "failed", "--reset-pending"], True),
    (["-f", "args.x > 0.0", "--reset-pending", "-u", "priority=1"], True),
    (["-s", "pending", "-u", "status=success"], True),  # a forbidden transition: the store's
    (["-s", "pending", "-u", "status=running"], False),
    (["-f", "args.x > 0.5", "-u", "args.x=0.25", "-u", "args.new.deep=1"], True),
    (["-f", "args.x > 0.0", "-u", "metadata.tags.b=x", "-u", "summary.acc=0.75"], True),
    (["--name", "t5", "-u", "args.n=1"], True),  # 1 == 1.0: no change
    (["--name", "t0", "-u", "args.opt.lr=0.1"], True),  # the same value: no change
    (["--name", "t0", "-u", "args.x.y=1"], True),  # x is a number: the store's error
    (["-f", "args.x > 0.5", "-u", "args={'a': 1, 'b.c': 2}"], True),
    (["-f", "args.x > 0.5", "-u", "metadata={'k': [1, 2]}"], True),
    (["-f", "args.x > 0.5", "-u", "args.l=[1, 2]"], False),
    (["-f", "args.x > 0.5", "-u", "args.a=1", "-u", "args.a.b=2"], False),
    (["-f", "args.x > 0.5", "-u", "args.s=a\x00b"], True),  # NUL: the store refuses it
    (["-s", "pending", "-u", "task_name=renamed", "-u", "task_timeout=100"], True),
    (["-s", "pending", "-u", "task_name=None", "-u", "heartbeat_timeout=None"], True),
    (["-s", "pending", "-u", "task_name=bad name"], False),
    (["-s", "pending", "-u", "heartbeat_timeout=30"], True),
    (["-s", "pending", "-u", "heartbeat_timeout=0.1", "-u", "max_retries=5"], True),
    (["-s", "pending", "-u", "heartbeat_timeout=0"], False),
    (["-s", "pending", "-u", "heartbeat_timeout=1e400"], False),
    (["-s", "pending", "-u", "priority=1.5"], False),
    (["-s", "pending", "-u", "priority=True"], False),
    (["-s", "pending", "-u", "priority=9223372036854775808"], False),
    (["-s", "pending", "-u", "cmd=echo hi", "-u", "retries=2"], True),
    (["-s", "pending", "-u", "cmd=['a', 'b']"], False),
    (["-s", "pending", "-u", "nonexistent=1"], False),
    (["-s", "pending", "-u", "worker_id=x"], False),
    (["-s", "pending", "-u", "priority"], False),
    (["--id", IDS[0], "--id", IDS[6], "-u", "priority=1"], True),
    (["--id", IDS[0], "--id", MISSING, "-u", "priority=1"], True),  # the store names it
    (["--id", IDS[2], "-s", "pending", "-u", "priority=1"], True),  # not selected
    (["--id", IDS[0][:8], "-u", "priority=1"], False),  # a prefix: the store resolves it
    (["-f", "args.x > 5", "-u", "priority=1"], True),
    (["-f", "regex(args.model, 'v.t')", "-u", "priority=2"], True),
    (["--queue", "other", "-s", "pending", "-u", "priority=2"], True),
    (["-f", "args.x > 0.5", "-u", "priority=5", "--dry-run"], False),
]


@pytest.mark.parametrize("flags", [["-y"], ["-q"], []], ids=["-y", "-q", "no-y"])
@pytest.mark.parametrize("args,direct", UPDATES, ids=[" ".join(a) for a, _ in UPDATES])
def test_update_matches_the_store(seeded, tmp_path, store_calls, monkeypatch, args, direct,
                                  flags):
    if not flags and args[-1] == "--dry-run":
        pytest.skip("covered with -y")
    args = [*args[:2], *args[2:]] if args[0] == "--queue" else args
    cmd = [*args[:2], "update", *args[2:], *flags] if args[0] == "--queue" else \
        ["update", *args, *flags]
    (code, out, err), _, ran_direct = both(seeded, tmp_path, cmd, store_calls, monkeypatch)
    if direct and code == 0:
        assert ran_direct, (cmd, out, err)
    if not direct:
        assert not ran_direct


def test_update_writes_images_and_journal_as_the_store(seeded, tmp_path, store_calls,
                                                       monkeypatch):
    args = ["update", "-y", "-f", "args.x > 0.0", "-u", "status=cancelled", "-u",
            "args.x=1"]
    (code, out, _), after, ran_direct = both(seeded, tmp_path, args, store_calls, monkeypatch)
    assert code == 0 and ran_direct and out == "Total 12 tasks updated.\n"
    (entry,) = after["journal"][SEED_ENTRIES:]
    assert entry[2:4] == ("update", "update 12 tasks (args, status)")
    items = [i for i in after["items"] if i[0] == entry[0]]
    assert sorted(i[1] for i in items) == sorted(r["task_id"] for r in RECORDS)
    assert all(json.loads(i[2])["version"] + 1 == i[3] for i in items)


def test_the_journal_off_writes_no_entry(seeded, tmp_path, store_calls, monkeypatch):
    env = {"LABTASKER_TUI_JOURNAL": "0"}
    (code, _, _), after, ran_direct = both(seeded, tmp_path, ["update", "-y", "-s", "pending",
                                                              "-u", "priority=3"],
                                           store_calls, monkeypatch, env)
    assert code == 0 and ran_direct and len(after["journal"]) == SEED_ENTRIES
    assert {i[0] for i in after["items"]} == set(range(1, SEED_ENTRIES + 1))


def test_retention_prunes_as_the_store(seeded, tmp_path, store_calls, monkeypatch):
    env = {"LABTASKER_TUI_JOURNAL_KEEP": "2"}
    db = tmp_path / "many.db"
    shutil.copy(seeded, db)
    for p in (1, 2, 3):
        assert invoke(db, ["update", "-y", "-s", "pending", "-u", f"priority={p}"])[0] == 0
    shutil.copy(db, tmp_path / "seed2.db")
    store_calls.clear()
    _, after, ran_direct = both(tmp_path / "seed2.db", tmp_path,
                                ["update", "-y", "-s", "pending", "-u", "priority=4"],
                                store_calls, monkeypatch, env)
    assert ran_direct
    # the 2 newest of the queue are kept (the other queue's import entry too)
    assert [e[0] for e in after["journal"]] == [2, 5, 6]
    assert {i[0] for i in after["items"]} == {2, 5, 6}


DELETES: list[tuple[list[str], bool]] = [
    ([IDS[0], IDS[6], IDS[7]], True),
    ([IDS[0], MISSING], True),  # the store names the missing id
    ([IDS[3], IDS[0]], True),  # a running task: the store refuses it
    ([IDS[3], IDS[0], "--force"], True),
    (["--id", IDS[4], "--id", IDS[5]], True),
    (["-f", "args.x > 0.5"], True),  # a running task among them
    (["-f", "args.x > 0.5", "--force"], True),
    (["-s", "cancelled"], True),
    (["-f", "args.x > 5"], True),
    (["--id", IDS[0], "-s", "failed"], True),  # selectors: no match, no error
    ([IDS[0][:8]], False),
    ([IDS[0], IDS[1], "--dry-run"], False),
]


@pytest.mark.parametrize("flags", [["-y"], ["-q"], []], ids=["-y", "-q", "no-y"])
@pytest.mark.parametrize("args,direct", DELETES, ids=[" ".join(a) for a, _ in DELETES])
def test_delete_matches_the_store(seeded, tmp_path, store_calls, monkeypatch, args, direct,
                                  flags):
    (code, _, _), after, ran_direct = both(seeded, tmp_path, ["delete", *args, *flags],
                                           store_calls, monkeypatch)
    if direct and code == 0:
        assert ran_direct
    if not direct:
        assert not ran_direct


def test_update_ids_on_stdin(seeded, tmp_path, store_calls):
    db = tmp_path / "stdin.db"
    shutil.copy(seeded, db)
    res = CliRunner().invoke(cli, ["--db", str(db), "update", "--reset-pending", "-q"],
                             input=f"{IDS[2]}\n{IDS[5]}\n")
    assert res.exit_code == 0 and res.stdout == ""
    assert store_calls == ["direct read", "direct"]
    tasks = snapshot(db)["tasks"]
    assert [tasks[i]["status"] for i in (IDS[2], IDS[5])] == ["pending", "pending"]
    assert (tasks[IDS[2]]["retries"], tasks[IDS[2]]["worker_id"]) == (0, None)


def test_delete_ids_on_stdin(seeded, tmp_path, store_calls, monkeypatch):
    db = tmp_path / "stdin.db"
    shutil.copy(seeded, db)
    res = CliRunner().invoke(cli, ["--db", str(db), "delete", "-y"],
                                             input=f"{IDS[6]}\n\n{IDS[7]}\n{IDS[6]}\n")
    assert res.exit_code == 0 and res.stdout == "Deleted 2 task(s).\n"
    assert len(snapshot(db)["tasks"]) == len(RECORDS) - 2 + 3


def _rows(db: Path) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT * FROM tasks ORDER BY queue, task_id").fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("args", [
    ["update", "-y", "-f", "args.x > 0.0", "-u", "status=cancelled", "-u", "args.x=1",
     "-u", "metadata.m=é"],
    ["update", "-y", "-s", "failed", "--reset-pending"],
    ["update", "-y", "--name", "t1", "-u", "heartbeat_timeout=0.2", "-u", "task_name=n"],
    ["delete", "-y", "--force", "-f", "args.x > 0.0"],
    ["delete", "-y", IDS[1], IDS[2]],
], ids=lambda a: " ".join(a[:3]))
def test_undo_restores_a_direct_write(seeded, tmp_path, store_calls, args):
    db = tmp_path / "undo.db"
    shutil.copy(seeded, db)
    before = _rows(db)
    code, _, err = invoke(db, args)
    assert code == 0, err
    assert store_calls == ["direct read", "direct"]
    assert _rows(db) != before
    code, out, err = invoke(db, ["undo", "-y"])
    assert code == 0, err
    assert _rows(db) == before  # every column, byte for byte (versions and times too)
    code, _, err = invoke(db, ["redo", "-y"])
    assert code == 0, err
    assert _rows(db) != before


def test_images_are_the_stores_byte_for_byte(seeded, tmp_path):
    """image_sql over every seeded row against journal.image_of_row of the store's read."""
    import asyncio

    from labtasker_tui.store import journal
    from labtasker_tui.store.sqlite_direct_writes import image_sql, register_image_functions
    from labtasker_tui.store.store_core import TASK_COLUMNS
    from labtasker_tui.store.task_store import open_store

    db = tmp_path / "img.db"
    shutil.copy(seeded, db)
    con = sqlite3.connect(db)
    register_image_functions(con)
    con.execute("UPDATE tasks SET last_modified = '2026-01-02 03:04:05' WHERE task_id = ?",
                (IDS[0],))  # another time text: the Python fallback
    con.commit()
    direct = dict(con.execute(f"SELECT task_id, {image_sql('tasks')} FROM tasks"))
    con.close()

    async def read() -> dict[str, str]:
        from sqlalchemy import select

        from labtasker_tui.schema import tasks

        store = open_store(str(db))
        try:
            async with store.read() as conn:
                rows = await conn.execute(select(*TASK_COLUMNS).select_from(tasks))
                return {r._mapping["task_id"]: journal.image_of_row(r._mapping) for r in rows}
        finally:
            await store.close()

    want = asyncio.run(read())
    assert direct == want
    assert '"heartbeat_timeout": 0.3333333333333333' in direct[IDS[1]]
    assert '"created_at": "2026-01-02T03:04:05+00:00"' in direct[IDS[0]]


@pytest.mark.parametrize("args", [["update", "-y", "-s", "pending", "-u", "priority=1"],
                                  ["delete", "-y", IDS[0]]], ids=lambda a: a[0])
def test_a_locked_database_is_a_database_error(seeded, tmp_path, monkeypatch, args):
    """Busy past the timeout: `database error: ... (file)`, exit 1, nothing written."""
    monkeypatch.setattr(sqlite_direct, "BUSY_TIMEOUT_MS", 100)
    monkeypatch.setattr(sqlite_direct, "PRAGMAS", tuple(
        "PRAGMA busy_timeout=100" if p.startswith("PRAGMA busy") else p
        for p in sqlite_direct.PRAGMAS))
    db = tmp_path / "locked.db"
    shutil.copy(seeded, db)
    before = snapshot(db)
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        code, out, err = invoke(db, args)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert (code, out, err) == (1, "", f"Error: database error: database is locked ({db})\n")
    assert snapshot(db) == before


@pytest.mark.parametrize("args", [["update", "-y", "-s", "pending", "-u", "priority=1"],
                                  ["delete", "-y", "-s", "pending"]], ids=lambda a: a[0])
def test_a_task_changed_after_the_read_is_refused_under_the_lock(seeded, tmp_path,
                                                                  monkeypatch, args):
    """The selection is read without the write lock (a slow filter never blocks writers);
    under the lock every task must still be at the version read, else nothing is written."""
    from labtasker_tui.store import sqlite_direct_writes

    db = tmp_path / "race.db"
    shutil.copy(seeded, db)
    write = sqlite_direct_writes._write

    def meanwhile(*a: Any) -> None:
        other = sqlite3.connect(db)
        with other:  # another process changes one selected task before the lock is taken
            other.execute("UPDATE tasks SET version = version + 1, task_name = 'x'"
                          " WHERE task_id = ?", (IDS[6],))
        other.close()
        write(*a)

    monkeypatch.setattr(sqlite_direct_writes, "_write", meanwhile)
    before = snapshot(db)
    code, out, err = invoke(db, args)
    verb = "updated" if args[0] == "update" else "deleted"
    assert (code, out) == (2, "")
    assert err == (f"Error: selection changed: 1 of the 8 tasks shown changed or were deleted"
                   f" since; nothing {verb}; run again\n")
    after = snapshot(db)
    assert after["tasks"][IDS[6]]["task_name"] == "x"
    after["tasks"][IDS[6]] = before["tasks"][IDS[6]]
    assert after == before
