"""Hostile values stay inert: escape sequences, CR, backspace, bidi overrides and Rich markup in
args, metadata, summary, cmd and keys reach the terminal escaped in tables and facets, and
exactly as stored in JSON and YAML."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import cli, sqlite_rows

EVIL = "\x1b]0;pwned\x07\x1b[2J\rX\x08\u202eY\x9b[bold]Z[/]"
EVIL_KEY = "k\x1b[31m\u202e"
RAW = [b"\x1b", b"\x07", b"\r", b"\x08", "\u202e".encode(), "\x9b".encode()]


@pytest.fixture
def hostile_db(sqlite_db):
    res = cli(str(sqlite_db), "submit", "-q", "--", "--evil", "x", "--n", "1")
    assert res.returncode == 0, res.stderr
    # written as an older version or another tool could have: any string, any key
    import sqlite3

    con = sqlite3.connect(sqlite_db)
    con.execute("UPDATE tasks SET args = ?, metadata = ?, summary = ?, cmd = ?",
                (json.dumps({EVIL_KEY: 1, "evil": EVIL}),
                 json.dumps({EVIL_KEY: [EVIL]}), json.dumps({"note": EVIL, "acc": 0.5}),
                 json.dumps(EVIL)))
    con.commit()
    con.close()
    return sqlite_db


def _assert_inert(out: bytes) -> None:
    for raw in RAW:
        assert raw not in out, (raw, out)


def test_ls_table_shows_control_characters_escaped(hostile_db):
    before = sqlite_rows(hostile_db, "SELECT * FROM tasks")
    res = cli(str(hostile_db), "ls", "--no-pager", text=False)
    assert res.returncode == 0, res.stderr
    _assert_inert(res.stdout)
    out = res.stdout.decode()
    assert "k\\x1b[31m\\u202e=1 evil=\\x1b]0;pwned\\x07\\x1b[2J\\rX\\x08" in out
    assert sqlite_rows(hostile_db, "SELECT * FROM tasks") == before


@pytest.mark.parametrize("args", [["args.evil"], ["summary.note", "--conditions"],
                                  ["metadata"]])
def test_facets_show_control_characters_escaped(hostile_db, args):
    res = cli(str(hostile_db), "facets", *args, text=False)
    assert res.returncode == 0, res.stderr
    _assert_inert(res.stdout)
    # a string label is escaped; an object's label is its JSON (which escapes ESC itself)
    assert (b"\\u001b]0;pwned" if args == ["metadata"] else b"\\x1b]0;pwned\\x07") in res.stdout


def test_facets_json_keeps_the_exact_value(hostile_db):
    res = cli(str(hostile_db), "facets", "args.evil", "--format", "json")
    assert res.returncode == 0, res.stderr
    assert [v["value"] for v in json.loads(res.stdout)["values"]] == [EVIL]


def test_data_formats_keep_exact_values(hostile_db):
    """JSON escapes controls itself; YAML escapes them too (bidi marks stay, as data)."""
    res = cli(str(hostile_db), "ls", "--format", "json", "--no-pager", text=False)
    assert res.returncode == 0
    assert b"\x1b" not in res.stdout and b"\r" not in res.stdout
    (task,) = json.loads(res.stdout)
    assert task["args"] == {EVIL_KEY: 1, "evil": EVIL}
    assert task["metadata"] == {EVIL_KEY: [EVIL]} and task["cmd"] == EVIL
    res = cli(str(hostile_db), "ls", "--format", "yaml", "--no-pager", text=False)
    assert res.returncode == 0
    for raw in RAW[:4]:
        assert raw not in res.stdout
    (task,) = yaml.safe_load(res.stdout)
    assert task["summary"]["note"] == EVIL and task["metadata"] == {EVIL_KEY: [EVIL]}
    res = cli(str(hostile_db), "export")
    assert json.loads(res.stdout)["args"]["evil"] == EVIL
