"""`labtasker-tui undo` / `redo` as real processes: a filtered bulk delete is restored byte for
byte; a change made by another process (a CLI, a real `loop` worker) since the entry, or
between the preview and the answer, refuses the undo and writes nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess

from conftest import CLI, cli, sqlite_rows, wait_for
from test_apply_exact import Tty

ALL = "SELECT * FROM tasks ORDER BY task_id"
RAW = ("SELECT task_id, status, CAST(args AS BLOB), CAST(metadata AS BLOB), CAST(summary AS"
       " BLOB), CAST(cmd AS BLOB), version, last_modified FROM tasks ORDER BY task_id")


def _records(db: str, queue: str) -> dict[str, dict]:
    res = cli(db, "export", queue=queue)
    assert res.returncode == 0, res.stderr
    return {r["task_id"]: r for r in map(json.loads, res.stdout.splitlines())}


def _seed(db: str, queue: str) -> list[str]:
    lines = [json.dumps({"args": {"lr": lr, "model": m, "u": "ünï [bold]\u202e", "x": 0.1 + 0.2,
                                  "big": 1e16, "deep": {"a": [1, None, {"b": -0.0}]}},
                         "metadata": {"tags": ["t", m]}, "priority": i % 3,
                         "status": ["pending", "success", "failed"][i % 3],
                         "summary": {"acc": i / 7} if i % 3 == 1 else {}})
             for i, (lr, m) in enumerate((lr, m) for lr in (0.01, 0.1, 0.3) for m in "ab")]
    res = cli(db, "import", "-", input="\n".join(lines), queue=queue)
    assert res.returncode == 0, res.stderr
    return list(_records(db, queue))


def test_bulk_delete_then_undo_restores_every_row_exactly(sqlite_db):
    db = str(sqlite_db)
    _seed(db, "default")
    before = sqlite_rows(sqlite_db, ALL)
    raw_before = sqlite_rows(sqlite_db, RAW)
    res = cli(db, "delete", "-y", "-f", "args.lr >= 0.1")
    assert res.returncode == 0 and "Deleted 4 task(s)." in res.stdout, res.stderr
    assert len(sqlite_rows(sqlite_db, ALL)) == 2
    listing = cli(db, "undo", "--list")
    assert listing.returncode == 0 and "delete 4 tasks" in listing.stdout
    res = cli(db, "undo", "--yes")
    assert res.returncode == 0, res.stderr
    assert "undo: restore 4 deleted tasks" in res.stdout
    assert sqlite_rows(sqlite_db, ALL) == before  # every column, same versions and times
    assert sqlite_rows(sqlite_db, RAW) == raw_before  # JSON text byte for byte
    listing = cli(db, "undo", "--list").stdout.splitlines()
    assert "undo: restore 4 deleted tasks (entry 2)" in listing[1]
    assert "delete 4 tasks  (undone by 3)" in listing[2] and "(cli)" in listing[2]
    # redo deletes the same 4 again; undo of the redo restores them again
    assert cli(db, "redo", "--yes").returncode == 0
    assert len(sqlite_rows(sqlite_db, ALL)) == 2
    assert cli(db, "undo", "-y").returncode == 0
    assert sqlite_rows(sqlite_db, RAW) == raw_before


def test_bulk_update_undo_both_backends(fault_url, fault_queue):
    _seed(fault_url, fault_queue)
    before = _records(fault_url, fault_queue)
    res = cli(fault_url, "update", "-y", "-s", "success", "status=cancelled",
              queue=fault_queue)
    assert res.returncode == 0, res.stderr
    dry = cli(fault_url, "undo", "--dry-run", queue=fault_queue)
    assert dry.returncode == 0 and dry.stdout.strip() == "undo: 2 tasks back to success"
    assert _records(fault_url, fault_queue) != before  # the dry run wrote nothing
    res = cli(fault_url, "undo", "-y", queue=fault_queue)
    assert res.returncode == 0, res.stderr
    assert _records(fault_url, fault_queue) == before


def test_undo_refuses_when_another_process_changed_a_task(fault_url, fault_queue):
    ids = _seed(fault_url, fault_queue)
    assert cli(fault_url, "update", "-y", "-s", "pending", "priority=50",
               queue=fault_queue).returncode == 0
    pending = [i for i, r in _records(fault_url, fault_queue).items() if r["status"] == "pending"]
    # another process (journaling off, so that its change is not the newest entry) edits
    # one of them afterwards
    assert cli(fault_url, "update", "--id", pending[0], "args.lr=9", queue=fault_queue,
               env={"LABTASKER_TUI_JOURNAL": "0"}).returncode == 0
    after = _records(fault_url, fault_queue)
    res = cli(fault_url, "undo", "-y", queue=fault_queue)
    assert res.returncode == 2
    assert f"conflict: task {pending[0]} changed since" in res.stderr
    assert "undo refused: 1 of the 2 tasks changed since entry" in res.stderr
    assert "Traceback" not in res.stderr
    assert _records(fault_url, fault_queue) == after  # nothing written
    assert len(ids) == 6


def test_restore_refuses_when_a_deleted_id_was_imported_again(sqlite_db):
    db = str(sqlite_db)
    _seed(db, "default")
    gone = [json.dumps(r) for r in _records(db, "default").values() if r["args"]["lr"] == 0.01]
    assert cli(db, "delete", "-y", "-f", "args.lr == 0.01").returncode == 0
    assert cli(db, "import", "--no-journal", "-", input=gone[0]).returncode == 0
    snapshot = sqlite_rows(sqlite_db, ALL)
    res = cli(db, "undo", "-y")
    assert res.returncode == 2 and "exists again" in res.stderr
    assert sqlite_rows(sqlite_db, ALL) == snapshot


def test_worker_claim_between_preview_and_answer_refuses(fault_url, fault_queue, tmp_path):
    _seed(fault_url, fault_queue)
    before = _records(fault_url, fault_queue)
    assert cli(fault_url, "update", "-y", "-s", "pending", "priority=50",
               queue=fault_queue).returncode == 0
    tty = Tty(fault_url, fault_queue, "undo")
    tty.read_until(b"undo: 2 tasks back to priority 0?")
    worker = subprocess.Popen(
        [*CLI, "--db", fault_url, "--queue", fault_queue, "loop", "-q", "--heartbeat-timeout",
         "30", "-f", "args.lr == 0.01", "-c", "sleep 30"], cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: any(r["status"] == "running"
                             for r in _records(fault_url, fault_queue).values()),
                 timeout=30, step=0.2)
        during = _records(fault_url, fault_queue)
        rc, out = tty.answer("y\n")
        assert rc == 2, out
        assert "undo refused" in out and "now running" in out and "nothing written" in out
        after = _records(fault_url, fault_queue)
        # nothing written by the undo: only the worker's own heartbeats may move
        for r in (during, after):
            for v in r.values():
                v.pop("last_heartbeat", None)
        assert after == during
        assert {r["priority"] for i, r in after.items() if before[i]["status"] == "pending"} \
            == {50}
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)


def test_bad_undo_input_is_one_line_exit_2(sqlite_db):
    db = str(sqlite_db)
    res = cli(db, "undo", "-y")
    assert res.returncode == 2 and res.stderr.strip() == \
        "Error: no change to undo in queue 'default'"
    res = cli(db, "undo", "--id", "999", "-y")
    assert res.returncode == 2 and "journal entry 999 not found" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    task_id = cli(db, "submit", "-q", "--", "--a", "1").stdout.strip()
    res = cli(db, "delete", "-y", task_id, env={"LABTASKER_TUI_JOURNAL_KEEP": "x"})
    assert res.returncode == 2 and "LABTASKER_TUI_JOURNAL_KEEP='x'" in res.stderr
    assert sqlite_rows(sqlite_db, "SELECT task_id FROM tasks") == [(task_id,)]
    res = cli(db, "redo", "-y")
    assert res.returncode == 2 and "no undone change to redo" in res.stderr


def test_undo_waits_for_a_writer_and_a_killed_undo_writes_nothing(sqlite_db):
    import sqlite3
    import time

    from conftest import popen

    db = str(sqlite_db)
    _seed(db, "default")
    before = sqlite_rows(sqlite_db, RAW)
    assert cli(db, "delete", "-y", "-s", "pending").returncode == 0
    deleted = sqlite_rows(sqlite_db, RAW)
    lock = sqlite3.connect(sqlite_db, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        killed = popen(db, "undo", "-y")
        time.sleep(1.0)
        assert killed.poll() is None  # waiting for the lock
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
        waiting = popen(db, "undo", "-y")
        time.sleep(1.0)
        assert waiting.poll() is None
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    out, err = waiting.communicate(timeout=30)
    assert waiting.returncode == 0, err
    assert "undo: restore 2 deleted tasks" in out
    assert sqlite_rows(sqlite_db, RAW) == before
    # the killed undo left no trace: one undo entry, and the delete is undone exactly once
    entries = sqlite_rows(sqlite_db, "SELECT kind, undone_by FROM journal ORDER BY id")
    assert entries == [("import", None), ("delete", 3), ("undo", None)]
    assert deleted != before
