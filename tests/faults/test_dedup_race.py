"""Two processes submitting the same configurations with --dedup skip: the second reads the
queue under the write lock after the first committed, so nothing is inserted twice (a submit
held between its duplicate check and its insert makes the race certain). SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import CLI, cli, wait_for

HOLD = """
import sys, time
from pathlib import Path
from labtasker_tui.store import dedup
real = dedup.plan
marker = Path(sys.argv[1])
def held(*a, **k):
    out = real(*a, **k)
    marker.write_text("checked")
    time.sleep(4.0)  # between the duplicate check and the insert (the others start meanwhile)
    return out
dedup.plan = held
sys.argv = ["labtasker-tui", *sys.argv[2:]]
from labtasker_tui.cli.main import main
main()
"""


def test_concurrent_skip_submits_never_insert_twice(fault_url, fault_queue, tmp_path):
    n = 40
    specs = tmp_path / "grid.jsonl"
    specs.write_text("".join(json.dumps({"args": {"i": i, "lr": 0.1}}) + "\n"
                             for i in range(n)))
    marker = tmp_path / "checked"
    first = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(marker), "--db", fault_url, "--queue", fault_queue,
         "submit", "--file", str(specs), "--dedup", "skip", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(marker.exists)
    # meanwhile: the same file, and one of its configurations alone (the direct SQLite path)
    second = subprocess.Popen(
        [*CLI, "--db", fault_url, "--queue", fault_queue, "submit", "--file", str(specs),
         "--dedup", "skip"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    one = cli(fault_url, "submit", "--dedup", "skip", "--", "--lr", "0.1", "--i", "3",
              queue=fault_queue)
    out1, err1 = first.communicate(timeout=60)
    out2, err2 = second.communicate(timeout=60)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    assert one.returncode == 0, one.stderr
    assert len(out1.split()) == n and out2.split() == [] and one.stdout == ""
    assert f"0 new · {n} already present: {n} pending" in err2
    assert "0 new · 1 already present: 1 pending" in one.stderr
    res = cli(fault_url, "count", "--format", "json", queue=fault_queue)
    assert json.loads(res.stdout)["total"] == n
