"""The compiled-filter cache: only its own header is trusted, a broken file is a miss, and
filters whose SQL depends on the clock are never stored."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from labtasker_tui.cli.main import cli
from labtasker_tui.query import parse_filter
from labtasker_tui.query.dialects.sqlite_text import filter_sqlite_sql
from labtasker_tui.store import sql_cache


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "cache" / "filter-sql.json"
    monkeypatch.setattr(sql_cache, "cache_file", lambda: path)
    return path


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "t.db"
    for lr in ("0.1", "0.5"):
        res = CliRunner().invoke(cli, ["--db", str(path), "submit", "-q", "--", "--lr", lr])
        assert res.exit_code == 0, res.output
    return path


def total(db: Path, filter_text: str) -> int:
    res = CliRunner().invoke(cli, ["--db", str(db), "count", "--format", "json", "-f",
                                   filter_text])
    assert res.exit_code == 0, res.output
    return int(json.loads(res.output)["total"])


def test_round_trip_and_a_hit_is_served_without_compiling(cache, db):
    assert sql_cache.lookup("args.lr > 0.2") is None
    assert total(db, "args.lr > 0.2") == 1
    where, params = sql_cache.lookup("args.lr > 0.2")  # type: ignore[misc]
    assert "json_extract" in where and params == [0.2, 0.2]
    # what the cache says is what runs: a planted entry proves the parser was skipped
    sql_cache.remember("args.lr > 0.2", "1", [])
    assert total(db, "args.lr > 0.2") == 2


@pytest.mark.parametrize("stale", [{"schema": -1}, {"package": "0.0.0-old"},
                                   {"dialect": "postgresql"}, {"sqlite": "1.0.0"}])
def test_another_header_is_ignored(cache, db, stale):
    cache.parent.mkdir(parents=True)
    cache.write_text(json.dumps({"header": {**sql_cache.header(), **stale},
                                 "entries": {"args.lr > 0.2": ["1", []]}}))
    assert sql_cache.lookup("args.lr > 0.2") is None
    assert total(db, "args.lr > 0.2") == 1  # compiled again, then stored under today's header
    data = json.loads(cache.read_text())
    assert data["header"] == sql_cache.header() and data["entries"]["args.lr > 0.2"][0] != "1"


@pytest.mark.parametrize("content", ["", "{", "[]", '{"header": 1}', "\x00\xff garbage",
                                     json.dumps({"header": None, "entries": []})])
def test_a_corrupt_file_is_a_miss(cache, db, content):
    cache.parent.mkdir(parents=True)
    cache.write_text(content, errors="surrogateescape")
    assert sql_cache.lookup("args.lr > 0.2") is None
    assert total(db, "args.lr > 0.2") == 1
    assert sql_cache.lookup("args.lr > 0.2") is not None


def test_a_malformed_entry_is_a_miss(cache, db):
    cache.parent.mkdir(parents=True)
    cache.write_text(json.dumps({"header": sql_cache.header(),
                                 "entries": {"args.lr > 0.2": "SELECT"}}))
    assert sql_cache.lookup("args.lr > 0.2") is None
    assert total(db, "args.lr > 0.2") == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_cache_is_no_error(tmp_path, monkeypatch, db):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    monkeypatch.setattr(sql_cache, "cache_file", lambda: ro / "sub" / "filter-sql.json")
    assert total(db, "args.lr > 0.2") == 1


def test_a_cache_path_that_cannot_be_a_file_is_no_error(tmp_path, monkeypatch, db):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the folder should be")
    monkeypatch.setattr(sql_cache, "cache_file", lambda: blocker / "filter-sql.json")
    assert total(db, "args.lr > 0.2") == 1
    assert total(db, "args.lr > 0.2") == 1
    assert not list(tmp_path.glob("**/.filter-sql.json.*"))


def test_relative_dates_are_never_cached(cache, db):
    text = 'created_at > date("10 minutes ago")'
    assert total(db, text) == 2
    assert total(db, 'created_at < date("10 minutes ago")') == 0
    assert sql_cache.lookup(text) is None
    assert not filter_sqlite_sql(parse_filter(text)).reproducible  # type: ignore[arg-type]
    # an absolute phrase is still the local time zone's: not cached either
    assert not filter_sqlite_sql(parse_filter('created_at > date("2020-01-01")')
                                 ).reproducible  # type: ignore[arg-type]
    mongo = '{"created_at": {"$gt": {"$date": "2020-01-01T00:00:00Z"}}}'
    assert total(db, mongo) == 2
    assert sql_cache.lookup(mongo) is not None  # an extended-JSON date is absolute


def test_the_cache_keeps_the_most_recent_entries(cache, monkeypatch):
    monkeypatch.setattr(sql_cache, "MAX_ENTRIES", 3)
    for i in range(5):
        sql_cache.remember(f"args.x == {i}", f"sql {i}", [i])
    assert [sql_cache.lookup(f"args.x == {i}") for i in range(5)] == [
        None, None, ("sql 2", [2]), ("sql 3", [3]), ("sql 4", [4])]
    sql_cache.remember("x" * (sql_cache.MAX_TEXT + 1), "sql", [])
    assert sql_cache.lookup("x" * (sql_cache.MAX_TEXT + 1)) is None


@pytest.mark.parametrize("xdg", [None, "", "  ", "/somewhere/cache"])
def test_the_cache_lives_where_platformdirs_says(xdg, monkeypatch):
    """cache_file() spells platformdirs' user cache dir itself on Linux (not importing it)."""
    import platformdirs

    if xdg is None:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    want = Path(platformdirs.user_cache_dir(sql_cache.APP_NAME, appauthor=False))
    assert sql_cache.cache_file() == want / sql_cache.FILE_NAME
