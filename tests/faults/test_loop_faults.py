"""`loop` under faults: a job never outlives its loop, a task never runs twice, one task's
error fails that task only, Ctrl-C is prompt, hostile ids stay inert.

Real processes throughout: the loop is a child process killed with SIGKILL/SIGHUP/SIGINT, the
database is locked by a second sqlite3 connection, rows are edited with sqlite3 directly.
Jobs are small Python scripts that log ``start``/``end`` lines and check, when they start,
that no earlier run of the same task is still alive (``OVERLAP`` otherwise).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import cli, popen, sqlite_rows, wait_for

JOB = r"""
import os, sys, time
log, dur = sys.argv[1], float(sys.argv[2])
task = os.environ["LABTASKER_TASK_ID"]

def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

try:
    with open(log) as f:
        earlier = [ln.split() for ln in f]
except OSError:
    earlier = []
fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
for rec in earlier:
    if rec[0] == "start" and rec[1] == task and alive(int(rec[2])):
        os.write(fd, f"OVERLAP {task} {rec[2]} {os.getpid()}\n".encode())
if any(rec[0] == "start" and rec[1] == task for rec in earlier):
    dur = min(dur, 0.2)   # a re-run is short
os.write(fd, f"start {task} {os.getpid()} {time.time()}\n".encode())
time.sleep(dur)
os.write(fd, f"end {task} {os.getpid()} {time.time()}\n".encode())
"""


def submit(db: Path, specs: list[dict]) -> list[str]:
    res = cli(str(db), "submit", "-q", "--file", "-",
              input="".join(json.dumps(s) + "\n" for s in specs))
    assert res.returncode == 0, res.stderr
    return res.stdout.split()


def job_cmd(tmp_path: Path, dur: str = "%(d)") -> list[str]:
    script = tmp_path / "job.py"
    script.write_text(JOB)
    return ["--", sys.executable, str(script), str(tmp_path / "runs.log"), dur]


def runs(tmp_path: Path) -> list[list[str]]:
    try:
        return [ln.split() for ln in (tmp_path / "runs.log").read_text().splitlines()]
    except OSError:
        return []


def starts(tmp_path: Path) -> list[list[str]]:
    return [r for r in runs(tmp_path) if r[0] == "start"]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def status(db: Path) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in sqlite_rows(
        db, "SELECT task_id, status, retries, worker_id FROM tasks")}


def shell_cmd(tmp_path: Path) -> list[str]:
    """The job as a grandchild of the loop (sh forks it): only a process-group kill reaches
    it, the parent-death signal reaches sh alone."""
    _, exe, script, log, dur = job_cmd(tmp_path)
    return ["-c", f"{exe} {script} {log} {dur}; true"]


@pytest.mark.parametrize("how", ["argv", "shell"])
def test_sigkill_of_loop_kills_its_job_and_reclaim_never_overlaps(sqlite_db, tmp_path, how):
    (tid,) = submit(sqlite_db, [{"args": {"d": 30}}])
    cmd = job_cmd(tmp_path) if how == "argv" else shell_cmd(tmp_path)
    first = popen(str(sqlite_db), "loop", "--heartbeat-timeout", "2", *cmd, cwd=tmp_path)
    wait_for(lambda: starts(tmp_path))
    job_pid = int(starts(tmp_path)[0][2])
    t0 = time.monotonic()
    first.send_signal(signal.SIGKILL)
    first.communicate()
    # a second loop at once: it may reclaim only after the heartbeat timeout
    second = popen(str(sqlite_db), "loop", "--follow", "--heartbeat-timeout", "2",
                   *job_cmd(tmp_path, "0.2"), cwd=tmp_path)
    wait_for(lambda: not alive(job_pid), timeout=5, step=0.01)
    gone = time.monotonic() - t0
    assert gone < 2.0, f"job outlived its loop by {gone:.2f}s"
    wait_for(lambda: status(sqlite_db)[tid][0] == "success", timeout=20)
    second.send_signal(signal.SIGINT)
    _, err = second.communicate(timeout=10)
    assert second.returncode == 130, err
    log = runs(tmp_path)
    assert not [r for r in log if r[0] == "OVERLAP"], log
    assert [r[1] for r in log if r[0] == "start"] == [tid, tid]
    assert [r[1] for r in log if r[0] == "end"] == [tid]    # the killed run never ended
    assert status(sqlite_db)[tid] == ("success", 1, None)


def test_sighup_releases_the_task_and_ends_the_job(sqlite_db, tmp_path):
    (tid,) = submit(sqlite_db, [{"args": {"d": 30}}])
    proc = popen(str(sqlite_db), "loop", *job_cmd(tmp_path), cwd=tmp_path)
    wait_for(lambda: starts(tmp_path))
    job_pid = int(starts(tmp_path)[0][2])
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert not alive(job_pid)
    assert status(sqlite_db)[tid] == ("pending", 0, None)
    assert "back to pending" in err


def test_deleting_a_running_task_fails_only_that_slot(sqlite_db, tmp_path):
    """A is deleted while it runs (its report then finds no task); B on the other slot and
    C afterwards still finish."""
    a, b, c = submit(sqlite_db, [{"args": {"d": 1.5}, "priority": 30},
                                 {"args": {"d": 2.5}, "priority": 20},
                                 {"args": {"d": 0.1}, "priority": 10}])
    proc = popen(str(sqlite_db), "loop", "--workers", "2", *job_cmd(tmp_path), cwd=tmp_path)
    wait_for(lambda: len(starts(tmp_path)) == 2)
    con = sqlite3.connect(sqlite_db, timeout=30)
    with con:
        con.execute("DELETE FROM tasks WHERE task_id = ?", (a,))
    con.close()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "deleted while it ran" in err or "no longer running" in err
    st = status(sqlite_db)
    assert a not in st
    assert st[b][0] == "success" and st[c][0] == "success"
    assert not [r for r in runs(tmp_path) if r[0] == "OVERLAP"]


def test_nul_byte_argument_fails_that_task_and_the_loop_goes_on(sqlite_db, tmp_path):
    bad, good = submit(sqlite_db, [{"args": {"x": "a"}, "priority": 20, "max_retries": 1},
                                   {"args": {"x": "b"}, "priority": 10}])
    con = sqlite3.connect(sqlite_db)
    with con:   # written by hand: the submit path may refuse NUL
        con.execute("UPDATE tasks SET args = ? WHERE task_id = ?", ('{"x": "a\\u0000b"}', bad))
    con.close()
    res = cli(str(sqlite_db), "loop", "--workers", "2", "--", "echo", "%(x)", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "cannot start" in res.stderr
    rows = dict(sqlite_rows(sqlite_db, "SELECT task_id, status FROM tasks"))
    assert rows == {bad: "failed", good: "success"}
    (summary,) = sqlite_rows(sqlite_db, "SELECT summary FROM tasks WHERE task_id = ?", (bad,))
    assert json.loads(summary[0])["labtasker_exception"]["type"] == "ValueError"


def test_unwritable_log_directory_fails_the_task_not_the_loop(tmp_path):
    db = tmp_path / "tasks.db"
    assert cli(str(db), "init").returncode == 0
    (tid,) = submit(db, [{"args": {"x": 1}, "max_retries": 1}])
    (tmp_path / ".labtasker").write_text("a file where the log root should be")
    res = cli(str(db), "loop", "--", "echo", "%(x)", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "cannot write its log directory" in res.stderr
    assert status(db)[tid] == ("failed", 1, None)


def test_task_timeout_kills_within_a_second_of_the_limit(sqlite_db, tmp_path):
    (tid,) = submit(sqlite_db, [{"args": {"d": 30}, "max_retries": 1}])
    res = cli(str(sqlite_db), "loop", "--task-timeout", "2", *job_cmd(tmp_path), cwd=tmp_path,
              timeout=20)
    assert res.returncode == 0, res.stderr
    assert status(sqlite_db)[tid][0] == "failed"
    log = (tmp_path / ".labtasker" / "logs" / tid / "run.log").read_text()
    duration = float(log.rsplit(" after ", 1)[1].rstrip("s\n"))
    assert 1.9 <= duration < 3.0, log   # the limit counts from just before the claim
    (summary,) = sqlite_rows(sqlite_db, "SELECT summary FROM tasks WHERE task_id = ?", (tid,))
    assert json.loads(summary[0])["labtasker_exception"]["type"] == "TaskTimeout"


def test_corrupt_database_is_reported_once_and_exits_1(tmp_path):
    db = tmp_path / "tasks.db"
    db.write_bytes(b"this is not a database" * 200)
    before = db.read_bytes()
    t0 = time.monotonic()
    res = cli(str(db), "loop", "-c", "true", timeout=20)
    assert time.monotonic() - t0 < 5
    assert res.returncode == 1, res.stderr
    assert res.stderr.count("not a database") == 1, res.stderr
    assert "retrying" not in res.stderr and "Traceback" not in res.stderr
    assert db.read_bytes() == before


def _hold_exclusive(db: Path, release: threading.Event) -> threading.Thread:
    ready = threading.Event()

    def hold() -> None:
        con = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        con.execute("BEGIN EXCLUSIVE")
        ready.set()
        release.wait(60)
        con.execute("ROLLBACK")
        con.close()

    t = threading.Thread(target=hold, daemon=True)
    t.start()
    ready.wait(10)
    return t


def test_ctrl_c_while_the_database_is_locked_exits_130_promptly(sqlite_db, tmp_path):
    submit(sqlite_db, [{"args": {"x": 1}}])
    before = sqlite_rows(sqlite_db, "SELECT task_id, status, version FROM tasks")
    release = threading.Event()
    holder = _hold_exclusive(sqlite_db, release)
    try:
        proc = popen(str(sqlite_db), "loop", "--", "echo", "%(x)", cwd=tmp_path)
        time.sleep(1.5)      # the loop is now waiting on the lock
        assert proc.poll() is None
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        assert time.monotonic() - t0 < 2.0
        assert proc.returncode == 130, err
    finally:
        release.set()
        holder.join()
    assert sqlite_rows(sqlite_db, "SELECT task_id, status, version FROM tasks") == before


def test_ctrl_c_while_postgresql_is_unreachable_exits_130_promptly(tmp_path):
    pytest.importorskip("psycopg")
    url = "postgresql+psycopg://nobody@127.0.0.1:9/none"   # discard port: refused at once
    proc = popen(url, "loop", "-c", "true", cwd=tmp_path)
    wait_for(lambda: proc.poll() is not None or (time.sleep(1.5) or True), timeout=5)
    assert proc.poll() is None, proc.communicate()
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert time.monotonic() - t0 < 2.0
    assert proc.returncode == 130, err
    assert "Traceback" not in err


def test_lost_lease_fences_the_job_before_the_task_can_be_reclaimed(sqlite_db, tmp_path):
    """The database is locked past the heartbeat timeout while a job runs: the loop kills the
    job before the timeout (self-fencing), then hands the task back and runs it once more."""
    (tid,) = submit(sqlite_db, [{"args": {"d": 3}}])
    proc = popen(str(sqlite_db), "loop", "--heartbeat-timeout", "2", *job_cmd(tmp_path),
                 cwd=tmp_path)
    wait_for(lambda: starts(tmp_path))
    job_pid = int(starts(tmp_path)[0][2])
    release = threading.Event()
    holder = _hold_exclusive(sqlite_db, release)
    t0 = time.monotonic()
    wait_for(lambda: not alive(job_pid), timeout=5, step=0.01)
    assert time.monotonic() - t0 < 2.0     # dead before anyone may reclaim (2 s)
    time.sleep(0.5)
    release.set()
    holder.join()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "killing the job before its task can be given to another worker" in err
    log = runs(tmp_path)
    assert not [r for r in log if r[0] == "OVERLAP"], log
    assert [r[1] for r in log if r[0] == "start"] == [tid, tid]
    assert [r[1] for r in log if r[0] == "end"] == [tid]
    assert status(sqlite_db)[tid][0] == "success"


def test_hostile_task_id_creates_nothing_outside_the_log_root(sqlite_db, tmp_path):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    bad, good = submit(sqlite_db, [{"args": {"x": 1}, "priority": 20, "max_retries": 1},
                                   {"args": {"x": 2}}])
    con = sqlite3.connect(sqlite_db)
    with con:
        con.execute("UPDATE tasks SET task_id = '../../x' WHERE task_id = ?", (bad,))
    con.close()
    before = {p for p in tmp_path.rglob("*")}
    res = cli(str(sqlite_db), "loop", "--", "echo", "%(x)", cwd=work)
    assert res.returncode == 0, res.stderr
    assert "not a canonical UUID" in res.stderr
    created = {p for p in tmp_path.rglob("*")} - before
    root = work / ".labtasker" / "logs"
    assert all(p == work / ".labtasker" or root in (p, *p.parents) for p in created), created
    assert not (tmp_path / "x").exists() and not (tmp_path / "a" / "x").exists()
    assert {p.name for p in root.iterdir()} == {good}
    rows = dict(sqlite_rows(sqlite_db, "SELECT task_id, status FROM tasks"))
    assert rows == {"../../x": "failed", good: "success"}


def test_worker_ls_neutralises_control_characters(sqlite_db):
    wid = "6f0c5f0e-1d7e-4c39-9a55-3f7f5cfc1c01"
    con = sqlite3.connect(sqlite_db)
    with con:
        con.execute(
            "INSERT INTO workers (worker_id, queue, worker_name, host, slot, status, retries,"
            " max_retries, created_at, last_seen) VALUES (?, 'default', ?, ?, ?, 'active', 0,"
            " 3, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            (wid, "evil\x1b]0;pwned\x07\x1b[2J", "host\r\x1b[31m", "0\u202e"))
    con.close()
    res = cli(str(sqlite_db), "worker", "ls")
    assert res.returncode == 0, res.stderr
    assert "\x1b" not in res.stdout and "\x07" not in res.stdout and "\r" not in res.stdout
    assert "\u202e" not in res.stdout
    assert "evil\\x1b]0;pwned\\x07\\x1b[2J" in res.stdout
    assert "host\\r\\x1b[31m" in res.stdout


@pytest.mark.parametrize("args", [
    ["--heartbeat-timeout", "-1"], ["--heartbeat-timeout", "nan"],
    ["--heartbeat-timeout", "0.5"], ["--task-timeout", "-1"], ["--eta-max", "inf"],
    ["--task-timeout", "9" * 40], ["--workers", "-2"], ["--max-worker-failures", "-1"],
])
def test_bad_loop_options_exit_2_with_one_line(sqlite_db, tmp_path, args):
    submit(sqlite_db, [{"args": {"x": 1}}])
    before = sqlite_rows(sqlite_db, "SELECT task_id, status, version FROM tasks")
    res = cli(str(sqlite_db), "loop", *args, "-c", "echo %(x)", cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert sqlite_rows(sqlite_db, "SELECT task_id, status, version FROM tasks") == before
    assert sqlite_rows(sqlite_db, "SELECT count(*) FROM workers") == [(0,)]
    assert os.listdir(tmp_path) == [] or ".labtasker" not in os.listdir(tmp_path)


def test_database_given_up_kills_the_other_jobs_and_releases_their_tasks(sqlite_db, tmp_path,
                                                                         monkeypatch):
    """Slot A's report keeps failing with a transient error until the loop gives up: the
    loop then kills slot B's job, hands B's task back to pending and ends with exit 1."""
    import asyncio

    from sqlalchemy.exc import OperationalError

    from labtasker_tui.store import claims
    from labtasker_tui.worker import db_calls, runner

    a, b = submit(sqlite_db, [{"args": {"i": 0}, "priority": 20},
                              {"args": {"i": 1}, "priority": 10}])

    async def broken_report(*args, **kw):
        raise OperationalError("UPDATE tasks", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(claims, "report", broken_report)
    monkeypatch.setattr(db_calls, "DB_RETRY_DELAYS", (0.05, 0.05))
    pidfile = tmp_path / "pid_b"
    cfg = runner.LoopConfig(
        url=f"sqlite+aiosqlite:///{sqlite_db}", queue="default", quiet=True,
        command=f"if [ %(i) = 0 ]; then sleep 1; exit 0; fi; echo $$ > {pidfile}; exec sleep 30",
        slots=[None, None], log_root=tmp_path / "logs")
    t0 = time.monotonic()
    stats = asyncio.run(runner.run_loop(cfg, install_signals=False))
    assert time.monotonic() - t0 < 10
    assert runner.exit_code(stats) == 1 and "giving up" in (stats.fatal or "")
    assert not alive(int(pidfile.read_text()))
    st = status(sqlite_db)
    assert st[b] == ("pending", 0, None)      # handed back
    assert st[a][0] == "running"              # its report never got through: the sweep's


def test_ctrl_c_while_the_loop_is_still_starting_exits_130(sqlite_db, tmp_path):
    """SIGINT before the loop has installed its own handlers (modules still loading): exit 130,
    not click's 'Aborted!' (1), and nothing claimed."""
    submit(sqlite_db, [{"args": {"x": 1}}])
    before = sqlite_rows(sqlite_db, "SELECT task_id, status, version FROM tasks")
    proc = popen(str(sqlite_db), "loop", "--", "echo", "%(x)", cwd=tmp_path)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Aborted" not in err
    assert sqlite_rows(sqlite_db, "SELECT task_id, status, version FROM tasks") == before
