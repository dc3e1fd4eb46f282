"""The job API's progress: report(progress=...) / report(step=..., total=...), in process and
from a real job run by `loop`."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import time

import pytest

from labtasker_tui import jobapi
from labtasker_tui.store import claims, progress
from labtasker_tui.store import workers as worker_rows
from labtasker_tui.store.task_store import open_store

CLI = [sys.executable, "-m", "labtasker_tui"]  # the console entry, fast path included


def with_store(url, queue, fn):
    async def main():
        store = open_store(url, queue)
        try:
            return await fn(store)
        finally:
            await store.close()

    return asyncio.run(main())


@pytest.fixture
def job(db_url, queue, monkeypatch):
    """A claimed task, and the environment `loop` gives its job."""
    (tid,) = with_store(db_url, queue, lambda s: s.submit([{"args": {"i": 1}}]))

    async def claim(store):
        wid = await worker_rows.register_worker(store)
        return wid, await claims.claim_next(store, wid)

    wid, task = with_store(db_url, queue, claim)
    monkeypatch.setenv("LABTASKER_TASK_ID", tid)
    monkeypatch.setenv("LABTASKER_WORKER_ID", wid)
    monkeypatch.setenv("LABTASKER_TUI_DB", db_url)
    monkeypatch.setenv("LABTASKER_TUI_QUEUE", queue)
    monkeypatch.setenv("LABTASKER_TUI_PROGRESS_INTERVAL", "0")
    monkeypatch.delenv("LABTASKER_LOG_DIR", raising=False)
    yield db_url, queue, tid, wid, task
    assert jobapi.flush_progress(10)  # nothing left behind for the next test


def stored(url, queue, tid, *, flush=True):
    """The task's stored progress, after the writer thread wrote what it holds."""
    if flush:
        assert jobapi.flush_progress(10)
    return with_store(url, queue, lambda s: progress.progress_of(s, [tid])).get(tid)


def test_step_and_total_reach_the_store_without_a_version_bump(job):
    url, queue, tid, _, task = job
    jobapi.report(step=120, total=1000)
    p = stored(url, queue, tid)
    assert (p.progress, p.step, p.total) == (0.12, 120, 1000)
    jobapi.report(progress=0.5, summary={"loss": 0.1})  # with a summary: both written
    assert stored(url, queue, tid).progress == 0.5
    after = with_store(url, queue, lambda s: s.get(tid))
    assert after.summary == {"loss": 0.1}
    assert after.version == task.version + 1  # the summary's write only


@pytest.mark.parametrize("kwargs,why", [
    ({"progress": math.nan}, "finite"), ({"progress": 2.0}, "between 0 and 1"),
    ({"step": 5, "total": 0}, "total must be more than 0"),
    ({"step": 1200, "total": 1000}, "step must be between"), ({"step": 3}, "go together"),
    ({"progress": "half"}, "a number")])
def test_a_bad_progress_is_ignored_with_a_warning(job, capsys, kwargs, why):
    url, queue, tid, _, _ = job
    jobapi.report(progress=0.3)
    jobapi.report(**kwargs)  # never raises: the job goes on
    err = capsys.readouterr().err
    assert "labtasker-tui: progress ignored:" in err and why in err
    assert stored(url, queue, tid).progress == 0.3  # unchanged


def test_a_bad_progress_does_not_stop_the_summary(job, capsys):
    url, queue, tid, _, _ = job
    jobapi.report(summary={"acc": 0.9}, progress=math.inf)
    assert "progress ignored" in capsys.readouterr().err
    assert with_store(url, queue, lambda s: s.get(tid)).summary == {"acc": 0.9}


def test_progress_after_the_task_finished_warns_and_goes_on(job, capsys):
    url, queue, tid, _, _ = job
    jobapi.report(status="success")
    jobapi.report(progress=0.9)
    assert stored(url, queue, tid) is None
    assert "no longer running" in capsys.readouterr().err


def test_reports_are_coalesced_and_throttled_but_the_last_is_written(job, monkeypatch):
    url, queue, tid, _, _ = job
    monkeypatch.setenv("LABTASKER_TUI_PROGRESS_INTERVAL", "60")
    jobapi.report(step=1, total=10)
    assert stored(url, queue, tid).step == 1  # the first: at once
    started = time.monotonic()
    for step in range(2, 9):
        jobapi.report(step=step, total=10)  # within the interval: kept, not written
    assert time.monotonic() - started < 1.0  # never waits for the database
    time.sleep(0.3)
    assert stored(url, queue, tid, flush=False).step == 1
    assert stored(url, queue, tid).step == 8  # a flush writes the latest one
    jobapi.report(step=10, total=10)  # the end: written without waiting for the interval
    time.sleep(0.5)
    assert stored(url, queue, tid, flush=False).step == 10


def test_a_status_writes_the_pending_progress_first(job, capsys, monkeypatch):
    """Outside `loop` a status ends the run at once: the progress still held by the writer
    (within its interval) is written before it, not refused after it."""
    url, queue, tid, _, _ = job
    monkeypatch.setenv("LABTASKER_TUI_PROGRESS_INTERVAL", "60")
    jobapi.report(progress=0.1)
    assert stored(url, queue, tid).progress == 0.1
    jobapi.report(progress=0.5)  # held: within the interval
    jobapi.report(status="success")
    assert jobapi.flush_progress(10)
    assert "no longer running" not in capsys.readouterr().err
    assert with_store(url, queue, lambda s: s.get(tid)).status == "success"


def test_a_bad_interval_setting_falls_back_with_a_warning(monkeypatch, capsys):
    monkeypatch.setenv("LABTASKER_TUI_PROGRESS_INTERVAL", "soon")
    assert jobapi.progress_interval() == jobapi.DEFAULT_PROGRESS_INTERVAL
    assert "LABTASKER_TUI_PROGRESS_INTERVAL" in capsys.readouterr().err


def test_outside_a_job_it_says_so(monkeypatch):
    monkeypatch.delenv("LABTASKER_TASK_ID", raising=False)
    with pytest.raises(RuntimeError, match="not run by labtasker"):
        jobapi.report(progress=0.5)


def test_a_real_job_reports_steps_seen_by_ls(sqlite_url, tmp_path):
    """A job run by `loop` reports step 30 of 100 and waits; `ls --columns progress` and the
    store show it while it runs, and it is gone once the task succeeded."""
    url, queue = sqlite_url, "default"
    (tid,) = with_store(url, queue, lambda s: s.submit([{"args": {"i": 1}}]))
    gate = tmp_path / "go-on"
    script = tmp_path / "job.py"
    script.write_text(
        "import pathlib, time\n"
        "from labtasker_tui import report\n"
        "for step in range(0, 31, 10):\n"
        "    report(step=step, total=100)\n"
        f"while not pathlib.Path({str(gate)!r}).exists():\n"
        "    time.sleep(0.05)\n")
    env_cmd = [*CLI, "--db", url, "--queue", queue]
    import os

    env = {**os.environ, "LABTASKER_TUI_PROGRESS_INTERVAL": "0"}
    loop = subprocess.Popen([*env_cmd, "loop", "--", sys.executable, str(script)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 30
        while time.monotonic() < end:
            p = stored(url, queue, tid)
            if p is not None and p.step == 30:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the job's progress never reached the store")
        assert p.progress == 0.3 and p.total == 100
        out = subprocess.run([*env_cmd, "ls", "--no-pager", "--columns", "progress"],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        head, row = out.stdout.splitlines()
        assert head.split()[-1] == "PROGRESS" and row.endswith("30/100 30%")
        gate.touch()
        assert loop.wait(timeout=60) == 0, loop.stderr.read()
    finally:
        if loop.poll() is None:
            loop.kill()
            loop.wait()
    task = with_store(url, queue, lambda s: s.get(tid))
    assert task.status == "success" and stored(url, queue, tid) is None


def test_a_locked_database_never_holds_the_job_back(sqlite_url, tmp_path):
    """A second connection holds SQLite's write lock: the job's report(progress=...) returns
    at once, and the job exits within its grace instead of waiting out the busy timeout."""
    import os
    import sqlite3

    url = sqlite_url
    (tid,) = with_store(url, "default", lambda s: s.submit([{"args": {"i": 1}}]))

    async def claim(store):
        wid = await worker_rows.register_worker(store)
        await claims.claim_next(store, wid)
        return wid

    wid = with_store(url, "default", claim)
    script = tmp_path / "job.py"
    script.write_text(
        "import time\n"
        "from labtasker_tui import report\n"
        "t = time.monotonic()\n"
        "for step in range(100):\n"
        "    report(step=step, total=100)\n"
        "print(f'{time.monotonic() - t:.3f}', flush=True)\n")
    env = {**os.environ, "LABTASKER_TASK_ID": tid, "LABTASKER_WORKER_ID": wid,
           "LABTASKER_TUI_DB": url, "LABTASKER_TUI_QUEUE": "default"}
    holder = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        res = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                             text=True, timeout=60)
        took = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert res.returncode == 0, res.stderr
    assert float(res.stdout.strip()) < 1.0  # 100 reports, none waited on the lock
    assert took < 15  # the exit grace (2 s) and start-up, not the 30 s busy timeout
