"""`loop` while its PostgreSQL server goes away: the job is killed by self-fencing before
the heartbeat timeout, and after the restart the task runs once more, never overlapping.

Starts its own throwaway server (scripts/pg-start.sh) so that stopping it disturbs nobody.
Runs where LABTASKER_TUI_TEST_PG is set (.ci/run) and the PostgreSQL binaries exist.
"""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import cli, popen, wait_for
from test_loop_faults import JOB, alive

ROOT = Path(__file__).resolve().parents[2]
PGBIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))

pytestmark = pytest.mark.skipif(
    not os.environ.get("LABTASKER_TUI_TEST_PG") or not PGBIN or os.geteuid() != 0,
    reason="needs LABTASKER_TUI_TEST_PG, PostgreSQL binaries and root (like .ci/run)")


def _pg_ctl(data: str, *args: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", f"{PGBIN[-1]}/pg_ctl", "-D", data,
                    *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def own_pg():
    res = subprocess.run(["bash", str(ROOT / "scripts" / "pg-start.sh")], capture_output=True,
                         text=True, timeout=120, check=True)
    url, pgdir = res.stdout.strip(), res.stderr.strip().splitlines()[-1]
    yield url, pgdir
    subprocess.run(["bash", str(ROOT / "scripts" / "pg-stop.sh"), pgdir], timeout=60)


def test_server_down_past_heartbeat_timeout_fences_then_reruns_once(own_pg, tmp_path):
    url, pgdir = own_pg
    data = f"{pgdir}/data"
    port = url.rsplit(":", 1)[1].split("/")[0]
    res = cli(url, "submit", "-q", "--", "--d", "30")
    assert res.returncode == 0, res.stderr
    tid = res.stdout.strip()
    script = tmp_path / "job.py"
    script.write_text(JOB)
    log = tmp_path / "runs.log"
    proc = popen(url, "loop", "--heartbeat-timeout", "3", "--", sys.executable, str(script),
                 str(log), "%(d)", cwd=tmp_path)
    wait_for(lambda: log.exists() and log.read_text().startswith("start"), timeout=30)
    job_pid = int(log.read_text().split()[2])
    time.sleep(1.2)                     # at least one heartbeat written
    t0 = time.monotonic()
    _pg_ctl(data, "-m", "immediate", "-w", "stop")
    wait_for(lambda: not alive(job_pid), timeout=10, step=0.01)
    fenced = time.monotonic() - t0
    assert fenced < 3.0, f"job still alive {fenced:.2f}s after the server went away"
    assert proc.poll() is None          # the loop waits for the database, its job is gone
    time.sleep(max(0.0, 4.0 - (time.monotonic() - t0)))   # down longer than the timeout
    _pg_ctl(data, "-l", f"{pgdir}/server.log", "-w", "-t", "30", "-o",
            f"-c listen_addresses=127.0.0.1 -p {port} -k {pgdir} -c fsync=off", "start")
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        raise
    assert proc.returncode == 0, err
    assert "killing the job before its task can be given to another worker" in err
    runs = [ln.split() for ln in log.read_text().splitlines()]
    assert not [r for r in runs if r[0] == "OVERLAP"], runs
    assert [r[1] for r in runs if r[0] == "start"] == [tid, tid]
    assert [r[1] for r in runs if r[0] == "end"] == [tid]
    res = cli(url, "ls", "--format", "jsonl")
    assert res.returncode == 0, res.stderr
    (task,) = [json.loads(ln) for ln in res.stdout.splitlines()]
    assert task["status"] == "success"
