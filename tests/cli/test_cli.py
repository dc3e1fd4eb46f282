"""The headless commands as a script would use them (click's CliRunner, no TTY)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from labtasker_tui.cli.main import cli


@pytest.fixture
def lt(sqlite_url):
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(cli, ["--db", sqlite_url, *args], input=input,
                             catch_exceptions=False)

    return invoke


def export(lt) -> list[dict]:
    res = lt("export")
    assert res.exit_code == 0
    return [json.loads(line) for line in res.stdout.splitlines()]


def test_seed_guide_examples(lt):
    res = lt("submit", "--name", "grid-1", "--metadata", '{"tags": ["v1","exp"]}', "--",
             "--lr", "0.1", "--model", "resnet", "--opt.momentum", "0.9")
    assert res.exit_code == 0 and res.stdout.startswith("Task submitted with ID: ")
    tid = res.stdout.split(": ")[1].strip()
    res = lt("submit", "--args", '{"foo.bar": 0.1}', "-q")
    assert res.exit_code == 0
    [rec] = [r for r in export(lt) if r["task_id"] == tid]
    assert rec["args"] == {"lr": 0.1, "model": "resnet", "opt": {"momentum": 0.9}}
    assert rec["metadata"] == {"tags": ["v1", "exp"]} and rec["task_name"] == "grid-1"
    other = [r for r in export(lt) if r["task_id"] != tid][0]
    assert other["args"] == {"foo": {"bar": 0.1}}


def test_ls_quiet_jsonl_and_limit(lt):
    ids = [lt("submit", "-q", "--priority", str(p), "--", "--i", str(p)).stdout.strip()
           for p in (1, 3, 2)]
    res = lt("ls", "-q")
    assert res.stdout.split() == [ids[1], ids[2], ids[0]]  # priority desc
    res = lt("ls", "--format", "jsonl", "--limit", "2")
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert [r["priority"] for r in rows] == [3, 2]
    assert list(rows[0]) == ["task_id", "queue_id", "status", "task_name", "created_at",
                             "start_time", "last_heartbeat", "last_modified", "heartbeat_timeout",
                             "task_timeout", "max_retries", "retries", "priority", "metadata",
                             "args", "cmd", "summary", "worker_id"]
    res = lt("ls", "-q", "--offset", "1", "--limit", "1")
    assert res.stdout.split() == [ids[2]]
    res = lt("ls", "-q", "-S", "priority:asc")
    assert res.stdout.split() == [ids[0], ids[2], ids[1]]


def test_ls_selectors_and_json_format(lt):
    a = lt("submit", "-q", "--name", "a", "--", "--x", "1").stdout.strip()
    lt("submit", "-q", "--name", "b", "--", "--x", "2")
    res = lt("ls", "--name", "a", "--format", "json")
    data = json.loads(res.stdout)
    assert [d["task_id"] for d in data] == [a]
    assert lt("ls", "--id", a, "-s", "cancelled", "-q").stdout == ""


def test_update_assignments_and_dry_run(lt):
    tid = lt("submit", "-q", "--", "--opt.momentum", "0.8").stdout.strip()
    res = lt("update", "--id", tid, "--dry-run", "-u", "args.opt.beta=0.5")
    assert res.exit_code == 0 and '"beta":0.5' in res.stdout
    assert export(lt)[0]["args"] == {"opt": {"momentum": 0.8}}
    res = lt("update", "--id", tid, "--", "args.opt.beta=0.5", "priority=20")
    assert res.exit_code == 0
    rec = export(lt)[0]
    assert rec["args"] == {"opt": {"momentum": 0.8, "beta": 0.5}} and rec["priority"] == 20
    lt("update", "--id", tid, "-u", "args.opt={'beta': 1}")
    assert export(lt)[0]["args"] == {"opt": {"beta": 1}}


def test_update_many_needs_yes_and_ids_from_stdin(lt):
    for i in range(3):
        lt("submit", "-q", "--", "--i", str(i))
    ids = lt("ls", "-q").stdout
    res = lt("update", "-u", "priority=1", input=ids)
    assert res.exit_code == 2 and "--yes" in res.stderr
    assert {r["priority"] for r in export(lt)} == {10}
    res = lt("update", "-y", "-u", "priority=1", input=ids)
    assert res.exit_code == 0 and "Total 3 tasks updated." in res.stdout
    assert {r["priority"] for r in export(lt)} == {1}


def test_delete_pipeline_and_not_found(lt):
    keep = lt("submit", "-q", "--name", "keep", "--", "--i", "0").stdout.strip()
    for i in range(3):
        lt("submit", "-q", "--name", "drop", "--", "--i", str(i))
    ids = lt("ls", "--name", "drop", "-q").stdout
    res = lt("delete", "-y", input=ids)
    assert res.exit_code == 0 and "Deleted 3" in res.stdout
    assert [r["task_id"] for r in export(lt)] == [keep]
    res = lt("delete", "-y", keep, "0b6c4f1e-0000-4222-8333-444455556666")
    assert res.exit_code == 2 and "not found" in res.stderr
    assert [r["task_id"] for r in export(lt)] == [keep]


def test_count_by_status(lt):
    for _ in range(2):
        lt("submit", "-q", "--", "--i", "1")
    res = lt("count", "--format", "json")
    assert json.loads(res.stdout) == {"pending": 2, "running": 0, "success": 0, "failed": 0,
                                      "cancelled": 0, "total": 2}


def test_export_import_round_trip(lt, tmp_path):
    lt("submit", "-q", "--name", "x", "--", "--lr", "1e-3", "--u", "'ünï'", "--n", "[1, 2.0]")
    lt("submit", "-q", "--cmd", "python train.py")
    before = export(lt)
    dump = "\n".join(json.dumps(r) for r in before) + "\n"
    other = CliRunner().invoke(cli, ["--db", str(tmp_path / "copy.db"), "import", "-"],
                               input=dump)
    assert other.exit_code == 0, other.stderr
    again = CliRunner().invoke(cli, ["--db", str(tmp_path / "copy.db"), "export"])
    assert [json.loads(x) for x in again.stdout.splitlines()] == before
    res = CliRunner().invoke(cli, ["--db", str(tmp_path / "copy.db"), "import", "-"],
                             input=dump)
    assert res.exit_code == 2 and "already exists" in res.stderr


BAD_INPUTS = [
    ["submit", "--args", "{'a': 1+2j}"],
    ["submit", "--args", "[1]"],
    ["submit", "--args", "{bad json"],
    ["submit", "--name", "has space", "--", "--x", "1"],
    ["submit", "--", "--a..b", "1"],
    ["submit", "--", "--x", "1", "positional"],
    ["submit", "--", "--x", "1e400"],
    ["submit"],
    ["update", "--name", "seed", "-u", "created_at=1"],
    ["update", "--name", "seed", "-u", "foo.x=1"],
    ["update", "--name", "seed", "-u", "priority=abc"],
    ["update", "--name", "seed", "-u", "status=success"],
    ["update", "--name", "seed", "-u", "status=done"],
    ["update", "--name", "seed", "-u", "args=5"],
    ["update", "--name", "seed", "-u", "args.x.sub=1"],
    ["update", "-u", "priority=1"],
    ["update", "--id", "0b6c4f1e-0000-4222-8333-444455556666", "-u", "priority=1"],
    ["delete", "0b6c4f1e-0000-4222-8333-444455556666"],
    ["ls", "-S", "sumary.acc:desc"],   # (a bare `created_at` is ascending: one sort syntax)
    ["ls", "-S", "foo..bar"],
    ["ls", "-S", "a:up"],
    ["ls", "-s", "done"],
    ["ls", "-f", "args.x != 1"],
    ["ls", "-f", "stauts == 'x'"],
    ["update", "-f", "args.x = 1", "-u", "priority=1"],
]


@pytest.mark.parametrize("argv", BAD_INPUTS, ids=lambda a: " ".join(a)[:40])
def test_bad_input_exits_2_and_changes_nothing(lt, argv):
    lt("submit", "-q", "--name", "seed", "--", "--x", "1")
    before = export(lt)
    res = lt(*argv)
    assert res.exit_code == 2, (res.stdout, res.stderr)
    lines = [x for x in res.stderr.splitlines() if x.startswith("Error")]
    assert lines, res.stderr
    assert "Traceback" not in res.stderr
    assert export(lt) == before


def test_filter_error_shows_caret(lt):
    res = lt("ls", "-f", "args.lr != 1")
    assert res.exit_code == 2
    assert "^" in res.stderr and "'!=' operator is not supported" in res.stderr


def test_dropped_flag_is_warned(lt):
    res = lt("submit", "--", "--flag", "--x", "1")
    assert res.exit_code == 0 and "--flag" in res.stderr
    assert export(lt)[0]["args"] == {"x": 1}


def test_negative_numbers_are_values(lt):
    lt("submit", "-q", "--", "--x", "-1", "--y", "-0.5")
    assert export(lt)[0]["args"] == {"x": -1, "y": -0.5}


def test_unreachable_database_is_a_runtime_error():
    res = CliRunner().invoke(cli, ["--db", "postgresql+psycopg://nobody@127.0.0.1:1/x", "count"])
    assert res.exit_code == 1 and res.stderr.startswith("Error: database error")
