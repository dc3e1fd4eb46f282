"""Read commands: a missing database is not created, export/ls hold no transaction while the
reader is slow, Ctrl-C exits 130 at once (even on a locked or unanswering database), and a
corrupt file is reported in one line without being touched."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
import uuid

import pytest
from conftest import CLI, PG_URL, cli, popen, sqlite_rows

READ_COMMANDS = [
    ["ls"], ["ls", "--no-pager"], ["ls", "-q"], ["count"], ["export"], ["facets", "args.x"],
    ["worker", "ls"], ["update", "-s", "pending", "-u", "args.a=1", "-y"],
    ["delete", "-s", "pending", "-y"], ["loop", "--", "true"], ["index", "ls"], [],
]


def _run_all(db: str, commands: list[list[str]], **kw) -> list[subprocess.CompletedProcess]:
    """The commands in parallel child processes (each ~0.5 s of start-up)."""
    env = {**os.environ}
    procs = [subprocess.Popen([*CLI, "--db", db, *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                              env=env, **kw) for args in commands]
    out = []
    for p, args in zip(procs, commands, strict=True):
        stdout, stderr = p.communicate(timeout=60)
        out.append(subprocess.CompletedProcess(args, p.returncode, stdout, stderr))
    return out


def test_read_commands_on_a_missing_database_create_nothing(tmp_path):
    path = tmp_path / "typo" / "tasks.db"
    results = (_run_all(str(path), READ_COMMANDS[::2], cwd=tmp_path)
               + _run_all(f"sqlite:///{path}", READ_COMMANDS[1::2], cwd=tmp_path))
    for res in results:
        assert res.returncode == 2, (res.args, res.stderr)
        assert res.stderr == (f"Error: no database at {path} (create it with `labtasker-tui "
                              "init` or submit a task)\n"), res.args
        assert res.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no file, no folder


def test_init_submit_and_import_still_create_the_database(tmp_path):
    for i, args in enumerate((["init"], ["submit", "-q", "--", "--a", "1"], ["import", "-"])):
        path = tmp_path / f"new{i}" / "tasks.db"
        rec = json.dumps({"task_id": str(uuid.uuid4()), "args": {"a": 2}})
        res = cli(str(path), *args, input=rec + "\n")
        assert res.returncode == 0, res.stderr
        assert path.is_file()
        n = sqlite_rows(path, "SELECT count(*) FROM tasks")[0][0]
        assert n == (0 if args == ["init"] else 1)


# -- export and ls --------------------------------------------------------------------------


def _seed(url: str, queue: str, n: int) -> list[str]:
    specs = "".join(json.dumps({"args": {"i": i, "pad": "x" * 300}}) + "\n" for i in range(n))
    res = cli(url, "submit", "--file", "-", "-q", queue=queue, input=specs)
    assert res.returncode == 0, res.stderr
    return res.stdout.split()


def _idle_in_transaction(app_name: str) -> list[str]:
    import psycopg

    with psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"),
                         autocommit=True) as con:
        return [r[0] for r in con.execute(
            "SELECT state FROM pg_stat_activity WHERE application_name = %s", (app_name,))]


def test_a_slow_reader_holds_no_transaction(fault_url, fault_queue):
    """export and ls stream into a reader that does not read: no transaction stays open
    (PostgreSQL would end it after idle_in_transaction_session_timeout), and every task that
    existed throughout is written exactly once; one deleted meanwhile is not written (a
    snapshot held open would still write it)."""
    n = 1200  # ~500 KB of JSON lines: the 64 KB pipe fills within the first chunk
    ids = _seed(fault_url, fault_queue, n)
    app_name = "ltx-" + uuid.uuid4().hex[:10]
    commands = [["export"], ["ls", "--format", "jsonl", "--no-pager"]]
    procs = [popen(fault_url, *args, queue=fault_queue, env={"PGAPPNAME": app_name})
             for args in commands]
    time.sleep(2.5)  # both block writing into a full pipe
    assert all(p.poll() is None for p in procs)
    if not fault_url.startswith("sqlite"):  # (on SQLite the data below shows it)
        states = _idle_in_transaction(app_name)
        assert states and "idle in transaction" not in states, states
    # meanwhile: one task deleted (one batch shares created_at: the last in both orders is
    # the largest id, in the last chunk), one submitted
    gone = max(ids)
    assert cli(fault_url, "delete", gone, "-y", queue=fault_queue).returncode == 0
    late = cli(fault_url, "submit", "-q", "--", "--late", "1", queue=fault_queue).stdout.strip()
    for args, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        records = [json.loads(x) for x in out.splitlines()]
        got = [r["task_id"] for r in records]
        # every task that existed throughout, exactly once; the deleted one (read after its
        # deletion) and the late one (submitted after the ids were read) are not listed
        assert sorted(got) == sorted(set(ids) - {gone}), args
        assert late not in got
        if args == ["export"]:
            keys = [(r["created_at"], r["task_id"]) for r in records]
            assert keys == sorted(keys)


# -- Ctrl-C ---------------------------------------------------------------------------------


def _interrupt(proc: subprocess.Popen, after: float = 2.0) -> tuple[float, str]:
    time.sleep(after)
    assert proc.poll() is None, proc.communicate()
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    return time.monotonic() - t0, err


@pytest.mark.parametrize("args", [["submit", "--", "--a", "2"],
                                  ["update", "-s", "pending", "-u", "args.a=5", "-y"],
                                  ["delete", "-s", "pending", "-y"]],
                         ids=["submit", "update", "delete"])
def test_ctrl_c_while_the_database_is_locked(sqlite_db, args):
    assert cli(str(sqlite_db), "submit", "--", "--a", "1").returncode == 0
    before = sqlite_rows(sqlite_db, "SELECT task_id, args, version FROM tasks")
    holder = sqlite3.connect(sqlite_db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # busy_timeout is 30 s: the command waits on it
    try:
        proc = popen(str(sqlite_db), *args)
        took, err = _interrupt(proc)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert proc.returncode == 130
    assert took < 2.0
    assert err == "Interrupted.\n"
    assert sqlite_rows(sqlite_db, "SELECT task_id, args, version FROM tasks") == before


def test_ctrl_c_while_the_server_does_not_answer(tmp_path):
    # a socket that accepts connections but never speaks: the driver waits (connect_timeout)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    try:
        proc = popen(f"postgresql://u:p@127.0.0.1:{port}/db", "count")
        took, err = _interrupt(proc, after=1.5)
    finally:
        server.close()
    assert (proc.returncode, err) == (130, "Interrupted.\n")
    assert took < 2.0


# -- corrupt files --------------------------------------------------------------------------

CORRUPT_COMMANDS = [["ls", "--no-pager"], ["count"], ["export"], ["facets", "args.a"],
                    ["worker", "ls"], ["update", "-s", "pending", "-u", "args.a=1", "-y"],
                    ["delete", "-s", "pending", "-y"], ["submit", "--", "--a", "1"],
                    ["import", "/dev/null"], ["init"], ["loop", "--", "true"]]


@pytest.mark.parametrize("kind", ["random", "truncated"])
def test_a_corrupt_database_is_reported_once_and_left_alone(tmp_path, sqlite_db, kind):
    if kind == "random":
        path = tmp_path / "random.db"
        path.write_bytes(os.urandom(20_000))
        reason = "file is not a database"
    else:
        _seed(str(sqlite_db), "default", 60)
        con = sqlite3.connect(sqlite_db)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        path = tmp_path / "truncated.db"
        path.write_bytes(sqlite_db.read_bytes()[:12_288])
        reason = "database disk image is malformed"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    t0 = time.monotonic()
    results = _run_all(str(path), CORRUPT_COMMANDS, cwd=tmp_path)
    assert time.monotonic() - t0 < 20  # not retried for the 30 s busy timeout
    for res in results:
        assert res.returncode == 1, (res.args, res.stderr)
        assert res.stderr == f"Error: database error: {reason} ({path})\n", res.args
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


@pytest.mark.skipif(not PG_URL, reason="set LABTASKER_TUI_TEST_PG to run (.ci/run does)")
def test_pg_missing_database_is_a_server_error_not_a_file(fault_queue):
    # the missing-file rule is SQLite's; a server names its own error
    res = cli(PG_URL.rsplit("/", 1)[0] + "/no_such_db_" + fault_queue, "count")
    assert res.returncode == 1
    assert res.stderr.startswith("Error: database error:") and "Traceback" not in res.stderr


def test_keyset_pages_of_ids_match_the_fetch_order(sqlite_db):
    """`ls -q` pages ids by keyset in fetch order: every page boundary, ties included."""
    import asyncio

    from labtasker_tui.store.task_store import Selection, open_store

    specs = "".join(json.dumps({"args": {"i": i}, "priority": i % 3}) + "\n" for i in range(40))
    assert cli(str(sqlite_db), "submit", "--file", "-", "-q", input=specs).returncode == 0

    async def go() -> tuple[list[str], list[list[str]], list[list[str]]]:
        store = open_store(str(sqlite_db), create=False)
        try:
            whole = [t.task_id for t in await store.list()]
            keys = store.keyset_keys(())
            pages = [p async for p in store.keyset_ids(None, keys, None, 0, page=7)]
            part = [p async for p in store.keyset_ids(Selection(status="pending"), keys,
                                                       25, 3, page=6)]
            return whole, pages, part
        finally:
            await store.close()

    whole, pages, part = asyncio.run(go())
    assert [len(p) for p in pages] == [7] * 5 + [5]
    assert sum(pages, []) == whole
    assert sum(part, []) == whole[3:28]
