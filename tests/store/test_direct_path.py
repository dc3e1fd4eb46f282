"""`count` and `ls -q` on SQLite through the direct sqlite3 path give exactly the store's
results: every public filter case (../shared/filters) over its 400 tasks, uncached (compiled
now) and cached (served from the compiled-filter cache), and the selectors around them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from labtasker_tui.cli.main import cli
from labtasker_tui.store import sql_cache, sqlite_direct

SHARED = Path(__file__).resolve().parents[3] / "shared" / "filters"
pytestmark = pytest.mark.skipif(not (SHARED / "examples.jsonl").exists(),
                                reason=f"{SHARED} is not present")


def _examples() -> list[dict[str, Any]]:
    path = SHARED / "examples.jsonl"
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [r for r in map(json.loads, filter(str.strip, fh)) if r["expect"] == "ok"]


EXAMPLES = _examples()


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """The 400 dataset tasks in the default queue, a few more in another queue."""
    folder = tmp_path_factory.mktemp("direct")
    path = folder / "tasks.db"
    records = json.loads((SHARED / "tasks.json").read_text(encoding="utf-8"))
    (folder / "tasks.json").write_text(json.dumps(records))
    (folder / "other.json").write_text(json.dumps(records[:7]))
    runner = CliRunner()
    for args in (["import", str(folder / "tasks.json")],
                 ["--queue", "other", "import", str(folder / "other.json")]):
        res = runner.invoke(cli, ["--db", str(path), *args])
        assert res.exit_code == 0, res.output
    return path


def invoke(db: Path, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["--db", str(db), *args])
    return res.exit_code, res.output


@pytest.fixture
def store_only(monkeypatch):
    """Today's path: the direct path never opens (as for another database)."""
    monkeypatch.setattr(sqlite_direct, "open_existing", lambda path: None)


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(sql_cache, "cache_file", lambda: tmp_path / "c" / "filter-sql.json")
    return tmp_path / "c" / "filter-sql.json"


def _commands(filter_text: str) -> list[list[str]]:
    return [["count", "--format", "json", "-f", filter_text], ["ls", "-q", "-f", filter_text]]


@pytest.fixture(scope="module")
def expected(db) -> dict[str, tuple[int, str]]:
    """Each command's exit code and output through the store."""
    mp = pytest.MonkeyPatch()
    mp.setattr(sqlite_direct, "open_existing", lambda path: None)
    try:
        return {json.dumps(cmd): invoke(db, *cmd)
                for row in EXAMPLES for cmd in _commands(row["filter"])}
    finally:
        mp.undo()


def test_every_public_filter_case_matches_the_store(db, expected, fresh_cache):
    for row in EXAMPLES:
        for cmd in _commands(row["filter"]):
            want = expected[json.dumps(cmd)]
            assert want[0] == 0, (row["id"], want)
            assert invoke(db, *cmd) == want, (row["id"], "uncached")
            assert invoke(db, *cmd) == want, (row["id"], "cached")
    cached = json.loads(fresh_cache.read_text())["entries"]
    dated = [r for r in EXAMPLES if r["syntax"] == "python" and "date(" in r["filter"]]
    assert len(cached) == len({r["filter"] for r in EXAMPLES} - {r["filter"] for r in dated})
    for row in EXAMPLES:  # the store's answers are the dataset's
        got = expected[json.dumps(["count", "--format", "json", "-f", row["filter"]])][1]
        assert json.loads(got)["total"] == len(row["task_names"]), row["id"]


SELECTORS: list[list[str]] = [
    ["count"], ["count", "-s", "pending"], ["count", "--name", "t0042"],
    ["count", "-s", "success", "-f", "args.lr > 0.001"],
    ["ls", "-q"], ["ls", "-q", "--limit", "5"], ["ls", "-q", "--offset", "395"],
    ["ls", "-q", "--limit", "3", "--offset", "10"], ["ls", "-q", "-s", "failed"],
    ["ls", "-q", "-f", "args.lr > 0.001", "--limit", "4", "--offset", "2"],
    ["ls", "-q", "--name", "t0007"], ["--queue", "other", "ls", "-q"],
    ["--queue", "other", "count", "--format", "json"], ["--queue", "nobody", "count"],
]


@pytest.mark.parametrize("cmd", SELECTORS, ids=" ".join)
def test_selectors_match_the_store(db, cmd, fresh_cache, monkeypatch):
    direct = invoke(db, *cmd)
    with monkeypatch.context() as mp:
        mp.setattr(sqlite_direct, "open_existing", lambda path: None)
        assert direct == invoke(db, *cmd)
    assert direct[0] == 0


def test_ids_select_on_the_direct_path(db, fresh_cache, monkeypatch):
    ids = invoke(db, "ls", "-q", "--limit", "60")[1].split()
    assert len(ids) == 60
    args = [a for i in ids[:3] for a in ("--id", i)]
    many = [a for i in ids for a in ("--id", i)]
    for cmd in (["ls", "-q", *args], ["count", "--format", "json", *many],
                ["ls", "-q", "-f", "args.lr > 0.001", *many]):
        direct = invoke(db, *cmd)
        with monkeypatch.context() as mp:
            mp.setattr(sqlite_direct, "open_existing", lambda path: None)
            assert direct == invoke(db, *cmd)
    assert invoke(db, "ls", "-q", *args)[1].split() == ids[:3]


def test_a_bad_filter_is_reported_as_today_and_never_cached(db, fresh_cache, monkeypatch):
    code, out = invoke(db, "count", "-f", "args.lr >")
    assert code == 2 and "^" in out and "Invalid filter" in out
    assert invoke(db, "ls", "-q", "-f", "args.lr >") == (code, out)
    with monkeypatch.context() as mp:
        mp.setattr(sqlite_direct, "open_existing", lambda path: None)
        assert invoke(db, "count", "-f", "args.lr >") == (code, out)
    assert not fresh_cache.exists()


def test_a_missing_file_and_another_schema_take_the_store(tmp_path, fresh_cache):
    code, out = invoke(tmp_path / "nope.db", "count", "-f", "args.lr > 1")
    assert code == 2 and "no database at" in out
    assert not (tmp_path / "nope.db").exists()
    old = tmp_path / "old.db"
    code, _ = invoke(old, "submit", "-q", "--", "--lr", "1")
    assert code == 0
    import sqlite3

    con = sqlite3.connect(old)
    con.execute("UPDATE schema_info SET value = '99' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    code, out = invoke(old, "count")
    assert code == 1 and "newer than this labtasker-tui" in out


def test_a_regex_over_its_time_bound_is_the_stores_error(db, fresh_cache, monkeypatch):
    from labtasker_tui.query import sqlite_functions
    from labtasker_tui.query.errors import FilterError

    def slow(pattern: Any, flags: Any, value: Any) -> int:
        raise FilterError("regular expression took too long")

    monkeypatch.setattr(sqlite_functions, "_search", [slow])
    direct = invoke(db, "count", "-f", "regex(args.model, 'a')")
    assert direct[0] == 2 and "took too long" in direct[1]
    with monkeypatch.context() as mp:
        mp.setattr(sqlite_direct, "open_existing", lambda path: None)
        assert invoke(db, "count", "-f", "regex(args.model, 'a')") == direct


def test_the_direct_path_is_taken(db, fresh_cache, monkeypatch):
    """Guard for the tests above: without the store, count and ls -q still answer."""
    from labtasker_tui.store import task_store

    def no_store(*a: Any, **k: Any) -> Any:
        raise AssertionError("the store was used")

    monkeypatch.setattr(task_store, "open_store", no_store)
    assert invoke(db, "count", "-f", "args.lr > 0.001")[0] == 0
    assert invoke(db, "ls", "-q", "-f", "args.lr > 0.001")[0] == 0
    assert invoke(db, "ls", "-q")[0] == 0



def test_the_direct_path_knows_every_filter_function():
    """Each SQL function the compiler may call is registered on direct connections when the SQL
    names it (a function missing from the list fails with 'no such function')."""
    from labtasker_tui.query.sqlite_functions import register_sqlite_functions
    from labtasker_tui.store.sqlite_direct import register_functions_for

    class Recorder:
        def __init__(self) -> None:
            self.names: list[str] = []

        def create_function(self, name, nargs, impl, deterministic=False):
            self.names.append(name)

        def cursor(self):
            import sqlite3

            return sqlite3.connect(":memory:").cursor()

    every = Recorder()
    register_sqlite_functions(every)
    for name in every.names:
        seen = Recorder()
        register_functions_for(seen, f"SELECT {name}(1, 2)")
        assert seen.names, f"{name}( does not register the filter functions"
