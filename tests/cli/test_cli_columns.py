"""`ls --columns` adds columns to the table output (bare names are args paths, as in the
app's C); `ls --view V` shows the view's saved columns; bad paths exit 2 storing nothing."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from labtasker_tui.cli.main import cli


@pytest.fixture
def lt(sqlite_url):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, ["--db", sqlite_url, *args], catch_exceptions=False)

    specs = [{"task_name": "a", "args": {"lr": 0.1, "opt": {"m": 0.9}}, "summary": {"acc": 0.8}},
             {"task_name": "b", "args": {"lr": 0.25}}]
    res = runner.invoke(cli, ["--db", sqlite_url, "import", "-"],
                        input="\n".join(json.dumps(s) for s in specs))
    assert res.exit_code == 0, res.output
    return invoke


def _table(res) -> list[list[str]]:
    assert res.exit_code == 0, res.output
    return [line.split() for line in res.stdout.splitlines()]


def test_columns_in_the_table(lt):
    rows = _table(lt("ls", "--no-pager", "-S", "task_name", "--columns",
                     "lr,summary.acc,opt.m"))
    assert rows[0][-3:] == ["LR", "ACC", "M"]
    assert rows[1][0] and rows[1][-3:] == ["0.1", "0.8", "0.9"]
    assert rows[2][-3:] == ["0.25", "-", "-"]


def test_view_columns_are_honoured(lt, sqlite_url):
    assert lt("view", "save", "v", "-S", "-args.lr", "--columns", "lr, summary.acc").exit_code == 0
    res = lt("view", "ls", "--format", "json")
    assert json.loads(res.stdout)[0]["columns"] == ["args.lr", "summary.acc"]
    rows = _table(lt("ls", "--no-pager", "--view", "v"))
    assert rows[0][-2:] == ["LR", "ACC"] and [r[-2] for r in rows[1:]] == ["0.25", "0.1"]
    # --columns given on the command line wins over the view's
    rows = _table(lt("ls", "--no-pager", "--view", "v", "--columns", "opt.m"))
    assert rows[0][-1] == "M" and "ACC" not in rows[0]


def test_bad_column_path(lt, sqlite_url):
    res = lt("ls", "--no-pager", "--columns", "a..b")
    assert res.exit_code == 2 and res.stdout == "" and "--columns: not a path" in res.stderr
    res = lt("view", "save", "w", "--columns", "x,,y..z")
    assert res.exit_code == 2
    with sqlite3.connect(sqlite_url.split("///", 1)[1]) as con:
        assert con.execute("SELECT count(*) FROM views").fetchone() == (0,)
