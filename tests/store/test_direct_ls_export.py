"""`ls` (table, yaml, json, jsonl, extra columns, sort keys, views, limit/offset) and `export`
on SQLite through the direct sqlite3 path print exactly what the store prints, with the same
exit code: every public filter case (../shared/filters) over its 400 tasks, uncached and
cached, and odd stored values (NaN text, malformed-JSON markers, a bare number in a JSON
column, unicode, markup-like and control characters, very long values, nulls)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from labtasker_tui.cli.main import cli
from labtasker_tui.store import sql_cache, sqlite_direct, task_store

SHARED = Path(__file__).resolve().parents[3] / "shared" / "filters"
pytestmark = pytest.mark.skipif(not (SHARED / "tasks.json").exists(),
                                reason=f"{SHARED} is not present")


def _examples() -> list[dict[str, Any]]:
    path = SHARED / "examples.jsonl"
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [r for r in map(json.loads, filter(str.strip, fh)) if r["expect"] == "ok"]


EXAMPLES = _examples()


def _stamp(i: int) -> str:
    # fixed times far in the past ("2000d ago" does not tick between two runs); every third
    # one on a whole second (isoformat drops the microseconds then)
    return f"2020-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:07" + ("" if i % 3 else
                                                                    ".123456") + "+00:00"


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """The 400 dataset tasks (fixed times, a few running) in the default queue, some in
    another queue, and saved views."""
    folder = tmp_path_factory.mktemp("direct-ls")
    path = folder / "tasks.db"
    records = json.loads((SHARED / "tasks.json").read_text(encoding="utf-8"))
    for i, rec in enumerate(records):
        rec["created_at"] = _stamp(i)
        rec["last_modified"] = _stamp(i + 7)
        if i % 5 == 0:
            rec["start_time"] = _stamp(i + 3)
    (folder / "tasks.json").write_text(json.dumps(records))
    (folder / "other.json").write_text(json.dumps(records[:7]))
    runner = CliRunner()
    for args in (["import", str(folder / "tasks.json")],
                 ["--queue", "other", "import", str(folder / "other.json")],
                 ["view", "save", "acc", "-f", "summary.acc > 0.1", "-S", "-summary.acc",
                  "--columns", "summary.acc,lr"],
                 ["view", "save", "plain", "-S", "priority"]):
        res = runner.invoke(cli, ["--db", str(path), *args])
        assert res.exit_code == 0, res.output
    return path


def invoke(db: Path, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["--db", str(db), *args])
    return res.exit_code, res.output


def store_says(db: Path, *args: str) -> tuple[int, str]:
    mp = pytest.MonkeyPatch()
    mp.setattr(sqlite_direct, "open_existing", lambda path: None)
    try:
        return invoke(db, *args)
    finally:
        mp.undo()


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(sql_cache, "cache_file", lambda: tmp_path / "c" / "filter-sql.json")
    return tmp_path / "c" / "filter-sql.json"


@pytest.fixture
def no_store(monkeypatch):
    """The direct path must answer: opening the store fails the test."""
    def refuse(*a: Any, **k: Any) -> Any:
        raise AssertionError("the store was used")

    monkeypatch.setattr(task_store, "open_store", refuse)


def test_every_public_filter_case_matches_the_store(db, fresh_cache):
    for row in EXAMPLES:
        cmd = ["export", "-f", row["filter"]]
        want = store_says(db, *cmd)
        assert want[0] == 0, (row["id"], want)
        names = {json.loads(x)["task_name"] for x in want[1].splitlines()}
        assert names == set(row["task_names"]), row["id"]  # the store's answer is the dataset's
        assert invoke(db, *cmd) == want, (row["id"], "uncached")
        assert invoke(db, *cmd) == want, (row["id"], "cached")
        table = ["ls", "--no-pager", "-f", row["filter"]]
        assert invoke(db, *table) == store_says(db, *table), (row["id"], "table")


CASES: list[list[str]] = [
    ["ls", "--no-pager"], ["ls", "--format", "table"], ["ls", "--format", "yaml", "--limit", "30"],
    ["ls", "--format", "json"], ["ls", "--format", "jsonl", "--limit", "0"],
    ["ls", "--format", "json", "-f", "args.nothing == 1"],
    ["ls", "--no-pager", "--limit", "100"], ["ls", "--no-pager", "--limit", "7", "--offset", "3"],
    ["ls", "--no-pager", "--offset", "396"], ["ls", "--no-pager", "-s", "failed"],
    ["ls", "--no-pager", "--name", "t0042"], ["--queue", "other", "ls", "--no-pager"],
    ["--queue", "nobody", "ls", "--format", "json"],
    ["ls", "--no-pager", "--columns", "lr,summary.acc,metadata.case,created_at,cmd"],
    ["ls", "--no-pager", "--columns", "a.b,a.c", "--limit", "30"],
    ["ls", "--no-pager", "-S", "-summary.acc", "--limit", "50"],
    ["ls", "--format", "jsonl", "-S", "args.lr"], ["ls", "--format", "jsonl", "-S", "-args.lr"],
    ["ls", "--format", "jsonl", "-S", "metadata.case,-priority"],
    ["ls", "--format", "jsonl", "-S", "task_name:desc", "-S", "_id"],
    ["ls", "--format", "jsonl", "-S", "queue_id,-start_time"],
    ["ls", "--format", "jsonl", "-S", "-args.missing.path"],
    ["ls", "-q", "-S", "-summary.acc"], ["ls", "-q", "-S", "start_time", "--limit", "9"],
    ["ls", "--no-pager", "-S", "args.lr", "-f", "args.lr > 0.001", "--limit", "20",
     "--offset", "5"],
    ["ls", "--no-pager", "--view", "acc"], ["ls", "--format", "jsonl", "--view", "plain"],
    ["ls", "-q", "--view", "acc", "-f", "priority > 1"],
    ["ls", "--no-pager", "--view", "acc", "--columns", "priority", "-S", "task_name"],
    ["ls", "--no-pager", "--view", "nope"], ["ls", "--no-pager", "-f", "args.lr >"],
    ["ls", "--no-pager", "-S", "args..x"], ["ls", "--no-pager", "--columns", "a..b"],
    ["export"], ["export", "-s", "pending"], ["export", "--name", "t0100"],
    ["--queue", "other", "export"], ["export", "-f", "args.lr >"],
]


@pytest.mark.parametrize("cmd", CASES, ids=" ".join)
def test_options_match_the_store(db, cmd, fresh_cache):
    want = store_says(db, *cmd)
    assert invoke(db, *cmd) == want  # compiles (a sort over a JSON path) and caches
    assert invoke(db, *cmd) == want  # from the cache
    assert want[0] == (2 if cmd[-1] in ("args.lr >", "args..x", "a..b", "nope") else 0), want


def test_the_direct_path_is_taken(db, fresh_cache, no_store):
    for cmd in (["ls", "--no-pager"], ["ls", "--format", "yaml", "-S", "-summary.acc"],
                ["ls", "--no-pager", "--view", "acc"], ["export", "-f", "args.lr > 0"]):
        code, out = invoke(db, *cmd)
        assert code == 0 and out, cmd


def test_the_json_sort_is_compiled_once_and_cached(db, fresh_cache):
    invoke(db, "ls", "-q", "-S", "-summary.acc,args.lr")
    orders = json.loads(fresh_cache.read_text())["orders"]
    assert list(orders) == [json.dumps([["summary.acc", True], ["args.lr", False]])]
    assert "json_type" in orders[next(iter(orders))][0]


@pytest.fixture
def odd_db(tmp_path) -> Path:
    """Tasks holding values an output format could trip on, some written as older versions
    and hand edits leave them."""
    path = tmp_path / "odd.db"
    long = "x" * 5000
    specs = [
        {"args": {"a": "[bold]red[/]", "b": "[/]"}, "task_name": "markup"},
        {"args": {"name": "日本語 ünï", "emoji": "🧪"}, "metadata": {"k": "значение"}},
        {"args": {"long": long, "nested": {"deep": [1, 2, {"k": long}]}}},
        {"args": {"ctl": "a\x1b[2Jb\rc\u202ed"}, "task_name": None},
        {"args": {"nan": "NaN", "inf": "Infinity", "none": None, "t": True, "f": 1.5e300}},
        {"args": {"x": 1}, "cmd": ["python", "train.py"]},
        {"args": {"x": 2}, "cmd": "echo hi"},
    ]
    res = CliRunner().invoke(cli, ["--db", str(path), "submit", "--file", "-", "-q"],
                             input="".join(json.dumps(s) + "\n" for s in specs))
    assert res.exit_code == 0, res.output
    ids = res.output.split()
    con = sqlite3.connect(path)
    with con:
        con.execute("UPDATE tasks SET summary = ? WHERE task_id = ?",
                    (json.dumps({"labtasker_malformed": "{'acc': nan,"}), ids[0]))
        con.execute("UPDATE tasks SET cmd = 5, summary = ? WHERE task_id = ?",
                    ('{"acc": 0.5, "loss": null}', ids[1]))
        con.execute("UPDATE tasks SET start_time = '2024-05-06 07:08:09', worker_id = 'w1', "
                    "last_heartbeat = '2024-05-06 07:08:10.000001' WHERE task_id = ?", (ids[2],))
        try:  # a NaN token as older versions wrote (where this SQLite's CHECK allows it)
            con.execute("UPDATE tasks SET summary = '{\"acc\": NaN}' WHERE task_id = ?",
                        (ids[3],))
        except sqlite3.IntegrityError:
            pass
    con.close()
    return path


@pytest.mark.parametrize("cmd", [
    ["export"], ["ls", "--no-pager"], ["ls", "--format", "yaml"], ["ls", "--format", "json"],
    ["ls", "--no-pager", "--columns", "a,b,long,ctl,name,summary.acc,nan,cmd"],
    ["ls", "--format", "jsonl", "-S", "-summary.acc"], ["ls", "--no-pager", "-S", "args.a"],
], ids=" ".join)
def test_odd_values_match_the_store(odd_db, cmd, fresh_cache):
    want = store_says(odd_db, *cmd)
    assert want[0] == 0, want
    assert invoke(odd_db, *cmd) == want


def test_export_keeps_odd_values_exactly(odd_db, fresh_cache, no_store):
    code, out = invoke(odd_db, "export")
    assert code == 0
    recs = [json.loads(x) for x in out.splitlines()]
    assert len(recs) == 7
    by_name = {r["task_name"]: r for r in recs}
    assert by_name["markup"]["args"] == {"a": "[bold]red[/]", "b": "[/]"}
    assert {"labtasker_malformed": "{'acc': nan,"} in [r["summary"] for r in recs]
    assert 5 in [r["cmd"] for r in recs]
    assert any(r["start_time"] == "2024-05-06T07:08:09+00:00" for r in recs)
    assert any(r["args"].get("ctl") == "a\x1b[2Jb\rc\u202ed" for r in recs)
