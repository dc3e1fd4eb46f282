"""Saved views live in the database: another process on the same URL sees them."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from labtasker_tui.cli.main import cli


def lt(url: str, *args: str):
    return CliRunner().invoke(cli, ["--db", url, *args])


def test_view_saved_by_one_process_is_listed_by_another(sqlite_url):
    res = lt(sqlite_url, "view", "save", "top", "-S", "priority:desc", "--columns",
             "args.lr,summary.acc")
    assert res.exit_code == 0, res.stderr
    out = subprocess.run([sys.executable, "-m", "labtasker_tui", "--db", sqlite_url, "view", "ls",
                          "--format", "json"], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [{"name": "top", "filter": "", "sort": ["priority:desc"],
                                "columns": ["args.lr", "summary.acc"]}]


def test_ls_with_view_applies_its_sort(sqlite_url):
    ids = [lt(sqlite_url, "submit", "-q", "--priority", str(p), "--", "--p", str(p))
           .stdout.strip() for p in (5, 1, 9)]
    lt(sqlite_url, "view", "save", "low-first", "-S", "priority:asc")
    res = lt(sqlite_url, "ls", "--view", "low-first", "-q")
    assert res.stdout.split() == [ids[1], ids[0], ids[2]]


def test_views_are_per_queue_and_rm_unknown_is_bad_input(sqlite_url):
    lt(sqlite_url, "view", "save", "v1")
    res = CliRunner().invoke(cli, ["--db", sqlite_url, "--queue", "other", "view", "ls"])
    assert res.stdout == ""
    res = lt(sqlite_url, "view", "rm", "nope")
    assert res.exit_code == 2 and "no saved view" in res.stderr
    res = lt(sqlite_url, "ls", "--view", "nope", "-q")
    assert res.exit_code == 2


def test_bad_view_name_is_refused(sqlite_url):
    res = lt(sqlite_url, "view", "save", "has space")
    assert res.exit_code == 2
    assert lt(sqlite_url, "view", "ls").stdout == ""
