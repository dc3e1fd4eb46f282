"""Prompt-then-apply applies exactly what it showed; `delete` refuses running tasks.

The command runs on a pseudo-terminal (so it really prompts); between the prompt and the
answer another process (a CLI or a real `loop` worker) changes the selection. The command
must then refuse with the new count, exit 2, and leave the database exactly as it was.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sqlite3
import subprocess
import time

from conftest import CLI, cli, sqlite_rows, wait_for


def _records(db: str, queue: str) -> dict[str, dict]:
    """Every task of the queue through `export` (both backends), by id."""
    res = cli(db, "export", queue=queue)
    assert res.returncode == 0, res.stderr
    return {r["task_id"]: r for r in map(json.loads, res.stdout.splitlines())}


def _submit(db: str, queue: str, *args: str) -> str:
    res = cli(db, "submit", "-q", "--", *args, queue=queue)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


class Tty:
    """A CLI child on a pseudo-terminal (stdin, stdout and stderr), answered by the test."""

    def __init__(self, db: str, queue: str, *args: str) -> None:
        self.master, slave = os.openpty()
        env = {**os.environ, "COLUMNS": "200"}
        self.proc = subprocess.Popen([*CLI, "--db", db, "--queue", queue, *args], stdin=slave,
                                     stdout=slave, stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.out = b""

    def read_until(self, needle: bytes, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.out:
            left = deadline - time.monotonic()
            assert left > 0, f"no {needle!r} in {self.out!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the child closed the terminal
                    chunk = b""
                assert chunk, f"child ended before {needle!r}: {self.out!r}"
                self.out += chunk

    def answer(self, text: str, timeout: float = 60) -> tuple[int, str]:
        os.write(self.master, text.encode())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                self.out += chunk
            elif self.proc.poll() is not None:
                break
        rc = self.proc.wait(timeout=timeout)
        os.close(self.master)
        return rc, self.out.decode(errors="replace")


def _group(db: str, queue: str, n: int) -> list[str]:
    return [_submit(db, queue, "--g", "1", "--k", f"t{i}") for i in range(n)]


def test_update_refuses_when_a_shown_task_changed(fault_url, fault_queue):
    ids = _group(fault_url, fault_queue, 3)
    before = _records(fault_url, fault_queue)
    tty = Tty(fault_url, fault_queue, "update", "-f", "args.g == 1", "-u", "priority=5")
    tty.read_until(b"Update 3 tasks")
    # another process changes one of the shown tasks before the answer
    res = cli(fault_url, "update", "--id", ids[1], "-u", "args.note=x", queue=fault_queue)
    assert res.returncode == 0, res.stderr
    rc, out = tty.answer("y\n")
    assert rc == 2, out
    assert "selection changed" in out and "nothing updated" in out
    after = _records(fault_url, fault_queue)
    assert all(r["priority"] == 10 for r in after.values())  # nothing of the update landed
    assert after[ids[1]]["args"]["note"] == "x"
    assert after[ids[1]]["last_modified"] != before[ids[1]]["last_modified"]
    for i in (ids[0], ids[2]):
        assert after[i] == before[i]


def test_update_refuses_when_more_tasks_match(fault_url, fault_queue):
    _group(fault_url, fault_queue, 3)
    before = _records(fault_url, fault_queue)
    tty = Tty(fault_url, fault_queue, "update", "-f", "args.g == 1", "-u", "priority=5")
    tty.read_until(b"Update 3 tasks")
    late = _submit(fault_url, fault_queue, "--g", "1", "--k", "late")
    rc, out = tty.answer("y\n")
    assert rc == 2, out
    assert "4 tasks match now, 3 were shown; nothing updated" in out
    after = _records(fault_url, fault_queue)
    assert len(after) == 4 and late in after
    assert {k: v for k, v in after.items() if k != late} == before


def test_update_applies_what_was_shown(fault_url, fault_queue):
    ids = _group(fault_url, fault_queue, 3)
    other = _submit(fault_url, fault_queue, "--g", "2")
    tty = Tty(fault_url, fault_queue, "update", "-f", "args.g == 1", "-u", "priority=5")
    tty.read_until(b"Update 3 tasks")
    rc, out = tty.answer("y\n")
    assert rc == 0, out
    after = _records(fault_url, fault_queue)
    assert {i: after[i]["priority"] for i in ids} == dict.fromkeys(ids, 5)
    assert after[other]["priority"] == 10


def test_delete_refuses_when_a_worker_claims_a_shown_task(fault_url, fault_queue, tmp_path):
    ids = _group(fault_url, fault_queue, 3)
    tty = Tty(fault_url, fault_queue, "delete", "-f", "args.g == 1")
    tty.read_until(b"Delete 3 task(s)?")
    # a real worker claims one of them between the prompt and the answer
    worker = subprocess.Popen(
        [*CLI, "--db", fault_url, "--queue", fault_queue, "loop", "-q", "--heartbeat-timeout",
         "30", "-f", "args.k == 't0'", "-c", "sleep 30"], cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: _records(fault_url, fault_queue)[ids[0]]["status"] == "running",
                 timeout=30, step=0.2)
        rc, out = tty.answer("y\n")
        assert rc == 2, out
        assert "selection changed" in out and "nothing deleted" in out
        after = _records(fault_url, fault_queue)
        assert set(after) == set(ids)  # nothing deleted
        assert after[ids[0]]["status"] == "running"
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)


def test_delete_refuses_running_tasks_unless_forced(sqlite_db):
    db = str(sqlite_db)
    ids = [_submit(db, "default", "--g", "1") for _ in range(4)]
    con_sql = "UPDATE tasks SET status='running', worker_id='w', version=version+1 WHERE task_id=?"
    con = sqlite3.connect(sqlite_db)
    with con:
        for i in ids[:3]:
            con.execute(con_sql, (i,))
    con.close()
    running = "3 of the selected tasks are running (a worker is executing them); use --force"
    by_selector = cli(db, "delete", "-y", "-f", "args.g == 1")
    assert by_selector.returncode == 2 and running in by_selector.stderr
    by_ids = cli(db, "delete", "-y", *ids)
    assert by_ids.returncode == 2 and running in by_ids.stderr
    by_stdin = cli(db, "delete", "-y", input="\n".join(ids) + "\n")
    assert by_stdin.returncode == 2 and running in by_stdin.stderr
    assert sqlite_rows(sqlite_db, "SELECT count(*) FROM tasks") == [(4,)]
    one = cli(db, "delete", "-y", ids[3])  # a pending task alone is fine
    assert one.returncode == 0, one.stderr
    forced = cli(db, "delete", "-y", "--force", "-f", "args.g == 1")
    assert forced.returncode == 0, forced.stderr
    assert "Deleted 3 task(s)." in forced.stdout
    assert sqlite_rows(sqlite_db, "SELECT count(*) FROM tasks") == [(0,)]


def test_delete_by_ids_refuses_when_one_is_gone(sqlite_db):
    db = str(sqlite_db)
    ids = [_submit(db, "default", "--g", "1") for _ in range(3)]
    tty = Tty(db, "default", "delete", *ids)
    tty.read_until(b"Delete 3 task(s)?")
    assert cli(db, "delete", "-y", ids[0]).returncode == 0
    rc, out = tty.answer("y\n")
    assert rc == 2 and "2 tasks match now, 3 were shown; nothing deleted" in out
    left = sorted(r[0] for r in sqlite_rows(sqlite_db, "SELECT task_id FROM tasks"))
    assert left == sorted(ids[1:])


def test_store_delete_refuses_running_unless_forced(sqlite_db):
    """The store API the app calls: delete / delete_ids refuse running tasks unless force."""
    import asyncio

    from labtasker_tui.errors import UserError
    from labtasker_tui.store.task_store import Selection, open_store

    db = str(sqlite_db)
    ids = [_submit(db, "default", "--g", "1") for _ in range(2)]
    con = sqlite3.connect(sqlite_db)
    with con:
        con.execute("UPDATE tasks SET status='running', worker_id='w' WHERE task_id=?", (ids[0],))
    con.close()

    async def go() -> None:
        store = open_store(db)
        try:
            for call in (lambda: store.delete(Selection(status="running")),
                         lambda: store.delete_ids(ids)):
                try:
                    await call()
                except UserError as exc:
                    assert "1 of the selected tasks are running" in str(exc)
                else:
                    raise AssertionError("a running task was deleted without force")
            assert await store.delete(Selection(status="running"), force=True) == [ids[0]]
            assert await store.delete_ids(ids, force=True) == ([ids[1]], [ids[0]])
        finally:
            await store.close()

    asyncio.run(go())
    assert sqlite_rows(sqlite_db, "SELECT count(*) FROM tasks") == [(0,)]
