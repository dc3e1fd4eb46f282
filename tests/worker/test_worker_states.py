"""`worker ls` derives each worker's state from real loop processes: exited (clean stop),
lost (SIGKILL: no heartbeat, no clean exit), active (running a task), idle (--follow)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

CLI = [sys.executable, "-m", "labtasker_tui"]


def _cli(db: str, *args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "--db", db, *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd)


def _loop(db: str, name: str, kind: str, *extra: str, cwd=None) -> subprocess.Popen:
    return subprocess.Popen([*CLI, "--db", db, "loop", "-q", "--worker-name", name,
                             "-f", f"args.kind == '{kind}'", *extra], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _states(db: str) -> dict[str, tuple[str, str | None]]:
    res = _cli(db, "worker", "ls", "--format", "json")
    assert res.returncode == 0, res.stderr
    return {w["worker_name"]: (w["state"], w["task_id"]) for w in json.loads(res.stdout)}


def _wait(pred, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met")


def _stored(path) -> dict[str, str]:
    con = sqlite3.connect(path)
    try:
        return dict(con.execute("SELECT worker_name, status FROM workers").fetchall())
    finally:
        con.close()


def test_worker_states_from_real_loops(tmp_path):
    path = tmp_path / "tasks.db"
    db = str(path)
    assert _cli(db, "init").returncode == 0
    specs = [{"args": {"kind": k}} for k in ("quick", "long", "kill")]
    res = subprocess.run([*CLI, "--db", db, "submit", "--file", "-"], text=True,
                         input="\n".join(json.dumps(s) for s in specs), capture_output=True)
    assert res.returncode == 0, res.stderr

    done = _loop(db, "finished", "quick", "-c", "true", cwd=tmp_path)
    assert done.wait(30) == 0
    running = _loop(db, "running", "long", "--heartbeat-timeout", "3", "-c", "sleep 60",
                    cwd=tmp_path)
    killed = _loop(db, "killed", "kill", "--heartbeat-timeout", "1", "-c", "sleep 60",
                   cwd=tmp_path)
    idle = _loop(db, "idle", "none", "--follow", "--poll-interval", "0.2", "-c", "true",
                 cwd=tmp_path)
    try:
        _wait(lambda: {s for s, _ in _states(db).values()} >= {"active"}
              and _states(db).get("killed", ("",))[0] == "active"
              and _states(db).get("idle", ("",))[0] == "idle")
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
        time.sleep(1.3)  # past its task's heartbeat timeout (1 s)
        states = _states(db)
        assert states["finished"] == ("exited", None)
        assert states["running"][0] == "active" and states["running"][1]
        # lost whether or not another worker's sweep has timed out its task yet
        assert states["killed"][0] == "lost"
        assert states["idle"] == ("idle", None)
        # what is stored: only the clean stop is marked; the rest is derived
        stored = _stored(path)
        assert stored.pop("killed") in ("active", "lost")
        assert stored == {"finished": "exited", "running": "active", "idle": "active"}
        # `-s` filters on the derived state
        res = _cli(db, "worker", "ls", "-s", "lost", "--format", "jsonl")
        assert [json.loads(x)["worker_name"] for x in res.stdout.splitlines()] == ["killed"]
        # a manual status stays meaningful
        wid = json.loads(res.stdout)["worker_id"]
        assert _cli(db, "worker", "suspend", wid).returncode == 0
        assert _states(db)["killed"][0] == "suspended"
        # Ctrl-C is a clean stop too
        for proc in (running, idle):
            proc.send_signal(signal.SIGINT)
            assert proc.wait(20) == 130
        states = _states(db)
        assert states["running"] == ("exited", None) and states["idle"] == ("exited", None)
        assert _stored(path)["running"] == "exited"
        table = _cli(db, "worker", "ls").stdout
        assert "STATE" in table and "exited" in table and "active" not in table
    finally:
        for proc in (running, killed, idle):
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


def test_a_swept_worker_is_lost_until_it_shows_life(tmp_path):
    """The sweep marks the worker of a timed-out task lost (last_seen untouched); the same
    worker's next claim proves it alive: active again, never refused."""
    import asyncio

    from labtasker_tui.store import claims
    from labtasker_tui.store import workers as worker_rows
    from labtasker_tui.store.task_store import open_store

    async def go() -> None:
        store = open_store(f"sqlite:///{tmp_path / 't.db'}")
        try:
            await store.submit([{"args": {"i": 1}}, {"args": {"i": 2}}])
            wid = await worker_rows.register_worker(store, name="w")
            task = await claims.claim_next(store, wid, heartbeat_timeout=0.1)
            assert task is not None
            seen = (await worker_rows.get_worker(store, wid)).last_seen
            await asyncio.sleep(0.3)
            assert await claims.sweep_timeouts(store) == [task.task_id]
            info = await worker_rows.get_worker(store, wid)
            assert (info.status, info.last_seen, info.retries) == ("lost", seen, 1)
            (ws,) = await worker_rows.worker_states(store)
            assert (ws.state, ws.task_id) == ("lost", None)
            again = await claims.claim_next(store, wid)
            assert again is not None
            assert (await worker_rows.get_worker(store, wid)).status == "active"
            await worker_rows.mark_exited(store, [wid])
            assert (await worker_rows.get_worker(store, wid)).status == "exited"
        finally:
            await store.close()

    asyncio.run(go())
