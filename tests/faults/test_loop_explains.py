"""`loop` never silently does nothing: pending tasks that no worker can take are explained
(counts of the keys that differ, how to match them) and the loop exits 3, unless --follow."""

from __future__ import annotations

import json
import signal
import threading

from conftest import cli, popen, wait_for


def _submit(url: str, queue: str, specs: list[dict]) -> None:
    data = "\n".join(json.dumps(s) for s in specs)
    res = cli(url, "submit", "--file", "-", queue=queue, input=data)
    assert res.returncode == 0, res.stderr


def _tasks(url: str, queue: str) -> list[dict]:
    res = cli(url, "ls", "--format", "json", "--no-pager", queue=queue)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_exact_keys_mismatch_is_explained(fault_url, fault_queue, tmp_path):
    specs = [{"args": {"lr": 0.1 * i, "seed": i, "model": "m", "opt": {"mom": 0.9}}}
             for i in range(5)]
    specs.append({"args": {"seed": 9}})
    _submit(fault_url, fault_queue, specs)
    before = _tasks(fault_url, fault_queue)
    res = cli(fault_url, "loop", "-c", "echo %(lr)", queue=fault_queue, cwd=tmp_path)
    assert res.returncode == 3, res.stderr
    err = res.stderr
    assert "none of the 6 pending tasks has exactly the args keys the command needs: lr" in err
    assert "6 have keys beyond lr: seed (6), model (5), opt.* (5)" in err
    assert "1 lack: lr (1)" in err
    assert "%(seed) %(model)" in err and "--required-fields '*'" in err and "-f" in err
    assert err.count("nothing to run") == 1
    # nothing was claimed: the tasks are exactly as before
    assert _tasks(fault_url, fault_queue) == before
    # the advice works: accepting extra keys runs the five tasks that have lr
    res = cli(fault_url, "loop", "-q", "--required-fields", "*", "-c", "echo %(lr)",
              queue=fault_queue, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    statuses = sorted(t["status"] for t in _tasks(fault_url, fault_queue))
    assert statuses == ["pending"] + ["success"] * 5
    # the one left over is explained, but the loop did work: exit 0
    assert "1 lack: lr" in res.stderr


def test_filter_excluding_everything(sqlite_db, tmp_path):
    url = str(sqlite_db)
    _submit(url, "default", [{"args": {"lr": 0.1}}, {"args": {"lr": 0.2}}])
    res = cli(url, "loop", "-f", "args.lr > 5", "-c", "echo %(lr)", cwd=tmp_path)
    assert res.returncode == 3, res.stderr
    assert "the filter (-f) matches none of the 2 pending task(s)" in res.stderr
    assert {t["status"] for t in _tasks(url, "default")} == {"pending"}
    # an empty queue is not an error
    empty = cli(url, "loop", "-c", "true", queue="empty", cwd=tmp_path)
    assert empty.returncode == 0 and "nothing to run" not in empty.stderr


def test_follow_explains_once_and_keeps_waiting(sqlite_db, tmp_path):
    url = str(sqlite_db)
    _submit(url, "default", [{"args": {"lr": 0.1, "seed": 1}}])
    proc = popen(url, "loop", "--follow", "--poll-interval", "0.1", "-c", "echo ran %(lr)",
                 cwd=tmp_path)
    lines: list[str] = []
    waiting = threading.Event()

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "Waiting for matching tasks" in line:
                waiting.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        # once it has explained and waits (not before: a task submitted before its first
        # look would simply run), a matching task submitted meanwhile is run
        assert waiting.wait(30), "".join(lines)
        _submit(url, "default", [{"args": {"lr": 0.5}}])
        wait_for(lambda: sorted(t["status"] for t in _tasks(url, "default"))
                 == ["pending", "success"], timeout=20)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        reader.join(5)
        assert proc.stdout is not None
        out = proc.stdout.read()
    err = "".join(lines)
    assert proc.returncode == 130, err
    assert err.count("nothing to run") == 1 and "Waiting for matching tasks (--follow)" in err
    assert "ran 0.5" in out
