"""The direct SQLite writes (`update`, `delete` on a SQLite file) under faults, with real
processes: another writer holds the lock (they wait, then write once), Ctrl-C and SIGKILL
while waiting (nothing written, exit 130 for Ctrl-C)."""

from __future__ import annotations

import signal
import sqlite3
import time

from conftest import cli, popen, sqlite_rows

ROWS = "SELECT task_id, priority, version, last_modified FROM tasks ORDER BY task_id"


def _seed(db: str, n: int = 4) -> list[str]:
    ids = []
    for i in range(n):
        res = cli(db, "submit", "-q", "--", "--x", str(i))
        assert res.returncode == 0, res.stderr
        ids.append(res.stdout.strip())
    return ids


def _locked(path, fn):
    lock = sqlite3.connect(path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        return fn(lock)
    finally:
        if lock.in_transaction:
            lock.execute("ROLLBACK")
        lock.close()


def test_waits_for_the_lock_then_writes_once(sqlite_db):
    db = str(sqlite_db)
    ids = _seed(db)

    def during(lock):
        upd = popen(db, "update", "-y", "-f", "args.x >= 2", "-u", "priority=1")
        dele = popen(db, "delete", "-y", ids[0])
        time.sleep(1.0)
        assert upd.poll() is None and dele.poll() is None  # both wait for the lock
        return upd, dele

    upd, dele = _locked(sqlite_db, during)
    out, err = upd.communicate(timeout=30)
    assert upd.returncode == 0 and out == "Total 2 tasks updated.\n", err
    out, err = dele.communicate(timeout=30)
    assert dele.returncode == 0 and out == "Deleted 1 task(s).\n", err
    rows = {r[0]: r for r in sqlite_rows(sqlite_db, ROWS)}
    assert set(rows) == set(ids[1:])
    assert [rows[i][1:3] for i in ids[1:]] == [(10, 1), (1, 2), (1, 2)]
    kinds = sqlite_rows(sqlite_db, "SELECT kind, task_count FROM journal ORDER BY id")
    assert sorted(kinds) == [("delete", 1), ("priority", 2)]


def test_interrupted_or_killed_while_waiting_writes_nothing(sqlite_db):
    db = str(sqlite_db)
    ids = _seed(db)
    before = sqlite_rows(sqlite_db, ROWS)
    marker = sqlite_rows(sqlite_db, "SELECT seq FROM change_marker")

    def during(lock):
        procs = [popen(db, "update", "-y", "-q", "-f", "args.x >= 0", "-u", "priority=1"),
                 popen(db, "delete", "-y", "-q", *ids)]
        time.sleep(1.0)
        assert all(p.poll() is None for p in procs)
        procs[0].send_signal(signal.SIGINT)
        procs[1].send_signal(signal.SIGKILL)
        out, err = procs[0].communicate(timeout=10)
        assert procs[0].returncode == 130 and "Interrupted." in err
        procs[1].wait(timeout=10)
        assert procs[1].returncode == -signal.SIGKILL

    _locked(sqlite_db, during)
    assert sqlite_rows(sqlite_db, ROWS) == before
    assert sqlite_rows(sqlite_db, "SELECT count(*) FROM journal WHERE kind != 'submit'") \
        == [(0,)]
    assert sqlite_rows(sqlite_db, "SELECT seq FROM change_marker") == marker
    res = cli(db, "update", "-y", "-f", "args.x >= 0", "-u", "priority=1")  # the lock is free
    assert res.returncode == 0 and res.stdout == "Total 4 tasks updated.\n", res.stderr
