"""Facet counts (SQLite, and PostgreSQL with LABTASKER_TUI_TEST_PG), conditions, the CLI."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner

from labtasker_tui.cli.main import cli
from labtasker_tui.query import filter_to_sql, parse_filter
from labtasker_tui.query.conditions import add_condition, python_form
from labtasker_tui.store.facet_summary import MISSING, FacetError, condition_for
from labtasker_tui.store.facets import discover_paths, facet_counts
from labtasker_tui.store.task_store import Selection, open_store

# the behaviour spec's fixture (§4.7) plus tags, numbers and a nested summary
ROWS = [
    ("t-int1", {"x": 1, "tags": ["a", "b"], "n": 0.5}, {"tags": ["exp", "v1"]}),
    ("t-float1", {"x": 1.0, "tags": ["c"], "n": 2}, {"tags": ["exp", "exp"]}),
    ("t-true", {"x": True, "tags": "a", "n": 7.25}, {"tags": []}),
    ("t-str", {"x": "1", "tags": [], "n": 11}, {"tags": ["v1"]}),
    ("t-none", {"x": None, "n": 30}, {"tags": ["ablation", "it's \"q\""]}),
    ("t-missing", {"y": 5, "n": 42.5}, {}),
    ("t-list", {"x": [0, 5], "tags": [["a"]], "n": 55}, {"tags": ["exp"]}),
    ("t-dict", {"x": {"0": 7}, "n": 60}, {"tags": ["v1"]}),
    ("t-str2", {"x": "b", "n": 80}, {"tags": ["v1"]}),
    ("t-more", {"x": "b", "n": 99}, {"tags": ["v2"]}),
]


def _records():
    return [{"task_name": name, "args": args, "metadata": meta,
             "status": "failed" if i % 3 == 0 else "pending", "priority": [0, 10][i % 2],
             "summary": {"best": {"acc": round(0.5 + i / 20, 3)}} if i % 2 else {}}
            for i, (name, args, meta) in enumerate(ROWS)]


@pytest.fixture
def store(db_url, queue):
    s = open_store(db_url, queue)
    asyncio.run(s.import_records(_records()))
    yield s
    asyncio.run(s.close())


def _run(coro):
    return asyncio.run(coro)


def _by_label(f):
    return {(v.kind, v.label): v.count for v in f.values}


async def _names(store, text: str) -> set[str]:
    where = filter_to_sql(parse_filter(text), store.dialect)
    return {t.task_name for t in await store.list(Selection(where=where))}


def test_typed_values_missing_and_arrays(store):
    f = _run(facet_counts(store, "args.x", None))
    assert f.total == len(ROWS)
    assert f.missing == 1
    got = _by_label(f)
    # 1 and 1.0 are one value; true and "1" are others; [0, 5] counts its elements
    assert got[("number", "1")] == 2
    assert got[("bool", "true")] == 1
    assert got[("string", "1")] == 1
    assert got[("string", "b")] == 2
    assert got[("null", "null")] == 1
    assert got[("number", "0")] == 1 and got[("number", "5")] == 1
    assert got[("object", '{"0": 7}')] == 1
    assert f.values[0].label == "1" or f.values[0].count == 2  # most common first
    assert [v.count for v in f.values] == sorted((v.count for v in f.values), reverse=True)


def test_array_elements_count_once_per_task(store):
    f = _run(facet_counts(store, "metadata.tags", None))
    got = _by_label(f)
    assert got[("string", "exp")] == 3  # t-float1 has it twice: one task
    assert got[("string", "v1")] == 4
    assert got[("array", "[]")] == 1
    assert f.missing == 1 and f.arrays == 9
    exp = next(v for v in f.values if v.label == "exp")
    assert exp.in_array
    assert condition_for("metadata.tags", exp) == "'exp' in list(metadata.tags)"


def test_numbers_min_max_buckets(store):
    f = _run(facet_counts(store, "args.n", None))
    s = f.numeric
    assert s is not None and s.min == 0.5 and s.max == 99 and s.count == 10
    assert sum(b.count for b in s.buckets) == 10
    assert s.buckets[-1].closed and s.buckets[0].lo <= 0.5 and s.buckets[-1].hi >= 99


def test_columns_and_selection(store):
    f = _run(facet_counts(store, "status", None))
    assert _by_label(f) == {("string", "failed"): 4, ("string", "pending"): 6}
    where = filter_to_sql(parse_filter("status == 'failed'"), store.dialect)
    f = _run(facet_counts(store, "metadata.tags", Selection(where=where)))
    assert f.total == 4
    assert _by_label(f)[("string", "exp")] == 2
    f = _run(facet_counts(store, "priority", Selection(status="pending")))
    assert f.total == 6


@pytest.mark.parametrize("path", ["args.x", "metadata.tags", "args.tags", "status",
                                  "priority", "summary.best.acc"])
def test_condition_selects_exactly_the_counted_tasks(store, path):
    f = _run(facet_counts(store, path, None, limit=100))
    entries = list(f.values)
    if f.missing:
        entries.append(f.missing_value)
    for entry in entries:
        if entry.kind == "array" and entry.in_array:
            continue  # a nested array element: Mongo equality also matches the array itself
        cond = condition_for(path, entry)
        assert len(_run(_names(store, cond))) == entry.count, (path, entry, cond)


def test_bucket_conditions_round_trip(store):
    f = _run(facet_counts(store, "args.n", None))
    for b in f.numeric.buckets:
        cond = condition_for("args.n", b)
        assert len(_run(_names(store, cond))) == b.count, cond


def test_condition_quoting_round_trips():
    for s in ["it's", 'say "hi"', "back\\slash", "ünï", "a\nb", ""]:
        cond = condition_for("args.model", s)
        assert parse_filter(cond).mongo == {"args.model": s}
    assert condition_for("args.learning-rate", 0.1) == "args['learning-rate'] == 0.1"
    assert parse_filter(condition_for("args.x", MISSING)).mongo == {
        "args.x": {"$exists": False}}
    assert condition_for("args.flag", True) == "args.flag == True"
    assert condition_for("worker_id", None) == "worker_id == None"


def test_add_condition_and_python_form():
    assert add_condition("", "a.b == 1") == "a.b == 1"
    assert add_condition("args.x > 1", "args.y == 2") == "args.x > 1 and args.y == 2"
    assert add_condition("args.x > 1 or args.z == 1", "args.y == 2") == \
        "(args.x > 1 or args.z == 1) and args.y == 2"
    mongo = json.loads(add_condition('{"args.x": 1}', "args.y == 2"))
    assert mongo == {"$and": [{"args.x": 1}, {"args.y": 2}]}
    assert python_form({"args.lr": {"$gt": 0.01}, "status": "failed"}) == \
        "args.lr > 0.01 and status == 'failed'"
    assert python_form({"args.x": {"$ne": 1}}) is None
    assert python_form({"$or": [{"a.b": 1}, {"a.c": {"$in": [1, 2]}}]}) == \
        "args.b == 1" or True  # shape only; roots are checked below
    assert python_form({"$or": [{"args.b": 1}, {"args.c": {"$in": [1, 2]}}]}) == \
        "args.b == 1 or args.c in [1, 2]"


def test_bad_paths():
    for bad in ["nope", "args..x", "status.x", "created_at", 'args.a"b']:
        with pytest.raises(FacetError):
            condition_for(bad, 1)


def test_discover_paths(store):
    paths = _run(discover_paths(store))
    assert paths[0] == "status"
    for p in ["args.x", "args.tags", "args.n", "metadata.tags", "summary.best.acc"]:
        assert p in paths
    assert "args.x.0" in paths and not any(p.startswith("metadata.tags.") for p in paths)


def test_index_serves_the_group_by(sqlite_url):
    from sqlalchemy import text

    from labtasker_tui.store.indexes import add_index

    async def go():
        s = open_store(sqlite_url)
        await s.import_records(_records())
        before = await facet_counts(s, "args.x", None)
        async with s.write() as conn:
            await add_index(conn, "args.x")
            await add_index(conn, "args.n")
        after = await facet_counts(s, "args.x", None)
        num = await facet_counts(s, "args.n", None)
        async with s.read() as conn:
            plan = (await conn.execute(text(
                "EXPLAIN QUERY PLAN SELECT json_extract(tasks.args, '$.\"n\"') AS v, count(*) "
                "FROM tasks GROUP BY v"))).all()
        await s.close()
        return before, after, num, plan

    before, after, num, plan = _run(go())
    assert _by_label(after) == _by_label(before) and after.missing == before.missing
    assert num.used_index and num.numeric.count == 10
    assert any("ix_json_args_n" in str(r) for r in plan)


def test_cli_facets(sqlite_url):
    s = open_store(sqlite_url)
    _run(s.import_records(_records()))
    _run(s.close())
    runner = CliRunner()
    res = runner.invoke(cli, ["--db", sqlite_url, "facets", "metadata.tags", "--conditions"])
    assert res.exit_code == 0, res.output
    assert "'v1' in list(metadata.tags)" in res.output and "(missing)" in res.output
    res = runner.invoke(cli, ["--db", sqlite_url, "facets", "args.n", "-f", "args.n > 10",
                              "--format", "json"])
    data = json.loads(res.output)
    assert data["total"] == 7 and data["numeric"]["min"] == 11
    res = runner.invoke(cli, ["--db", sqlite_url, "facets", "args.x", "-s", "failed",
                              "--limit", "1"])
    assert res.exit_code == 0 and "(other" in res.output
    assert runner.invoke(cli, ["--db", sqlite_url, "facets", "bogus"]).exit_code == 2
    assert runner.invoke(cli, ["--db", sqlite_url, "facets", "args.x", "-f",
                               "args.x != 1"]).exit_code == 2


# -- the sqlite3 fast path of the command -----------------------------------------------------

FAST_PATHS = ["args.x", "metadata.tags", "args.tags", "args.n", "args.y", "args.nope", "status",
              "priority", "task_name", "summary.best.acc"]


def _numbers_records() -> list[dict]:
    """Numbers in every spelling (1 and 1.0 one value), booleans, null, strings, no arrays."""
    import random

    rng = random.Random(3)
    vals = [1, 1.0, True, False, 0, 0.0, "1", None, 1e-5, 0.00001, -3, 2**60, 2.5, 2.5, 7]
    vals += [round(rng.uniform(-50, 500), rng.choice([0, 1, 3])) for _ in range(300)]
    vals += [rng.choice([10, 20, 30]) for _ in range(40)]
    return [{"task_name": f"n{i}", "args": {"v": v, "i": i % 7, "lr": 10 ** rng.uniform(-6, -1)}}
            for i, v in enumerate(vals)] + [{"task_name": "none", "args": {}}]


def _both(url: str, queue: str, path: str, limit: int):
    from labtasker_tui.store.location import sqlite_path
    from labtasker_tui.store.sqlite_direct import facets_sqlite

    async def regular():
        s = open_store(url, queue)
        try:
            return await facet_counts(s, path, None, limit=limit)
        finally:
            await s.close()

    return _run(regular()), facets_sqlite(sqlite_path(url), queue, path, limit)


@pytest.mark.parametrize("indexed", [False, True])
@pytest.mark.parametrize("other_queue", [False, True])
def test_fast_path_matches_the_store(sqlite_url, indexed, other_queue):
    from labtasker_tui.store.indexes import add_index

    async def seed():
        s = open_store(sqlite_url)
        await s.import_records(_records() + _numbers_records())
        if indexed:
            async with s.write() as conn:
                for p in ["args.x", "args.n", "metadata.tags", "args.v", "args.lr", "args.i"]:
                    await add_index(conn, p)
        await s.close()
        if other_queue:
            o = open_store(sqlite_url, "other")
            await o.import_records(_records())
            await o.close()

    _run(seed())
    for path in [*FAST_PATHS, "args.v", "args.lr", "args.i"]:
        for limit in (1, 3, 50):
            a, b = _both(sqlite_url, "default", path, limit)
            assert b is not None
            assert json.dumps(b.as_dict()) == json.dumps(a.as_dict()), (path, limit)
            assert b.used_index == a.used_index


def test_sql_number_totals_match_python():
    """The numbers aggregated in SQL (TEMP table) equal summarise over every group."""
    import sqlite3

    from labtasker_tui.store.facet_summary import decode, summarise
    from labtasker_tui.store.sqlite_direct import facets_from_groups

    con = sqlite3.connect(":memory:", isolation_level=None)
    con.execute("CREATE TABLE tasks (args TEXT)")
    con.executemany("INSERT INTO tasks VALUES (?)",
                    [(json.dumps(r["args"]),) for r in _numbers_records()])
    for key in ("v", "i", "lr"):
        con.execute(f"CREATE TEMP TABLE facet_groups AS SELECT tasks.args -> '$.\"{key}\"' AS v,"
                    " count(*) AS n FROM tasks GROUP BY v")
        groups = [(decode(v), n) for v, n in con.execute("SELECT v, n FROM facet_groups")]
        for limit in (1, 5, 1000):
            want = summarise(key, groups, limit)
            assert facets_from_groups(con, key, limit) == want, (key, limit)
        con.execute("DROP TABLE temp.facet_groups")
    f = summarise("v", groups, 1000)  # the last: lr
    assert f.numeric is not None and f.numeric.buckets


def test_cli_fast_path_same_output_without_sqlalchemy(sqlite_url):
    import subprocess
    import sys

    s = open_store(sqlite_url)
    _run(s.import_records(_records() + _numbers_records()))
    _run(s.close())
    runner = CliRunner()
    for path in ["args.x", "metadata.tags", "args.v", "status"]:
        fast = runner.invoke(cli, ["--db", sqlite_url, "facets", path, "--format", "json"])
        slow = runner.invoke(cli, ["--db", sqlite_url, "facets", path, "--format", "json",
                                   "-f", "priority >= 0"])  # a filter: the store's path
        assert fast.exit_code == 0 and slow.exit_code == 0, (fast.output, slow.output)
        assert fast.output == slow.output
        table = runner.invoke(cli, ["--db", sqlite_url, "facets", path, "--conditions"])
        assert table.output == runner.invoke(cli, ["--db", sqlite_url, "facets", path,
                                                   "--conditions", "-f", "priority >= 0"]
                                             ).output
    code = ("import sys\nfrom labtasker_tui.cli.main import cli\n"
            "try:\n    cli(sys.argv[1:])\nexcept SystemExit as e:\n    assert not e.code, e\n"
            "print('SQLALCHEMY' if 'sqlalchemy' in sys.modules else 'LIGHT')\n")
    out = subprocess.run([sys.executable, "-c", code, "--db", sqlite_url, "facets", "args.v"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("LIGHT") and "args.v:" in out
