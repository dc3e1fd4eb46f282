"""benchmarks/peer_bench.py: its ratios are medians of per-pair ratios, and its sqlite3 floor
asks the same question as our commands (same counts, same ids)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import peer_bench  # noqa: E402


def _noop(_r: int) -> float:
    return 0.0


def test_ratio_is_the_median_of_per_pair_ratios() -> None:
    row = peer_bench.Row("count", "task count", _noop, _noop, _noop)
    res = peer_bench.Result(row, v2=[2.0, 10.0, 3.0], ours=[1.0, 4.0, 6.0],
                            floor=[0.5, 0.5, 0.5])
    line = peer_bench.table(1000, [res], pg=False).splitlines()[-1]
    # pairs 2.0, 2.5, 0.5 -> 2.00x (the ratio of the medians would be 0.75x)
    assert "| 2.00x |" in line
    assert "| 3.000 | 4.000 | 0.500 |" in line
    assert line.endswith("| 8.0x |")


def test_task_specs_are_the_same_for_both_tools() -> None:
    assert peer_bench.task_specs(20) == peer_bench.task_specs(20)
    xs = [s["args"]["x"] for s in peer_bench.task_specs(200)]
    assert 0 < sum(x > 0.5 for x in xs) < 200  # the benchmark filter splits the tasks


def test_floor_queries_match_our_commands(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    specs = tmp_path / "specs.jsonl"
    specs.write_text("".join(
        json.dumps({"task_name": s["name"], "args": s["args"], "metadata": s["metadata"]}) + "\n"
        for s in peer_bench.task_specs(40)))

    def ours(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "labtasker_tui", "--db", str(db), *args],
                              capture_output=True, text=True, check=True).stdout

    def floor(key: str) -> str:
        return subprocess.run([sys.executable, "-c", peer_bench.FLOOR[key], str(db)],
                              capture_output=True, text=True, check=True).stdout

    ours("submit", "--file", str(specs), "-q")
    want = sum(s["args"]["x"] > 0.5 for s in peer_bench.task_specs(40))
    assert json.loads(ours("count", "-f", peer_bench.FILTER, "--format", "json"))["total"] == want
    assert floor("count -f").split()[-1] == str(want)
    assert floor("ls -q -f").split() == ours("ls", "-q", "-f", peer_bench.FILTER).split()
    assert floor("ls -q").split() == ours("ls", "-q").split()
