"""Unique id prefixes (at least 4 characters) work wherever a task id does; an ambiguous
prefix is an error naming candidates (exit 2, nothing changed)."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner

from labtasker_tui.cli.main import cli

# ids are unique across queues on PostgreSQL: each run gets its own tails
_TAIL = uuid.uuid4().hex[:12]
IDS = [f"{head}-0000-4000-8000-{_TAIL}" for head in ("ae2b22c8", "ae2b9f01", "ae2b9f02",
                                                      "0c1d0000")]
IDS += [f"ffff{i:04x}-0000-4000-8000-{_TAIL}" for i in range(8)]


@pytest.fixture
def lt(db_url, queue):
    if db_url.startswith("postgresql"):
        _fresh()
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(cli, ["--db", db_url, "--queue", queue, *args], input=input,
                             catch_exceptions=False)

    records = "\n".join(json.dumps({"task_id": t, "args": {"i": n}, "status": "pending"})
                        for n, t in enumerate(IDS))
    res = invoke("import", "-", input=records)
    assert res.exit_code == 0, res.output
    return invoke


def _fresh() -> None:
    global _TAIL
    _TAIL = uuid.uuid4().hex[:12]
    for i, t in enumerate(IDS):
        IDS[i] = t[:24] + _TAIL


def _args(lt) -> dict[str, dict]:
    res = lt("export")
    return {r["task_id"]: r["args"] for r in map(json.loads, res.stdout.splitlines())}


def test_prefix_everywhere(lt):
    res = lt("update", "--id", "ae2b22c8", "--", "args.i=100")
    assert res.exit_code == 0, res.output
    assert _args(lt)[IDS[0]] == {"i": 100}
    res = lt("ls", "--id", "0C1D", "-q")       # case does not matter
    assert res.stdout.split() == [IDS[3]]
    res = lt("count", "--id", "ae2b9f01", "--format", "json")
    assert json.loads(res.stdout)["total"] == 1
    res = lt("update", "--reset-pending", "-q", input="ae2b9f02\n0c1d\n")  # ids on stdin
    assert res.exit_code == 0, res.output
    res = lt("delete", "-y", "ae2b9f02", "0c1d0000")
    assert res.exit_code == 0, res.output
    assert set(_args(lt)) == set(IDS) - {IDS[2], IDS[3]}
    res = lt("export", "--id", "ae2b22")
    assert json.loads(res.stdout)["task_id"] == IDS[0]


@pytest.mark.parametrize("argv, message", [
    (("update", "--id", "ae2b", "--", "args.i=7"),
     "task id prefix 'ae2b' is ambiguous: it matches ae2b22c8-0000-4000-8000-"),
    (("delete", "-y", "ffff"), "and 3 more; give more characters"),
    (("delete", "-y", "ae2"), "task id prefix 'ae2' is too short"),
    (("ls", "--no-pager", "--id", "ae2b9"), "is ambiguous"),
])
def test_ambiguous_or_short_prefix_changes_nothing(lt, argv, message):
    before = _args(lt)
    res = lt(*argv)
    assert res.exit_code == 2 and message in res.output, res.output
    assert res.output.count("Error:") == 1
    if "ambiguous" in message and "ae2b'" in message:
        assert all(t in res.output for t in IDS[:3]) and " more;" not in res.output
    assert _args(lt) == before


def test_unknown_prefix_is_not_found(lt):
    before = _args(lt)
    res = lt("delete", "-y", "dead0000")
    assert res.exit_code == 2 and "task not found: dead0000" in res.output
    assert _args(lt) == before
